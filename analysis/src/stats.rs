//! Student-t intervals: the 0.975 quantile of t with ν degrees of freedom,
//! by bisection on the CDF through the regularised incomplete beta function
//! (Numerical Recipes' continued fraction). Accurate to ~1e-10.

fn ln_gamma(x: f64) -> f64 {
    // Lanczos approximation (g = 7, n = 9)
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let a = C[1..].iter().enumerate().fold(C[0], |a, (i, c)| a + c / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let tiny = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < tiny {
        d = tiny;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// Regularised incomplete beta `I_x(a, b)`.
pub fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_bt = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_bt.exp() * beta_cf(a, b, x) / a
    } else {
        1.0 - ln_bt.exp() * beta_cf(b, a, 1.0 - x) / b
    }
}

/// CDF of Student's t with `nu` degrees of freedom.
pub fn t_cdf(t: f64, nu: f64) -> f64 {
    let x = nu / (nu + t * t);
    let tail = 0.5 * inc_beta(nu / 2.0, 0.5, x);
    if t >= 0.0 { 1.0 - tail } else { tail }
}

/// Quantile `p` of Student's t with `nu` degrees of freedom.
pub fn t_quantile(p: f64, nu: f64) -> f64 {
    let (mut lo, mut hi) = (-1e4, 1e4);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if t_cdf(mid, nu) < p { lo = mid } else { hi = mid }
    }
    0.5 * (lo + hi)
}

/// 95% Student-t interval of a mean from `count` values with sample sd `sd`;
/// `None` for fewer than two values (no interval exists).
pub fn ci95(mean: f64, sd: f64, count: usize) -> Option<(f64, f64)> {
    if count < 2 || !sd.is_finite() {
        return None;
    }
    let half = t_quantile(0.975, (count - 1) as f64) * sd / (count as f64).sqrt();
    Some((mean - half, mean + half))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        for (nu, want) in [(1.0, 12.706_204_736), (3.0, 3.182_446_305), (7.0, 2.364_624_252), (30.0, 2.042_272_456)] {
            assert!((t_quantile(0.975, nu) - want).abs() < 1e-6, "nu {nu}");
        }
        assert!(ci95(1.0, 0.1, 1).is_none());
        let (lo, hi) = ci95(0.5, 0.1, 4).expect("interval");
        assert!((hi - 0.5 - 3.182_446_305 * 0.05).abs() < 1e-8 && (0.5 - lo - (hi - 0.5)).abs() < 1e-12);
    }
}
