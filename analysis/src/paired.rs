//! Decomposition quantities estimated over independent units, with arms
//! paired inside each unit, and a 95% interval over units.
//!
//! **The unit.** Networks that share a split are not independent: BnB, AnB
//! and their `+` arms at every n are all compared with the same two bases
//! of that split, and every transfer starts from one of them. The
//! independent unit is therefore one split of one replicate: `(family,
//! split, replicate)` (for `natman` and `whole`, whose split is fixed, the
//! replicate alone).
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
//! A unit whose base did not converge (`converged` false in its record) is
//! counted in `unconverged`: its comparisons are not meaningful, and the
//! report says so.

use std::collections::BTreeMap;

use polars::prelude::*;
use records::ArmLabel;
use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::error::Result;

/// One network, as the pairing needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    /// `runs` or `paper`.
    pub origin: String,
    /// `random`, `natman`, `whole` (or a user family).
    pub family: String,
    /// Arm label.
    pub arm: ArmLabel,
    /// Split id within the family.
    pub split: String,
    /// Replicate index.
    pub replicate: i32,
    /// Target half.
    pub target: String,
    /// Layers copied.
    pub n: i32,
    /// Top-1 (the authors' metric).
    pub top1: f64,
    /// Whether its curve had flattened (`None`: not known).
    pub converged: Option<bool>,
}

/// The networks of a usable-rows frame.
pub fn nets(ok: &DataFrame) -> Result<Vec<Net>> {
    let s = |c: &str| -> Result<StringChunked> { Ok(ok.column(c)?.str()?.clone()) };
    let (origin, family, arm, split, target) = (s("origin")?, s("family")?, s("arm")?, s("split")?, s("target_half")?);
    let rep = ok.column("replicate")?.i32()?.clone();
    let n = ok.column("n")?.i32()?.clone();
    let top1 = ok.column("top1")?.f64()?.clone();
    let conv = ok.column("converged")?.bool()?.clone();
    (0..ok.height())
        .map(|i| {
            Ok(Net {
                origin: origin.get(i).unwrap_or("").into(),
                family: family.get(i).unwrap_or("").into(),
                arm: arm_label(arm.get(i))?,
                split: split.get(i).unwrap_or("").into(),
                replicate: rep.get(i).unwrap_or(0),
                target: target.get(i).unwrap_or("").into(),
                n: n.get(i).unwrap_or(0),
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
    /// Mean of the unit values.
    pub mean: f64,
    /// Sample standard deviation of the unit values (NaN for one unit).
    pub sd: f64,
    /// Units.
    pub units: usize,
    /// 95% interval, low end (None for fewer than 2 units).
    pub ci_low: Option<f64>,
    /// 95% interval, high end.
    pub ci_high: Option<f64>,
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64).map_or(f64::NAN, |t| t.inverse_cdf(0.975))
}

impl Estimate {
    /// Mean and t interval of `values` (one per unit).
    pub fn over_units(values: &[f64]) -> Estimate {
        let k = values.len();
        let mean = if k == 0 { f64::NAN } else { values.iter().sum::<f64>() / k as f64 };
        if k < 2 {
            return Estimate { mean, sd: f64::NAN, units: k, ci_low: None, ci_high: None };
        }
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (k - 1) as f64).sqrt();
        let half = t975(k - 1) * sd / (k as f64).sqrt();
        Estimate { mean, sd, units: k, ci_low: Some(mean - half), ci_high: Some(mean + half) }
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

/// The key of an independent unit: (family, split, replicate).
pub type UnitKey = (String, String, i32);

/// Networks of one origin grouped by unit, then by (arm, target, n).
pub struct Units<'a> {
    units: BTreeMap<UnitKey, BTreeMap<(ArmLabel, &'a str, i32), &'a Net>>,
}

impl<'a> Units<'a> {
    /// Group `nets` of `origin`. Two networks of one unit, arm, target and
    /// n would be replicates that the unit key failed to tell apart: the
    /// first is kept and `duplicates` counts the rest.
    pub fn new(nets: &'a [Net], origin: &str) -> (Self, usize) {
        let mut units: BTreeMap<UnitKey, BTreeMap<(ArmLabel, &str, i32), &Net>> = BTreeMap::new();
        let mut dup = 0;
        for n in nets.iter().filter(|n| n.origin == origin) {
            let slot = units.entry((n.family.clone(), n.split.clone(), n.replicate)).or_default();
            if slot.insert((n.arm, n.target.as_str(), n.n), n).is_some() {
                dup += 1;
            }
        }
        (Units { units }, dup)
    }

    /// The unit values of a paired quantity over units of `family`:
    /// `pair(unit, target, n)` gives one pair's difference (or None), pairs
    /// are taken for every target half of the unit's bases and every n in
    /// `ns`, and averaged within the unit. Also counts the units that used
    /// an unconverged network.
    pub fn paired(&self, family: &str, ns: &[i32], pair: impl Fn(&Lookup<'_, 'a>, &str, i32) -> Option<Pair>) -> (Vec<f64>, usize) {
        let (keyed, unconverged) = self.paired_by_unit(family, ns, pair);
        (keyed.into_iter().map(|(_, v)| v).collect(), unconverged)
    }

    /// [`Units::paired`] with each value's unit.
    pub fn paired_by_unit(&self, family: &str, ns: &[i32], pair: impl Fn(&Lookup<'_, 'a>, &str, i32) -> Option<Pair>) -> (Vec<(UnitKey, f64)>, usize) {
        let mut values = Vec::new();
        let mut unconverged = 0;
        for (key, nets) in &self.units {
            let fam = &key.0;
            if fam != family {
                continue;
            }
            let look = Lookup { nets };
            let targets: Vec<&str> = nets.keys().filter(|(arm, _, _)| *arm == ArmLabel::Base).map(|(_, t, _)| *t).collect();
            let mut sum = 0.0;
            let mut count = 0usize;
            let mut stale = false;
            for t in &targets {
                for &n in ns {
                    if let Some(p) = pair(&look, t, n) {
                        sum += p.value;
                        count += 1;
                        stale |= !p.converged;
                    }
                }
            }
            if count > 0 {
                values.push((key.clone(), sum / count as f64));
                unconverged += stale as usize;
            }
        }
        (values, unconverged)
    }

    /// Unit means of one cell (networks of `arm` at `n` whose target passes
    /// `target`), for the summary's interval.
    pub fn cell_values(&self, family: &str, arm: ArmLabel, n: i32, target: impl Fn(&str) -> bool) -> Vec<f64> {
        self.units
            .iter()
            .filter(|((f, _, _), _)| f == family)
            .filter_map(|(_, nets)| {
                let v: Vec<f64> = nets.iter().filter(|((a, t, m), _)| *a == arm && *m == n && target(t)).map(|(_, net)| net.top1).collect();
                (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
            })
            .collect()
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

/// The networks of one unit, by (arm, target, n).
pub struct Lookup<'u, 'a> {
    nets: &'u BTreeMap<(ArmLabel, &'a str, i32), &'a Net>,
}

impl Lookup<'_, '_> {
    /// The network of `arm` on `target` at `n` (bases: n = 0).
    pub fn get(&self, arm: ArmLabel, target: &str, n: i32) -> Option<&Net> {
        self.nets.get(&(arm, target, n)).copied()
    }

    /// `a − b` for two networks of this unit, if both exist. Only bases are
    /// judged for convergence: they are what every other arm is measured
    /// against (a frozen transfer that stops early is a result, not a flaw).
    pub fn diff(&self, a: (ArmLabel, &str, i32), b: (ArmLabel, &str, i32)) -> Option<Pair> {
        let (x, y) = (self.get(a.0, a.1, a.2)?, self.get(b.0, b.1, b.2)?);
        let ok = |n: &Net| n.arm != ArmLabel::Base || n.converged != Some(false);
        Some(Pair { value: x.top1 - y.top1, converged: ok(x) && ok(y) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(arm: ArmLabel, split: &str, target: &str, n: i32, top1: f64) -> Net {
        Net { origin: "runs".into(), family: "random".into(), arm, split: split.into(), replicate: 0, target: target.into(), n, top1, converged: Some(true) }
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
        let (units, dup) = Units::new(&v, "runs");
        assert_eq!(dup, 0);
        let (values, stale) = units.paired("random", &[3], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        assert_eq!(stale, 0);
        let e = Estimate::over_units(&values);
        assert_eq!(e.units, 3);
        assert!((e.mean - 0.1 / 3.0).abs() < 1e-12);
        assert!((e.sd - 0.020_816_659_994_661).abs() < 1e-9, "{}", e.sd);
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
        let (units, _) = Units::new(&v, "runs");
        let (values, _) = units.paired("random", &[4], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        assert_eq!(values, vec![0.0, 0.0, 0.0]);
        // only B has a BnB: half A contributes no pair
        let pooled_base = v.iter().filter(|n| n.arm == ArmLabel::Base).map(|n| n.top1).sum::<f64>() / 6.0;
        assert!((pooled_base - 0.75 - 0.10).abs() < 1e-12, "the pooled convention would report −0.10");
    }

    #[test]
    fn an_unconverged_base_is_counted_and_replicates_are_separate_units() {
        let mut v = vec![net(ArmLabel::Base, "0", "B", 0, 0.6), net(ArmLabel::BnB, "0", "B", 1, 0.7)];
        v[0].converged = Some(false);
        let mut r1 = [net(ArmLabel::Base, "0", "B", 0, 0.8), net(ArmLabel::BnB, "0", "B", 1, 0.79)];
        for n in &mut r1 {
            n.replicate = 1;
        }
        v.extend(r1);
        let (units, dup) = Units::new(&v, "runs");
        assert_eq!(dup, 0, "replicate 1 is its own unit, not a duplicate of replicate 0");
        let (values, stale) = units.paired("random", &[1], |u, t, n| u.diff((ArmLabel::Base, t, 0), (ArmLabel::BnB, t, n)));
        assert_eq!(values.len(), 2);
        assert!((values[0] + 0.1).abs() < 1e-12 && (values[1] - 0.01).abs() < 1e-12);
        assert_eq!(stale, 1);
    }

    #[test]
    fn cell_intervals_are_clipped_to_the_metric() {
        let e = Estimate::over_units(&[0.99, 0.5]).clipped(0.0, 1.0);
        assert_eq!(e.ci_high, Some(1.0));
        assert_eq!(e.ci_low, Some(0.0));
    }
}
