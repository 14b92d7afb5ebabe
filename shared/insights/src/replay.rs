//! Replaying a history of Issues in time order through the predictor: the benchmark's and the
//! backfill's way in. Each Issue opens at `opened_at` and, if it has a `resolved_at`, is resolved
//! then with its fix; at each resolution the prediction is taken from what happened up to that
//! moment. Openings come before resolutions at the same instant; ties keep the input order.

use crate::state::{PatternInsights, RecurrencePrediction, Settings, WorkspaceInsights};

/// One Issue of the history. `pattern` is the caller's dense Pattern index (0, 1, 2, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryIssue<'a> {
    pub pattern: u32,
    pub opened_at: i64,
    pub resolved_at: Option<i64>,
    pub fix: Option<&'a str>,
}

/// The replay's result: per resolution, in resolution order, the Issue's index in the input and
/// the prediction made then; and the final state.
pub struct Replayed {
    pub predictions: Vec<(usize, RecurrencePrediction)>,
    pub workspace: WorkspaceInsights,
    pub patterns: Vec<PatternInsights>,
}

/// The events of `history` in replay order: (time, 0 = opens / 1 = resolved, index).
pub fn events(history: &[HistoryIssue<'_>]) -> Vec<(i64, u8, usize)> {
    let mut events: Vec<(i64, u8, usize)> = Vec::with_capacity(history.len() * 2);
    for (i, issue) in history.iter().enumerate() {
        events.push((issue.opened_at, 0, i));
        if let Some(at) = issue.resolved_at {
            events.push((at, 1, i));
        }
    }
    events.sort_unstable();
    events
}

/// Replays `history` (see the module documentation) on a fresh workspace.
pub fn replay(settings: Settings, history: &[HistoryIssue<'_>]) -> Replayed {
    let events = events(history);
    let count = history.iter().map(|i| i.pattern as usize + 1).max().unwrap_or(0);
    let mut patterns = vec![PatternInsights::new(); count];
    let mut workspace = WorkspaceInsights::new(settings);
    let mut predictions = Vec::with_capacity(history.len());
    for (at, kind, i) in events {
        let issue = &history[i];
        let key = u64::from(issue.pattern);
        let pattern = &mut patterns[issue.pattern as usize];
        if kind == 0 {
            workspace.issue_opened(pattern, key, at);
        } else {
            predictions.push((i, workspace.issue_resolved(pattern, key, at, issue.fix)));
        }
    }
    Replayed { predictions, workspace, patterns }
}
