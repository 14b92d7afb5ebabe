//! Insights in the cluster worker: counts each clustered Issue's history (openings and
//! resolutions, at the records' own times) into its Pattern's and its workspace's insights
//! state, then stores the Issue's recurrence prediction and triage and emits `issue.triaged`.
//!
//! [`apply`] is called once per workspace group of a batch, after the batch's memberships are
//! recorded, with what happened: Issues clustered into live Patterns, and Patterns merged. The
//! cluster queue is FIFO per workspace, so this is the one writer of the workspace's insights.
//! Resolutions need no event of their own: every path that resolves an Issue (PATCH, ingest
//! with `status: resolved`, alerts, inbound events) queues a cluster message for it, and the
//! Issue itself says what of its history is new ([`Issue::unapplied_history`]).
//!
//! Exactly once: the Issue records what was counted (`insights_applied`) and is written in the
//! same transaction as the states, each item conditioned on the version read. A redelivered
//! message finds nothing new; a lost race re-reads and redoes the whole step.
//!
//! Cost per call: two batched reads, run concurrently (the Issues; the workspace state and each
//! Pattern's), and one transaction; see BENCHMARKS.md, "In the service: the cluster worker's
//! Insights step".

use crate::events::{emit, envelope};
use crate::insights_view::{issue_prediction, triage_view};
use crate::state::AppState;
use causeloop_domain::events::{EventEnvelope, EventType};
use causeloop_domain::ids::PatternId;
use causeloop_domain::issue::{HistoryEvent, Issue};
use causeloop_domain::time_fmt::{format_unix_millis, parse_unix_millis};
use causeloop_domain::{IssueId, IssueStatus, WorkspaceId};
use causeloop_insights::{RecurrencePrediction, WorkspaceInsights};
use causeloop_storage::clock::now_millis;
use causeloop_storage::insights::{pattern_key, InsightsChanges, PastResolution, PatternInsightsRecord};
use causeloop_storage::repo::Versioned;
use causeloop_storage::update::update_with_retries;
use causeloop_storage::StoreError;
use serde_json::json;

/// Events handled per transaction: each adds at most an Issue and two Pattern items, so with
/// the workspace item a step stays under the 100 writes of one transaction.
pub const EVENTS_PER_STEP: usize = 30;

/// What the cluster worker tells Insights about a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InsightEvent {
    /// The Issue is a member of the live Pattern `pattern` (newly, or again: a message about it
    /// was handled). Whatever of its history is new is counted.
    Clustered { issue_id: IssueId, pattern: PatternId },
    /// The Pattern `from` was merged into `into`.
    Merged { from: PatternId, into: PatternId },
}

/// The merges the clustering engine made (engine ids: merged-away, survivor), as events.
pub fn merge_events(workspace: &WorkspaceId, merges: &[(u64, u64)]) -> Vec<InsightEvent> {
    merges
        .iter()
        .map(|&(victim, survivor)| InsightEvent::Merged {
            from: PatternId::for_engine_id(workspace, victim),
            into: PatternId::for_engine_id(workspace, survivor),
        })
        .collect()
}

/// Applies `events` (in order) to the workspace's insights; see the module documentation. An
/// error fails the batch's messages, which are redelivered and find done what was done.
pub async fn apply(state: &AppState, workspace: &WorkspaceId, events: &[InsightEvent]) -> Result<(), StoreError> {
    for step in events.chunks(EVENTS_PER_STEP) {
        update_with_retries(|| apply_step(state, workspace, step)).await?;
    }
    Ok(())
}

/// The Pattern items one step works on, by id, with the version each was read at.
struct Patterns {
    items: Vec<(PatternInsightsRecord, Option<u64>)>,
    removed: Vec<(PatternId, u64)>,
    changed: Vec<bool>,
}

impl Patterns {
    fn index(&mut self, id: &PatternId) -> usize {
        match self.items.iter().position(|(record, _)| &record.pattern_id == id) {
            Some(i) => i,
            None => {
                self.items.push((PatternInsightsRecord::new(id.clone(), pattern_key(id)), None));
                self.changed.push(false);
                self.items.len() - 1
            }
        }
    }
}

/// The Pattern `pattern` lives on as after the merges among `events` (a merged-away id names its
/// survivor; merges of merges are followed).
fn live_pattern<'a>(events: &'a [InsightEvent], pattern: &'a PatternId) -> &'a PatternId {
    let mut live = pattern;
    for _ in 0..events.len() {
        let next = events.iter().find_map(|event| match event {
            InsightEvent::Merged { from, into } if from == live && into != live => Some(into),
            _ => None,
        });
        match next {
            Some(into) => live = into,
            None => break,
        }
    }
    live
}

fn millis(text: &str) -> i64 {
    parse_unix_millis(text).map_or(0, |ms| ms as i64)
}

/// One read-decide-write round over `events`.
async fn apply_step(state: &AppState, workspace: &WorkspaceId, events: &[InsightEvent]) -> Result<(), StoreError> {
    let store = &state.store;
    let mut issue_ids: Vec<&IssueId> = Vec::new();
    let mut pattern_ids: Vec<PatternId> = Vec::new();
    for event in events {
        match event {
            InsightEvent::Clustered { issue_id, pattern } => {
                if !issue_ids.contains(&issue_id) {
                    issue_ids.push(issue_id);
                }
                if !pattern_ids.contains(pattern) {
                    pattern_ids.push(pattern.clone());
                }
            }
            InsightEvent::Merged { from, into } => {
                for id in [from, into] {
                    if !pattern_ids.contains(id) {
                        pattern_ids.push(id.clone());
                    }
                }
            }
        }
    }
    let issue_ids_owned: Vec<IssueId> = issue_ids.iter().map(|id| (*id).clone()).collect();
    let (issues, states) = futures_util::future::join(
        store.issues(workspace, &issue_ids_owned),
        store.insights_state(workspace, &pattern_ids),
    )
    .await;
    let mut issues: Vec<Option<Versioned<Issue>>> = issues?;
    let (workspace_state, pattern_states) = states?;
    let (mut insights, workspace_read) = match workspace_state {
        Some(found) => (found.value, Some(found.version)),
        None => (WorkspaceInsights::default(), None),
    };
    let mut patterns = Patterns { items: Vec::new(), removed: Vec::new(), changed: Vec::new() };
    for found in pattern_states.into_iter().flatten() {
        patterns.items.push((found.value, Some(found.version)));
        patterns.changed.push(false);
    }
    let now = now_millis() as i64;
    let now_text = format_unix_millis(now as u64);
    let mut workspace_changed = false;
    let mut emitted: Vec<EventEnvelope> = Vec::new();
    // Merges first: the engine made them before any of this batch's Issues were counted.
    for event in events {
        let InsightEvent::Merged { from, into } = event else { continue };
        let Some(at) = patterns.items.iter().position(|(record, _)| &record.pattern_id == from) else {
            continue; // merged before (a redelivery), or it never had insights
        };
        let (victim, read) = patterns.items.remove(at);
        patterns.changed.remove(at);
        if let Some(read) = read {
            patterns.removed.push((victim.pattern_id.clone(), read));
        }
        let i = patterns.index(live_pattern(events, into));
        let survivor = &mut patterns.items[i].0;
        let into_key = survivor.key;
        insights.merge_patterns(&mut survivor.insights, into_key, victim.insights, victim.key);
        for past in victim.recent {
            survivor.remember(past);
        }
        patterns.changed[i] = true;
        workspace_changed = true;
    }
    // Then every Issue's new history, all of it in time order: a backfill's batch counts its
    // records as they happened, whatever order the Issues were queued in.
    let mut touched: Vec<(usize, usize, bool)> = Vec::new(); // (issue slot, pattern index, reopened)
    let mut steps: Vec<(usize, usize, HistoryEvent)> = Vec::new(); // (issue slot, pattern index, step)
    for event in events {
        let InsightEvent::Clustered { issue_id, pattern } = event else { continue };
        let Some(slot) = issue_ids.iter().position(|id| *id == issue_id) else { continue };
        if touched.iter().any(|(seen, _, _)| *seen == slot) {
            continue;
        }
        let Some(stored) = issues[slot].as_ref() else { continue };
        let history = stored.value.unapplied_history();
        if history.is_empty() && stored.value.triage.is_some() {
            continue;
        }
        let i = patterns.index(live_pattern(events, pattern));
        let reopened = history.iter().any(|step| matches!(step, HistoryEvent::Opened { .. }));
        touched.push((slot, i, reopened));
        steps.extend(history.into_iter().map(|step| (slot, i, step)));
    }
    steps.sort_by_key(|(_, _, step)| step.at());
    let mut made_at_resolution: Vec<(usize, RecurrencePrediction)> = Vec::new();
    for (slot, i, step) in steps {
        let record = &mut patterns.items[i].0;
        let key = record.key;
        match step {
            HistoryEvent::Opened { at } => insights.issue_opened(&mut record.insights, key, at),
            HistoryEvent::Resolved { at, fix } => {
                made_at_resolution.push((slot, insights.issue_resolved(&mut record.insights, key, at, fix.as_deref())));
                if let Some(stored) = &issues[slot] {
                    let issue = &stored.value;
                    record.remember(PastResolution::new(issue.id.as_str(), &issue.title, at, fix.as_deref()));
                }
            }
        }
        patterns.changed[i] = true;
        workspace_changed = true;
    }
    for &(slot, i, reopened) in &touched {
        let Some(stored) = issues[slot].as_mut() else { continue };
        let issue = &mut stored.value;
        let record = &patterns.items[i].0;
        issue.mark_history_applied();
        let resolved = made_at_resolution.iter().rev().find(|(s, _)| *s == slot).map(|(_, made)| *made);
        // A resolved Issue: as made at its resolution. An open one: as if resolved now.
        let prediction = match (issue.status, resolved) {
            (IssueStatus::Resolved, Some(made)) => made,
            (IssueStatus::Resolved, None) => {
                let at = issue.resolution.as_ref().map_or(now, |r| millis(r.effective_at()));
                insights.predict(&record.insights, at)
            }
            (IssueStatus::Open, _) => insights.predict(&record.insights, now.max(insights.watermark)),
        };
        issue.prediction = Some(issue_prediction(&prediction, &now_text));
        if issue.triage.is_none() || reopened {
            issue.triage = Some(triage_view(&insights, record, issue.id.as_str(), &issue.title, &prediction, now));
            // One event per opening of the Issue: a recurrence is triaged again.
            let cause = format!("{}#{}", issue.id, issue.insights_applied.openings);
            emitted.push(envelope(
                EventType::IssueTriaged,
                workspace,
                &cause,
                issue.connector_id.clone(),
                json!({"issue": issue.to_api()}),
                &now_text,
            ));
        }
    }
    let mut changes = InsightsChanges {
        workspace: workspace_changed.then_some((insights, workspace_read)),
        removed_patterns: patterns.removed,
        ..InsightsChanges::default()
    };
    for ((record, read), changed) in patterns.items.into_iter().zip(patterns.changed) {
        if changed {
            changes.patterns.push((record, read));
        }
    }
    for (slot, _, _) in touched {
        if let Some(stored) = issues[slot].take() {
            changes.issues.push((stored.value, stored.version));
        }
    }
    // Emitted before the step is committed, as the cluster worker does: if the commit is lost,
    // the retry emits the same event ids again, which the deliver worker delivers once; once
    // committed, the Issue's triage is marked and nothing is emitted twice.
    emit(state.queue.as_ref(), emitted).await?;
    store.save_insights(workspace, &changes).await
}
