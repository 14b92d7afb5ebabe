//! The cluster worker: takes `ClusterRequest`s from the FIFO queue (one group per workspace) and
//! puts each Issue into its Pattern.
//!
//! Per batch and workspace:
//! 1. Read the Issues. Those that already have a pattern keep it (a repeat of an Issue never
//!    moves it); the others go through the workspace's clustering engine.
//! 2. The engine is cached per container with the version it was read at. After assigning, the
//!    state is saved with a condition on that version when the templates changed (or after
//!    [`SAVE_AFTER_UNSAVED_HITS`] plain hits), so two workers can never lose each other's update:
//!    the loser reloads, re-assigns and retries. Plain hits change only counters and recency,
//!    which the pattern records keep exactly anyway, so batching their saves loses nothing the
//!    product shows.
//! 3. Merges the engine made are applied to the pattern records (the merged-away id becomes an
//!    alias of its survivor, and its members and statistics move over).
//! 4. For each message in order: count the Issue into its pattern record, exactly once (a member
//!    item written in the same transaction as the record), emit `pattern.detected` for a
//!    pattern's first Issue and `pattern.recurring` when a pattern gains an Issue after all its
//!    earlier ones were resolved, write `pattern_id` on the Issue, and mark the ingest job's
//!    record as clustered.
//! 5. Insights (`workers::insights::apply`), once for the batch: each clustered Issue's new
//!    history is counted, and its prediction and triage stored. If it fails, every message of
//!    the batch fails and is retried (everything above is idempotent).
//!
//! Every step can be repeated: a redelivered message finds the Issue already counted and changes
//! nothing twice; event ids derive from their cause, so a re-emitted event is the same event.

use super::insights::InsightEvent;
use super::WorkMessage;
use crate::events::{emit, envelope};
use crate::messages::ClusterRequest;
use crate::state::AppState;
use causeloop_domain::events::{EventEnvelope, EventType};
use causeloop_domain::ids::PatternId;
use causeloop_domain::issue::Issue;
use causeloop_domain::pattern::{Gained, PatternRecord, MAX_TRACKED_OPEN};
use causeloop_domain::time_fmt::parse_unix_millis;
use causeloop_domain::{IssueId, IssueStatus, WorkspaceId};
use causeloop_patterns::Engine;
use causeloop_storage::clock::now_rfc3339;
use causeloop_storage::engine_state::StateVersion;
use causeloop_storage::repo::Versioned;
use causeloop_storage::update::{update_with_retries, UPDATE_ATTEMPTS};
use causeloop_storage::{Store, StoreError};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use tokio::sync::Mutex;

/// Live patterns per workspace engine; beyond it the least recently assigned templates are
/// evicted (their records stay listed; an Issue that would have matched one starts a new
/// pattern). Bounds the state to a few hundred KB, one or two store items.
pub const PATTERNS_PER_WORKSPACE: usize = 2_000;
/// Plain hits (no template change) assigned before the state is saved anyway. Hits only move
/// counters and recency (the eviction order), and each save rewrites the whole state, so they
/// are saved rarely.
pub const SAVE_AFTER_UNSAVED_HITS: u32 = 1_000;
/// Engines kept in one container's cache.
const CACHED_WORKSPACES: usize = 32;

struct CachedEngine {
    engine: Engine,
    /// The stored version `engine` started from (plus our own saves); `None`: nothing stored.
    stored: Option<StateVersion>,
    unsaved_hits: u32,
    /// Merges saved with the state but not yet reflected in the pattern records: loaded with
    /// the state (a previous worker may have crashed before applying them) or made since. Every
    /// save carries them forward until they are applied.
    unapplied_merges: Vec<(u64, u64)>,
}

type EngineSlot = Arc<Mutex<Option<CachedEngine>>>;

/// A cluster worker with its per-container engine cache. Lambda and `causeloop serve` use the
/// [`ClusterWorker::process_wide`] one through [`handle_batch`]; tests build several to race them.
#[derive(Default)]
pub struct ClusterWorker {
    engines: Mutex<HashMap<WorkspaceId, EngineSlot>>,
}

/// Handles a batch with the process-wide worker; returns the ids of messages that failed (to be
/// redelivered). On a FIFO queue a failure also fails every later message of the same group, or
/// they would be processed out of order.
pub async fn handle_batch(state: &AppState, messages: Vec<WorkMessage>) -> Vec<String> {
    ClusterWorker::process_wide().handle_batch(state, messages).await
}

/// What the engine said about the Issues of one batch that had no pattern yet.
#[derive(Default)]
struct EngineOutcome {
    /// Engine id of each Issue's pattern, resolved through merges made later in the batch.
    patterns: HashMap<IssueId, u64>,
    /// (merged-away engine id, its survivor), in the order the engine merged them.
    merges: Vec<(u64, u64)>,
    /// Current template of every pattern named above.
    templates: HashMap<u64, String>,
}

impl ClusterWorker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn process_wide() -> &'static ClusterWorker {
        static WORKER: OnceLock<ClusterWorker> = OnceLock::new();
        WORKER.get_or_init(ClusterWorker::new)
    }

    pub async fn handle_batch(&self, state: &AppState, messages: Vec<WorkMessage>) -> Vec<String> {
        // Group by workspace, keeping each group's order.
        let mut groups: Vec<(WorkspaceId, Vec<(String, ClusterRequest)>)> = Vec::new();
        for message in messages {
            let request: ClusterRequest = match serde_json::from_str(&message.body) {
                Ok(request) => request,
                Err(err) => {
                    // A body that can never parse is dropped rather than retried into the DLQ.
                    tracing::error!(message_id = %message.id, error = %err, "malformed cluster message dropped");
                    continue;
                }
            };
            match groups.iter_mut().find(|(workspace, _)| workspace == &request.workspace_id) {
                Some((_, group)) => group.push((message.id, request)),
                None => groups.push((request.workspace_id.clone(), vec![(message.id, request)])),
            }
        }
        let mut failed = Vec::new();
        for (workspace, requests) in groups {
            failed.extend(self.handle_workspace(state, &workspace, requests).await);
        }
        failed
    }

    /// Returns the ids of the messages that failed: the first failure and everything after it.
    async fn handle_workspace(
        &self,
        state: &AppState,
        workspace: &WorkspaceId,
        requests: Vec<(String, ClusterRequest)>,
    ) -> Vec<String> {
        let all_ids = || requests.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        let now = now_rfc3339();
        let mut issues: Vec<Option<Versioned<Issue>>> = Vec::with_capacity(requests.len());
        for (_, request) in &requests {
            match state.store.issue(workspace, &request.issue_id).await {
                Ok(issue) => issues.push(issue),
                Err(err) => {
                    tracing::warn!(workspace = %workspace, error = %err, "cluster batch failed reading issues; will be retried");
                    return all_ids();
                }
            }
        }
        let mut unassigned: Vec<&Issue> = Vec::new();
        for issue in issues.iter().flatten() {
            if issue.value.pattern_id.is_none() && !unassigned.iter().any(|seen| seen.id == issue.value.id) {
                unassigned.push(&issue.value);
            }
        }
        let outcome = match self.assign(&state.store, workspace, &unassigned).await {
            Ok(outcome) => outcome,
            Err(err) => {
                tracing::warn!(workspace = %workspace, error = %err, "pattern assignment failed; will be retried");
                return all_ids();
            }
        };
        for &(victim, survivor) in &outcome.merges {
            let template = outcome.templates.get(&survivor).map(String::as_str).unwrap_or_default();
            if let Err(err) = apply_merge(&state.store, workspace, victim, survivor, template, &now).await {
                tracing::warn!(workspace = %workspace, error = %err, "pattern merge failed; will be retried");
                // The merges stay pending in the stored state; the retry reloads it and applies them.
                self.forget(workspace).await;
                return all_ids();
            }
        }
        let mut failed = Vec::new();
        let mut done = Vec::new();
        let mut insight_events = super::insights::merge_events(workspace, &outcome.merges);
        for ((message_id, request), issue) in requests.into_iter().zip(issues) {
            if !failed.is_empty() {
                failed.push(message_id);
                continue;
            }
            match finish_one(state, &request, issue, &outcome, &now).await {
                Ok(live) => {
                    done.push(message_id);
                    insight_events
                        .extend(live.map(|pattern| InsightEvent::Clustered { issue_id: request.issue_id, pattern }));
                }
                Err(err) => {
                    tracing::warn!(message_id = %message_id, error = %err, "cluster message failed; will be retried");
                    failed.push(message_id);
                }
            }
        }
        match super::insights::apply(state, workspace, &insight_events).await {
            // Merges are done once Insights has them too; until then the retry applies them again.
            Ok(()) if !outcome.merges.is_empty() => self.merges_applied(workspace, &outcome.merges).await,
            Ok(()) => {}
            Err(err) => {
                tracing::warn!(workspace = %workspace, error = %err, "insights failed; the batch will be retried");
                failed.splice(0..0, done);
            }
        }
        failed
    }

    /// Drops the cached engine of `workspace`; the next batch reloads it from the store.
    async fn forget(&self, workspace: &WorkspaceId) {
        let slot = self.slot(workspace).await;
        *slot.lock().await = None;
    }

    /// Notes that `applied` are now reflected in the pattern records, so later saves stop
    /// carrying them. (Those already saved stay in the stored head until the next save; a
    /// worker that loads them applies them again, which changes nothing.)
    async fn merges_applied(&self, workspace: &WorkspaceId, applied: &[(u64, u64)]) {
        let slot = self.slot(workspace).await;
        let mut cached = slot.lock().await;
        if let Some(cached) = cached.as_mut() {
            cached.unapplied_merges.retain(|(victim, _)| !applied.iter().any(|(done, _)| done == victim));
        }
    }

    async fn slot(&self, workspace: &WorkspaceId) -> EngineSlot {
        let mut engines = self.engines.lock().await;
        if !engines.contains_key(workspace) && engines.len() >= CACHED_WORKSPACES {
            // Drop an engine nobody is using; it reloads from the store when needed again.
            if let Some(idle) = engines.iter().find(|(_, slot)| Arc::strong_count(slot) == 1).map(|(ws, _)| ws.clone())
            {
                engines.remove(&idle);
            }
        }
        engines.entry(workspace.clone()).or_default().clone()
    }

    /// Runs the engine over `issues` and saves its state; on a lost race, reloads and re-runs.
    async fn assign(
        &self,
        store: &Store,
        workspace: &WorkspaceId,
        issues: &[&Issue],
    ) -> Result<EngineOutcome, StoreError> {
        if issues.is_empty() {
            return Ok(EngineOutcome::default());
        }
        let slot = self.slot(workspace).await;
        let mut cached = slot.lock().await;
        // The loop holds the cache's guard across attempts, which the shared helper's closures
        // cannot borrow; it follows the same policy.
        for _ in 0..UPDATE_ATTEMPTS {
            let current = match cached.as_mut() {
                Some(current) => current,
                None => cached.insert(load_engine(store, workspace).await?),
            };
            let revision = current.engine.revision();
            let mut raw = Vec::with_capacity(issues.len());
            let mut merges = Vec::new();
            for issue in issues {
                let assignment = current.engine.assign(
                    &issue.title,
                    issue.body.as_deref(),
                    Some(issue.id.as_str()),
                    parse_unix_millis(&issue.first_seen).unwrap_or(0) as i64,
                );
                merges.extend(assignment.merged_from.iter().map(|victim| victim.0));
                raw.push((issue.id.clone(), assignment.pattern_id.0));
            }
            current.unsaved_hits += issues.len() as u32;
            let mut unapplied = current.unapplied_merges.clone();
            for victim in merges {
                let survivor = current.engine.resolve(causeloop_patterns::PatternId(victim)).map_or(victim, |s| s.0);
                if survivor != victim && !unapplied.contains(&(victim, survivor)) {
                    unapplied.push((victim, survivor));
                }
            }
            if current.engine.revision() != revision || current.unsaved_hits >= SAVE_AFTER_UNSAVED_HITS {
                let bytes = current.engine.to_bytes();
                match store.save_engine_state(workspace, &bytes, current.stored.as_ref(), &unapplied).await {
                    Ok(version) => {
                        current.stored = Some(version);
                        current.unsaved_hits = 0;
                        current.unapplied_merges = unapplied;
                    }
                    Err(StoreError::ConditionFailed) => {
                        // Another worker saved first: start again from its state.
                        *cached = None;
                        continue;
                    }
                    Err(err) => {
                        // The cached engine holds assignments that were not saved; forget them.
                        *cached = None;
                        return Err(err);
                    }
                }
            } else if store.engine_state_version(workspace).await? != current.stored.as_ref().map(|v| v.version) {
                // Plain hits skip the conditional save, so confirm they were made against the
                // latest saved state: another container may have learned templates since this
                // cache was loaded, and assigning with the stale engine would split a pattern.
                *cached = None;
                continue;
            }
            let engine = &current.engine;
            let resolve = |id: u64| engine.resolve(causeloop_patterns::PatternId(id)).map_or(id, |live| live.0);
            let mut outcome = EngineOutcome::default();
            for (issue, id) in raw {
                outcome.patterns.insert(issue, resolve(id));
            }
            // A survivor may itself have been merged away since: name the live pattern.
            for &(victim, survivor) in &current.unapplied_merges {
                let survivor = resolve(survivor);
                if survivor != victim && !outcome.merges.contains(&(victim, survivor)) {
                    outcome.merges.push((victim, survivor));
                }
            }
            for &id in outcome.patterns.values().chain(outcome.merges.iter().map(|(_, survivor)| survivor)) {
                if let Some(pattern) = engine.pattern(causeloop_patterns::PatternId(id)) {
                    outcome.templates.insert(id, pattern.template.clone());
                }
            }
            return Ok(outcome);
        }
        Err(StoreError::Contended)
    }
}

async fn load_engine(store: &Store, workspace: &WorkspaceId) -> Result<CachedEngine, StoreError> {
    Ok(match store.engine_state(workspace).await? {
        Some(stored) => CachedEngine {
            // A state that does not decode is not replaced by a fresh engine: that would reuse
            // engine ids, hence pattern ids. The message fails and the DLQ alarm tells someone.
            engine: Engine::from_bytes(&stored.bytes)
                .map_err(|err| StoreError::Corrupt(format!("engine state of {workspace}: {err}")))?,
            stored: Some(stored.version),
            unsaved_hits: 0,
            unapplied_merges: stored.pending_merges,
        },
        None => CachedEngine {
            engine: Engine::with_capacity_limit(PATTERNS_PER_WORKSPACE),
            stored: None,
            unsaved_hits: 0,
            unapplied_merges: Vec::new(),
        },
    })
}

/// Folds the record of `victim` into `survivor`'s and leaves an alias behind. Repeating it after
/// it happened finds no victim record and only makes sure the alias exists.
async fn apply_merge(
    store: &Store,
    workspace: &WorkspaceId,
    victim: u64,
    survivor: u64,
    template: &str,
    now: &str,
) -> Result<(), StoreError> {
    let victim_id = PatternId::for_engine_id(workspace, victim);
    let survivor_id = PatternId::for_engine_id(workspace, survivor);
    let (victim_id, survivor_id) = (&victim_id, &survivor_id);
    update_with_retries(|| async move {
        let Some(victim_record) = store.pattern(workspace, victim_id).await? else {
            return store.alias_pattern(workspace, victim_id, survivor_id).await;
        };
        // Members first: once the alias is visible, every Issue of the victim counts in the survivor.
        store.copy_pattern_members(workspace, victim_id, survivor_id).await?;
        let (mut record, read) = match store.pattern(workspace, survivor_id).await? {
            Some(found) => (found.value, Some(found.version)),
            None => (PatternRecord::new(workspace, survivor, template, now), None),
        };
        record.absorb(&victim_record.value, now);
        if !template.is_empty() {
            record.template = template.to_string();
        }
        let realiased = &victim_record.value.aliases;
        store.merge_pattern(&record, read, victim_id, Some(victim_record.version), realiased).await
    })
    .await
}

/// Drops from `record.open_issue_ids` the members resolved since they were tracked, stopping at
/// the first one still open: that is all the recurrence rule needs to know, and each resolved
/// member is read once and then forgotten. When the bounded list overflowed and empties, the
/// members are scanned once to rebuild it.
async fn prune_resolved_members(store: &Store, record: &mut PatternRecord) -> Result<(), StoreError> {
    let workspace = record.workspace_id.clone();
    while let Some(first) = record.open_issue_ids.first().cloned() {
        match store.issue(&workspace, &first).await? {
            Some(issue) if issue.value.status == IssueStatus::Open => return Ok(()),
            _ => record.forget_open(&first),
        }
    }
    if record.open_overflow {
        let mut open = Vec::new();
        let mut cursor = None;
        loop {
            let (members, next) = store.pattern_members(&workspace, &record.id, 100, cursor).await?;
            for member in members {
                if let Some(issue) = store.issue(&workspace, &member).await? {
                    if issue.value.status == IssueStatus::Open {
                        open.push(member);
                    }
                }
            }
            match next {
                Some(next) if open.len() <= MAX_TRACKED_OPEN => cursor = Some(next),
                _ => break,
            }
        }
        record.reset_open(open);
    }
    Ok(())
}

fn pattern_event(
    event_type: EventType,
    record: &PatternRecord,
    issue: &Issue,
    cause: &str,
    now: &str,
) -> EventEnvelope {
    envelope(
        event_type,
        &record.workspace_id,
        cause,
        None,
        json!({"pattern": record.to_api(), "issue_id": issue.id, "issue": issue.to_api()}),
        now,
    )
}

/// Counts `issue` into the pattern `pattern_id` names (exactly once) and emits what that means.
/// Returns the id of the live pattern.
async fn record_membership(
    state: &AppState,
    issue: &Issue,
    pattern_id: &PatternId,
    engine_id: Option<u64>,
    templates: &HashMap<u64, String>,
    now: &str,
) -> Result<Option<PatternId>, StoreError> {
    let store = &state.store;
    let workspace = &issue.workspace_id;
    update_with_retries(|| async move {
        let (mut record, read) = match store.resolve_pattern(workspace, pattern_id).await? {
            Some(found) => (found.value, Some(found.version)),
            None => match engine_id {
                Some(engine_id) => {
                    let template = templates.get(&engine_id).map(String::as_str).unwrap_or(&issue.title);
                    (PatternRecord::new(workspace, engine_id, template, now), None)
                }
                None => {
                    // Only the worker writes `pattern_id`, after the record: nothing to count into.
                    tracing::warn!(issue = %issue.id, pattern = %pattern_id, "issue names a pattern that has no record");
                    return Ok(None);
                }
            },
        };
        let mut changed = false;
        if let Some(template) = templates.get(&record.engine_id).filter(|t| **t != record.template) {
            record.template.clone_from(template);
            changed = true;
        }
        let member = read.is_some() && store.is_pattern_member(workspace, &record.id, &issue.id).await?;
        let new_member = if member {
            changed |= record.observe(issue);
            if !changed {
                return Ok(Some(record.id));
            }
            None
        } else {
            if record.issue_count > 0 {
                prune_resolved_members(store, &mut record).await?;
            }
            let event = match record.gain(issue, now) {
                Gained::FirstIssue => {
                    Some(pattern_event(EventType::PatternDetected, &record, issue, record.id.as_str(), now))
                }
                Gained::Recurred => {
                    let cause = format!("{}#{}", record.id, issue.id);
                    Some(pattern_event(EventType::PatternRecurring, &record, issue, &cause, now))
                }
                Gained::Member => None,
            };
            // Emitted before the count is committed: if the commit is lost, the retry emits the
            // same event id again, which the deliver worker delivers once.
            emit(state.queue.as_ref(), event.into_iter().collect()).await?;
            Some(&issue.id)
        };
        store.save_pattern(&record, read, new_member).await?;
        Ok(Some(record.id))
    })
    .await
}

/// Writes `pattern_id` on the Issue unless it already has one (optimistic, re-reading on a race
/// with an ingest that updated the Issue meanwhile).
async fn write_issue_pattern(store: &Store, issue: Versioned<Issue>, pattern_id: &PatternId) -> Result<(), StoreError> {
    let (workspace, issue_id) = (issue.value.workspace_id.clone(), issue.value.id.clone());
    let (workspace, issue_id) = (&workspace, &issue_id);
    let mut read = Some(issue);
    update_with_retries(|| {
        let known = read.take();
        async move {
            let issue = match known {
                Some(issue) => issue,
                None => match store.issue(workspace, issue_id).await? {
                    Some(fresh) => fresh,
                    None => return Ok(()),
                },
            };
            if issue.value.pattern_id.is_some() {
                return Ok(());
            }
            let mut updated = issue.value;
            updated.pattern_id = Some(pattern_id.to_string());
            store.save_issue(&updated, Some(issue.version)).await?;
            Ok(())
        }
    })
    .await
}

/// Returns the live pattern the Issue is now counted in, if any.
async fn finish_one(
    state: &AppState,
    request: &ClusterRequest,
    issue: Option<Versioned<Issue>>,
    outcome: &EngineOutcome,
    now: &str,
) -> Result<Option<PatternId>, StoreError> {
    let mut counted_in = None;
    if let Some(issue) = issue {
        let existing = issue.value.pattern_id.as_deref().and_then(PatternId::parse);
        let assigned = outcome.patterns.get(&issue.value.id).copied();
        let target = match (existing, assigned) {
            (Some(existing), _) => Some((existing, None)),
            (None, Some(engine_id)) => {
                Some((PatternId::for_engine_id(&request.workspace_id, engine_id), Some(engine_id)))
            }
            (None, None) => None,
        };
        if let Some((pattern_id, engine_id)) = target {
            let live = record_membership(state, &issue.value, &pattern_id, engine_id, &outcome.templates, now).await?;
            if let Some(live) = live {
                write_issue_pattern(&state.store, issue, &live).await?;
                counted_in = Some(live);
            }
        }
    }
    if let Some(job) = &request.job_id {
        state.store.mark_clustered(&request.workspace_id, job, &request.issue_id).await?;
    }
    Ok(counted_in)
}
