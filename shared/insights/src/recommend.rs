//! Which fix to apply: a Pattern's fix groups ranked by how likely they are to hold, judged with
//! their uncertainty.
//!
//! A fix holds when the Pattern does not recur within [`HOLD_DAYS`](crate::HOLD_DAYS) of the resolution that
//! applied it. Each group's hold probability gets a Beta prior of strength
//! [`FIX_PRIOR_STRENGTH`] centred on the Pattern's own hold share (its determined 30-day
//! outcomes, fix or no fix, shrunk with strength [`PATTERN_PRIOR_STRENGTH`] to the workspace's
//! share), and the posterior after `held` holds and `failed` failures. Groups are ranked by the
//! posterior's lower [`LOWER_QUANTILE`] quantile, then its mean: a fix that held 2 of 2 is not
//! taken for better than one that held 45 of 50. Pending outcomes (resolved less than
//! [`HOLD_DAYS`](crate::HOLD_DAYS) ago, no recurrence yet) count neither way.

use crate::state::{PatternInsights, WorkspaceInsights};
use crate::stats::beta_quantile;
use serde::{Deserialize, Serialize};

/// Pseudo-resolutions of the prior on each fix group's hold probability.
pub const FIX_PRIOR_STRENGTH: f64 = 4.0;
/// Pseudo-resolutions of the workspace's hold share in the Pattern's own hold share.
pub const PATTERN_PRIOR_STRENGTH: f64 = 5.0;
/// The ranking quantile of the posterior (an 80% central interval's lower end).
pub const LOWER_QUANTILE: f64 = 0.1;

/// One fix group of a Pattern, as recommended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixRecommendation {
    /// The group's id within its Pattern.
    pub fix_id: u32,
    /// The form it was written in most often.
    pub text: String,
    /// Its canonical token set, e.g. `"pod restart"`.
    pub key: String,
    /// Resolutions that applied it (held, failed, pending, and any whose outcome was not
    /// followed).
    pub resolutions: u32,
    pub held: u32,
    pub failed: u32,
    pub pending: u32,
    /// held / (held + failed); `None` before any outcome is determined.
    pub hold_rate: Option<f64>,
    /// Posterior mean of the hold probability.
    pub posterior_mean: f64,
    /// Posterior [`LOWER_QUANTILE`] quantile: the ranking key.
    pub lower_bound: f64,
    pub last_used_at: i64,
}

/// The prior mean of a fix's hold probability on this Pattern.
pub fn prior_hold(workspace: &WorkspaceInsights, pattern: &PatternInsights, now: i64) -> f64 {
    let o = pattern.outcomes_at(now)[1];
    (f64::from(o.n - o.k) + PATTERN_PRIOR_STRENGTH * workspace.hold_share()) / (f64::from(o.n) + PATTERN_PRIOR_STRENGTH)
}

/// The Pattern's fix groups, best first (see the module documentation). Ties: more determined
/// outcomes, then more recent use, then the older group.
pub fn recommend(workspace: &WorkspaceInsights, pattern: &PatternInsights, now: i64) -> Vec<FixRecommendation> {
    let m = prior_hold(workspace, pattern, now);
    let mut out: Vec<FixRecommendation> = pattern
        .fixes
        .iter()
        .map(|g| {
            let (held, failed, pending) = pattern.fix_outcomes_at(Some(g.id), now);
            let a = FIX_PRIOR_STRENGTH * m + f64::from(held);
            let b = FIX_PRIOR_STRENGTH * (1.0 - m) + f64::from(failed);
            let settled = held + failed;
            FixRecommendation {
                fix_id: g.id,
                text: g.representative().to_string(),
                key: g.key.clone(),
                resolutions: g.resolutions,
                held,
                failed,
                pending,
                hold_rate: (settled > 0).then(|| f64::from(held) / f64::from(settled)),
                posterior_mean: a / (a + b),
                lower_bound: beta_quantile(LOWER_QUANTILE, a, b),
                last_used_at: g.last_used,
            }
        })
        .collect();
    out.sort_by(|x, y| {
        y.lower_bound
            .total_cmp(&x.lower_bound)
            .then(y.posterior_mean.total_cmp(&x.posterior_mean))
            .then((y.held + y.failed).cmp(&(x.held + x.failed)))
            .then(y.last_used_at.cmp(&x.last_used_at))
            .then(x.fix_id.cmp(&y.fix_id))
    });
    out
}

/// The best fix, when at least one fix of the Pattern has a determined outcome.
pub fn recommended_fix(
    workspace: &WorkspaceInsights,
    pattern: &PatternInsights,
    now: i64,
) -> Option<FixRecommendation> {
    recommend(workspace, pattern, now).into_iter().find(|f| f.held + f.failed > 0)
}
