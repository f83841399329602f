//! Whether a network had converged when training stopped: one rule for
//! every network of a comparison, and for the schedule finder.
//!
//! The authors' metric (the mean of the 10 best evaluations) is only
//! meaningful on a plateau: on a curve that is still rising it averages the
//! rise, and a network that restarts from trained layers (a selffer)
//! reaches its plateau sooner than the base it is compared with. A step
//! schedule makes every curve look flat at its end, whatever happened
//! before: after two drops the rate is 1/100 of the first, and the curve
//! barely moves. So the rule asks for more than a flat end. A curve has
//! converged when all of these hold:
//!
//! 1. **Enough evaluations**: at least [`MIN_EVALS`], all finite, and at
//!    least 4 in the segment before the final drop; otherwise the curve
//!    *cannot be judged* (`Why::CannotJudge`, gain NaN), which the analysis
//!    reports as unknown, not as unconverged.
//! 2. **Flat before the final drop**: at the rate in force just before
//!    the schedule's last drop (one segment of the step schedule, read from
//!    the curve's own `lr` column; the whole curve if the rate never
//!    drops), the segment's end must not still rise: the mean of its last
//!    quarter (at least 2 evaluations) minus the mean of the quarter
//!    before is at most the tolerance. The climb just after a drop lies at
//!    a segment's start and does not count. A schedule that drops the rate
//!    while the curve is still climbing ("annealed flat") fails here,
//!    however flat its end.
//! 3. **Not below its best**: the mean of the last quarter of evaluations
//!    is at most the tolerance below the best mean of as many consecutive
//!    evaluations. A falling (overfitting) or collapsed curve fails here;
//!    a single lucky evaluation does not make a curve fail.
//! 4. **Not still rising at the end**: the same comparison as rule 2 at the
//!    end of the run's last segment.
//! 5. **Quiet at the end**: the last quarter's evaluations made at the
//!    final rate (all of the last quarter when the final rate has fewer
//!    than 3) have a standard deviation of at most [`QUIET`] (0.01). An
//!    oscillating curve fails here: the authors' metric, the mean of the
//!    best evaluations, would pick its peaks. The step up just after the
//!    final drop is no oscillation: a last quarter that straddles the drop
//!    (the default's 20 evaluations put 4 after it) is cut at the drop.
//!
//! **Tolerance.** Each comparison is between means of evaluations. Its
//! statistical tolerance is [`Z`] standard errors of that difference,
//! `Z·σ·√(1/a + 1/b)` for means over `a` and `b` evaluations, where σ is
//! the noise of one evaluation. Over the curve's second half it is
//! [`scatter`], the robust spread of successive evaluations, which neither
//! a steady trend nor a single collapse inflates. For rules 2 and 4, σ is
//! also estimated over the stretch being judged (the two groups compared
//! and the evaluation before them, at the segment's rate) by
//! [`segment_scatter`], the robust spread of second differences, which a
//! steady trend does not inflate, and the larger of the two counts; rule 3
//! uses the second half's. Not over the whole segment: the climb just
//! after a drop, levelling off into a steady rise, would read as noise
//! and widen the tolerance of the very rise being judged. A rate ten times the
//! final one swings its evaluations more than the quiet end of the run
//! does: judged with the end's noise, a flat segment at the rate before
//! the last drop was called rising (on the 5,000-iteration default, 3 of
//! its 72 networks, one natural-family base by 0.026 with σ ten times
//! smaller than its segment's). A binomial
//! standard error would not do: evaluations on one test set share their
//! images, and at a high rate they swing far more than sampling explains.
//! A difference below [`PRACTICAL`] is flat whatever its statistics: it
//! cannot move a finding judged at the analysis's margin of 0.01, and on
//! the authors' long curves (450 evaluations) the statistics alone would
//! call a drift of 0.0005 at a rate of 1e-5 a rise. Each tolerance is the
//! larger of the two.
//!
//! The record keeps two numbers of the rule: `plateau_gain`, the largest
//! excess of a compared quantity over its tolerance among rules 2–5
//! (≤ 0 when converged; NaN when rule 1 fails), and `plateau_tolerance`,
//! rule 2's tolerance.

/// Fewer evaluations than this cannot be judged (the last quarter needs
/// three for its noise).
pub const MIN_EVALS: usize = 12;

/// The smallest difference of evaluation means that counts as a change
/// (half the analysis's equivalence margin).
pub const PRACTICAL: f64 = 0.005;

/// The largest standard deviation of the last quarter's evaluations of a
/// converged curve: the analysis's equivalence margin. The authors' metric
/// averages a curve's best evaluations, so a scatter at the end inflates it
/// by about as much.
pub const QUIET: f64 = 0.01;

/// Standard errors a difference of means may reach before it counts: 2.5,
/// not 2, since σ is itself estimated from a dozen differences (with 2, a
/// flat curve with noise 0.003 on the default's 20 evaluations was flagged
/// one time in 16 in simulation; with 2.5, one in 25; both with σ from the
/// second half alone). With σ also from the judged stretch (simulated
/// 2026-12-06, 3,000 runs of the default's layout, noise 0.01, 0.007 and
/// 0.004 at its three rates): a run flat at each rate is flagged 3.8% of
/// the time (13% with the second half's σ alone), and a second rate still
/// rising by 0.005 per evaluation is caught 21% of the time (29%): the
/// price of comparing 2 evaluations with 2.
pub const Z: f64 = 2.5;

/// One evaluation, as the rule reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eval {
    /// Iterations done.
    pub iteration: i64,
    /// The rate of the steps just before it.
    pub lr: f64,
    /// Test top-1.
    pub top1: f64,
}

impl From<&crate::CurvePoint> for Eval {
    fn from(p: &crate::CurvePoint) -> Self {
        Eval { iteration: p.iteration, lr: p.lr, top1: p.top1 }
    }
}

/// Which rule a curve broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// Fewer than [`MIN_EVALS`] evaluations, or one that is not finite.
    CannotJudge,
    /// Rule 2: still rising at the rate before the final drop.
    RisingBeforeFinalDrop,
    /// Rule 3: the last quarter lies below the curve's best.
    BelowBest,
    /// Rule 4: still rising at the end.
    RisingAtEnd,
    /// Rule 5: scattering at the end.
    Oscillating,
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Why::CannotJudge => "too few or non-finite evaluations",
            Why::RisingBeforeFinalDrop => "still rising before the final rate drop",
            Why::BelowBest => "ended below its best stretch (falling or collapsed)",
            Why::RisingAtEnd => "still rising at the end",
            Why::Oscillating => "its last quarter scatters by more than 0.01",
        })
    }
}

/// The verdict on one curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plateau {
    /// The largest excess of a compared quantity over its tolerance
    /// (rules 2–5; ≤ 0 when converged, NaN when the curve cannot be judged).
    pub gain: f64,
    /// Rule 2's tolerance.
    pub tolerance: f64,
    /// Every rule holds.
    pub converged: bool,
    /// The first rule that failed.
    pub why: Option<Why>,
}

fn mean(v: &[Eval]) -> f64 {
    v.iter().map(|e| e.top1).sum::<f64>() / v.len() as f64
}

/// The best mean of `k` consecutive evaluations of `v` (−∞ for fewer than `k`).
fn best_mean(v: &[Eval], k: usize) -> f64 {
    v.windows(k).map(mean).fold(f64::NEG_INFINITY, f64::max)
}

/// Where the rate drops: each evaluation whose rate is below the one before it.
fn drops(curve: &[Eval]) -> Vec<usize> {
    (1..curve.len()).filter(|&i| curve[i].lr < curve[i - 1].lr).collect()
}

/// The evaluations made at the rate in force before the run's last rate
/// drop (rule 2); the whole curve when the rate never drops.
pub fn segment_before_final_drop(curve: &[Eval]) -> &[Eval] {
    match drops(curve).as_slice() {
        [] => curve,
        [last] => &curve[..*last],
        [.., before, last] => &curve[*before..*last],
    }
}

/// The end of a segment as two groups to compare: its last quarter (at
/// least 2 evaluations) and the quarter before it. None for a segment of
/// fewer than 4 evaluations. The climb after a rate drop lies at a
/// segment's start, so only its end says whether it had flattened.
fn tail(seg: &[Eval]) -> Option<(&[Eval], &[Eval])> {
    let k = (seg.len() / 4).max(2);
    (seg.len() >= 2 * k).then(|| (&seg[seg.len() - 2 * k..seg.len() - k], &seg[seg.len() - k..]))
}

/// The noise of one evaluation along `stretch`, robustly: successive
/// differences Δ, their spread as 1.4826 × the median absolute deviation
/// from their median (the standard deviation, for normal noise), over √2.
/// A steady trend shifts every Δ alike and a single jump (a collapse) is
/// one outlier: neither counts as noise. NaN for fewer than 3 evaluations.
pub fn scatter(stretch: &[Eval]) -> f64 {
    let steps: Vec<f64> = stretch.windows(2).map(|w| w[1].top1 - w[0].top1).collect();
    robust_sd(&steps) / 2f64.sqrt()
}

/// The standard deviation of `v`, robustly: 1.4826 × the median absolute
/// deviation from the median (the standard deviation for normal values).
/// NaN for fewer than 2 values.
fn robust_sd(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return f64::NAN;
    }
    let mid = median(v.to_vec());
    1.4826 * median(v.iter().map(|d| (d - mid).abs()).collect())
}

/// The noise of one evaluation within one segment of the schedule,
/// robustly: second differences `x[i+1] − 2x[i] + x[i−1]`, their spread as
/// 1.4826 × the median absolute deviation from their median, over √6 (the
/// standard deviation of a second difference of independent noise). A
/// steady trend, rising or falling, has second differences of 0; first
/// differences would count a slowing climb as noise (one decelerating from
/// +0.10 to +0.01 per evaluation reads as σ ≈ 0.03). On a few evaluations
/// the estimate is itself noisy, hence the floor of the second half's
/// noise. NaN for fewer than 4 evaluations.
pub fn segment_scatter(stretch: &[Eval]) -> f64 {
    let second: Vec<f64> = stretch.windows(3).map(|w| w[2].top1 - 2.0 * w[1].top1 + w[0].top1).collect();
    robust_sd(&second) / 6f64.sqrt()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

/// The tolerance of a difference between means over `a` and `b`
/// evaluations of noise `sigma`: [`Z`] standard errors, at least [`PRACTICAL`].
fn tolerance(sigma: f64, a: usize, b: usize) -> f64 {
    (Z * sigma * (1.0 / a as f64 + 1.0 / b as f64).sqrt()).max(PRACTICAL)
}

/// The stretch of a segment whose noise sizes its comparison: the two
/// groups of `k` compared and the evaluation before them. Not the whole
/// segment: the climb after a drop levelling off into a steady rise would
/// read as noise there, and widen the tolerance of the very rise it
/// judges.
fn judged(seg: &[Eval], k: usize) -> &[Eval] {
    &seg[seg.len().saturating_sub(2 * k + 1)..]
}

/// Rules 2 and 4's comparison at the end of one segment of the schedule:
/// how much its last quarter's mean exceeds the quarter before's, and the
/// tolerance of that rise, its σ the larger of `sigma` and the judged
/// stretch's own ([`segment_scatter`]). None for fewer than 4 evaluations.
fn rise(seg: &[Eval], sigma: f64) -> Option<(f64, f64)> {
    let (before, end) = tail(seg)?;
    let tol = tolerance(sigma.max(segment_scatter(judged(seg, before.len()))), before.len(), end.len());
    Some((mean(end) - mean(before), tol))
}

/// Whether a stretch of evaluations at one rate has stopped rising, by the
/// comparison rules 2 and 4 make at a segment's end, its σ from the
/// stretch's second half as a whole curve's is from its own: the schedule
/// finder's test for dropping the rate or stopping. False for fewer than
/// 4 evaluations or any that is not finite.
pub fn flattened(seg: &[Eval]) -> bool {
    if seg.iter().any(|e| !e.top1.is_finite()) {
        return false;
    }
    rise(seg, scatter(&seg[seg.len() / 2..])).is_some_and(|(r, tol)| r <= tol)
}

/// Whether a stretch of evaluations has risen from its start: its last
/// quarter's mean (at least 2 evaluations) above its first quarter's by
/// more than the tolerance of that difference (σ from the stretch's second
/// half, as in [`flattened`]). A curve still at chance, flat before it has
/// learned anything, has not. False for fewer than 4 evaluations.
pub fn risen(seg: &[Eval]) -> bool {
    let k = (seg.len() / 4).max(2);
    if seg.len() < 2 * k || seg.iter().any(|e| !e.top1.is_finite()) {
        return false;
    }
    let (first, last) = (&seg[..k], &seg[seg.len() - k..]);
    mean(last) - mean(first) > tolerance(scatter(&seg[seg.len() / 2..]), k, k)
}

/// Whether a curve has stopped making new bests: its last quarter's mean
/// (at least 2 evaluations) is at most [`PRACTICAL`] above the best mean
/// of as many consecutive evaluations before that quarter (rule 3's best
/// stretch, looked at the other way). A curve still climbing makes new
/// bests, noise or not. False for fewer than 4 evaluations.
pub fn stalled(curve: &[Eval]) -> bool {
    let k = (curve.len() / 4).max(2);
    if curve.len() < 2 * k {
        return false;
    }
    let (earlier, last) = curve.split_at(curve.len() - k);
    mean(last) <= best_mean(earlier, k) + PRACTICAL
}

/// The evaluations at the run's last rate.
fn final_segment(curve: &[Eval]) -> &[Eval] {
    match drops(curve).last() {
        Some(&last) => &curve[last..],
        None => curve,
    }
}

fn sd(v: &[Eval]) -> f64 {
    let m = mean(v);
    (v.iter().map(|e| (e.top1 - m).powi(2)).sum::<f64>() / (v.len() - 1).max(1) as f64).sqrt()
}

/// Judge a curve of evaluations (in training order).
pub fn plateau(curve: &[Eval]) -> Plateau {
    let cannot = Plateau { gain: f64::NAN, tolerance: f64::NAN, converged: false, why: Some(Why::CannotJudge) };
    if curve.len() < MIN_EVALS || curve.iter().any(|e| !e.top1.is_finite() || !e.lr.is_finite()) {
        return cannot;
    }
    let q = curve.len() / 4;
    let last = &curve[curve.len() - q..];
    // the noise of one evaluation: the robust scatter over the curve's second half
    let sigma = scatter(&curve[curve.len() / 2..]);
    // rule 2: the end of the segment before the final drop not still rising
    let seg = segment_before_final_drop(curve);
    let Some((rise2, tol2)) = rise(seg, sigma) else {
        return cannot;
    };
    let mut checks = vec![(rise2 - tol2, Why::RisingBeforeFinalDrop)];
    // rule 3: the last quarter not below the best stretch of as many evaluations
    let best = best_mean(curve, q);
    checks.push((best - mean(last) - tolerance(sigma, q, q), Why::BelowBest));
    // rule 4: the end of the final segment not still rising
    let fin = final_segment(curve);
    if let Some((rise4, tol4)) = rise(fin, sigma) {
        checks.push((rise4 - tol4, Why::RisingAtEnd));
    }
    // rule 5: quiet at the end, at the final rate
    let at_final = &last[last.len().saturating_sub(fin.len())..];
    checks.push((sd(if at_final.len() >= 3 { at_final } else { last }) - QUIET, Why::Oscillating));
    let gain = checks.iter().map(|c| c.0).fold(f64::NEG_INFINITY, f64::max);
    let why = checks.iter().find(|c| c.0 > 0.0).map(|c| c.1);
    Plateau { gain, tolerance: tol2, converged: why.is_none(), why }
}

/// The rates of a step schedule at each evaluation: `base_lr · gamma^⌊(i − 1) / step⌋`
/// for the step that led to iteration `i` (for curves stored without
/// rates, such as the authors').
pub fn step_rates(iterations: &[i64], base_lr: f64, gamma: f64, step: i64) -> Vec<f64> {
    iterations.iter().map(|&i| base_lr * gamma.powi(((i - 1).max(0) / step.max(1)) as i32)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A curve of `top1` values evaluated every 100 iterations, the rate
    /// × 0.1 after every `step` iterations.
    fn curve(top1: &[f64], step: i64) -> Vec<Eval> {
        let its: Vec<i64> = (1..=top1.len() as i64).map(|k| k * 100).collect();
        let lr = step_rates(&its, 0.01, 0.1, step);
        its.iter().zip(lr).zip(top1).map(|((&iteration, lr), &top1)| Eval { iteration, lr, top1 }).collect()
    }

    /// Rises at the first rate, flat before the drop, flat after it.
    fn good() -> Vec<f64> {
        vec![0.40, 0.60, 0.72, 0.80, 0.84, 0.85, 0.85, 0.86, 0.85, 0.86, 0.90, 0.91, 0.90, 0.91, 0.91, 0.90]
    }

    /// The finder's test is rule 2's comparison: a segment rising at its
    /// end has not flattened, the same segment levelled off has, and too
    /// short a stretch has not.
    #[test]
    fn a_stretch_has_flattened_only_once_its_end_stops_rising() {
        let c = curve(&good(), 100_000);
        assert!(flattened(&c[..10]), "levelled at 0.85");
        assert!(!flattened(&c[..6]), "still rising: 0.72, 0.80 then 0.84, 0.85");
        assert!(!flattened(&c[..3]), "too short to judge");
        let rising: Vec<f64> = (0..12).map(|i| 0.5 + 0.02 * i as f64).collect();
        assert!(!flattened(&curve(&rising, 100_000)), "a steady rise of 0.02 per evaluation");
        let mut nan = c[..10].to_vec();
        nan[9].top1 = f64::NAN;
        assert!(!flattened(&nan));
    }

    /// A curve flat at chance is flat, but has not risen; one that climbed
    /// and levelled off has.
    #[test]
    fn a_curve_at_chance_has_not_risen() {
        let chance = [0.10, 0.11, 0.10, 0.10, 0.12, 0.10, 0.11, 0.10];
        let c = curve(&chance, 100_000);
        assert!(flattened(&c) && !risen(&c));
        assert!(risen(&curve(&good()[..10], 100_000)));
        assert!(!risen(&c[..3]));
    }

    #[test]
    fn a_curve_flat_before_and_after_its_drop_has_converged() {
        let p = plateau(&curve(&good(), 1000));
        assert!(p.converged, "{p:?}");
        assert!(p.gain <= 0.0);
        // rule 2 compares the segment's last 2 evaluations (0.85, 0.86)
        // with the 2 before (0.86, 0.85). The second half's noise (0.85 …
        // 0.90: steps 0.01, 0.04, 0.01, −0.01, 0.01, 0, −0.01, median 0.01,
        // absolute deviations' median 0.01) is σ = 1.4826 × 0.01 / √2; the
        // segment's own (the 10 evaluations at the first rate: second
        // differences −0.08, −0.04, −0.04, −0.03, −0.01, 0.01, −0.02,
        // 0.02, median −0.025, absolute deviations' median 0.015) is
        // 1.4826 × 0.015 / √6, smaller: tolerance Z·σ·√(1/2 + 1/2) with
        // the second half's σ
        let c = curve(&good(), 1000);
        let sigma = scatter(&c[8..]);
        assert!((sigma - 1.4826 * 0.01 / 2f64.sqrt()).abs() < 1e-9, "{sigma}");
        let own = segment_scatter(&c[..10]);
        assert!((own - 1.4826 * 0.015 / 6f64.sqrt()).abs() < 1e-9, "{own}");
        assert!((p.tolerance - Z * sigma).abs() < 1e-12, "{p:?}");
        // a perfectly quiet segment still allows the practical floor
        let quiet: Vec<f64> = (0..16).map(|k| if k < 4 { 0.3 + 0.1 * k as f64 } else { 0.8 }).collect();
        assert_eq!(plateau(&curve(&quiet, 1000)).tolerance, PRACTICAL);
    }

    /// Still climbing when the rate drops; the drop then makes the last
    /// stretch flat. The old rule (last quarter against the one before,
    /// floor 0.01) called it converged.
    #[test]
    fn an_annealed_but_still_rising_curve_has_not() {
        let v = [0.30, 0.40, 0.48, 0.55, 0.62, 0.70, 0.74, 0.78, 0.82, 0.83, 0.835, 0.84, 0.84, 0.84, 0.84, 0.84];
        let p = plateau(&curve(&v, 1000));
        assert_eq!(p.why, Some(Why::RisingBeforeFinalDrop), "{p:?}");
        let (last, before) = (0.84, (0.82 + 0.83 + 0.835 + 0.84) / 4.0);
        assert!(last - before <= 0.01, "the old rule's quarters were flat");
    }

    #[test]
    fn falling_collapsed_and_oscillating_curves_have_not() {
        let mut falling = good();
        for (k, v) in falling.iter_mut().enumerate().skip(11) {
            *v -= 0.01 * (k - 10) as f64;
        }
        assert_eq!(plateau(&curve(&falling, 1000)).why, Some(Why::BelowBest));
        let mut collapsed = good();
        for v in collapsed.iter_mut().skip(13) {
            *v = 0.05;
        }
        assert_eq!(plateau(&curve(&collapsed, 1000)).why, Some(Why::BelowBest));
        let oscillating: Vec<f64> = (0..16).map(|k| if k % 2 == 0 { 0.9 } else { 0.7 }).collect();
        assert_eq!(plateau(&curve(&oscillating, 1000)).why, Some(Why::Oscillating));
        assert_eq!(plateau(&curve(&oscillating, 100_000)).why, Some(Why::Oscillating), "with no drop too");
        // one lucky evaluation early on is no best to fall from
        let mut lucky = good();
        lucky[7] = 0.93;
        assert!(plateau(&curve(&lucky, 1000)).converged, "{:?}", plateau(&curve(&lucky, 1000)));
    }

    /// Flat but noisy at the rate before the final drop, quiet after it:
    /// judged with the quiet end's noise, the segment's swing would read
    /// as a rise.
    #[test]
    fn a_noisy_segment_is_judged_with_its_own_noise() {
        let mut v = vec![0.40, 0.60, 0.72, 0.78, 0.80, 0.81, 0.82];
        v.extend([0.84, 0.87, 0.83, 0.86, 0.82, 0.85, 0.87]);
        v.extend([0.90, 0.90, 0.901, 0.90, 0.899, 0.90, 0.90]);
        let c = curve(&v, 700);
        // rates drop after iterations 700 and 1400: the segment is 800..1400
        let seg = segment_before_final_drop(&c);
        assert_eq!((seg[0].iteration, seg.len()), (800, 7));
        let p = plateau(&c);
        assert!(p.converged, "{p:?}");
        // its end (0.85, 0.87) against the 2 before (0.86, 0.82): +0.02,
        // beyond a tolerance from the second half's noise
        let quiet_tol = tolerance(scatter(&c[c.len() / 2..]), 2, 2);
        let (before, end) = tail(seg).expect("7 evaluations");
        assert!(mean(end) - mean(before) > quiet_tol, "the end's noise would call the segment rising");
    }

    /// A steep climb after the drop levelling off into a steady rise of
    /// 0.01 per evaluation, without noise: the rise is judged with the
    /// noise of the stretch it is judged on, not with the curvature of
    /// the climb before it (over the whole segment, second differences
    /// −0.08, −0.05, −0.03 read as σ ≈ 0.009 and let the rise through).
    #[test]
    fn a_climb_levelling_into_a_steady_rise_has_not() {
        let v = [0.10, 0.25, 0.35, 0.42, 0.46, 0.49, 0.51, 0.52, 0.55, 0.72, 0.81, 0.85, 0.86, 0.87, 0.88, 0.89, 0.92, 0.924, 0.928, 0.932];
        let c = curve(&v, 800);
        let p = plateau(&c);
        assert_eq!(p.why, Some(Why::RisingBeforeFinalDrop), "{p:?}");
        let seg = segment_before_final_drop(&c);
        assert!(tolerance(segment_scatter(seg), 2, 2) > 0.02, "over the whole segment the rise of 0.02 would pass");
    }

    /// The step up just after the final drop lies in the last quarter:
    /// no oscillation, since the evaluations at the final rate are quiet.
    #[test]
    fn the_step_at_the_final_drop_is_no_oscillation() {
        let mut v: Vec<f64> = vec![0.10, 0.25, 0.40, 0.52, 0.60, 0.66, 0.70, 0.72];
        v.extend([0.74, 0.75, 0.75, 0.76, 0.75, 0.76, 0.76, 0.75]);
        v.extend([0.80, 0.80, 0.801, 0.80]);
        // 20 evaluations, rates drop after 800 and 1600: the last quarter
        // (5) holds the segment's last evaluation and the 4 after the drop
        let c = curve(&v, 800);
        assert!(sd(&c[15..]) > QUIET, "the whole last quarter scatters");
        let p = plateau(&c);
        assert!(p.converged, "{p:?}");
        // but a scatter among the evaluations at the final rate still counts
        let mut w: Vec<f64> = (0..8).map(|k| 0.1 + 0.08 * k as f64).collect();
        w.extend([0.75; 8]);
        w.extend([0.78, 0.82, 0.78, 0.82]);
        assert_eq!(plateau(&curve(&w, 800)).why, Some(Why::Oscillating));
        // and with fewer than 3 evaluations at the final rate, the whole last quarter
        let mut u: Vec<f64> = (0..10).map(|k| 0.1 + 0.07 * k as f64).collect();
        u.extend([0.80, 0.80, 0.801, 0.80, 0.80, 0.80, 0.80, 0.80]);
        u.extend([0.86, 0.86]);
        let c = curve(&u, 900);
        assert_eq!(c.iter().filter(|e| e.lr < c[17].lr).count(), 2);
        assert_eq!(plateau(&c).why, Some(Why::Oscillating), "the step inside a last quarter of 2 evaluations at the final rate");
    }

    /// Flat before the drop, still climbing after it: only rule 4 sees it.
    #[test]
    fn a_curve_still_rising_after_its_final_drop_has_not() {
        let mut v = good();
        for (k, x) in v.iter_mut().enumerate().skip(10) {
            *x = 0.86 + 0.01 * (k - 9) as f64;
        }
        assert_eq!(plateau(&curve(&v, 1000)).why, Some(Why::RisingAtEnd), "{:?}", plateau(&curve(&v, 1000)));
    }

    #[test]
    fn a_curve_still_rising_at_one_rate_has_not() {
        let rising: Vec<f64> = (0..16).map(|k| 0.3 + 0.04 * k as f64).collect();
        let p = plateau(&curve(&rising, 100_000));
        assert!(!p.converged && p.gain > 0.0, "{p:?}");
    }

    #[test]
    fn short_and_broken_curves_cannot_be_judged() {
        assert_eq!(plateau(&curve(&[0.5, 0.6, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7], 1000)).why, Some(Why::CannotJudge));
        let mut v = good();
        v[3] = f64::NAN;
        assert_eq!(plateau(&curve(&v, 1000)).why, Some(Why::CannotJudge));
        assert!(plateau(&curve(&good(), 1000)).gain.is_finite());
    }

    #[test]
    fn the_segment_is_the_one_before_the_last_drop() {
        let c = curve(&good(), 500);
        // rates change after 500, 1000 and 1500: the segment is iterations 1100..1500
        let seg = segment_before_final_drop(&c);
        assert_eq!(seg.iter().map(|e| e.iteration).collect::<Vec<_>>(), vec![1100, 1200, 1300, 1400, 1500]);
        let (before, end) = tail(seg).expect("5 evaluations");
        assert_eq!((before.len(), end.len(), end[1].iteration), (2, 2, 1500));
        assert!(tail(&seg[..3]).is_none(), "3 evaluations have no end to judge");
        assert_eq!(step_rates(&[1, 500, 501, 1000], 0.01, 0.1, 500), vec![0.01, 0.01, 0.001, 0.001]);
    }
}
