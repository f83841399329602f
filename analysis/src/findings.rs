//! The paper's findings, each judged for a set of runs from the paired
//! decomposition ([`crate::paired`]). Every rule lives here, each with the
//! test that checks it (`tests` below) and why it is the rule.
//!
//! | # | finding (Yosinski et al. 2014) | quantity | observed when |
//! |---|---|---|---|
//! | 1 | fragile co-adaptation: chopping a network in the middle and retraining the top loses accuracy | base − BnB at each middle n (2..6) the grid has | one n's Bonferroni interval (level 1 − 0.05/m over the m middle n) > 0 |
//! | 2 | specificity grows with n and is > 0 at the top | BnB − AnB at the top n, and its growth from the bottom n | both 95% intervals > 0 |
//! | 3 | fine-tuning recovers: BnB+ ≈ base, AnB+ ≈ base or above | BnB+ − base and AnB+ − base over the widest range of n | BnB+: 90% interval inside ±0.01 (equivalence, two one-sided tests); AnB+: 90% interval's low end > −0.01 (non-inferiority) |
//! | 4 | lasting boost of transfer + fine-tuning, beyond the extra training | AnB+ − base, and its control AnB+ − BnB+, over the widest range | both 95% intervals > 0 |
//! | 5 | dissimilar tasks transfer worse (one row per dissimilar split) | its transfer drop − the random-split drop at the top n both have (Welch) | 95% interval < 0 |
//! | 6 | random frozen features fall off from the middle layers | nolearn − whole-set base at the lowest middle n the grid has | 95% interval < 0 |
//! | 6 | even a dissimilar task's features beat random ones (one row per dissimilar split) | AnB / its target's base − nolearn / whole-set base, at every n both have (Welch) | every 95% interval > 0 |
//!
//! Verdicts: **observed** (the rule holds), **opposite** (the interval
//! excludes the paper's claim the other way), **inconclusive** (neither),
//! **not testable (k units)** when a quantity has fewer than 2 units (no
//! interval can exist: a design limit, not ambiguous evidence), **not
//! meaningful** when it has fewer than 2 because units resting on an
//! unconverged network were left out, **not measured** when the grid lacks
//! the arms. A unit whose comparison involves a network that had not
//! converged is left out of that quantity ([`crate::paired`]); the
//! evidence says how many were.
//!
//! Why these rules:
//! * Every claim is directional and judged on a two-sided interval, so a
//!   false "observed" has a chance of at most 2.5% (one side of 95%);
//!   finding 3's non-inferiority, on a 90% interval, 5% (the convention of
//!   equivalence tests).
//! * Finding 1 claims co-adaptation at *some* middle n, a union of tests:
//!   Bonferroni keeps the chance of a false "observed" at 2.5% whatever
//!   the correlation between layers (they share their bases), where "any
//!   of m 95% intervals" would allow up to m × 2.5%.
//! * Finding 2 needs both claims (an intersection): each at 95% suffices.
//! * Finding 3's "≈" is an equivalence claim, and absence of evidence of a
//!   difference is not evidence of its absence: the 90% interval inside
//!   ±[`RECOVERY_MARGIN`] is the two one-sided 5% tests. "AnB+ ≈ base or
//!   above" is one-sided (non-inferiority). The margin 0.01: the paper
//!   treats 0.000–0.005 as "no specificity" and 0.016 (the lasting boost)
//!   as an effect, so 0.01 lies between what it calls nothing and the
//!   smallest effect it reports.
//! * Finding 4: AnB+ trains twice as long as the base. BnB+ gets the same
//!   extra training without transfer, so the boost counts only where
//!   AnB+ also beats BnB+ (on the same target where the grid has both,
//!   else each against its own target's base within the split).
//! * Findings 5 and 6 compare a fixed split's replicates with random
//!   splits (or the whole set's replicates): two independent sets of
//!   units, Welch's interval. Finding 6 is judged low: at the top n random
//!   features fail almost surely; the paper's point is that they fail from
//!   the lower-middle layers on, and that a dissimilar task's features
//!   still beat them.

use std::fmt;

use serde::Serialize;

use crate::quantity::Quantity;
use crate::summary::{Convention, DecompRow, MIDDLE, plural};
use crate::vocab::Origin;
use records::Family;

/// How the runs stand on one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// The rule holds in the paper's direction.
    Observed,
    /// The interval excludes the paper's claim the other way.
    Opposite,
    /// The interval contains 0 (or the margin), or the claims disagree.
    Inconclusive,
    /// A quantity has fewer than 2 units (the number given): no interval can exist.
    NotTestable(usize),
    /// A network behind the quantity had not converged.
    NotMeaningful,
    /// The grid has no networks for it.
    NotMeasured,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Observed => f.write_str("observed"),
            Verdict::Opposite => f.write_str("opposite"),
            Verdict::Inconclusive => f.write_str("inconclusive"),
            Verdict::NotTestable(k) => write!(f, "not testable ({})", plural(*k, "unit")),
            Verdict::NotMeaningful => f.write_str("not meaningful (unconverged network)"),
            Verdict::NotMeasured => f.write_str("not measured"),
        }
    }
}

/// One of the paper's findings, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// 1..6, as in the table above.
    pub number: u8,
    /// What the paper found (findings 5 and 6: for which dissimilar split).
    pub claim: String,
    /// The paper's own numbers.
    pub paper: &'static str,
    /// How these runs stand.
    pub verdict: Verdict,
    /// The numbers behind the verdict: value [interval] (units) per quantity.
    pub evidence: String,
}

/// The equivalence margin of finding 3 (see the module's "why").
pub const RECOVERY_MARGIN: f64 = 0.01;

/// The level of an equivalence interval: two one-sided tests at 1 − LEVEL
/// each, so a 90% interval.
pub const EQUIVALENCE_LEVEL: f64 = 1.0 - 2.0 * (1.0 - LEVEL);

/// An interval inside ±[`RECOVERY_MARGIN`]: equivalent to 0 (at
/// [`EQUIVALENCE_LEVEL`]).
pub fn within_margin(e: &crate::paired::Estimate) -> bool {
    e.ci_low.is_some_and(|lo| lo > -RECOVERY_MARGIN) && e.ci_high.is_some_and(|hi| hi < RECOVERY_MARGIN)
}

/// The level of a single claim's interval.
pub const LEVEL: f64 = 0.95;

fn fmt_row(r: &DecompRow, e: &crate::paired::Estimate, level: f64) -> String {
    let units = r.units_label();
    match (e.ci_low, e.ci_high) {
        (Some(lo), Some(hi)) => {
            let pct = level * 100.0;
            let pct = if (pct - pct.round()).abs() < 1e-9 { format!("{pct:.0}") } else { format!("{pct:.1}") };
            format!("{}: {} {:+.3} [{lo:+.3}, {hi:+.3}] ({pct}%, {units})", r.quantity, r.layers_label(), r.value)
        }
        _ => format!("{}: {} {:+.3} (no interval: {units})", r.quantity, r.layers_label(), r.value),
    }
}

/// The verdict of rows: the design and convergence first, then the rule.
fn judge(rows: &[&DecompRow], observed: bool, opposite: bool) -> Verdict {
    if rows.is_empty() {
        Verdict::NotMeasured
    } else if let Some(k) = rows.iter().map(|r| r.units).min().filter(|&k| k < 2) {
        // too few units left: because unconverged networks' units were left out, or by design
        if rows.iter().any(|r| r.unconverged > 0) { Verdict::NotMeaningful } else { Verdict::NotTestable(k) }
    } else if opposite {
        Verdict::Opposite
    } else if observed {
        Verdict::Observed
    } else {
        Verdict::Inconclusive
    }
}

/// Rows with their intervals at one level, and the evidence they give.
struct Judged<'a> {
    rows: Vec<&'a DecompRow>,
    est: Vec<crate::paired::Estimate>,
    evidence: Vec<String>,
}

impl<'a> Judged<'a> {
    fn new(rows: Vec<&'a DecompRow>, level: f64) -> Self {
        let est: Vec<_> = rows.iter().map(|r| r.estimate().with_level(level)).collect();
        let evidence = rows.iter().zip(&est).map(|(r, e)| fmt_row(r, e, level)).collect();
        Judged { rows, est, evidence }
    }
    fn any(&self, side: bool) -> bool {
        self.est.iter().any(|e| e.sign() == Some(side))
    }
    fn all(&self, side: bool) -> bool {
        !self.est.is_empty() && self.est.iter().all(|e| e.sign() == Some(side))
    }
}

/// One origin's paired rows of the decomposition, selected by quantity.
struct Rows<'a> {
    dec: &'a [DecompRow],
    origin: Origin,
}

impl<'a> Rows<'a> {
    /// Every row of `q`.
    fn all(&self, q: &Quantity) -> Vec<&'a DecompRow> {
        self.dec.iter().filter(|r| r.origin == self.origin && r.convention == Convention::Paired && &r.quantity == q).collect()
    }

    /// The rows of `q` at one n each.
    fn per_n(&self, q: &Quantity) -> Vec<&'a DecompRow> {
        self.all(q).into_iter().filter(|r| r.n_from == r.n_to).collect()
    }

    /// The row of `q` at the largest n the grid has.
    fn top(&self, q: &Quantity) -> Vec<&'a DecompRow> {
        self.per_n(q).into_iter().max_by_key(|r| r.n_to).into_iter().collect()
    }

    /// The row of `q` pooled over the widest range of n.
    fn widest(&self, q: &Quantity) -> Vec<&'a DecompRow> {
        self.all(q).into_iter().filter(|r| r.n_from < r.n_to).min_by_key(|r| r.n_from).into_iter().collect()
    }

    /// The dissimilar splits judged (natman, or the user's by class name),
    /// by name as the report's tables order them; natural/man-made, not
    /// testable, where the grid has none.
    fn dissimilar_families(&self) -> Vec<Family> {
        let mut families: Vec<Family> = self
            .dec
            .iter()
            .filter(|r| r.origin == self.origin && r.convention == Convention::Paired)
            .filter_map(|r| match &r.quantity {
                Quantity::MinusRandomDrop(f) => Some(f.clone()),
                _ => None,
            })
            .collect();
        families.sort_unstable_by(|a, b| a.name().cmp(b.name()));
        families.dedup();
        if families.is_empty() {
            families.push(Family::Natman);
        }
        families
    }
}

/// A finding with the evidence of the rows its verdict rests on.
fn finding(number: u8, claim: String, paper: &'static str, verdict: Verdict, parts: &[&Judged]) -> Finding {
    let evidence = parts.iter().flat_map(|j| j.evidence.iter().cloned()).collect::<Vec<_>>().join("; ");
    Finding { number, claim, paper, verdict, evidence }
}

/// 1: one Bonferroni family over the middle n the grid has.
fn coadaptation(r: &Rows<'_>) -> Finding {
    let middle: Vec<&DecompRow> = r.per_n(&Quantity::Coadaptation).into_iter().filter(|d| MIDDLE.contains(&d.n_from)).collect();
    let co = Judged::new(middle.clone(), 1.0 - (1.0 - LEVEL) / middle.len().max(1) as f64);
    finding(
        1,
        format!("fragile co-adaptation: base − BnB > 0 at some middle n (Bonferroni over {})", plural(middle.len(), "layer")),
        "n = 3–6, up to 0.032 (n = 5)",
        judge(&co.rows, co.any(true), co.any(false) && !co.any(true)),
        &[&co],
    )
}

/// 2: specificity above 0 at the top n, and growing from the bottom n.
fn specificity(r: &Rows<'_>) -> Finding {
    let mut rows = r.top(&Quantity::Specificity);
    rows.extend(r.all(&Quantity::SpecificityGrowth));
    let spec = Judged::new(rows, LEVEL);
    finding(
        2,
        "specificity grows with n and is > 0 at the top".into(),
        "0.000–0.005 for n ≤ 4, 0.081 at n = 7",
        if spec.rows.len() < 2 { judge(&[], false, false) } else { judge(&spec.rows, spec.all(true), spec.any(false)) },
        &[&spec],
    )
}

/// 3: fine-tuning recovers: BnB+ equivalent to the base, AnB+ not worse.
fn recovery(r: &Rows<'_>) -> Finding {
    let (selffer, transfer) =
        (Judged::new(r.widest(&Quantity::SelfferFtVsBase), EQUIVALENCE_LEVEL), Judged::new(r.widest(&Quantity::LastingBoostVsBase), EQUIVALENCE_LEVEL));
    let outside = |e: &crate::paired::Estimate| e.ci_low.is_some_and(|lo| lo > RECOVERY_MARGIN) || e.ci_high.is_some_and(|hi| hi < -RECOVERY_MARGIN);
    let recovered = selffer.est.iter().all(within_margin) && transfer.est.iter().all(|e| e.ci_low.is_some_and(|lo| lo > -RECOVERY_MARGIN));
    let failed = selffer.est.iter().any(outside) || transfer.est.iter().any(|e| e.ci_high.is_some_and(|hi| hi < -RECOVERY_MARGIN));
    let both: Vec<&DecompRow> = selffer.rows.iter().chain(&transfer.rows).copied().collect();
    let complete = !selffer.rows.is_empty() && !transfer.rows.is_empty();
    finding(
        3,
        format!("fine-tuning recovers: BnB+ ≈ base (90% interval within ±{RECOVERY_MARGIN}) and AnB+ not below base by more than {RECOVERY_MARGIN}"),
        "BnB+ − base +0.010, AnB+ − base +0.016 over n = 1–7 (pooled)",
        if complete { judge(&both, recovered, failed) } else { judge(&[], false, false) },
        &[&selffer, &transfer],
    )
}

/// 4: the lasting boost, beyond its BnB+ control.
fn lasting_boost(r: &Rows<'_>) -> Finding {
    let (boost, control) = (Judged::new(r.widest(&Quantity::LastingBoostVsBase), LEVEL), Judged::new(r.widest(&Quantity::LastingBoostVsSelfferFt), LEVEL));
    let both: Vec<&DecompRow> = boost.rows.iter().chain(&control.rows).copied().collect();
    finding(
        4,
        "lasting boost: AnB+ − base > 0 and beyond the same extra training without transfer (AnB+ − BnB+ > 0)".into(),
        "+0.016 / +0.018 / +0.021 over n = 1–7 / 3–7 / 5–7",
        if control.rows.is_empty() { judge(&[], false, false) } else { judge(&both, boost.all(true) && control.all(true), boost.any(false)) },
        &[&boost, &control],
    )
}

/// 5, one per dissimilar split: its drop below the random halves' at the top n.
fn dissimilar_drop(r: &Rows<'_>, family: &Family) -> Finding {
    let dis = Judged::new(r.top(&Quantity::MinusRandomDrop(family.clone())), LEVEL);
    finding(
        5,
        format!("dissimilar tasks transfer worse: {} drop more negative than the random-split drop at the top layers", crate::vocab::family_label(family)),
        "natural/man-made AnB − base −0.250 at n = 7 against −0.083 for random halves",
        judge(&dis.rows, dis.all(false), dis.any(true)),
        &[&dis],
    )
}

/// 6: random frozen features below the whole-set base at the lowest middle n.
fn random_features(r: &Rows<'_>) -> Finding {
    let low: Vec<&DecompRow> =
        r.per_n(&Quantity::NolearnDrop).into_iter().filter(|d| MIDDLE.contains(&d.n_from)).min_by_key(|d| d.n_from).into_iter().collect();
    let nl = Judged::new(low, LEVEL);
    finding(
        6,
        "random frozen features fall off from the middle layers: nolearn below the whole-set base at the lowest middle n".into(),
        "0.001 top-1 (chance) from n = 3 on; −0.05 at n = 2",
        judge(&nl.rows, nl.all(false), nl.any(true)),
        &[&nl],
    )
}

/// 6, one per dissimilar split: its transferred features beat random ones at every n.
fn dissimilar_beats_random(r: &Rows<'_>, family: &Family) -> Finding {
    let vs = Judged::new(r.per_n(&Quantity::MinusNolearnRelative(family.clone())), LEVEL);
    finding(
        6,
        format!("even {} features beat random ones: AnB / base − nolearn / whole-set base > 0 at every n both have", crate::vocab::family_label(family)),
        "natural/man-made transfer well above random features at every n (Fig. 3)",
        judge(&vs.rows, vs.all(true), vs.any(false)),
        &[&vs],
    )
}

/// The six findings for one origin's paired decomposition, in the paper's
/// order: finding 5 and finding 6's second part once per dissimilar split.
pub fn judge_all(dec: &[DecompRow], origin: Origin) -> Vec<Finding> {
    let rows = Rows { dec, origin };
    let families = rows.dissimilar_families();
    let mut out = vec![coadaptation(&rows), specificity(&rows), recovery(&rows), lasting_boost(&rows)];
    out.extend(families.iter().map(|f| dissimilar_drop(&rows, f)));
    out.push(random_features(&rows));
    out.extend(families.iter().map(|f| dissimilar_beats_random(&rows, f)));
    out
}

/// Whether finding `number` is observed.
pub fn observed(findings: &[Finding], number: u8) -> bool {
    findings.iter().any(|f| f.number == number && f.verdict == Verdict::Observed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paired::Estimate;

    /// A paired row whose units have mean `v` and standard error `se`
    /// (95% t interval over `units`, as the decomposition writes it).
    fn row(q: Quantity, n: (i32, i32), v: f64, se: f64, units: usize, unconverged: usize) -> DecompRow {
        let e = Estimate { mean: v, se, df: units.saturating_sub(1) as f64, units, ci_low: None, ci_high: None };
        let e = if units >= 2 { e.with_level(0.95) } else { Estimate { se: f64::NAN, df: f64::NAN, ..e } };
        DecompRow {
            origin: Origin::Runs,
            convention: Convention::Paired,
            quantity: q,
            n_from: n.0,
            n_to: n.1,
            value: v,
            relative: f64::NAN,
            count: units,
            units,
            ci_low: e.ci_low,
            ci_high: e.ci_high,
            unconverged,
            se: e.se,
            df: e.df,
            layers: if n.0 == n.1 { vec![n.0] } else { vec![n.0, n.1] },
        }
    }

    fn verdict(dec: &[DecompRow], number: u8) -> Verdict {
        judge_all(dec, Origin::Runs).into_iter().find(|f| f.number == number).expect("finding").verdict
    }

    // t(0.975, 2) = 4.303; t(1 − 0.025/3, 2) = 7.649 (Bonferroni over three n); t(0.95, 2) = 2.920

    #[test]
    fn intervals_decide_and_unconverged_networks_void() {
        let co =
            |v: f64, se: f64, stale: usize| vec![row(Quantity::Coadaptation, (3, 3), v, se, 3, stale), row(Quantity::Coadaptation, (7, 7), -0.1, 0.01, 3, 0)];
        assert_eq!(verdict(&co(0.02, 0.002, 0), 1), Verdict::Observed, "n = 7 is not a middle layer");
        assert_eq!(verdict(&co(0.02, 0.01, 0), 1), Verdict::Inconclusive);
        assert_eq!(verdict(&co(-0.02, 0.002, 0), 1), Verdict::Opposite);
        // a unit left out for an unconverged network: judged from the rest while 2 remain
        assert_eq!(verdict(&co(0.02, 0.002, 1), 1), Verdict::Observed);
        assert!(judge_all(&co(0.02, 0.002, 1), Origin::Runs)[0].evidence.contains("1 left out: unconverged network"));
        assert_eq!(verdict(&[row(Quantity::Coadaptation, (3, 3), 0.02, f64::NAN, 1, 2)], 1), Verdict::NotMeaningful, "one unit left of three");
        assert_eq!(verdict(&[], 4), Verdict::NotMeasured);
    }

    #[test]
    fn fewer_than_two_units_is_not_testable_not_inconclusive() {
        let one = [row(Quantity::Coadaptation, (4, 4), 0.2, f64::NAN, 1, 0)];
        assert_eq!(verdict(&one, 1), Verdict::NotTestable(1));
        assert_eq!(Verdict::NotTestable(1).to_string(), "not testable (1 unit)");
        let dis = [row(Quantity::MinusRandomDrop(Family::Natman), (7, 7), -0.2, f64::NAN, 1, 0)];
        assert_eq!(verdict(&dis, 5), Verdict::NotTestable(1));
        assert_eq!(verdict(&[row(Quantity::NolearnDrop, (2, 2), -0.3, f64::NAN, 1, 0)], 6), Verdict::NotTestable(1));
    }

    /// 0.02 with se 0.004 over 3 units: the 95% interval (±0.0172) excludes
    /// 0, but among three middle layers Bonferroni's (±0.0306) does not.
    #[test]
    fn co_adaptation_is_one_bonferroni_test_over_the_middle_layers() {
        let alone = [row(Quantity::Coadaptation, (4, 4), 0.02, 0.004, 3, 0)];
        assert_eq!(verdict(&alone, 1), Verdict::Observed, "one middle layer: 95%");
        let three = [row(Quantity::Coadaptation, (2, 2), 0.0, 0.004, 3, 0), alone[0].clone(), row(Quantity::Coadaptation, (6, 6), 0.0, 0.004, 3, 0)];
        assert_eq!(verdict(&three, 1), Verdict::Inconclusive, "three middle layers: 98.3% each");
        let strong = [three[0].clone(), row(Quantity::Coadaptation, (4, 4), 0.04, 0.004, 3, 0), three[2].clone()];
        assert_eq!(verdict(&strong, 1), Verdict::Observed);
    }

    #[test]
    fn specificity_needs_both_the_top_and_the_growth() {
        let top = row(Quantity::Specificity, (7, 7), 0.08, 0.005, 3, 0);
        let low = row(Quantity::Specificity, (2, 2), 0.0, 0.005, 3, 0);
        let grows = row(Quantity::SpecificityGrowth, (2, 7), 0.08, 0.005, 3, 0);
        assert_eq!(verdict(&[low.clone(), top.clone(), grows], 2), Verdict::Observed);
        let flat = row(Quantity::SpecificityGrowth, (2, 7), 0.08, 0.03, 3, 0);
        assert_eq!(verdict(&[low, top, flat], 2), Verdict::Inconclusive);
    }

    /// With se 0.001 over 3 units the 90% interval is ±0.0029: 0.005 lies
    /// inside ±0.01, 0.009 does not (its 90% interval reaches 0.0119).
    #[test]
    fn recovery_is_an_equivalence_for_selffers_and_non_inferiority_for_transfers() {
        let rows = |selffer: f64, transfer: f64| {
            vec![row(Quantity::SelfferFtVsBase, (1, 7), selffer, 0.001, 3, 0), row(Quantity::LastingBoostVsBase, (1, 7), transfer, 0.001, 3, 0)]
        };
        assert_eq!(verdict(&rows(0.005, 0.05), 3), Verdict::Observed, "AnB+ far above base is fine: non-inferiority");
        assert_eq!(verdict(&rows(0.009, 0.0), 3), Verdict::Inconclusive, "BnB+ above base by up to 0.012: not equivalent, not shown different");
        assert_eq!(verdict(&rows(0.02, 0.0), 3), Verdict::Opposite, "BnB+ well above base: not ≈");
        assert_eq!(verdict(&rows(0.0, -0.02), 3), Verdict::Opposite, "AnB+ well below base");
        assert_eq!(verdict(&rows(-0.005, -0.008), 3), Verdict::Inconclusive, "AnB+ may be more than 0.01 below");
        // a one-sided check (low end > −0.01) would have called BnB+ at +0.02 recovered
        let r = rows(0.02, 0.0);
        assert!(r[0].ci_low.expect("lo") > -RECOVERY_MARGIN);
    }

    #[test]
    fn the_lasting_boost_counts_only_beyond_its_control() {
        let boost = row(Quantity::LastingBoostVsBase, (1, 7), 0.01, 0.001, 4, 0);
        let control = |v: f64| row(Quantity::LastingBoostVsSelfferFt, (1, 7), v, 0.002, 4, 0);
        assert_eq!(verdict(&[boost.clone(), control(0.01)], 4), Verdict::Observed);
        assert_eq!(verdict(&[boost.clone(), control(0.0005)], 4), Verdict::Inconclusive, "selffers gain as much: no boost from transfer");
        assert_eq!(verdict(std::slice::from_ref(&boost), 4), Verdict::NotMeasured, "no control, no verdict");
        assert_eq!(verdict(&[row(Quantity::LastingBoostVsBase, (1, 7), -0.01, 0.001, 4, 0), control(0.0)], 4), Verdict::Opposite);
    }

    #[test]
    fn random_features_are_judged_low_and_against_dissimilar_transfer() {
        let dec = [row(Quantity::NolearnDrop, (2, 2), -0.02, 0.002, 3, 0), row(Quantity::NolearnDrop, (7, 7), -0.5, 0.01, 3, 0)];
        assert_eq!(verdict(&dec, 6), Verdict::Observed);
        // every unit at the lowest middle n left out: not meaningful, not judged at another n
        let gone = [row(Quantity::NolearnDrop, (2, 2), f64::NAN, f64::NAN, 0, 3), row(Quantity::NolearnDrop, (4, 4), -0.3, 0.01, 3, 0)];
        assert_eq!(verdict(&gone, 6), Verdict::NotMeaningful);
        let flat_low = [row(Quantity::NolearnDrop, (2, 2), 0.0, 0.002, 3, 0), dec[1].clone()];
        assert_eq!(verdict(&flat_low, 6), Verdict::Inconclusive, "the top n alone does not decide");
        let vs = |v4: f64| {
            let mut d = dec.to_vec();
            d.push(row(Quantity::MinusRandomDrop(Family::Natman), (7, 7), -0.1, 0.01, 3, 0));
            d.push(row(Quantity::MinusNolearnRelative(Family::Natman), (4, 4), v4, 0.01, 3, 0));
            d.push(row(Quantity::MinusNolearnRelative(Family::Natman), (7, 7), 0.5, 0.01, 3, 0));
            judge_all(&d, Origin::Runs).into_iter().filter(|f| f.number == 6).map(|f| f.verdict).collect::<Vec<_>>()
        };
        assert_eq!(vs(0.3), [Verdict::Observed, Verdict::Observed]);
        assert_eq!(vs(0.0), [Verdict::Observed, Verdict::Inconclusive], "every n both have must show it");
        assert_eq!(vs(-0.3), [Verdict::Observed, Verdict::Opposite]);
    }

    /// One finding 5 per dissimilar split, in the order of their names (as
    /// the report's tables), not of the family type's variants.
    #[test]
    fn dissimilar_splits_are_judged_in_the_order_of_their_names() {
        let mine = Family::dissimilar("clothing_vs_footwear").expect("a name");
        let d = [row(Quantity::MinusRandomDrop(Family::Natman), (7, 7), -0.1, 0.01, 3, 0), row(Quantity::MinusRandomDrop(mine), (7, 7), -0.1, 0.01, 3, 0)];
        let fives: Vec<String> = judge_all(&d, Origin::Runs).into_iter().filter(|f| f.number == 5).map(|f| f.claim).collect();
        assert_eq!(fives.len(), 2);
        assert!(fives[0].contains("clothing vs footwear") && fives[1].contains("natural/man-made"), "{fives:?}");
    }

    #[test]
    fn dissimilar_transfer_is_judged_at_the_top() {
        let d = |v: f64| {
            [row(Quantity::MinusRandomDrop(Family::Natman), (4, 4), 0.0, 0.01, 3, 0), row(Quantity::MinusRandomDrop(Family::Natman), (7, 7), v, 0.01, 3, 0)]
        };
        assert_eq!(verdict(&d(-0.1), 5), Verdict::Observed);
        assert_eq!(verdict(&d(0.1), 5), Verdict::Opposite);
        assert_eq!(verdict(&d(0.0), 5), Verdict::Inconclusive);
    }
}
