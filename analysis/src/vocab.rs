//! The analysis's own words beside the records' ([`records::Family`],
//! [`records::Half`], [`records::ArmLabel`]): where a network's result
//! comes from ([`Origin`]) and which targets a summary cell covers
//! ([`Target`]). Parsed from the canonical table's text where a frame
//! becomes rows ([`crate::paired::nets`], the summary's cells, the
//! excluded and unconverged networks); compared as values everywhere
//! after, and written by their one spelling.

use std::fmt;
use std::str::FromStr;

use records::{Family, Half};
use serde::{Serialize, Serializer};

/// The canonical table's column naming a network's origin (the one
/// column of that table the records do not have).
pub const ORIGIN: &str = "origin";

/// The summary's column naming a cell's targets ([`Target`]).
pub const TARGET: &str = "target";

/// Where a network's result comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Origin {
    /// The authors' networks (Yosinski et al. 2014, shipped in `data/`).
    /// Sorts first, as its name does: tables list the authors' rows first.
    Paper,
    /// Records of this tool.
    Runs,
}

impl Origin {
    /// Every origin, in the order the report gives them.
    pub const ALL: [Origin; 2] = [Origin::Runs, Origin::Paper];

    /// The name in tables and file names.
    pub const fn name(self) -> &'static str {
        match self {
            Origin::Runs => "runs",
            Origin::Paper => "paper",
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Origin {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Origin::ALL.into_iter().find(|o| o.name() == s).ok_or_else(|| format!("unknown origin `{s}`; valid: runs, paper"))
    }
}

impl Serialize for Origin {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The targets a summary cell covers: a family that pools its target
/// halves (random halves, the whole set: not [`Family::is_dissimilar`])
/// has one cell for both; a dissimilar split keeps each half apart.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// Both target halves (written `all`).
    Pooled,
    /// One half of a dissimilar split.
    Half(Half),
}

impl Target {
    /// The pooled cell's spelling.
    pub const POOLED: &str = "all";

    /// The cell a network on `half` of `family` falls in.
    pub fn of(family: &Family, half: &Half) -> Target {
        if family.is_dissimilar() { Target::Half(half.clone()) } else { Target::Pooled }
    }

    /// Whether a network on `half` falls in this cell.
    pub fn covers(&self, half: &Half) -> bool {
        match self {
            Target::Pooled => true,
            Target::Half(h) => h == half,
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pooled => f.write_str(Target::POOLED),
            Target::Half(h) => write!(f, "{h}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How tables and figures name a family (`natural/man-made` for `natman`).
pub fn family_label(family: &Family) -> String {
    if *family == Family::Natman { "natural/man-made".into() } else { family.name().replace('_', " ") }
}

/// How tables and figures name a half (`man-made` for `manmade`).
pub fn half_label(half: &Half) -> String {
    if *half == Half::manmade() { "man-made".into() } else { half.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_and_targets_keep_their_spelling_and_pool_by_family() {
        for o in Origin::ALL {
            assert_eq!(o.name().parse::<Origin>(), Ok(o));
        }
        assert!("mine".parse::<Origin>().is_err());
        // sorted as their names: the authors' rows first in every table
        let mut sorted = Origin::ALL;
        sorted.sort();
        assert_eq!(sorted.map(Origin::name), ["paper", "runs"]);
        let (a, natural) = (Half::a(), Half::new("natural").expect("half"));
        assert_eq!(Target::of(&Family::Random, &a), Target::Pooled);
        assert_eq!(Target::of(&Family::Whole, &Half::whole()), Target::Pooled);
        assert_eq!(Target::of(&Family::Natman, &natural), Target::Half(natural.clone()));
        assert_eq!((Target::Pooled.to_string(), Target::Half(natural.clone()).to_string()), ("all".to_string(), "natural".to_string()));
        assert!(Target::Pooled.covers(&a) && !Target::Half(natural).covers(&a));
        let mine = Family::dissimilar("indoor_vs_outdoor").expect("a name");
        assert_eq!(
            (family_label(&Family::Natman), half_label(&Half::new("manmade").expect("half")), family_label(&mine)),
            ("natural/man-made".into(), "man-made".into(), "indoor vs outdoor".into())
        );
    }
}
