//! Decomposition quantities estimated over independent units, with arms
//! paired inside each unit, and a 95% interval over units.
//!
//! **The unit.** Networks that share a split are not independent: BnB, AnB
//! and their `+` arms at every n are all compared with the same two bases
//! of that split, and every transfer starts from one of them. For random
//! halves the independent unit is the split draw: replicates of one random
//! split (other training seeds, the same halves) are averaged within the
//! split, so the interval speaks about other random splits. For a fixed
//! split (natural/man-made, a dissimilar split by name, the whole set) the
//! unit is the replicate, a training with its own seeds: those intervals
//! speak about training seeds, not about other ways to split the classes.
//! Two networks claiming one cell of one unit are refused, naming both.
//!
//! **Pairing.** Inside a unit each network is compared with the network it
//! is defined against *on the same target half*: co-adaptation at n is
//! `base_T − BnB_T(n)`, specificity `BnB_T(n) − AnB_T(n)`, the lasting
//! boost `AnB+_T(n) − base_T`, where `T` is the network's target half. So a
//! difference in difficulty between the halves cannot leak into a
//! quantity: it cancels within each pair. Where a unit holds several pairs
//! (both target halves, or several n for a pooled range) they are averaged
//! into the unit's one value, so every unit weighs the same.
//!
//! **The interval.** Over the `k` unit values: mean ± t(0.975, k − 1) ·
//! sd / √k (Student's t, quantile from `statrs`). Chosen over a bootstrap
//! over units because grids have few units (3 to 8): a percentile bootstrap
//! over so few values undercovers badly, while the t interval is exact for
//! normal unit values and robust for their means; each unit value is
//! itself an average of test accuracies over hundreds of images, close to
//! normal. With fewer than 2 units there is no interval, and a quantity
//! with no interval is never a finding.
//!
//! A unit whose value rests on any network that did not converge
//! (`converged` false, [`records::plateau`]) is left out of that quantity
//! and counted in `unconverged`: its comparison is not meaningful. The
//! quantity rests on the other units, and the report says how many were
//! left out.
//!
//! **Two sets of units.** A fixed split against random splits (finding 5),
//! or against the whole set's random features (finding 6), compares two
//! independent sets of units: [`Estimate::difference`], Welch's interval.

use std::collections::BTreeMap;

use polars::prelude::*;
use records::{ArmLabel, Family, Half, column};
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::error::{Error, Result};
use crate::vocab::{ORIGIN, Origin};

/// One network, as the pairing needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// The network's run id (named when two networks claim one cell).
    pub run_id: String,
    /// Where it comes from.
    pub origin: Origin,
    /// Its family.
    pub family: Family,
    /// Arm label.
    pub arm: ArmLabel,
    /// Split id within the family.
    pub split: String,
    /// Replicate index.
    pub replicate: i32,
    /// Target half.
    pub target: Half,
    /// Layers copied.
    pub n: i32,
    /// Examples per class (reduced networks).
    pub k: Option<i32>,
    /// Top-1 (the authors' metric).
    pub top1: f64,
    /// Whether its curve had converged (`None`: not known).
    pub converged: Option<bool>,
}

impl Net {
    /// Whether a comparison with this network means something: it is not
    /// known to have failed to converge (unknown counts, see `load`).
    pub fn may_count(&self) -> bool {
        self.converged != Some(false)
    }
}

/// The networks of a usable-rows frame, their words parsed to the
/// protocol's types (a word that is none is an error naming the run).
pub fn nets(ok: &DataFrame) -> Result<Vec<Net>> {
    let s = |c: &str| -> Result<StringChunked> { Ok(ok.column(c)?.str()?.clone()) };
    let (run_id, origin, family, arm, split, target) =
        (s(column::RUN_ID)?, s(ORIGIN)?, s(column::FAMILY)?, s(column::ARM)?, s(column::SPLIT)?, s(column::TARGET_HALF)?);
    let rep = ok.column(column::REPLICATE)?.i32()?.clone();
    let n = ok.column(column::N)?.i32()?.clone();
    let k = ok.column(column::K)?.i32()?.clone();
    let top1 = ok.column(column::TOP1)?.f64()?.clone();
    let conv = ok.column(column::CONVERGED)?.bool()?.clone();
    (0..ok.height())
        .map(|i| {
            let run = run_id.get(i).unwrap_or("");
            let word = |what: &str, e: String| Error::Input(format!("run `{run}`: {what}: {e}"));
            Ok(Net {
                run_id: run.into(),
                origin: origin.get(i).unwrap_or("").parse().map_err(|e| word(ORIGIN, e))?,
                family: family.get(i).unwrap_or("").parse().map_err(|e| word(column::FAMILY, e))?,
                arm: arm_label(arm.get(i))?,
                split: split.get(i).unwrap_or("").into(),
                replicate: rep.get(i).unwrap_or(0),
                target: target.get(i).unwrap_or("").parse().map_err(|e| word(column::TARGET_HALF, e))?,
                n: n.get(i).unwrap_or(0),
                k: k.get(i),
                top1: top1.get(i).unwrap_or(f64::NAN),
                converged: conv.get(i),
            })
        })
        .collect()
}

/// An `arm` column's value as its label; anything else is an error, never
/// some other cell (`load::check_words` names the run first).
pub(crate) fn arm_label(v: Option<&str>) -> Result<ArmLabel> {
    v.unwrap_or("").parse().map_err(crate::error::Error::Input)
}

/// A mean over units with its 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Mean of the unit values (for a two-sample difference: the difference of the means).
    pub mean: f64,
    /// Standard error of the mean (NaN for one unit).
    pub se: f64,
    /// Degrees of freedom of the t interval (NaN without one).
    pub df: f64,
    /// Units (for a two-sample difference: the smaller sample).
    pub units: usize,
    /// 95% interval, low end (None for fewer than 2 units).
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    t_quantile(0.975, df as f64)
}

/// The `p` quantile of Student's t with `df` (possibly fractional) degrees of freedom.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    StudentsT::new(0.0, 1.0, df).map_or(f64::NAN, |t| t.inverse_cdf(p))
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let k = values.len();
    let mean = if k == 0 { f64::NAN } else { values.iter().sum::<f64>() / k as f64 };
    let sd = if k < 2 { f64::NAN } else { (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64).sqrt() };
    (mean, sd)
}

impl Estimate {
    /// Mean and t interval of `values` (one per unit).
    pub fn over_units(values: &[f64]) -> Estimate {
        let k = values.len();
        let (mean, sd) = mean_sd(values);
        if k < 2 {
            return Estimate { mean, se: f64::NAN, df: f64::NAN, units: k, ci_low: None, ci_high: None };
        }
        Estimate { mean, se: sd / (k as f64).sqrt(), df: (k - 1) as f64, units: k, ci_low: None, ci_high: None }.with_level(0.95)
    }

    /// `mean(a) − mean(b)` for two independent sets of units (a fixed
    /// split's replicates against random splits, say), with Welch's t
    /// interval: standard error √(s²ₐ/kₐ + s²_b/k_b), degrees of freedom by
    /// Welch–Satterthwaite. None below 2 units on either side.
    pub fn difference(a: &[f64], b: &[f64]) -> Estimate {
        let ((ma, sa), (mb, sb)) = (mean_sd(a), mean_sd(b));
        let units = a.len().min(b.len());
        if units < 2 {
            return Estimate { mean: ma - mb, se: f64::NAN, df: f64::NAN, units, ci_low: None, ci_high: None };
        }
        let (va, vb) = (sa * sa / a.len() as f64, sb * sb / b.len() as f64);
        let se = (va + vb).sqrt();
        let df =
            if va + vb == 0.0 { (a.len() + b.len() - 2) as f64 } else { (va + vb).powi(2) / (va * va / (a.len() - 1) as f64 + vb * vb / (b.len() - 1) as f64) };
        Estimate { mean: ma - mb, se, df, units, ci_low: None, ci_high: None }.with_level(0.95)
    }

    /// The same estimate with a two-sided interval at `level` (0.90 for
    /// an equivalence test, 1 − 0.05/m for one of m Bonferroni tests).
    pub fn with_level(self, level: f64) -> Estimate {
        // identical unit values give no interval: zero width would exclude 0 by arithmetic, not evidence
        if !self.se.is_finite() || self.se == 0.0 {
            return Estimate { ci_low: None, ci_high: None, ..self };
        }
        let half = t_quantile(0.5 + level / 2.0, self.df) * self.se;
        Estimate { ci_low: Some(self.mean - half), ci_high: Some(self.mean + half), ..self }
    }

    /// The same interval clipped to `[lo, hi]` (what the metric allows).
    pub fn clipped(self, lo: f64, hi: f64) -> Estimate {
        Estimate { ci_low: self.ci_low.map(|x| x.clamp(lo, hi)), ci_high: self.ci_high.map(|x| x.clamp(lo, hi)), ..self }
    }

    /// Which side of zero the interval lies on: `Some(true)` above,
    /// `Some(false)` below, `None` when it contains zero or does not exist.
    pub fn sign(&self) -> Option<bool> {
        match (self.ci_low, self.ci_high) {
            (Some(lo), _) if lo > 0.0 => Some(true),
            (_, Some(hi)) if hi < 0.0 => Some(false),
            _ => None,
        }
    }
}

/// The key of an independent unit: (family, split, replicate). For random
/// splits the replicate is always 0: replicates of one random split share
/// its halves, so they are averaged within the split, and the unit is the
/// split draw ([`Units::new`]).
pub type UnitKey = (Family, String, i32);

/// A cell of a unit: (arm, target, n, k).
type CellKey<'a> = (ArmLabel, &'a Half, i32, i32);

/// Networks of one origin grouped by unit, then by cell.
pub struct Units<'a> {
    units: BTreeMap<UnitKey, BTreeMap<CellKey<'a>, Vec<&'a Net>>>,
}

impl<'a> Units<'a> {
    /// Group `nets` of `origin`. Two networks of one family, split,
    /// replicate, arm, target, n and k are one cell claimed twice (two
    /// sweeps analysed together, say): an error naming both runs, never a
    /// silent choice.
    pub fn new(nets: &'a [Net], origin: Origin) -> Result<Self> {
        let mut units: BTreeMap<UnitKey, BTreeMap<CellKey<'a>, Vec<&Net>>> = BTreeMap::new();
        for n in nets.iter().filter(|n| n.origin == origin) {
            // the unit of random halves is the split draw, of a fixed split the replicate
            let replicate = if n.family == Family::Random { 0 } else { n.replicate };
            let slot = units.entry((n.family.clone(), n.split.clone(), replicate)).or_default();
            let cell = slot.entry((n.arm, &n.target, n.n, n.k.unwrap_or(0))).or_default();
            if let Some(other) = cell.iter().find(|o| o.replicate == n.replicate) {
                return Err(crate::error::Error::Input(format!(
                    "two networks claim one cell, runs `{}` and `{}` ({} split {} replicate {}, {} on {} at n = {}): two sweeps of one grid analysed together, or one network recorded twice; analyse them separately, or give them different replicates",
                    other.run_id, n.run_id, n.family, n.split, n.replicate, n.arm, n.target, n.n
                )));
            }
            cell.push(n);
        }
        Ok(Units { units })
    }

    /// One value per unit of `family` from `value(unit)`, and the number
    /// of units left out because their value rests on a network that had
    /// not converged (a comparison with it is meaningless, so the unit
    /// gives no value).
    pub fn per_unit(&self, family: &Family, value: impl Fn(&Lookup<'_, 'a>) -> Option<Pair>) -> (Vec<(UnitKey, f64)>, usize) {
        let mut values = Vec::new();
        let mut unconverged = 0;
        for (key, nets) in self.units.iter().filter(|(k, _)| k.0 == *family) {
            match value(&Lookup { nets }) {
                Some(p) if p.converged => values.push((key.clone(), p.value)),
                Some(_) => unconverged += 1,
                None => {}
            }
        }
        (values, unconverged)
    }

    /// The unit values of a paired quantity over units of `family`:
    /// `pair(unit, target, n)` gives one pair's difference (or None), pairs
    /// are taken for every target half of the unit's bases and every n in
    /// `ns`, and averaged within the unit. Also counts the units that used
    /// an unconverged network.
    pub fn paired(&self, family: &Family, ns: &[i32], pair: impl Fn(&Lookup<'_, 'a>, &Half, i32) -> Option<Pair>) -> (Vec<f64>, usize) {
        let (keyed, unconverged) = self.paired_by_unit(family, ns, pair);
        (keyed.into_iter().map(|(_, v)| v).collect(), unconverged)
    }

    /// [`Units::paired`] with each value's unit.
    pub fn paired_by_unit(&self, family: &Family, ns: &[i32], pair: impl Fn(&Lookup<'_, 'a>, &Half, i32) -> Option<Pair>) -> (Vec<(UnitKey, f64)>, usize) {
        self.per_unit(family, |look| {
            let pairs: Vec<Pair> = look.targets().into_iter().flat_map(|t| ns.iter().filter_map(|&n| pair(look, t, n)).collect::<Vec<_>>()).collect();
            Pair::mean(&pairs)
        })
    }

    /// Unit means of one cell (networks of `arm` at `n` whose target passes
    /// `target`), for the summary's interval.
    pub fn cell_values(&self, family: &Family, arm: ArmLabel, n: i32, target: impl Fn(&Half) -> bool) -> Vec<f64> {
        self.units
            .iter()
            .filter(|((f, _, _), _)| f == family)
            .filter_map(|(_, nets)| {
                let v: Vec<f64> =
                    nets.iter().filter(|((a, t, m, _), _)| *a == arm && *m == n && target(t)).flat_map(|(_, ns)| ns.iter().map(|net| net.top1)).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
    }

    /// Units that lack a cell (arm, target, n) which another unit of their
    /// family has: each with the cells it lacks (`AnB on B at n = 4`).
    /// Their quantities rest on fewer pairs than the grid planned.
    pub fn incomplete(&self) -> Vec<(UnitKey, Vec<String>)> {
        let mut out = Vec::new();
        for (key, nets) in &self.units {
            let mut lacking: Vec<String> = Vec::new();
            for (_, other) in self.units.iter().filter(|(k, _)| k.0 == key.0 && *k != key) {
                for c in other.keys().filter(|c| !nets.contains_key(*c)) {
                    let name = format!("{} on {} at n = {}", c.0, c.1, c.2);
                    if !lacking.contains(&name) {
                        lacking.push(name);
                    }
                }
            }
            if !lacking.is_empty() {
                lacking.sort();
                out.push((key.clone(), lacking));
            }
        }
        // by family name, as every table orders families
        out.sort_by(|(a, _), (b, _)| (a.0.name(), &a.1, a.2).cmp(&(b.0.name(), &b.1, b.2)));
        out
    }
}

/// One pair's difference, and whether every network in it converged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// The difference.
    pub value: f64,
    /// False when a network of the pair is known not to have converged.
    pub converged: bool,
}

impl Pair {
    /// The mean of several pairs (None for none), converged only if all are.
    pub fn mean(pairs: &[Pair]) -> Option<Pair> {
        (!pairs.is_empty())
            .then(|| Pair { value: pairs.iter().map(|p| p.value).sum::<f64>() / pairs.len() as f64, converged: pairs.iter().all(|p| p.converged) })
    }
}

/// The networks of one unit, by cell.
pub struct Lookup<'u, 'a> {
    nets: &'u BTreeMap<CellKey<'a>, Vec<&'a Net>>,
}

impl Lookup<'_, '_> {
    /// The cell of `arm` on `target` at `n` (bases: n = 0): its top-1
    /// (the mean over a random split's replicates) as a pair with nothing,
    /// and whether all of its networks converged.
    pub fn get(&self, arm: ArmLabel, target: &Half, n: i32) -> Option<Pair> {
        Pair::mean(&self.cell(arm, target, n)?.iter().map(|n| Pair { value: n.top1, converged: n.may_count() }).collect::<Vec<_>>())
    }

    /// The networks of `arm` on `target` at `n` (one per replicate).
    fn cell(&self, arm: ArmLabel, target: &Half, n: i32) -> Option<&[&Net]> {
        self.nets.iter().find(|((a, t, m, _), _)| *a == arm && *t == target && *m == n).map(|(_, v)| v.as_slice())
    }

    /// The target halves of this unit's bases.
    pub fn targets(&self) -> Vec<&Half> {
        self.nets.keys().filter(|(arm, ..)| *arm == ArmLabel::Base).map(|(_, t, ..)| *t).collect()
    }

    /// `a − b` for two cells of this unit, paired replicate by replicate
    /// (a random split's replicates each give a pair, and the pairs are
    /// averaged; a replicate that lacks either network gives none), if any
    /// pair exists. Every network of both must have converged for the
    /// difference to be meaningful: an unconverged network makes every
    /// comparison with it meaningless.
    pub fn diff(&self, a: (ArmLabel, &Half, i32), b: (ArmLabel, &Half, i32)) -> Option<Pair> {
        let (xs, ys) = (self.cell(a.0, a.1, a.2)?, self.cell(b.0, b.1, b.2)?);
        let pairs: Vec<Pair> = xs
            .iter()
            .filter_map(|x| ys.iter().find(|y| y.replicate == x.replicate).map(|y| Pair { value: x.top1 - y.top1, converged: x.may_count() && y.may_count() }))
            .collect();
        Pair::mean(&pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(arm: ArmLabel, split: &str, target: &str, n: i32, top1: f64) -> Net {
        Net {
            run_id: format!("r{split}-{arm}-{target}-n{n}"),
            origin: Origin::Runs,
            family: Family::Random,
            arm,
            split: split.into(),
            replicate: 0,
            target: target.parse().expect("a half"),
            n,
            k: None,
            top1,
            converged: Some(true),
        }
    }

    #[test]
    fn t_quantiles_match_tables() {
        for (df, want) in [(1, 12.706_204_736), (2, 4.302_652_730), (3, 3.182_446_305), (7, 2.364_624_252), (30, 2.042_272_456)] {
            assert!((t975(df) - want).abs() < 1e-6, "df {df}: {}", t975(df));
        }
    }

    /// Co-adaptation over three units, by hand:
    /// unit 0: base_B 0.80, BnB(3) 0.76 → 0.04;
    /// unit 1: base_B 0.70, BnB(3) 0.69 → 0.01;
    /// unit 2: base_B 0.75, BnB(3) 0.70 → 0.05.
    /// Mean 0.10/3 = 0.0333…; deviations 0.00667, −0.02333, 0.01667; sd =
    /// √((0.0000444 + 0.000544 + 0.000278)/2) = 0.020817; half-width =
    /// t(0.975, 2) · sd / √3 = 4.302653 × 0.020817 / 1.732051 = 0.051713.
    #[test]
    fn the_interval_over_three_units_matches_a_hand_computation() {
        let v = [
            net(ArmLabel::Base, "0", "B", 0, 0.80),
            net(ArmLabel::BnB, "0", "B", 3, 0.76),
            net(ArmLabel::Base, "1", "B", 0, 0.70),
            net(ArmLabel::BnB, "1", "B", 3, 0.69),
            net(ArmLabel::Base, "2", "B", 0, 0.75),
            net(ArmLabel::BnB, "2", "B", 3, 0.70),
        ];
        let units = Units::new(&v, Origin::Runs).expect("units");
        let (values, stale) = units.paired(&Family::Random, &[3], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        assert_eq!(stale, 0);
        let e = Estimate::over_units(&values);
        assert_eq!(e.units, 3);
        assert!((e.mean - 0.1 / 3.0).abs() < 1e-12);
        assert!((e.se * 3f64.sqrt() - 0.020_816_659_994_661).abs() < 1e-9, "{}", e.se);
        let half = 4.302_652_729_911 * 0.020_816_659_994_661 / 3f64.sqrt();
        assert!((e.ci_low.expect("lo") - (0.1 / 3.0 - half)).abs() < 1e-6 && (e.ci_high.expect("hi") - (0.1 / 3.0 + half)).abs() < 1e-6);
        assert!((half - 0.051_713).abs() < 1e-5);
        assert_eq!(e.sign(), None, "the interval contains 0: inconclusive");
        assert!(Estimate::over_units(&[0.1]).ci_low.is_none(), "one unit: no interval");
    }

    /// Half A is easy (base 0.95), half B hard (base 0.75); BnB equals its
    /// own base exactly in every unit. Paired with the target base,
    /// co-adaptation is 0; against the mean of all bases (the pooled
    /// convention) the halves' gap of 0.20 would leak in as +0.10... −0.10.
    #[test]
    fn co_adaptation_uses_the_target_base_and_the_halves_gap_does_not_leak() {
        let mut v = Vec::new();
        for (s, wobble) in [("0", 0.0), ("1", 0.01), ("2", -0.01)] {
            v.push(net(ArmLabel::Base, s, "A", 0, 0.95 + wobble));
            v.push(net(ArmLabel::Base, s, "B", 0, 0.75 + wobble));
            v.push(net(ArmLabel::BnB, s, "B", 4, 0.75 + wobble));
        }
        let units = Units::new(&v, Origin::Runs).expect("units");
        let (values, _) = units.paired(&Family::Random, &[4], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        assert_eq!(values, vec![0.0, 0.0, 0.0]);
        // only B has a BnB: half A contributes no pair
        let pooled_base = v.iter().filter(|n| n.arm == ArmLabel::Base).map(|n| n.top1).sum::<f64>() / 6.0;
        assert!((pooled_base - 0.75 - 0.10).abs() < 1e-12, "the pooled convention would report −0.10");
    }

    #[test]
    fn an_unconverged_network_is_counted_and_fixed_split_replicates_are_separate_units() {
        let fixed = |mut n: Net, r: i32| {
            n.family = Family::Natman;
            n.replicate = r;
            n
        };
        let mut v = vec![fixed(net(ArmLabel::Base, "natman", "B", 0, 0.6), 0), fixed(net(ArmLabel::AnB, "natman", "B", 1, 0.7), 0)];
        v[0].converged = Some(false);
        v.extend([fixed(net(ArmLabel::Base, "natman", "B", 0, 0.8), 1), fixed(net(ArmLabel::AnB, "natman", "B", 1, 0.79), 1)]);
        let units = Units::new(&v, Origin::Runs).expect("replicate 1 is its own unit, not a duplicate of replicate 0");
        let (values, stale) = units.paired(&Family::Natman, &[1], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::AnB, t, n)));
        // replicate 0's base had not converged: its unit is left out and counted
        assert_eq!(values, vec![0.8 - 0.79]);
        assert_eq!(stale, 1);
        // the transfer, not only the base, must have converged
        v[0].converged = Some(true);
        v[3].converged = Some(false);
        let units = Units::new(&v, Origin::Runs).expect("units");
        let (values, stale) = units.paired(&Family::Natman, &[1], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::AnB, t, n)));
        assert_eq!((values.len(), stale), (1, 1));
    }

    #[test]
    fn replicates_of_a_random_split_are_averaged_into_one_unit() {
        let mut v = vec![net(ArmLabel::Base, "0", "B", 0, 0.80), net(ArmLabel::BnB, "0", "B", 2, 0.70)];
        let mut again = [net(ArmLabel::Base, "0", "B", 0, 0.90), net(ArmLabel::BnB, "0", "B", 2, 0.86)];
        for n in &mut again {
            n.replicate = 1;
        }
        v.extend(again);
        v.extend([net(ArmLabel::Base, "1", "B", 0, 0.75), net(ArmLabel::BnB, "1", "B", 2, 0.74)]);
        let units = Units::new(&v, Origin::Runs).expect("units");
        let (values, _) = units.paired(&Family::Random, &[2], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        // split 0: (0.80 + 0.90)/2 − (0.70 + 0.86)/2 = 0.07; split 1: 0.01 — two units, not three
        assert_eq!(values.len(), 2);
        assert!((values[0] - 0.07).abs() < 1e-12 && (values[1] - 0.01).abs() < 1e-12, "{values:?}");
    }

    /// A replicate that lacks a network gives no pair: the difference is
    /// never a mean over some replicates minus a mean over others.
    #[test]
    fn random_split_replicates_pair_within_a_replicate() {
        let mut v = Vec::new();
        for (r, base, bnb) in [(0, 0.80, Some(0.78)), (1, 0.90, Some(0.86)), (2, 0.60, None)] {
            let mut b = net(ArmLabel::Base, "0", "B", 0, base);
            b.replicate = r;
            v.push(b);
            if let Some(x) = bnb {
                let mut s = net(ArmLabel::BnB, "0", "B", 3, x);
                s.replicate = r;
                v.push(s);
            }
        }
        let units = Units::new(&v, Origin::Runs).expect("units");
        let (values, _) = units.paired(&Family::Random, &[3], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        // replicates 0 and 1: (0.02 + 0.04) / 2; replicate 2's base alone would have pulled a cell mean to 0.767
        assert_eq!(values.len(), 1);
        assert!((values[0] - 0.03).abs() < 1e-12, "{values:?}");
    }

    #[test]
    fn a_network_claimed_twice_is_refused_naming_both_runs() {
        let mut v = vec![net(ArmLabel::Base, "0", "B", 0, 0.8), net(ArmLabel::Base, "0", "B", 0, 0.7)];
        v[1].run_id = "other-sweep/r0-base-B".into();
        let e = Units::new(&v, Origin::Runs).err().expect("a duplicate is an error").to_string();
        assert!(e.contains("r0-base-B-n0") && e.contains("other-sweep/r0-base-B"), "{e}");
        // a reduced network per k is no duplicate
        let mut r = vec![net(ArmLabel::Reduced, "whole", "whole", 0, 0.3), net(ArmLabel::Reduced, "whole", "whole", 0, 0.5)];
        r[0].k = Some(1);
        r[1].k = Some(10);
        assert!(Units::new(&r, Origin::Runs).is_ok());
    }

    #[test]
    fn a_unit_missing_a_cell_is_flagged() {
        let v = [net(ArmLabel::Base, "0", "B", 0, 0.8), net(ArmLabel::AnB, "0", "B", 4, 0.7), net(ArmLabel::Base, "1", "B", 0, 0.8)];
        let units = Units::new(&v, Origin::Runs).expect("units");
        let flagged = units.incomplete();
        assert_eq!(flagged.len(), 1);
        assert_eq!(flagged[0].0.1, "1");
        assert_eq!(flagged[0].1, vec!["AnB on B at n = 4".to_string()]);
    }

    /// Welch's interval by hand: a = [0.1, 0.2, 0.3] (mean 0.2, s² 0.01),
    /// b = [0.0, 0.0, 0.1, 0.1] (mean 0.05, s² 1/300): se = √(0.01/3 +
    /// 1/1200) = 0.064550; df = (0.0041667)² / ((0.0033333)²/2 + (0.00083333)²/3) = 3.0.
    #[test]
    fn the_two_sample_difference_is_welchs() {
        let e = Estimate::difference(&[0.1, 0.2, 0.3], &[0.0, 0.0, 0.1, 0.1]);
        assert!((e.mean - 0.15).abs() < 1e-12);
        assert!((e.se - 0.064_549_722).abs() < 1e-8, "{e:?}");
        assert!((e.df - 3.0).abs() < 1e-3, "{e:?}");
        let half = 3.182_446_305 * e.se;
        assert!((e.ci_low.expect("lo") - (0.15 - half)).abs() < 1e-4);
        assert_eq!(e.units, 3);
        assert!(Estimate::difference(&[0.1], &[0.2, 0.3]).ci_low.is_none(), "one unit on a side: no interval");
        // a 90% interval is narrower than the 95% one
        let (e95, e90) = (Estimate::over_units(&[0.1, 0.2, 0.3]), Estimate::over_units(&[0.1, 0.2, 0.3]).with_level(0.90));
        assert!(e90.ci_low.expect("lo") > e95.ci_low.expect("lo"));
    }

    #[test]
    fn cell_intervals_are_clipped_to_the_metric() {
        let e = Estimate::over_units(&[0.99, 0.5]).clipped(0.0, 1.0);
        assert_eq!(e.ci_high, Some(1.0));
        assert_eq!(e.ci_low, Some(0.0));
    }
}
