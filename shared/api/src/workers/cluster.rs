//! The cluster worker: takes `ClusterRequest`s from the FIFO queue (one group per workspace) and
//! puts each Issue into its Pattern.
//!
//! Per batch and workspace (up to [`MESSAGES_PER_COMMIT`] messages at a time):
//! 1. Read the Issues, in one batched read. Those that already have a pattern keep it (a repeat
//!    of an Issue never moves it); the others go through the workspace's clustering engine.
//! 2. The engine is cached per container with the version it was read at. After assigning, the
//!    state is saved with a condition on that version when the templates changed (or after
//!    [`SAVE_AFTER_UNSAVED_HITS`] plain hits), so two workers can never lose each other's update:
//!    the loser reloads, re-assigns and retries. Plain hits change only counters and recency,
//!    which the pattern records keep exactly anyway, so batching their saves loses nothing the
//!    product shows.
//! 3. Merges the engine made are applied to the pattern records (the merged-away id becomes an
//!    alias of its survivor, and its members and statistics move over).
//! 4. The patterns the batch counts into are read in one batched read (record, alias, and
//!    whether each Issue is already a member), the domain rules run in message order (emitting
//!    `pattern.detected` for a pattern's first Issue and `pattern.recurring` when a pattern gains
//!    an Issue after all its earlier ones were resolved), and the batch commits in three round
//!    trips: pattern records with their new member items (one transaction), `pattern_id` on each
//!    Issue (conditional writes, sent together), the ingest jobs' clustered markers. Every write
//!    is conditioned on what was read; a lost race re-reads and decides again.
//!
//! 5. Insights (`workers::insights::apply`), once the batch is committed: each clustered Issue's
//!    new history is counted and its prediction and triage stored. If it fails, the batch's
//!    messages fail and are retried (everything above is idempotent).
//!
//! A batch of ten new Issues of a known pattern costs six sequential round trips
//! (tests/tests/costs.rs), where it was about seventy, plus the Insights step's three
//! (tests/tests/insights.rs).
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
use causeloop_storage::table::transaction_chunks;
use causeloop_storage::update::{update_with_retries, UPDATE_ATTEMPTS};
use causeloop_storage::{pack_transactions, Store, StoreError, Write};
use futures_util::future::join_all;
use serde_json::json;
use std::collections::{HashMap, HashSet};
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
/// Messages of one workspace committed together: each adds at most three writes to the counting
/// transaction (its pattern record, the alias check of a new record, a member item), so a
/// commit's counts fit one transaction, and its reads one batched read.
pub const MESSAGES_PER_COMMIT: usize = causeloop_storage::table::MAX_TRANSACTION_WRITES / 3;
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
            for (n, chunk) in requests.chunks(MESSAGES_PER_COMMIT).enumerate() {
                let chunk_failed = self.handle_workspace(state, &workspace, chunk).await;
                if !chunk_failed.is_empty() {
                    // A FIFO group is processed in order: everything after a failure fails too.
                    failed.extend(requests.iter().skip(n * MESSAGES_PER_COMMIT).map(|(id, _)| id.clone()));
                    break;
                }
            }
        }
        failed
    }

    /// Handles up to [`MESSAGES_PER_COMMIT`] messages of one workspace; returns the ids of the
    /// messages that failed (all of them, or none: the batch commits as a whole).
    async fn handle_workspace(
        &self,
        state: &AppState,
        workspace: &WorkspaceId,
        requests: &[(String, ClusterRequest)],
    ) -> Vec<String> {
        let all_ids = || requests.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>();
        let now = now_rfc3339();
        let ids: Vec<IssueId> = requests.iter().map(|(_, request)| request.issue_id.clone()).collect();
        let issues = match state.store.issues(workspace, &ids).await {
            Ok(issues) => issues,
            Err(err) => {
                tracing::warn!(workspace = %workspace, error = %err, "cluster batch failed reading issues; will be retried");
                return all_ids();
            }
        };
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
        let clustered = match record_batch(state, workspace, requests, issues, &outcome, &now).await {
            Ok(clustered) => clustered,
            Err(err) => {
                tracing::warn!(workspace = %workspace, error = %err, "cluster batch failed; will be retried");
                return all_ids();
            }
        };
        let mut insight_events = super::insights::merge_events(workspace, &outcome.merges);
        insight_events.extend(clustered);
        if let Err(err) = super::insights::apply(state, workspace, &insight_events).await {
            tracing::warn!(workspace = %workspace, error = %err, "insights failed; the batch will be retried");
            return all_ids();
        }
        // Merges are done once Insights has them too; until then a retry applies them again.
        if !outcome.merges.is_empty() {
            self.merges_applied(workspace, &outcome.merges).await;
        }
        Vec::new()
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
/// member is read once and then forgotten. Statuses in `known` (the batch's own Issues, and
/// those read before in the batch) are not read again. When the bounded list overflowed and
/// empties, the members are scanned once to rebuild it.
async fn prune_resolved_members(
    store: &Store,
    record: &mut PatternRecord,
    known: &mut HashMap<IssueId, Option<IssueStatus>>,
) -> Result<(), StoreError> {
    let workspace = record.workspace_id.clone();
    while let Some(first) = record.open_issue_ids.first().cloned() {
        let status = match known.get(&first) {
            Some(status) => *status,
            None => {
                let status = store.issue(&workspace, &first).await?.map(|issue| issue.value.status);
                known.insert(first.clone(), status);
                status
            }
        };
        match status {
            Some(IssueStatus::Open) => return Ok(()),
            _ => record.forget_open(&first),
        }
    }
    if record.open_overflow {
        let mut open = Vec::new();
        let mut cursor = None;
        loop {
            let (members, next) = store.pattern_members(&workspace, &record.id, 100, cursor).await?;
            for (member, issue) in members.iter().zip(store.issues(&workspace, &members).await?) {
                if issue.is_some_and(|issue| issue.value.status == IssueStatus::Open) {
                    open.push(member.clone());
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
        // The connector of the Issue that made the Pattern (or its recurrence) news.
        issue.connector_id.clone(),
        json!({"pattern": record.to_api(), "issue_id": issue.id, "issue": issue.to_api()}),
        now,
    )
}

/// Counts a batch's Issues into their patterns and commits it in three steps, each one round
/// trip: the pattern records with their new member items (one transaction), then `pattern_id`
/// on each newly clustered Issue (conditional writes, concurrently), then the ingest jobs'
/// clustered markers (one transaction). Every write is conditioned on what was read, so a lost
/// race (an ingest updating one of the Issues, another worker counting into one of the
/// patterns) re-reads and decides again; a crash between the steps leaves counts that the
/// retry finds already made.
///
/// The Issues stay out of the counting transaction on purpose: an Issue changes with every
/// occurrence, so a transaction holding it would fail (and be redone whole) whenever an ingest
/// raced the worker, while a lone conditional write only redoes itself.
async fn record_batch(
    state: &AppState,
    workspace: &WorkspaceId,
    requests: &[(String, ClusterRequest)],
    read: Vec<Option<Versioned<Issue>>>,
    outcome: &EngineOutcome,
    now: &str,
) -> Result<Vec<InsightEvent>, StoreError> {
    let store = &state.store;
    let ids: Vec<IssueId> = requests.iter().map(|(_, request)| request.issue_id.clone()).collect();
    let ids = &ids;
    let mut first_read = Some(read);
    update_with_retries(|| {
        let known = first_read.take();
        async move {
            let issues = match known {
                Some(issues) => issues,
                None => store.issues(workspace, ids).await?,
            };
            let plan = plan_batch(store, workspace, requests, &issues, outcome, now).await?;
            // Emitted before the counts are committed: if the commit is lost, the retry emits
            // the same event ids again, which the deliver worker delivers once.
            emit(state.queue.as_ref(), plan.events).await?;
            for transaction in pack_transactions(plan.memberships) {
                store.table().transact(transaction).await?;
            }
            let written = join_all(plan.issue_writes.into_iter().map(|write| store.table().write(write))).await;
            written.into_iter().collect::<Result<Vec<()>, StoreError>>()?;
            for transaction in transaction_chunks(plan.markers) {
                store.table().transact(transaction).await?;
            }
            Ok(plan.clustered)
        }
    })
    .await
}

/// What a batch changes: the events it announces, the pattern records each with its new
/// members (a group that commits together), `pattern_id` on Issues, and job markers.
struct BatchPlan {
    events: Vec<EventEnvelope>,
    memberships: Vec<Vec<Write>>,
    issue_writes: Vec<Write>,
    markers: Vec<Write>,
    /// Each Issue counted (or found counted) into its live pattern, for Insights.
    clustered: Vec<InsightEvent>,
}

/// One live pattern record a batch counts into.
struct PatternPlan {
    record: PatternRecord,
    /// The version read; `None`: the record is new.
    read: Option<u64>,
    /// Issues already counted, as read.
    counted: HashSet<IssueId>,
    new_members: Vec<IssueId>,
    changed: bool,
}

/// Decides a batch from what is stored: reads the patterns its Issues count into (one batched
/// read, plus the rare alias to follow) and applies the domain rules in message order.
async fn plan_batch(
    store: &Store,
    workspace: &WorkspaceId,
    requests: &[(String, ClusterRequest)],
    issues: &[Option<Versioned<Issue>>],
    outcome: &EngineOutcome,
    now: &str,
) -> Result<BatchPlan, StoreError> {
    // The pattern each Issue counts into: the one it has, else the one the engine chose.
    let targets: Vec<Option<(PatternId, Option<u64>)>> = issues
        .iter()
        .map(|issue| {
            let issue = &issue.as_ref()?.value;
            match issue.pattern_id.as_deref().and_then(PatternId::parse) {
                Some(existing) => Some((existing, None)),
                None => outcome
                    .patterns
                    .get(&issue.id)
                    .map(|&engine_id| (PatternId::for_engine_id(workspace, engine_id), Some(engine_id))),
            }
        })
        .collect();
    let mut wanted: Vec<(PatternId, Vec<IssueId>)> = Vec::new();
    let mut engine_ids: Vec<Option<u64>> = Vec::new();
    for (issue, target) in issues.iter().zip(&targets) {
        let (Some(issue), Some((pattern, engine_id))) = (issue, target) else { continue };
        match wanted.iter().position(|(known, _)| known == pattern) {
            Some(at) => wanted[at].1.push(issue.value.id.clone()),
            None => {
                wanted.push((pattern.clone(), vec![issue.value.id.clone()]));
                engine_ids.push(*engine_id);
            }
        }
    }
    let lookups = store.pattern_lookups(workspace, &wanted).await?;

    // Each wanted id to the live record it names (several ids can name one record).
    let mut plans: Vec<PatternPlan> = Vec::new();
    let mut plan_of: HashMap<PatternId, usize> = HashMap::new();
    for (((pattern, members), lookup), engine_id) in wanted.iter().zip(lookups).zip(engine_ids) {
        let (found, counted) = match (lookup.record, lookup.aliased) {
            (Some(found), _) => (Some(found), lookup.members),
            (None, true) => match store.resolve_pattern(workspace, pattern).await? {
                Some(found) => {
                    let mut counted = HashSet::new();
                    for member in members {
                        if store.is_pattern_member(workspace, &found.value.id, member).await? {
                            counted.insert(member.clone());
                        }
                    }
                    (Some(found), counted)
                }
                None => (None, HashSet::new()),
            },
            (None, false) => (None, HashSet::new()),
        };
        let plan = match found {
            Some(found) => PatternPlan {
                record: found.value,
                read: Some(found.version),
                counted,
                new_members: Vec::new(),
                changed: false,
            },
            None => match engine_id {
                Some(engine_id) => {
                    let template = outcome.templates.get(&engine_id).map_or(members[0].as_str(), String::as_str);
                    PatternPlan {
                        record: PatternRecord::new(workspace, engine_id, template, now),
                        read: None,
                        counted,
                        new_members: Vec::new(),
                        changed: false,
                    }
                }
                None => {
                    // Only the worker writes `pattern_id`, after the record: nothing to count into.
                    tracing::warn!(pattern = %pattern, "issues name a pattern that has no record");
                    continue;
                }
            },
        };
        let at = match plans.iter().position(|known| known.record.id == plan.record.id) {
            Some(at) => {
                plans[at].counted.extend(plan.counted);
                at
            }
            None => {
                plans.push(plan);
                plans.len() - 1
            }
        };
        plan_of.insert(pattern.clone(), at);
    }

    let mut statuses: HashMap<IssueId, Option<IssueStatus>> =
        issues.iter().flatten().map(|issue| (issue.value.id.clone(), Some(issue.value.status))).collect();
    let mut events = Vec::new();
    let mut issue_writes = Vec::new();
    let mut markers = Vec::new();
    let mut seen: HashSet<&IssueId> = HashSet::new();
    let mut clustered = Vec::new();
    for (((_, request), issue), target) in requests.iter().zip(issues).zip(&targets) {
        if let Some(job) = &request.job_id {
            markers.push(Store::clustered_write(workspace, job, &request.issue_id));
        }
        let (Some(issue), Some((pattern, _))) = (issue, target) else { continue };
        let Some(&at) = plan_of.get(pattern) else { continue };
        if !seen.insert(&issue.value.id) {
            continue;
        }
        let plan = &mut plans[at];
        clustered.push(InsightEvent::Clustered { issue_id: issue.value.id.clone(), pattern: plan.record.id.clone() });
        if let Some(template) = outcome.templates.get(&plan.record.engine_id).filter(|t| **t != plan.record.template) {
            plan.record.template.clone_from(template);
            plan.changed = true;
        }
        if plan.counted.contains(&issue.value.id) {
            plan.changed |= plan.record.observe(&issue.value);
        } else {
            if plan.record.issue_count > 0 {
                prune_resolved_members(store, &mut plan.record, &mut statuses).await?;
            }
            let gained = plan.record.gain(&issue.value, now);
            let record = &plan.record;
            events.extend(match gained {
                Gained::FirstIssue => {
                    Some(pattern_event(EventType::PatternDetected, record, &issue.value, record.id.as_str(), now))
                }
                Gained::Recurred => {
                    let cause = format!("{}#{}", record.id, issue.value.id);
                    Some(pattern_event(EventType::PatternRecurring, record, &issue.value, &cause, now))
                }
                Gained::Member => None,
            });
            plan.counted.insert(issue.value.id.clone());
            plan.new_members.push(issue.value.id.clone());
            plan.changed = true;
        }
        if issue.value.pattern_id.is_none() {
            let mut clustered = issue.value.clone();
            clustered.pattern_id = Some(plan.record.id.to_string());
            issue_writes.push(Store::issue_write(&clustered, Some(issue.version)).0);
        }
    }
    let memberships = plans
        .iter()
        .filter(|plan| plan.changed)
        .map(|plan| Store::pattern_writes(&plan.record, plan.read, &plan.new_members))
        .collect();
    Ok(BatchPlan { events, memberships, issue_writes, markers, clustered })
}
