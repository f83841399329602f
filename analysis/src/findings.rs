//! The paper's findings, each judged for a set of runs from the paired
//! decomposition ([`crate::paired`]): **observed** when the interval of the
//! quantity that carries it excludes 0 in the paper's direction,
//! **opposite** when it excludes 0 the other way, **inconclusive** when it
//! contains 0 or there are fewer than 2 units, **not meaningful** when a
//! base behind it had not converged, **not measured** when the grid lacks
//! the arms.
//!
//! | # | finding (Yosinski et al. 2014) | quantity | observed when |
//! |---|---|---|---|
//! | 1 | fragile co-adaptation: chopping a network in the middle and retraining the top loses accuracy | base − BnB at middle n (2..6) | some n's interval > 0 |
//! | 2 | specificity grows with n and is > 0 at the top | BnB − AnB at the top n, and its growth from the bottom n | both intervals > 0 |
//! | 3 | fine-tuning recovers: BnB+ ≈ base, AnB+ ≈ base or above | BnB+ − base and AnB+ − base over n | both intervals' low ends > −0.01 |
//! | 4 | lasting boost of transfer + fine-tuning | AnB+ − base over all n | interval > 0 |
//! | 5 | dissimilar tasks transfer worse (one row per dissimilar split: `natman`, or a split by class name) | its drop − random-split drop at the top n | interval < 0 |
//! | 6 | random frozen layers fall off fast | nolearn − whole-set base at the top n | interval < 0 |
//!
//! Finding 3 is an equivalence claim ("≈"): it is observed when fine-tuned
//! networks are at most 1 percentage point below their base with 95%
//! confidence, and opposite when they are more than 1 point below it.

use std::fmt;

use serde::Serialize;

use crate::summary::{Convention, DecompRow, plural};

/// How the runs stand on one finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Verdict {
    /// The interval excludes 0 in the paper's direction.
    Observed,
    /// The interval excludes 0 the other way.
    Opposite,
    /// The interval contains 0, or there is none.
    Inconclusive,
    /// A base behind the quantity had not converged.
    NotMeaningful,
    /// The grid has no networks for it.
    NotMeasured,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Observed => "observed",
            Verdict::Opposite => "opposite",
            Verdict::Inconclusive => "inconclusive",
            Verdict::NotMeaningful => "not meaningful (unconverged base)",
            Verdict::NotMeasured => "not measured",
        })
    }
}

/// One of the paper's findings, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// 1..6, as in the table above.
    pub number: u8,
    /// What the paper found (finding 5: for which dissimilar split).
    pub claim: String,
    /// The paper's own numbers.
    pub paper: &'static str,
    /// How these runs stand.
    pub verdict: Verdict,
    /// The numbers behind the verdict: value [interval] (units) per quantity.
    pub evidence: String,
}

/// The largest shortfall below the base still counted as "≈ base" (finding 3).
pub const RECOVERY_MARGIN: f64 = 0.01;

fn fmt_row(r: &DecompRow) -> String {
    let range = if r.n_from == r.n_to { format!("n{}", r.n_from) } else { format!("n{}–{}", r.n_from, r.n_to) };
    let units = plural(r.units, "unit");
    if r.ci_low.is_some() {
        format!("{range} {} ({units})", r.value_and_interval())
    } else {
        format!("{range} {} (no interval: {units})", r.value_and_interval())
    }
}

/// Verdict from rows: `observed`/`opposite` say which rows settle it.
fn judge(rows: &[&DecompRow], observed: bool, opposite: bool) -> Verdict {
    if rows.is_empty() {
        Verdict::NotMeasured
    } else if rows.iter().any(|r| r.unconverged > 0) {
        Verdict::NotMeaningful
    } else if opposite {
        Verdict::Opposite
    } else if observed {
        Verdict::Observed
    } else {
        Verdict::Inconclusive
    }
}

/// The six findings for one origin's paired decomposition.
pub fn judge_all(dec: &[DecompRow], origin: &str) -> Vec<Finding> {
    let rows = |q: &str| -> Vec<&DecompRow> { dec.iter().filter(|r| r.origin == origin && r.convention == Convention::Paired && r.quantity == q).collect() };
    let per_n = |q: &str| -> Vec<&DecompRow> { rows(q).into_iter().filter(|r| r.n_from == r.n_to).collect() };
    let top = |q: &str| -> Vec<&DecompRow> { per_n(q).into_iter().max_by_key(|r| r.n_to).into_iter().collect() };
    let range = |q: &str| -> Vec<&DecompRow> { rows(q).into_iter().filter(|r| r.n_from < r.n_to).min_by_key(|r| r.n_from).into_iter().collect() };
    let evidence = |rs: &[&DecompRow]| rs.iter().map(|r| format!("{}: {}", r.quantity, fmt_row(r))).collect::<Vec<_>>().join("; ");
    let sign = |r: &&DecompRow| r.estimate().sign();
    let mut out = Vec::new();

    let co: Vec<&DecompRow> = per_n("coadaptation").into_iter().filter(|r| (2..=6).contains(&r.n_from)).collect();
    let (pos, neg) = (co.iter().any(|r| sign(r) == Some(true)), co.iter().any(|r| sign(r) == Some(false)));
    out.push(Finding {
        number: 1,
        claim: "fragile co-adaptation: base − BnB > 0 at some middle n".into(),
        paper: "n = 3–6, up to 0.032 (n = 5)",
        verdict: judge(&co, pos, neg && !pos),
        evidence: evidence(&co),
    });

    let mut spec = top("specificity");
    spec.extend(rows("specificity_growth"));
    let all_pos = spec.len() == 2 && spec.iter().all(|r| sign(r) == Some(true));
    out.push(Finding {
        number: 2,
        claim: "specificity grows with n and is > 0 at the top".into(),
        paper: "0.000–0.005 for n ≤ 4, 0.081 at n = 7",
        verdict: judge(&spec, all_pos, spec.iter().any(|r| sign(r) == Some(false))),
        evidence: evidence(&spec),
    });

    let mut ft = range("selffer_ft_vs_base");
    ft.extend(range("lasting_boost_vs_base"));
    let near = |r: &&DecompRow| r.ci_low.is_some_and(|lo| lo > -RECOVERY_MARGIN);
    let below = |r: &&DecompRow| r.ci_high.is_some_and(|hi| hi < -RECOVERY_MARGIN);
    out.push(Finding {
        number: 3,
        claim: "fine-tuning recovers: BnB+ ≈ base and AnB+ ≈ base or above (within 0.01)".into(),
        paper: "BnB+ − base +0.010, AnB+ − base +0.016 over n = 1–7 (pooled)",
        verdict: judge(&ft, ft.len() == 2 && ft.iter().all(near), ft.iter().any(below)),
        evidence: evidence(&ft),
    });

    let boost = range("lasting_boost_vs_base");
    out.push(Finding {
        number: 4,
        claim: "lasting boost: AnB+ − base > 0 pooled over n".into(),
        paper: "+0.016 / +0.018 / +0.021 over n = 1–7 / 3–7 / 5–7",
        verdict: judge(&boost, boost.iter().all(|r| sign(r) == Some(true)), boost.iter().any(|r| sign(r) == Some(false))),
        evidence: evidence(&boost),
    });

    // one finding 5 per dissimilar split (natman, or the user's by class name)
    let suffix = "_minus_random_drop";
    let mut families: Vec<&str> =
        dec.iter().filter(|r| r.origin == origin && r.convention == Convention::Paired).filter_map(|r| r.quantity.strip_suffix(suffix)).collect();
    families.sort_unstable();
    families.dedup();
    if families.is_empty() {
        families.push("natman");
    }
    for family in families {
        let dis = top(&format!("{family}{suffix}"));
        out.push(Finding {
            number: 5,
            claim: format!(
                "dissimilar tasks transfer worse: {} drop more negative than the random-split drop at the top layers",
                crate::summary::family_label(family)
            ),
            paper: "natural/man-made AnB − base −0.250 at n = 7 against −0.083 for random halves",
            verdict: judge(&dis, dis.iter().all(|r| sign(r) == Some(false)), dis.iter().any(|r| sign(r) == Some(true))),
            evidence: evidence(&dis),
        });
    }

    let nl = top("nolearn_drop");
    out.push(Finding {
        number: 6,
        claim: "random frozen layers fall off fast: nolearn below the whole-set base at the top".into(),
        paper: "0.001 top-1 (chance) from n = 3 on",
        verdict: judge(&nl, nl.iter().all(|r| sign(r) == Some(false)), nl.iter().any(|r| sign(r) == Some(true))),
        evidence: evidence(&nl),
    });
    out
}

/// Whether finding `number` is observed.
pub fn observed(findings: &[Finding], number: u8) -> bool {
    findings.iter().any(|f| f.number == number && f.verdict == Verdict::Observed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(q: &str, n: (i32, i32), v: f64, ci: Option<(f64, f64)>, units: usize, unconverged: usize) -> DecompRow {
        DecompRow {
            origin: "runs".into(),
            convention: Convention::Paired,
            quantity: q.into(),
            n_from: n.0,
            n_to: n.1,
            value: v,
            relative: f64::NAN,
            count: units,
            units,
            ci_low: ci.map(|c| c.0),
            ci_high: ci.map(|c| c.1),
            unconverged,
        }
    }

    fn verdict(dec: &[DecompRow], number: u8) -> Verdict {
        judge_all(dec, "runs").into_iter().find(|f| f.number == number).expect("finding").verdict
    }

    #[test]
    fn intervals_decide_and_unconverged_bases_void() {
        let co = |ci: (f64, f64), stale: usize| {
            vec![row("coadaptation", (3, 3), 0.02, Some(ci), 3, stale), row("coadaptation", (7, 7), -0.1, Some((-0.2, -0.05)), 3, 0)]
        };
        assert_eq!(verdict(&co((0.005, 0.035), 0), 1), Verdict::Observed, "n = 7 is not a middle layer");
        assert_eq!(verdict(&co((-0.01, 0.05), 0), 1), Verdict::Inconclusive);
        assert_eq!(verdict(&co((-0.05, -0.01), 0), 1), Verdict::Opposite);
        assert_eq!(verdict(&co((0.005, 0.035), 1), 1), Verdict::NotMeaningful);
        // one unit: no interval, never a finding
        assert_eq!(verdict(&[row("coadaptation", (4, 4), 0.2, None, 1, 0)], 1), Verdict::Inconclusive);
        assert_eq!(verdict(&[], 4), Verdict::NotMeasured);
    }

    #[test]
    fn specificity_needs_both_the_top_and_the_growth() {
        let top = row("specificity", (7, 7), 0.08, Some((0.03, 0.13)), 3, 0);
        let low = row("specificity", (1, 1), 0.0, Some((-0.01, 0.01)), 3, 0);
        let grows = row("specificity_growth", (1, 7), 0.08, Some((0.02, 0.14)), 3, 0);
        assert_eq!(verdict(&[low.clone(), top.clone(), grows.clone()], 2), Verdict::Observed);
        let flat = row("specificity_growth", (1, 7), 0.08, Some((-0.02, 0.14)), 3, 0);
        assert_eq!(verdict(&[low, top, flat], 2), Verdict::Inconclusive);
    }

    #[test]
    fn recovery_is_an_equivalence_within_a_point() {
        let rows = |lo: f64, hi: f64| {
            vec![row("selffer_ft_vs_base", (1, 7), 0.0, Some((lo, hi)), 3, 0), row("lasting_boost_vs_base", (1, 7), 0.01, Some((-0.005, 0.02)), 3, 0)]
        };
        assert_eq!(verdict(&rows(-0.008, 0.01), 3), Verdict::Observed);
        assert_eq!(verdict(&rows(-0.03, 0.01), 3), Verdict::Inconclusive);
        assert_eq!(verdict(&rows(-0.05, -0.02), 3), Verdict::Opposite);
        // and the boost itself is inconclusive here: its interval holds 0
        assert_eq!(verdict(&rows(-0.008, 0.01), 4), Verdict::Inconclusive);
    }
}
