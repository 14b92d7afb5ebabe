//! The recurrence models and their online learners. Pure arithmetic on numbers the state
//! (`state.rs`) hands in; nothing here knows about Issues or time ordering.

use crate::stats::{logit, sigmoid};
use serde::{Deserialize, Serialize};

/// Which recurrence model a workspace runs. [`Model::Outcomes`] is the one chosen by measurement
/// (see the crate documentation and BENCHMARKS.md); the others are kept so that the measurement
/// can be repeated (`causeloop insights replay --model ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// The Pattern's own determined horizon outcomes (did it recur within H after a resolution?)
    /// under a Beta prior of strength [`OUTCOME_PRIOR_STRENGTH`] centred on the Gamma–Poisson
    /// rate prediction (365-day half-life), which is itself shrunk to the workspace rate.
    #[default]
    Outcomes,
    /// Gamma–Poisson predictive of the Pattern's repeat rate, counts and exposure decayed with
    /// one of [`crate::RATE_HALF_LIVES_DAYS`], the Gamma prior centred on the workspace rate.
    Rate { half_life_days: u16 },
    /// Online logistic regression (AdaGrad, L2 towards its start) over [`FEATURES`] features,
    /// starting as the 365-day rate model and trained on determined outcomes only.
    Logistic,
}

/// Gamma prior shape of a Pattern's repeat rate (pseudo-events at the workspace rate).
pub const RATE_PRIOR_EVENTS: f64 = 1.0;
/// A workspace with no history assumes one repeat per Pattern per this many days, with the
/// weight of one pseudo-event.
pub const DEFAULT_REPEAT_EVERY_DAYS: f64 = 30.0;
/// Beta prior strength (pseudo-outcomes) of [`Model::Outcomes`].
pub const OUTCOME_PRIOR_STRENGTH: f64 = 5.0;

/// P(at least one arrival within `horizon_days`) when the rate is Gamma(shape, rate = `inv_scale`)
/// distributed: 1 - (β / (β + H))^α.
pub fn gamma_poisson_p(shape: f64, inv_scale: f64, horizon_days: f64) -> f64 {
    1.0 - (inv_scale / (inv_scale + horizon_days)).powf(shape)
}

/// Beta-binomial posterior mean of a Pattern's outcome frequency: `k` recurrences after `n`
/// determined resolutions, prior mean `prior`, prior strength [`OUTCOME_PRIOR_STRENGTH`].
pub fn outcome_p(k: f64, n: f64, prior: f64) -> f64 {
    (k + OUTCOME_PRIOR_STRENGTH * prior) / (n + OUTCOME_PRIOR_STRENGTH)
}

/// Online Platt scaling: p' = σ(a · logit(p) + b), starting at the identity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Platt {
    pub a: f64,
    pub b: f64,
    g_a: f64,
    g_b: f64,
    pub trained: u32,
}

const PLATT_STEP: f64 = 0.1;
const PLATT_L2: f64 = 0.001;

impl Default for Platt {
    fn default() -> Self {
        Self { a: 1.0, b: 0.0, g_a: 1e-8, g_b: 1e-8, trained: 0 }
    }
}

impl Platt {
    pub fn apply(&self, raw_logit: f64) -> f64 {
        sigmoid(self.a * raw_logit + self.b)
    }

    pub fn train(&mut self, raw_logit: f64, label: bool) {
        let err = self.apply(raw_logit) - f64::from(u8::from(label));
        let ga = err * raw_logit + PLATT_L2 * (self.a - 1.0);
        let gb = err + PLATT_L2 * self.b;
        self.g_a += ga * ga;
        self.g_b += gb * gb;
        self.a -= PLATT_STEP * ga / self.g_a.sqrt();
        self.b -= PLATT_STEP * gb / self.g_b.sqrt();
        self.trained = self.trained.saturating_add(1);
    }
}

/// Features of [`Model::Logistic`], computed at a resolution (see `state.rs`):
/// 1, logit of the 7-day and of the 30-day rate prediction (only the horizon's own one enters),
/// ln(1 + decayed repeat count) at each rate half-life, ln(1 + days since the Pattern last
/// opened), ln(1 + Issues opened), and the Pattern's held-fix share (smoothed, centred).
pub const FEATURES: usize = 10;

const LOGISTIC_STEP: f64 = 0.05;
const LOGISTIC_L2: f64 = 0.01;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub w: Vec<f64>,
    g: Vec<f64>,
    pub trained: u32,
}

impl Logistic {
    /// The learner of horizon index `h` (0: 7 days, 1: 30 days).
    pub fn new(h: usize) -> Self {
        Self { w: Self::start(h).to_vec(), g: vec![1e-8; FEATURES], trained: 0 }
    }

    fn start(h: usize) -> [f64; FEATURES] {
        let mut w = [0.0; FEATURES];
        w[1 + h] = 1.0;
        w
    }

    fn masked(h: usize, x: &[f32]) -> impl Iterator<Item = (usize, f64)> + '_ {
        x.iter().enumerate().filter(move |(i, _)| !matches!((i, h), (1, 1) | (2, 0))).map(|(i, v)| (i, f64::from(*v)))
    }

    pub fn apply(&self, h: usize, x: &[f32]) -> f64 {
        sigmoid(Self::masked(h, x).map(|(i, v)| self.w.get(i).copied().unwrap_or(0.0) * v).sum())
    }

    pub fn train(&mut self, h: usize, x: &[f32], label: bool) {
        if x.len() != FEATURES || self.w.len() != FEATURES {
            return;
        }
        let err = self.apply(h, x) - f64::from(u8::from(label));
        let start = Self::start(h);
        for (i, v) in Self::masked(h, x) {
            let grad = err * v + LOGISTIC_L2 * (self.w[i] - start[i]);
            self.g[i] += grad * grad;
            self.w[i] -= LOGISTIC_STEP * grad / self.g[i].sqrt();
        }
        self.trained = self.trained.saturating_add(1);
    }
}

/// The feature vector of [`Model::Logistic`] (see [`FEATURES`]).
pub fn features(rate_p: [f64; 2], rates: [f64; 4], days_since_open: f64, opened: u64, held_share: f64) -> Vec<f32> {
    let mut x = Vec::with_capacity(FEATURES);
    x.push(1.0);
    x.push(logit(rate_p[0]) as f32);
    x.push(logit(rate_p[1]) as f32);
    x.extend(rates.iter().map(|r| r.max(0.0).ln_1p() as f32));
    x.push(days_since_open.max(0.0).ln_1p() as f32);
    x.push((opened as f64).ln_1p() as f32);
    x.push((held_share - 0.5) as f32);
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gamma_poisson_is_a_probability_that_grows_with_rate_and_horizon() {
        let p7 = gamma_poisson_p(1.0, 30.0, 7.0);
        let p30 = gamma_poisson_p(1.0, 30.0, 30.0);
        assert!(0.0 < p7 && p7 < p30 && p30 < 1.0);
        assert!((p30 - 0.5).abs() < 1e-12, "one event per 30 days, shape 1: 1 - 30/60");
        assert!(gamma_poisson_p(5.0, 30.0, 7.0) > p7);
    }

    #[test]
    fn platt_learns_a_miscalibrated_scale_and_stays_put_when_calibrated() {
        // Raw predictions of 0.5 for events that happen 10% of the time are pulled down.
        let mut platt = Platt::default();
        for i in 0..2000 {
            platt.train(0.0, i % 10 == 0);
        }
        let p = platt.apply(0.0);
        assert!((p - 0.1).abs() < 0.03, "{p}");
        // Calibrated input: the mapping stays close to the identity.
        let mut platt = Platt::default();
        for i in 0..4000 {
            let p = [0.1, 0.3, 0.6][i % 3];
            let hit = (i / 3) % 10 < (p * 10.0) as usize;
            platt.train(logit(p), hit);
        }
        for p in [0.1, 0.3, 0.6] {
            assert!((platt.apply(logit(p)) - p).abs() < 0.05, "{p} -> {}", platt.apply(logit(p)));
        }
    }

    #[test]
    fn logistic_starts_as_its_rate_model_and_learns_a_signal() {
        let x = features([0.2, 0.6], [0.0; 4], 3.0, 2, 0.5);
        assert!((Logistic::new(0).apply(0, &x) - 0.2).abs() < 1e-6);
        assert!((Logistic::new(1).apply(1, &x) - 0.6).abs() < 1e-6);
        let mut lr = Logistic::new(0);
        let hot = features([0.2, 0.2], [3.0, 3.0, 3.0, 3.0], 1.0, 10, 0.5);
        let cold = features([0.2, 0.2], [0.0; 4], 1.0, 10, 0.5);
        for i in 0..3000 {
            lr.train(0, &hot, i % 10 < 8);
            lr.train(0, &cold, i % 10 < 1);
        }
        assert!(lr.apply(0, &hot) > 0.6 && lr.apply(0, &cold) < 0.2);
    }
}
