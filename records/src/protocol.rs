//! The protocol's vocabulary for one job: its [`Arm`] and its id
//! ([`JobId`]: the family, the random split's seed, what it trains, the
//! replicate), with the one grammar job ids are written and read in:
//!
//! | job | id |
//! |---|---|
//! | base on half H of random split s | `r<s>-base-<H>` |
//! | selffer BnB (`+`: `-ft`) | `r<s>-selffer[-ft]-<H>-n<n>` |
//! | transfer AnB (`+`: `-ft`) | `r<s>-transfer[-ft]-<S>-<T>-n<n>` |
//! | a dissimilar split's base and transfers | `natman-base-<H>`, `natman-transfer[-ft]-<S>-<T>-n<n>` (a split by name: its name for `natman`) |
//! | whole set | `whole-base`, `whole-nolearn-n<n>`, `whole-reduced-k<k>` |
//! | a random split read from a manifest (`train --split DIR`), not by seed | `random-base-<H>`, ... |
//!
//! Halves are [`Half`]s, n is 1 to [`MAX_N`].
//!
//! Replicates beyond the first add `-r<i>`. Job seeds are hashes of ids,
//! so ids print exactly as they always have.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::family::Family;
use crate::half::Half;

/// Which network of the protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arm {
    /// A base network.
    Base,
    /// Selffer BnB: source and target halves equal.
    Selffer,
    /// Transfer AnB: source and target halves differ.
    Transfer,
    /// Random frozen layers 1..n.
    Nolearn,
    /// Whole-set base on k examples per class.
    Reduced,
}

impl Arm {
    /// Every arm, in the order of the paper's protocol.
    pub const ALL: [Arm; 5] = [Arm::Base, Arm::Selffer, Arm::Transfer, Arm::Nolearn, Arm::Reduced];

    /// The name job files, flags and job ids use (`selffer`, not `BnB`).
    pub fn name(self) -> &'static str {
        match self {
            Arm::Base => "base",
            Arm::Selffer => "selffer",
            Arm::Transfer => "transfer",
            Arm::Nolearn => "nolearn",
            Arm::Reduced => "reduced",
        }
    }
}

/// A network's arm as the paper names it and the records' `arm` column
/// holds it: the [`Arm`] with the `+` of fine-tuned copied layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum ArmLabel {
    /// A base network.
    #[default]
    Base,
    /// Selffer, copied layers frozen.
    BnB,
    /// Selffer, copied layers fine-tuned.
    BnBPlus,
    /// Transfer, copied layers frozen.
    AnB,
    /// Transfer, copied layers fine-tuned.
    AnBPlus,
    /// Random frozen layers.
    Nolearn,
    /// Reduced examples per class.
    Reduced,
}

impl ArmLabel {
    /// Every label, in the order of the paper's protocol.
    pub const ALL: [ArmLabel; 7] = [ArmLabel::Base, ArmLabel::BnB, ArmLabel::BnBPlus, ArmLabel::AnB, ArmLabel::AnBPlus, ArmLabel::Nolearn, ArmLabel::Reduced];

    /// The label of an arm, fine-tuned or not (only selffer and transfer networks have a `+`).
    pub fn of(arm: Arm, fine_tune: bool) -> ArmLabel {
        match (arm, fine_tune) {
            (Arm::Base, _) => ArmLabel::Base,
            (Arm::Selffer, false) => ArmLabel::BnB,
            (Arm::Selffer, true) => ArmLabel::BnBPlus,
            (Arm::Transfer, false) => ArmLabel::AnB,
            (Arm::Transfer, true) => ArmLabel::AnBPlus,
            (Arm::Nolearn, _) => ArmLabel::Nolearn,
            (Arm::Reduced, _) => ArmLabel::Reduced,
        }
    }

    /// The label as records, tables and the authors' data write it.
    pub fn name(self) -> &'static str {
        match self {
            ArmLabel::Base => "base",
            ArmLabel::BnB => "BnB",
            ArmLabel::BnBPlus => "BnB+",
            ArmLabel::AnB => "AnB",
            ArmLabel::AnBPlus => "AnB+",
            ArmLabel::Nolearn => "nolearn",
            ArmLabel::Reduced => "reduced",
        }
    }
}

/// What a job trains, as its id says.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// A base on one half (`whole` for the whole set).
    Base {
        /// The half.
        half: Half,
    },
    /// Selffer BnB: layers 1..n from the same half's base.
    Selffer {
        /// The half.
        half: Half,
        /// Layers copied.
        n: usize,
        /// `+`: the copied layers are fine-tuned.
        fine_tune: bool,
    },
    /// Transfer AnB: layers 1..n from the other half's base.
    Transfer {
        /// The source half.
        source: Half,
        /// The target half.
        target: Half,
        /// Layers copied.
        n: usize,
        /// `+`: the copied layers are fine-tuned.
        fine_tune: bool,
    },
    /// Random frozen layers 1..n on the whole set.
    Nolearn {
        /// Layers random and frozen.
        n: usize,
    },
    /// A whole-set base on the first k examples per class.
    Reduced {
        /// Examples per class.
        k: usize,
    },
}

impl JobKind {
    /// The job an arm trains with these parameters, or why there is none:
    /// n (1 to 7) only for selffer, transfer and nolearn networks,
    /// fine-tuning only for selffer and transfer, k only (and always) for
    /// reduced; a selffer network copies from its own half, a transfer
    /// network from the other one.
    pub fn new(arm: Arm, target: Half, source: Option<Half>, n: usize, fine_tune: bool, k: Option<usize>) -> Result<JobKind, String> {
        let copies = matches!(arm, Arm::Selffer | Arm::Transfer);
        if !matches!(arm, Arm::Selffer | Arm::Transfer | Arm::Nolearn) && n != 0 {
            return Err(format!("n is for selffer, transfer and nolearn networks, not {arm}"));
        }
        if !copies && fine_tune {
            return Err(format!("fine-tuning is for selffer and transfer networks, not {arm}"));
        }
        if (arm == Arm::Reduced) != k.is_some() {
            return Err("examples per class are for reduced networks, which need them".into());
        }
        let kind = match arm {
            Arm::Base => JobKind::Base { half: target },
            Arm::Selffer if source.as_ref().is_none_or(|s| *s == target) => JobKind::Selffer { half: target, n, fine_tune },
            Arm::Selffer => return Err(format!("a selffer network copies from its own half ({target}), not another")),
            Arm::Transfer => match source {
                Some(source) => JobKind::Transfer { source, target, n, fine_tune },
                None => return Err(format!("a transfer network copies from the other half: name its source half (not the target {target})")),
            },
            Arm::Nolearn => JobKind::Nolearn { n },
            Arm::Reduced => JobKind::Reduced { k: k.unwrap_or_default() },
        };
        kind.check()?;
        Ok(kind)
    }

    /// Whether this job can be trained, the rule every way of making one
    /// (an id read back, `train`'s flags, a job built in code) is held to:
    /// layers 1..n with n from 1 to [`MAX_N`] where the arm copies or
    /// freezes layers, and a transfer's source half other than its target.
    pub fn check(&self) -> Result<(), String> {
        let n = self.n();
        if matches!(self, JobKind::Selffer { .. } | JobKind::Transfer { .. } | JobKind::Nolearn { .. }) && !(1..=MAX_N).contains(&n) {
            return Err(format!("a {} network copies or freezes layers 1..n: n must be 1 to {MAX_N}, not {n}", self.arm()));
        }
        if let JobKind::Transfer { source, target, .. } = self
            && source == target
        {
            return Err(format!("a transfer network copies from the other half: name its source half (not the target {target})"));
        }
        Ok(())
    }

    /// The arm.
    pub fn arm(&self) -> Arm {
        match self {
            JobKind::Base { .. } => Arm::Base,
            JobKind::Selffer { .. } => Arm::Selffer,
            JobKind::Transfer { .. } => Arm::Transfer,
            JobKind::Nolearn { .. } => Arm::Nolearn,
            JobKind::Reduced { .. } => Arm::Reduced,
        }
    }

    /// The half trained and tested on.
    pub fn target(&self) -> Half {
        match self {
            JobKind::Base { half } | JobKind::Selffer { half, .. } => half.clone(),
            JobKind::Transfer { target, .. } => target.clone(),
            JobKind::Nolearn { .. } | JobKind::Reduced { .. } => Half::whole(),
        }
    }

    /// The half whose base the copied layers come from (selffer, transfer).
    pub fn source(&self) -> Option<&Half> {
        match self {
            JobKind::Selffer { half, .. } => Some(half),
            JobKind::Transfer { source, .. } => Some(source),
            _ => None,
        }
    }

    /// Layers copied or random-frozen (0 for bases).
    pub fn n(&self) -> usize {
        match self {
            JobKind::Selffer { n, .. } | JobKind::Transfer { n, .. } | JobKind::Nolearn { n } => *n,
            JobKind::Base { .. } | JobKind::Reduced { .. } => 0,
        }
    }

    /// Examples per class (reduced jobs).
    pub fn k(&self) -> Option<usize> {
        match self {
            JobKind::Reduced { k } => Some(*k),
            _ => None,
        }
    }

    /// Whether the copied layers are fine-tuned (the `+` arms).
    pub fn fine_tune(&self) -> bool {
        matches!(self, JobKind::Selffer { fine_tune: true, .. } | JobKind::Transfer { fine_tune: true, .. })
    }

    /// The paper's label of the network (`BnB+`, `AnB`, ...).
    pub fn label(&self) -> ArmLabel {
        ArmLabel::of(self.arm(), self.fine_tune())
    }
}

/// The most layers a job copies or freezes: 7 of the network's 8.
pub const MAX_N: usize = 7;

/// A job's id: one grammar for writing and reading (module docs); serde
/// reads and writes it as that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId {
    /// The family.
    pub family: Family,
    /// The random split's seed (random family only).
    pub seed: Option<u64>,
    /// What it trains.
    pub kind: JobKind,
    /// The replicate (0: the first, no suffix).
    pub replicate: usize,
}

impl JobId {
    /// The id of the base the job copies from (same family, split and replicate).
    pub fn source_base(&self) -> Option<JobId> {
        self.kind.source().map(|half| JobId { kind: JobKind::Base { half: half.clone() }, ..self.clone() })
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.family, self.seed) {
            (Family::Random, Some(s)) => write!(f, "r{s}")?,
            // a random split given as a manifest (`train --split DIR`), not by seed
            (family, _) => write!(f, "{family}")?,
        }
        let ft = |fine_tune: bool| if fine_tune { "-ft" } else { "" };
        match &self.kind {
            JobKind::Base { half } if self.family == Family::Whole && half == "whole" => write!(f, "-base")?,
            JobKind::Base { half } => write!(f, "-base-{half}")?,
            JobKind::Selffer { half, n, fine_tune } => write!(f, "-selffer{}-{half}-n{n}", ft(*fine_tune))?,
            JobKind::Transfer { source, target, n, fine_tune } => write!(f, "-transfer{}-{source}-{target}-n{n}", ft(*fine_tune))?,
            JobKind::Nolearn { n } => write!(f, "-nolearn-n{n}")?,
            JobKind::Reduced { k } => write!(f, "-reduced-k{k}")?,
        }
        if self.replicate > 0 {
            write!(f, "-r{}", self.replicate)?;
        }
        Ok(())
    }
}

/// `<prefix><digits>` as a number.
fn numbered(token: &str, prefix: char) -> Option<usize> {
    let digits = token.strip_prefix(prefix)?;
    (!digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

impl FromStr for JobId {
    type Err = String;
    fn from_str(id: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| format!("job id `{id}`: {why} (grammar: `transfer::plan`, e.g. `r0-transfer-A-B-n3`, `natman-base-natural`, `whole-nolearn-n4`)");
        let t: Vec<&str> = id.split('-').collect();
        // a replicate suffix, unless the tokens before it would not be a job
        if t.len() > 2
            && let Some(r) = t.last().and_then(|l| numbered(l, 'r'))
            && let Ok(mut shorter) = t[..t.len() - 1].join("-").parse::<JobId>()
            && shorter.replicate == 0
        {
            shorter.replicate = r;
            return Ok(shorter);
        }
        let (family, seed) = match t.first().copied() {
            Some(head) if numbered(head, 'r').is_some() => (Family::Random, numbered(head, 'r').map(|s| s as u64)),
            Some(head) => (head.parse::<Family>().map_err(|e| bad(&e))?, None),
            None => return Err(bad("empty")),
        };
        let n_of = |tok: Option<&&str>| tok.and_then(|s| numbered(s, 'n')).ok_or_else(|| bad("expected `n<layers>`"));
        let half = |tok: &str| tok.parse::<Half>().map_err(|e| bad(&e));
        let ft = t.get(2) == Some(&"ft");
        let rest: Vec<&str> = t.iter().skip(if ft { 3 } else { 2 }).copied().collect();
        let kind = match (t.get(1).copied(), rest.as_slice()) {
            (Some("base"), []) if family == Family::Whole && !ft => JobKind::Base { half: Half::whole() },
            (Some("base"), [half_tok]) if !ft => JobKind::Base { half: half(half_tok)? },
            (Some("selffer"), [h, n]) => JobKind::Selffer { half: half(h)?, n: n_of(Some(n))?, fine_tune: ft },
            (Some("transfer"), [s, t, n]) => JobKind::Transfer { source: half(s)?, target: half(t)?, n: n_of(Some(n))?, fine_tune: ft },
            (Some("nolearn"), [n]) if !ft => JobKind::Nolearn { n: n_of(Some(n))? },
            (Some("reduced"), [k]) if !ft => JobKind::Reduced { k: numbered(k, 'k').ok_or_else(|| bad("expected `k<examples>`"))? },
            _ => return Err(bad("not a job of the grid")),
        };
        kind.check().map_err(|e| bad(&e))?;
        Ok(JobId { family, seed, kind, replicate: 0 })
    }
}

impl PartialEq<str> for JobId {
    fn eq(&self, other: &str) -> bool {
        other.parse::<JobId>().is_ok_and(|o| o == *self)
    }
}

impl PartialEq<&str> for JobId {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_and_parse_in_one_grammar() {
        let ids = [
            "r0-base-A",
            "r3-selffer-ft-B-n7",
            "r0-transfer-A-B-n3",
            "r0-transfer-ft-B-A-n1-r2",
            "natman-base-natural",
            "natman-transfer-manmade-natural-n4",
            "clothing_vs_footwear-transfer-ft-clothing-footwear-n4-r1",
            "whole-base",
            "whole-base-r1",
            "whole-nolearn-n4",
            "whole-reduced-k25",
            "random-transfer-A-B-n2",
        ];
        for id in ids {
            let parsed: JobId = id.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(parsed.to_string(), id);
        }
        for label in ArmLabel::ALL {
            assert_eq!(label.name().parse::<ArmLabel>(), Ok(label));
        }
        assert!("AnB++".parse::<ArmLabel>().unwrap_err().contains("base, BnB, BnB+, AnB, AnB+, nolearn, reduced"));
        // what each arm takes, and the rest refused
        let (a, b) = (Half::a(), Half::b());
        assert_eq!(
            JobKind::new(Arm::Transfer, b.clone(), Some(a.clone()), 3, true, None),
            Ok(JobKind::Transfer { source: a.clone(), target: b.clone(), n: 3, fine_tune: true })
        );
        assert_eq!(JobKind::new(Arm::Selffer, b.clone(), None, 7, false, None), Ok(JobKind::Selffer { half: b.clone(), n: 7, fine_tune: false }));
        assert_eq!(JobKind::new(Arm::Reduced, Half::whole(), None, 0, false, Some(25)), Ok(JobKind::Reduced { k: 25 }));
        for (arm, source, n, ft, k, why) in [
            (Arm::Base, None, 3, false, None, "n is for selffer"),
            (Arm::Nolearn, None, 0, false, None, "n must be 1 to 7, not 0"),
            (Arm::Transfer, Some(a.clone()), 8, false, None, "not 8"),
            (Arm::Nolearn, None, 2, true, None, "fine-tuning is for"),
            (Arm::Reduced, None, 0, false, None, "reduced networks, which need them"),
            (Arm::Transfer, None, 3, false, None, "name its source half"),
            (Arm::Transfer, Some(b.clone()), 3, false, None, "name its source half"),
            (Arm::Selffer, Some(a.clone()), 3, false, None, "its own half"),
        ] {
            let e = JobKind::new(arm, b.clone(), source, n, ft, k).expect_err(why);
            assert!(e.contains(why), "{e}");
        }
        let t: JobId = "r0-transfer-ft-B-A-n1-r2".parse().expect("id");
        assert_eq!(t.kind.label(), ArmLabel::AnBPlus);
        assert_eq!((t.kind.arm(), t.kind.target().as_str(), t.kind.n(), t.kind.fine_tune(), t.replicate, t.seed), (Arm::Transfer, "A", 1, true, 2, Some(0)));
        assert_eq!(t.source_base().expect("a source").to_string(), "r0-base-B-r2");
        // a half may be named like a replicate: the grammar still reads it
        assert_eq!("rooms-base-r1".parse::<JobId>().expect("id").kind, JobKind::Base { half: "r1".parse().expect("half") });
        for bad in [
            "",
            "r0",
            "r0-base",
            "r0-selffer-B-3",
            "natman-transfer-A-n4",
            "whole-nolearn-k4",
            "x-y-base-A",
            "r0-base-ft-A",
            "r0-selffer-B-n0",
            "r0-transfer-A-B-n8",
            "whole-nolearn-n9",
            "r0-transfer-A-A-n3",
        ] {
            assert!(bad.parse::<JobId>().is_err(), "{bad}");
        }
    }
}
