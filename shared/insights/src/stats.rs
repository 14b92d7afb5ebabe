//! Small numeric helpers: the logistic function, and the Beta distribution's quantile.

/// Probabilities are kept inside [`P_MIN`, `1 - P_MIN`] so that logits stay finite.
pub const P_MIN: f64 = 1e-4;

pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x.clamp(-40.0, 40.0)).exp())
}

pub fn logit(p: f64) -> f64 {
    let p = p.clamp(P_MIN, 1.0 - P_MIN);
    (p / (1.0 - p)).ln()
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
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
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        return std::f64::consts::PI.ln() - (std::f64::consts::PI * x).sin().ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Continued fraction of the incomplete Beta function (modified Lentz).
fn beta_cf(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    // One Lentz step for the coefficient `aa`: updates `c` and `d` and returns the factor of `h`.
    let step = |aa: f64, c: &mut f64, d: &mut f64| {
        *d = 1.0 + aa * *d;
        if d.abs() < TINY {
            *d = TINY;
        }
        *c = 1.0 + aa / *c;
        if c.abs() < TINY {
            *c = TINY;
        }
        *d = 1.0 / *d;
        *d * *c
    };
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        h *= step(m * (b - m) * x / ((qam + m2) * (a + m2)), &mut c, &mut d);
        let del = step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), &mut c, &mut d);
        h *= del;
        if (del - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

/// The regularized incomplete Beta function I_x(a, b): P(X ≤ x) for X ~ Beta(a, b).
pub fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    beta_cdf_with(x, a, b, ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b))
}

/// [`beta_cdf`] with -ln B(a, b) computed by the caller.
fn beta_cdf_with(x: f64, a: f64, b: f64, neg_ln_beta: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front = neg_ln_beta + a * x.ln() + b * (1.0 - x).ln();
    let front = ln_front.exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(x, a, b) / a
    } else {
        1.0 - front * beta_cf(1.0 - x, b, a) / b
    }
}

/// The q-quantile of Beta(a, b), by bisection on [`beta_cdf`] (absolute error below 1e-7).
pub fn beta_quantile(q: f64, a: f64, b: f64) -> f64 {
    let neg_ln_beta = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b);
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..24 {
        let mid = 0.5 * (lo + hi);
        if beta_cdf_with(mid, a, b, neg_ln_beta) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_matches_factorials() {
        for (n, fact) in [(1.0, 1.0f64), (2.0, 1.0), (5.0, 24.0), (10.0, 362_880.0)] {
            assert!((ln_gamma(n) - fact.ln()).abs() < 1e-10, "{n}");
        }
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
    }

    #[test]
    fn beta_cdf_and_quantile_agree_with_closed_forms() {
        // Beta(1, 1) is uniform; Beta(a, 1) has CDF x^a; Beta(1, b) has CDF 1 - (1 - x)^b.
        assert!((beta_cdf(0.3, 1.0, 1.0) - 0.3).abs() < 1e-10);
        assert!((beta_cdf(0.5, 3.0, 1.0) - 0.125).abs() < 1e-10);
        assert!((beta_cdf(0.2, 1.0, 4.0) - (1.0 - 0.8f64.powi(4))).abs() < 1e-10);
        assert!((beta_quantile(0.1, 3.0, 1.0) - 0.1f64.powf(1.0 / 3.0)).abs() < 1e-7);
        // Symmetric: the median of Beta(7, 7) is 1/2.
        assert!((beta_quantile(0.5, 7.0, 7.0) - 0.5).abs() < 1e-7);
        // Large counts: close to the normal approximation.
        let q = beta_quantile(0.1, 450.0, 50.0);
        let (m, sd) = (0.9, (0.9f64 * 0.1 / 501.0).sqrt());
        assert!((q - (m - 1.2816 * sd)).abs() < 2e-3, "{q}");
    }

    #[test]
    fn logit_and_sigmoid_invert_and_stay_finite() {
        assert!((sigmoid(logit(0.3)) - 0.3).abs() < 1e-12);
        assert!(logit(0.0).is_finite() && logit(1.0).is_finite());
        assert_eq!(sigmoid(1e9), sigmoid(40.0));
    }
}
