//! Triage of an Issue of a Pattern: one serializable value that puts together what the Pattern's
//! history says — how often it comes back, how likely it is to come back after this resolution,
//! which fix to try, and the most similar past Issues with the fixes they got.
//!
//! Pure: the caller finds the similar Issues (up to [`MAX_SIMILAR`] are kept), the recommended
//! fix ([`crate::recommended_fix`]) and the prediction ([`crate::WorkspaceInsights::predict`]).

use crate::fixes::{best_group, fix_key};
use crate::recommend::FixRecommendation;
use crate::state::{PatternInsights, RecurrencePrediction};
use serde::{Deserialize, Serialize};

/// Similar past Issues kept in a triage.
pub const MAX_SIMILAR: usize = 5;
/// From this 30-day recurrence probability on, a Pattern is chronic.
pub const CHRONIC_P_30D: f64 = 0.5;
/// A recommended fix whose hold probability's lower bound reaches this is advised outright.
pub const RELIABLE_FIX_LOWER_BOUND: f64 = 0.5;

/// A past Issue the caller found similar, with its fix. `fix_id` and `fix_hold_rate` are
/// filled in by [`triage`] from the Pattern's fix groups; what the caller puts there is ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimilarIssue {
    pub issue_id: String,
    pub title: String,
    /// The caller's similarity score (higher is more similar).
    pub similarity: f64,
    #[serde(default)]
    pub resolved_at: Option<i64>,
    #[serde(default)]
    pub fix: Option<String>,
    #[serde(default)]
    pub fix_id: Option<u32>,
    #[serde(default)]
    pub fix_hold_rate: Option<f64>,
}

/// The Pattern at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatternSummary {
    pub issues_opened: u64,
    pub resolutions: u64,
    pub recurrences: u64,
    pub first_opened_at: Option<i64>,
    pub last_opened_at: Option<i64>,
    pub last_resolved_at: Option<i64>,
    /// Share of determined resolutions after which it did not recur within 30 days.
    pub hold_share: Option<f64>,
    pub fix_groups: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    /// The Pattern's first Issue.
    New,
    /// Seen before, never back within 30 days of a resolution.
    Isolated,
    /// Has come back within 30 days of a resolution.
    Recurring,
    /// Likely ([`CHRONIC_P_30D`]) to come back within 30 days.
    Chronic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Advice {
    /// A fix has held reliably ([`RELIABLE_FIX_LOWER_BOUND`]): apply it.
    ApplyRecommendedFix,
    /// The Pattern keeps coming back and no fix has reliably held: look for the root cause.
    InvestigateRootCause,
    /// Nothing stands out: fix as usual and watch.
    Monitor,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Triage {
    pub pattern: PatternSummary,
    pub recurrence: RecurrencePrediction,
    pub recommended_fix: Option<FixRecommendation>,
    /// Most similar first; at most [`MAX_SIMILAR`], each Issue once.
    pub similar: Vec<SimilarIssue>,
    pub assessment: Assessment,
    pub advice: Advice,
}

/// Puts a triage together (see the module documentation). `now` is the time the triage is for.
pub fn triage(
    pattern: &PatternInsights,
    similar: &[SimilarIssue],
    recommended_fix: Option<&FixRecommendation>,
    recurrence: &RecurrencePrediction,
    now: i64,
) -> Triage {
    let mut candidates: Vec<&SimilarIssue> = similar.iter().collect();
    candidates.sort_by(|a, b| {
        b.similarity.total_cmp(&a.similarity).then(b.resolved_at.cmp(&a.resolved_at)).then(a.issue_id.cmp(&b.issue_id))
    });
    let mut picked: Vec<SimilarIssue> = Vec::new();
    for c in candidates {
        if picked.len() == MAX_SIMILAR {
            break;
        }
        if picked.iter().any(|p| p.issue_id == c.issue_id) {
            continue;
        }
        let group = c.fix.as_deref().and_then(|f| best_group(&pattern.fixes, &fix_key(f)));
        let (fix_id, fix_hold_rate) = match group {
            Some(i) => {
                let id = pattern.fixes[i].id;
                let (held, failed, _) = pattern.fix_outcomes_at(Some(id), now);
                (Some(id), (held + failed > 0).then(|| f64::from(held) / f64::from(held + failed)))
            }
            None => (None, None),
        };
        picked.push(SimilarIssue { fix_id, fix_hold_rate, ..c.clone() });
    }
    let summary = PatternSummary {
        issues_opened: pattern.opened,
        resolutions: pattern.resolved,
        recurrences: pattern.recurrences,
        first_opened_at: pattern.first_opened_at,
        last_opened_at: pattern.last_opened_at,
        last_resolved_at: pattern.last_resolved_at,
        hold_share: pattern.hold_share(now),
        fix_groups: pattern.fixes.len(),
    };
    let assessment = if pattern.opened <= 1 {
        Assessment::New
    } else if recurrence.p_30d >= CHRONIC_P_30D {
        Assessment::Chronic
    } else if pattern.recurrences > 0 {
        Assessment::Recurring
    } else {
        Assessment::Isolated
    };
    let reliable = recommended_fix.is_some_and(|f| f.held + f.failed > 0 && f.lower_bound >= RELIABLE_FIX_LOWER_BOUND);
    let advice = if reliable {
        Advice::ApplyRecommendedFix
    } else if assessment == Assessment::Chronic {
        Advice::InvestigateRootCause
    } else {
        Advice::Monitor
    };
    Triage {
        pattern: summary,
        recurrence: *recurrence,
        recommended_fix: recommended_fix.cloned(),
        similar: picked,
        assessment,
        advice,
    }
}
