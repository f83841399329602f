//! Whether a network's test curve had flattened when training stopped.
//!
//! The authors' metric (the mean of the 10 best evaluations) is only
//! meaningful on a plateau: on a curve that is still rising it averages the
//! rise, and a network that restarts from trained layers (a selffer) reaches
//! its plateau sooner than the base it is compared with. So every run
//! record says whether its curve was flat at the end, by one rule:
//!
//! * split the evaluations into quarters; `gain` = mean top-1 of the last
//!   quarter − mean top-1 of the quarter before it (at least one evaluation
//!   each; fewer than 4 evaluations cannot be judged and count as not
//!   converged);
//! * `tolerance` = max(0.01, s) with s = √(p(1−p)/N) the standard error of
//!   one evaluation on N test images at the last quarter's accuracy p: a
//!   rise smaller than the noise of one evaluation, or than a percentage
//!   point, is indistinguishable from flat;
//! * converged ⇔ gain ≤ tolerance.
//!
//! A falling curve (overfitting) counts as converged: it has stopped rising.
//! Quarters, not a slope fit, because the protocol's step schedule makes
//! curves piecewise: what matters is whether the last stretch still climbs.

/// The verdict on one curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plateau {
    /// Mean of the last quarter minus the mean of the quarter before.
    pub gain: f64,
    /// The largest gain still counted as flat.
    pub tolerance: f64,
    /// `gain <= tolerance`.
    pub converged: bool,
}

/// Judge a curve of top-1 evaluations (in training order) measured on
/// `test_images` images each.
pub fn plateau(top1: &[f64], test_images: usize) -> Plateau {
    let q = top1.len() / 4;
    if q == 0 || top1.iter().any(|x| !x.is_finite()) {
        return Plateau { gain: f64::NAN, tolerance: f64::NAN, converged: false };
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let last = mean(&top1[top1.len() - q..]);
    let before = mean(&top1[top1.len() - 2 * q..top1.len() - q]);
    let p = last.clamp(0.0, 1.0);
    let se = if test_images > 0 { (p * (1.0 - p) / test_images as f64).sqrt() } else { f64::INFINITY };
    let tolerance = se.max(0.01);
    let gain = last - before;
    Plateau { gain, tolerance, converged: gain <= tolerance }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rising_curve_is_not_converged_and_a_flat_one_is() {
        // the default preset's base B at 600 iterations: still climbing
        let rising = [0.30, 0.42, 0.50, 0.55, 0.58, 0.61, 0.63, 0.66, 0.68, 0.70, 0.71, 0.74, 0.75, 0.77];
        let r = plateau(&rising, 300);
        // quarters of 3: (0.74 + 0.75 + 0.77)/3 − (0.68 + 0.70 + 0.71)/3
        assert!((r.gain - 0.056_666_666_666_666_6).abs() < 1e-12, "{r:?}");
        assert!(!r.converged);
        let flat = [0.5, 0.7, 0.8, 0.85, 0.90, 0.91, 0.90, 0.92, 0.91, 0.915, 0.92, 0.91];
        let f = plateau(&flat, 300);
        assert!(f.converged, "{f:?}");
        // tolerance is the larger of 0.01 and one evaluation's standard error
        let p: f64 = (0.92 + 0.91 + 0.915) / 3.0;
        assert!((f.tolerance - (p * (1.0 - p) / 300.0).sqrt()).abs() < 1e-12);
        assert_eq!(plateau(&flat, 1_000_000).tolerance, 0.01);
    }

    #[test]
    fn falling_short_and_broken_curves() {
        assert!(plateau(&[0.9, 0.9, 0.8, 0.7], 100).converged, "a falling curve has stopped rising");
        assert!(!plateau(&[0.5, 0.6, 0.7], 100).converged, "fewer than 4 evaluations cannot be judged");
        assert!(!plateau(&[0.5, f64::NAN, 0.7, 0.7], 100).converged);
    }
}
