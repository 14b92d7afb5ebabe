//! How Insights appear on the wire: the Issue's prediction and triage, a Pattern's recurrence
//! statistics and the recommended fixes. Pure functions of the stored states; times become
//! RFC 3339 like every other time of the API.

use causeloop_domain::issue::IssuePrediction;
use causeloop_domain::time_fmt::format_unix_millis;
use causeloop_insights::fixes::{fix_key, similarity};
use causeloop_insights::{
    recommend, recommended_fix, triage, FixRecommendation, RecurrencePrediction, SimilarIssue, WorkspaceInsights,
    DAY_MS,
};
use causeloop_storage::insights::PatternInsightsRecord;
use serde_json::{json, Value};

fn time(ms: i64) -> String {
    format_unix_millis(ms.max(0) as u64)
}

fn optional_time(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(time(ms)))
}

pub fn issue_prediction(prediction: &RecurrencePrediction, computed_at: &str) -> IssuePrediction {
    IssuePrediction { recur_7d: prediction.p_7d, recur_30d: prediction.p_30d, computed_at: computed_at.to_string() }
}

/// One recommended fix: `fix` (its representative text), `hold_rate` (held / determined, `null`
/// before any outcome), the counts, and `lower_bound`, the ranking key.
pub fn fix_view(fix: &FixRecommendation) -> Value {
    json!({
        "fix": fix.text,
        "key": fix.key,
        "hold_rate": fix.hold_rate,
        "resolutions": fix.resolutions,
        "held": fix.held,
        "failed": fix.failed,
        "pending": fix.pending,
        "hold_probability": fix.posterior_mean,
        "lower_bound": fix.lower_bound,
        "last_used_at": time(fix.last_used_at),
    })
}

/// The Pattern's fixes, best first.
pub fn recommendations(workspace: &WorkspaceInsights, pattern: &PatternInsightsRecord, now: i64) -> Vec<Value> {
    recommend(workspace, &pattern.insights, now).iter().map(fix_view).collect()
}

/// A Pattern's recurrence statistics, for `GET /v1/patterns/{id}`.
pub fn pattern_statistics(workspace: &WorkspaceInsights, pattern: &PatternInsightsRecord, now: i64) -> Value {
    let state = &pattern.insights;
    let outcomes = state.outcomes_at(now);
    // Days per repeat opening, over the time the Pattern has existed.
    let mean_days_between = match (state.first_opened_at, state.last_opened_at) {
        (Some(first), Some(last)) if state.opened > 1 => {
            Some((last - first) as f64 / DAY_MS as f64 / (state.opened - 1) as f64)
        }
        _ => None,
    };
    let prediction = workspace.predict(state, now);
    json!({
        "issues_opened": state.opened,
        "resolutions": state.resolved,
        "recurrences": state.recurrences,
        "recurrence_rate": (state.resolved > 0).then(|| state.recurrences as f64 / state.resolved as f64),
        "mean_days_between_recurrences": mean_days_between,
        "hold_share": state.hold_share(now),
        "determined_resolutions": outcomes[1].n,
        "rate_per_day": prediction.rate_per_day,
        "recur_7d": prediction.p_7d,
        "recur_30d": prediction.p_30d,
        "first_opened_at": optional_time(state.first_opened_at),
        "last_opened_at": optional_time(state.last_opened_at),
        "last_resolved_at": optional_time(state.last_resolved_at),
    })
}

/// The triage of an Issue (`issue_id`, `title`) of `pattern`: its Pattern, up to five similar
/// past Issues with their fixes (by title similarity, then recency), the recommended fix and the
/// recurrence prediction.
pub fn triage_view(
    workspace: &WorkspaceInsights,
    pattern: &PatternInsightsRecord,
    issue_id: &str,
    title: &str,
    prediction: &RecurrencePrediction,
    now: i64,
) -> Value {
    let key = fix_key(title);
    let similar: Vec<SimilarIssue> = pattern
        .recent
        .iter()
        .filter(|past| past.issue_id != issue_id)
        .map(|past| SimilarIssue {
            issue_id: past.issue_id.clone(),
            title: past.title.clone(),
            similarity: similarity(&key, &past.title_key),
            resolved_at: Some(past.resolved_at),
            fix: past.fix.clone(),
            fix_id: None,
            fix_hold_rate: None,
        })
        .collect();
    let fix = recommended_fix(workspace, &pattern.insights, now);
    let triaged = triage(&pattern.insights, &similar, fix.as_ref(), prediction, now);
    let summary = &triaged.pattern;
    json!({
        "pattern_id": pattern.pattern_id,
        "pattern": {
            "issues_opened": summary.issues_opened,
            "resolutions": summary.resolutions,
            "recurrences": summary.recurrences,
            "hold_share": summary.hold_share,
            "fix_groups": summary.fix_groups,
            "first_opened_at": optional_time(summary.first_opened_at),
            "last_opened_at": optional_time(summary.last_opened_at),
            "last_resolved_at": optional_time(summary.last_resolved_at),
        },
        "recurrence": {"recur_7d": triaged.recurrence.p_7d, "recur_30d": triaged.recurrence.p_30d},
        "recommended_fix": triaged.recommended_fix.as_ref().map(fix_view),
        "similar_issues": triaged.similar.iter().map(|s| json!({
            "issue_id": s.issue_id,
            "title": s.title,
            "similarity": s.similarity,
            "resolved_at": optional_time(s.resolved_at),
            "fix": s.fix,
            "fix_hold_rate": s.fix_hold_rate,
        })).collect::<Vec<_>>(),
        "assessment": triaged.assessment,
        "advice": triaged.advice,
        "triaged_at": time(now),
    })
}
