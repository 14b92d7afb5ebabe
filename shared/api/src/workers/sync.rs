//! The sync worker and the scheduler of managed connectors (`docs/connectors.md`, "Managed
//! connectors").
//!
//! A sync is a walk over a vendor's pages (`causeloop_connectors`). One message on the sync
//! queue ([`SyncTask`]) names a running sync; the worker reads pages from the connector's
//! checkpoint, applies each page's records as Issues, and checkpoints the cursor (with the
//! sync's history entry, one conditional write) before reading the next page. After
//! [`PAGES_PER_MESSAGE`] pages or [`STEP_BUDGET`] it queues a follow-up message and returns, so no
//! invocation comes near Lambda's 15-minute limit.
//!
//! Nothing is lost and nothing counts twice:
//! - each record's ingest event derives from the connector, its external id and the vendor's
//!   update time, so a page applied again after a crash (or the incremental overlap) is a replay;
//! - the checkpoint is conditioned on the connector's version: of two workers on one sync (a
//!   duplicated message), the second's checkpoint fails and it stops;
//! - a crash after a checkpoint and before the follow-up leaves a running sync without a message:
//!   the scheduler requeues a sync whose checkpoint is older than `STALLED_AFTER_MS`.
//!
//! Waits are queue delays, never sleeps: a rate limit (`Retry-After`) or a transient failure
//! (with backoff) checkpoints the wait and queues the follow-up with that delay.

use super::WorkMessage;
use crate::events::{emit, envelope, issue_resolved};
use crate::ingest::apply_records;
use crate::messages::ClusterRequest;
use crate::oauth::{self, AccessError};
use crate::outbound::OutboundClient;
use crate::state::AppState;
use causeloop_connectors::{Connection, Failure, Page, Window};
use causeloop_domain::catalog::{connector_type, schedule_minutes};
use causeloop_domain::events::EventType;
use causeloop_domain::ids::derived_body;
use causeloop_domain::ingest::{normalize_record, NormalizedRecord};
use causeloop_domain::issue::{Applied, IssueStatus};
use causeloop_domain::sync::{Due, StartRefused, SyncCounts, SyncMode, SyncRun, SyncState, SyncStatus};
use causeloop_domain::time_fmt::format_unix_millis;
use causeloop_domain::{ConnectorId, SyncId, WorkspaceId};
use causeloop_storage::connectors::Connector;
use causeloop_storage::repo::Versioned;
use causeloop_storage::update::update_with_retries;
use causeloop_storage::{OutMessage, QueueName, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Pages one message reads before handing over to a follow-up.
pub const PAGES_PER_MESSAGE: usize = 20;
/// Time one message works before handing over (the function's timeout is far longer).
pub const STEP_BUDGET: Duration = Duration::from_secs(120);
/// SQS's longest delay; a longer wait is finished by the message re-delaying itself.
const MAX_DELAY_SECONDS: u64 = 900;
/// The connector statuses the sync worker sets.
pub const STATUS_NEEDS_AUTH: &str = "needs_auth";
pub const STATUS_ERROR: &str = "error";

/// "Continue sync `sync_id` of this connector": on the sync queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncTask {
    pub workspace_id: WorkspaceId,
    pub connector_id: ConnectorId,
    pub sync_id: String,
}

impl SyncTask {
    pub fn to_message(&self, delay_seconds: u64) -> OutMessage {
        let mut message = OutMessage::standard(serde_json::to_string(self).expect("sync task serializes"));
        message.delay_seconds = delay_seconds.min(MAX_DELAY_SECONDS) as u32;
        message
    }
}

/// Milliseconds since the Unix epoch.
pub type Clock = Arc<dyn Fn() -> u64 + Send + Sync>;

/// Starts a sync of the connector (from the API, the scheduler or a completed OAuth flow) and
/// queues its first step. `Ok(Err(..))` when it cannot start (one is running, a bad `since`).
pub async fn start_sync(
    state: &AppState,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    mode: SyncMode,
    since_millis: Option<i64>,
    now_millis: i64,
) -> Result<Option<Result<SyncRun, StartRefused>>, StoreError> {
    let started = update_with_retries(|| async move {
        let Some(Versioned { value: mut stored, version }) = state.store.connector(workspace, connector).await? else {
            return Ok(None);
        };
        let id = SyncId::random(now_millis as u64, rand::random()).to_string();
        let run = match stored.sync.start(mode, since_millis, now_millis, id) {
            Ok(run) => run.clone(),
            Err(refused) => return Ok(Some(Err(refused))),
        };
        stored.updated_at = format_unix_millis(now_millis as u64);
        state.store.checkpoint_sync(&stored, version).await?;
        Ok(Some(Ok(run)))
    })
    .await?;
    if let Some(Ok(run)) = &started {
        let task =
            SyncTask { workspace_id: workspace.clone(), connector_id: connector.clone(), sync_id: run.id.clone() };
        state.queue.send_batch(QueueName::Sync, vec![task.to_message(0)]).await?;
    }
    Ok(started)
}

/// What one pass of the scheduler did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleReport {
    pub started: usize,
    pub requeued: usize,
}

/// Finds every due polling connector and starts its sync; requeues syncs that lost their worker.
/// Run every minute (EventBridge on AWS, a timer in `causeloop serve`). It reads each
/// workspace's connectors from the workspace's partition, so one pass costs a query per
/// workspace; a connector that is disabled, or needs authorization, is never started.
pub async fn run_schedule(state: &AppState, now_millis: i64) -> Result<ScheduleReport, StoreError> {
    let mut report = ScheduleReport::default();
    for workspace in state.store.workspaces().await? {
        for connector in state.store.all_connectors(&workspace.id).await? {
            let polls = connector_type(&connector.connector_type).is_some_and(|kind| kind.polls());
            if !polls || !connector.enabled || connector.status == STATUS_NEEDS_AUTH {
                continue;
            }
            let every = schedule_minutes(connector.config.as_object().unwrap_or(&Default::default()));
            match connector.sync.due(every, now_millis) {
                Due::No => {}
                Due::Start => {
                    let mode = causeloop_domain::sync::scheduled_mode(&connector.sync);
                    if let Some(Ok(_)) = start_sync(state, &workspace.id, &connector.id, mode, None, now_millis).await?
                    {
                        report.started += 1;
                    }
                }
                Due::Requeue(sync_id) => {
                    let task =
                        SyncTask { workspace_id: workspace.id.clone(), connector_id: connector.id.clone(), sync_id };
                    state.queue.send_batch(QueueName::Sync, vec![task.to_message(0)]).await?;
                    report.requeued += 1;
                }
            }
        }
    }
    Ok(report)
}

/// One per process (per Lambda container), holding the vendor HTTP client.
#[derive(Clone)]
pub struct SyncWorker {
    state: AppState,
    client: OutboundClient,
    clock: Clock,
}

/// Attempts to save a checkpoint over writes that did not touch the sync.
const PERSIST_ATTEMPTS: usize = 4;

/// The connector's sync state and status as a step found them, to tell a concurrent PATCH
/// (re-apply the checkpoint) from another step of the same sync (stop).
struct Found {
    sync: SyncState,
    status: String,
}

/// How a step ended.
enum Stop {
    /// Nothing more to do for this message.
    Done,
    /// Continue in a follow-up message after this many seconds.
    FollowUp(u64),
}

impl SyncWorker {
    /// A worker whose vendor calls go through the state's vendor client (the SSRF guard).
    pub fn new(state: AppState) -> Self {
        let client = state.vendor_client().clone();
        Self { state, client, clock: Arc::new(causeloop_storage::clock::now_millis) }
    }

    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    fn now(&self) -> i64 {
        (self.clock)() as i64
    }

    /// Handles a batch one message at a time (each is a long walk over one vendor) and returns
    /// the ids of messages that failed (a store error), to come back after the visibility timeout.
    pub async fn handle_batch(&self, messages: Vec<WorkMessage>) -> Vec<String> {
        let mut failed = Vec::new();
        for message in messages {
            let task: SyncTask = match serde_json::from_str(&message.body) {
                Ok(task) => task,
                Err(err) => {
                    tracing::error!(message_id = %message.id, error = %err, "dropping a malformed sync task");
                    continue;
                }
            };
            match self.step(&task).await {
                Ok(Stop::Done) => {}
                Ok(Stop::FollowUp(delay)) => {
                    if let Err(err) = self.state.queue.send_batch(QueueName::Sync, vec![task.to_message(delay)]).await {
                        tracing::warn!(sync_id = %task.sync_id, error = %err, "follow-up not queued; the message comes back");
                        failed.push(message.id.clone());
                    }
                }
                Err(err) => {
                    tracing::warn!(sync_id = %task.sync_id, error = %err, "sync step failed; the message comes back");
                    failed.push(message.id.clone());
                }
            }
        }
        failed
    }

    /// Reads pages of the task's sync until it ends, waits, or the step's budget is spent.
    async fn step(&self, task: &SyncTask) -> Result<Stop, StoreError> {
        let started = Instant::now();
        // A 401 earns one token refresh per message; `force_refresh` asks for it on the next pass.
        let (mut refreshed, mut force_refresh) = (false, false);
        for _ in 0..PAGES_PER_MESSAGE {
            let Some(Versioned { value: mut connector, mut version }) =
                self.state.store.connector(&task.workspace_id, &task.connector_id).await?
            else {
                return Ok(Stop::Done);
            };
            let Some(run) = connector.sync.running(&task.sync_id).cloned() else {
                return Ok(Stop::Done);
            };
            let found = Found { sync: connector.sync.clone(), status: connector.status.clone() };
            let now = self.now();
            if let Some(at) = run.resume_after_millis.filter(|at| *at > now) {
                return Ok(Stop::FollowUp(((at - now) as u64).div_ceil(1000)));
            }
            if !connector.enabled {
                return self.fail(connector, version, &found, "the connector was disabled".into(), None).await;
            }
            let Some(vendor) = causeloop_connectors::vendor(&connector.connector_type) else {
                let why = format!("`{}` connectors cannot sync", connector.connector_type);
                return self.fail(connector, version, &found, why, None).await;
            };
            let forced = std::mem::take(&mut force_refresh);
            let access = match oauth::access(&self.state, &self.client, &mut connector, &mut version, forced, now).await
            {
                Ok(access) => access,
                Err(AccessError::Store(err)) => return Err(err),
                Err(AccessError::NeedsAuth(why)) => {
                    return self.fail(connector, version, &found, why, Some(STATUS_NEEDS_AUTH)).await;
                }
                Err(AccessError::Vendor(Failure::RateLimited { retry_after_seconds })) => {
                    return self.wait(connector, version, &found, retry_after_seconds).await;
                }
                Err(AccessError::Vendor(failure)) => return self.failure(connector, version, &found, failure).await,
            };
            let config = connector.config.as_object().cloned().unwrap_or_default();
            let connection = Connection { api_base: &access.api_base, config: &config, auth: &access.auth };
            let window = Window { since_millis: run.since_millis, until_millis: run.until_millis };
            let page = match vendor.request(&connection, &window, &run.cursor) {
                Ok(request) => match self.client.fetch(&request).await {
                    Ok(response) => vendor.read(&connection, &window, &run.cursor, &response, self.now()),
                    Err(failure) => Err(failure),
                },
                Err(failure) => Err(failure),
            };
            let page = match page {
                Ok(page) => page,
                Err(Failure::Unauthorized(_)) if access.refreshable && !refreshed => {
                    // An access token revoked or expired early: refresh once and read the page again.
                    refreshed = true;
                    force_refresh = true;
                    continue;
                }
                Err(Failure::Unauthorized(why)) => {
                    return self.fail(connector, version, &found, why, Some(STATUS_NEEDS_AUTH)).await;
                }
                Err(Failure::RateLimited { retry_after_seconds }) => {
                    return self.wait(connector, version, &found, retry_after_seconds).await;
                }
                Err(failure) => return self.failure(connector, version, &found, failure).await,
            };
            let next = page.next.clone();
            let counts = self.apply(&connector, &page).await?;
            let now = self.now();
            let completed = connector.sync.checkpoint(next, &counts, now);
            if completed {
                connector.status = crate::connectors::STATUS_CONNECTED.to_string();
            }
            if !self.persist(&connector, version, &found).await? {
                return Ok(Stop::Done);
            }
            if completed {
                self.announce(&connector, EventType::ConnectorSyncCompleted).await?;
                return Ok(Stop::Done);
            }
            if started.elapsed() >= STEP_BUDGET {
                break;
            }
        }
        Ok(Stop::FollowUp(0))
    }

    /// Applies a page's records as Issues of the connector, then queues their clustering and
    /// events. Records the domain refuses (a vendor value outside the ingest rules) are counted
    /// as skipped and logged; they never stop the sync.
    async fn apply(&self, connector: &Connector, page: &Page) -> Result<SyncCounts, StoreError> {
        let workspace = &connector.workspace_id;
        let mut counts = SyncCounts { pages: 1, records_seen: page.records.len() as u64, ..Default::default() };
        let mut records: Vec<(String, NormalizedRecord)> = Vec::with_capacity(page.records.len());
        for vendor_record in &page.records {
            let mut value = vendor_record.record.clone();
            if let Value::Object(fields) = &mut value {
                fields.insert("connector_id".into(), Value::String(connector.id.to_string()));
            }
            match normalize_record(&value) {
                Ok(record) => {
                    let event = format!(
                        "sync:{}",
                        derived_body(
                            "causeloop/sync-record/v1",
                            &[connector.id.as_str(), &record.external_id, &vendor_record.updated_at]
                        )
                    );
                    records.push((event, record));
                }
                Err(error) => {
                    counts.records_skipped += 1;
                    tracing::warn!(connector_id = %connector.id, field = %error.field, error = %error.message, "skipping a vendor record");
                }
            }
        }
        if records.is_empty() {
            return Ok(counts);
        }
        let now = format_unix_millis(self.now() as u64);
        let by_ref: Vec<(String, &NormalizedRecord)> =
            records.iter().map(|(event, record)| (event.clone(), record)).collect();
        let outcome = apply_records(&self.state.store, workspace, &by_ref, &now).await?;
        // Resolved: Issues a record resolved, and Issues created already resolved (a backfill's
        // closed tickets).
        counts.issues_resolved = outcome.resolved.len() as u64;
        for ((_, record), applied) in records.iter().zip(&outcome.applied) {
            match applied {
                Applied::Created => {
                    counts.issues_created += 1;
                    counts.issues_resolved += u64::from(record.status == Some(IssueStatus::Resolved));
                }
                Applied::Updated { .. } => counts.issues_updated += 1,
                Applied::Replayed { .. } => {}
            }
        }

        // Sent for replays too: a page applied before a crash is clustered and announced now; the
        // FIFO dedup ids and the derived event ids make repeats harmless.
        let mut cluster = Vec::new();
        let mut events = Vec::new();
        for ((event, record), applied) in records.iter().zip(&outcome.applied) {
            let Some(issue) = outcome.changed.iter().find(|issue| issue.external_id == record.external_id) else {
                continue;
            };
            cluster.push(
                ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id.clone(), job_id: None }
                    .to_message(event),
            );
            events.push(envelope(
                EventType::IssueIngested,
                workspace,
                event,
                Some(connector.id.to_string()),
                json!({"issue": issue.to_api(), "status": applied.answer()}),
                &now,
            ));
        }
        events.extend(outcome.resolved.iter().map(|issue| issue_resolved(issue, &now)));
        self.state.queue.send_batch(QueueName::Cluster, cluster).await?;
        emit(self.state.queue.as_ref(), events).await?;
        Ok(counts)
    }

    /// The vendor asked to wait: checkpoint the wait and continue after it.
    async fn wait(
        &self,
        mut connector: Connector,
        version: u64,
        found: &Found,
        seconds: u64,
    ) -> Result<Stop, StoreError> {
        connector.sync.wait(seconds, self.now());
        Ok(if self.persist(&connector, version, found).await? { Stop::FollowUp(seconds) } else { Stop::Done })
    }

    /// Saves the connector's new sync state and status with its checkpoint. When another write
    /// won the race but left this sync where this step found it (a PATCH of the connector, a
    /// token refresh), the change is applied again on the fresh record; when the sync itself moved
    /// on (another step of it, a duplicated message), that step carries on and this answers false.
    async fn persist(&self, updated: &Connector, version: u64, found: &Found) -> Result<bool, StoreError> {
        let (mut attempt, mut version) = (updated.clone(), version);
        for _ in 0..PERSIST_ATTEMPTS {
            match self.state.store.checkpoint_sync(&attempt, version).await {
                Ok(_) => return Ok(true),
                Err(StoreError::ConditionFailed) => {}
                Err(err) => return Err(err),
            }
            let Some(fresh) = self.state.store.connector(&updated.workspace_id, &updated.id).await? else {
                return Ok(false);
            };
            if fresh.value.sync != found.sync {
                return Ok(false);
            }
            let mut merged = fresh.value;
            merged.sync = updated.sync.clone();
            if updated.status != found.status {
                merged.status = updated.status.clone();
            }
            (attempt, version) = (merged, fresh.version);
        }
        Err(StoreError::Contended)
    }

    /// A transient failure is retried with backoff until the retries run out; anything else
    /// fails the sync.
    async fn failure(
        &self,
        mut connector: Connector,
        version: u64,
        found: &Found,
        failure: Failure,
    ) -> Result<Stop, StoreError> {
        if let Failure::Transient(why) = &failure {
            if let Some(delay) = connector.sync.retry(self.now()) {
                tracing::warn!(connector_id = %connector.id, error = %why, delay, "vendor page failed; retrying");
                let saved = self.persist(&connector, version, found).await?;
                return Ok(if saved { Stop::FollowUp(delay) } else { Stop::Done });
            }
        }
        self.fail(connector, version, found, failure.to_string(), None).await
    }

    /// Ends the sync as failed (its checkpoint kept for the next schedule), sets the connector's
    /// status, and announces `connector.sync.failed`.
    async fn fail(
        &self,
        mut connector: Connector,
        version: u64,
        found: &Found,
        why: String,
        status: Option<&str>,
    ) -> Result<Stop, StoreError> {
        tracing::warn!(connector_id = %connector.id, error = %why, "sync failed");
        connector.sync.fail(why, self.now());
        connector.status = status.unwrap_or(STATUS_ERROR).to_string();
        if !self.persist(&connector, version, found).await? {
            return Ok(Stop::Done);
        }
        self.announce(&connector, EventType::ConnectorSyncFailed).await?;
        Ok(Stop::Done)
    }

    /// `connector.sync.completed` or `.failed`, carrying the connector id (so connector-filtered
    /// endpoints receive it) and the sync's history entry.
    async fn announce(&self, connector: &Connector, event_type: EventType) -> Result<(), StoreError> {
        let Some(run) = &connector.sync.run else { return Ok(()) };
        let status = match run.status {
            SyncStatus::Completed => "completed",
            SyncStatus::Failed => "failed",
            SyncStatus::Running => "running",
        };
        let cause = format!("{}@{}", run.id, run.finished_at_millis.unwrap_or_default());
        let data = json!({
            "connector_id": connector.id,
            "connector_type": connector.connector_type,
            "connector_status": connector.status,
            "sync": crate::connectors::sync_view(run),
            "status": status,
        });
        let now = format_unix_millis(self.now() as u64);
        let event = envelope(event_type, &connector.workspace_id, &cause, Some(connector.id.to_string()), data, &now);
        emit(self.state.queue.as_ref(), vec![event]).await
    }
}

/// A mode name from the API.
pub fn parse_mode(word: &str) -> Option<SyncMode> {
    match word {
        "incremental" => Some(SyncMode::Incremental),
        "backfill" => Some(SyncMode::Backfill),
        _ => None,
    }
}
