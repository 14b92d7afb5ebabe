//! The `ingest` family: `POST /v1/ingest/events`, `POST /v1/ingest/batch`,
//! `GET /v1/ingest/status/{job_id}` (scope `ingest:write`).
//!
//! Idempotency: the Issue id derives from workspace + source + external id, so no retry can
//! create a second Issue. Each delivery of a record also has an ingest-event id — random, or
//! derived from an `Idempotency-Key` header — and an Issue remembers the events it applied, so
//! a request retried with the same key (even a batch that crashed half way) changes nothing twice.

use crate::events::{emit, envelope, issue_resolved};
use crate::messages::ClusterRequest;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use causeloop_domain::events::EventType;
use causeloop_domain::ids::derived_body;
use causeloop_domain::ingest::{
    attach_connector, may_belong_to_connector, normalize_record_at, ConnectorRef, NormalizedRecord,
};
use causeloop_domain::issue::{Applied, Issue};
use causeloop_domain::limits::{MAX_BATCH_BODY_BYTES, MAX_BATCH_RECORDS, MAX_EXTERNAL_ID_CHARS, MAX_SINGLE_BODY_BYTES};
use causeloop_domain::text::cut_chars;
use causeloop_domain::{ConnectorId, FieldError, IssueId, JobId, Scope, SyncId, WorkspaceId};
use causeloop_http::body::json_object;
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::connectors::SyncRecord;
use causeloop_storage::repo::{Job, RejectedRecord};
use causeloop_storage::update::update_with_retries;
use causeloop_storage::{Store, StoreError};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

/// `POST /v1/ingest/events` answers this.
#[derive(Debug, Serialize)]
pub struct EventAccepted {
    pub issue_id: String,
    /// `created`, `updated` or `unchanged`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pattern_id: Option<String>,
}

/// `POST /v1/ingest/batch` answers this: the job, and each rejected record with its index.
#[derive(Debug, Serialize)]
pub struct BatchAccepted {
    pub job_id: String,
    pub accepted: usize,
    pub rejected: Vec<RejectedRecord>,
}

/// `GET /v1/ingest/status/{job_id}`.
#[derive(Debug, Serialize)]
pub struct JobStatus {
    pub job_id: String,
    /// `completed` once every accepted record's Issue is clustered, else `processing`.
    pub status: &'static str,
    pub accepted: usize,
    pub rejected: usize,
    pub created: usize,
    pub updated: usize,
    pub clustered: usize,
    pub errors: Vec<RejectedRecord>,
    pub created_at: String,
}

/// Every route of the family, as (method, path); `openapi.yaml` is checked against these.
pub const ROUTES: &[(&str, &str)] =
    &[("POST", "/v1/ingest/events"), ("POST", "/v1/ingest/batch"), ("GET", "/v1/ingest/status/{job_id}")];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/ingest/events", post(ingest_event))
        .route("/v1/ingest/batch", post(ingest_batch))
        .route("/v1/ingest/status/{job_id}", get(job_status))
}

/// The caller's idempotency key, bounded and scoped to the workspace.
fn idempotency_key(headers: &HeaderMap, workspace: &WorkspaceId) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let text =
        value.to_str().ok().map(str::trim).filter(|text| !text.is_empty() && text.len() <= 255).ok_or_else(|| {
            ApiError::bad_request("invalid_idempotency_key", "`Idempotency-Key` must be 1–255 visible ASCII characters")
                .with("field", "Idempotency-Key")
        })?;
    Ok(Some(derived_body("causeloop/idempotency/v1", &[workspace.as_str(), text])))
}

fn random_suffix() -> [u8; 10] {
    rand::random()
}

/// Applies one record to its Issue with optimistic concurrency; returns the stored Issue.
pub async fn upsert_issue(
    store: &Store,
    workspace: &WorkspaceId,
    record: &NormalizedRecord,
    ingest_event: &str,
    now: &str,
) -> Result<(Issue, Applied), StoreError> {
    let id = IssueId::derive(workspace, &record.source, &record.external_id);
    let id = &id;
    update_with_retries(|| async move {
        let existing = store.issue(workspace, id).await?;
        let read_version = existing.as_ref().map(|v| v.version);
        let (issue, applied) = Issue::apply(existing.map(|v| v.value), workspace, record, ingest_event, now);
        if applied.changed() {
            store.save_issue(&issue, read_version).await?;
        }
        Ok((issue, applied))
    })
    .await
}

async fn ingest_event(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IngestWrite)?;
    let workspace = &principal.workspace_id;
    let mut record =
        normalize_record_at(&Value::Object(json_object(&headers, &body, MAX_SINGLE_BODY_BYTES)?), now_millis() as i64)
            .map_err(ApiError::field)?;
    let attached = attach_connectors(&state.store, workspace, vec![&mut record]).await?;
    attached.into_iter().next().expect("one record, one answer").map_err(ApiError::field)?;
    let ingest_event = match idempotency_key(&headers, workspace)? {
        Some(key) => format!("idem:{key}"),
        None => format!("evt:{:032x}", rand::random::<u128>()),
    };
    let now = now_rfc3339();
    let (issue, applied) = upsert_issue(&state.store, workspace, &record, &ingest_event, &now).await?;

    // Sent on replays too: if an earlier attempt crashed after the write, this completes it;
    // the FIFO dedup id and the derived event id make a repeat harmless.
    let cluster = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id.clone(), job_id: None };
    state.queue.send_batch(causeloop_storage::QueueName::Cluster, vec![cluster.to_message(&ingest_event)]).await?;
    let event = envelope(
        EventType::IssueIngested,
        workspace,
        &ingest_event,
        issue.connector_id.clone(),
        json!({"issue": issue.to_api(), "status": applied.answer()}),
        &now,
    );
    let mut events = vec![event];
    if applied.announces_resolution(&issue) {
        events.push(issue_resolved(&issue, &now));
    }
    emit(state.queue.as_ref(), events).await?;
    if let Some(connector) = record.connector_id.as_deref() {
        record_push(&state.store, workspace, connector, PUSH_KIND, Some(issue.id.to_string()), 1).await?;
    }

    let answer =
        EventAccepted { issue_id: issue.id.to_string(), status: applied.answer(), pattern_id: issue.pattern_id };
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

async fn ingest_batch(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IngestWrite)?;
    let workspace = principal.workspace_id.clone();
    let object = json_object(&headers, &body, MAX_BATCH_BODY_BYTES)?;
    let records = match object.get("records") {
        None => return Err(ApiError::field(causeloop_domain::FieldError::missing("records"))),
        Some(Value::Array(records)) => records,
        Some(_) => return Err(ApiError::field(causeloop_domain::FieldError::wrong_type("records", "an array"))),
    };
    if records.is_empty() {
        return Err(
            ApiError::bad_request("empty_batch", "`records` must hold at least one record").with("field", "records")
        );
    }
    if records.len() > MAX_BATCH_RECORDS {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_records",
            format!("a batch holds at most {MAX_BATCH_RECORDS} records; this one has {}", records.len()),
        )
        .with("field", "records")
        .with("limit", MAX_BATCH_RECORDS));
    }

    let job_id = match idempotency_key(&headers, &workspace)? {
        Some(key) => JobId::from_body(key),
        None => JobId::random(now_millis(), random_suffix()),
    };
    let mut accepted: Vec<(usize, NormalizedRecord)> = Vec::new();
    let mut rejected = Vec::new();
    for (index, value) in records.iter().enumerate() {
        match normalize_record_at(value, now_millis() as i64) {
            Ok(record) => accepted.push((index, record)),
            Err(error) => rejected.push(RejectedRecord {
                index,
                // Bounded: the job record holds every rejection and must stay a storable item.
                external_id: value
                    .get("external_id")
                    .and_then(Value::as_str)
                    .map(|id| cut_chars(id, MAX_EXTERNAL_ID_CHARS)),
                error: error.error.to_string(),
                message: error.message,
            }),
        }
    }
    let attached = attach_connectors(&state.store, &workspace, accepted.iter_mut().map(|(_, r)| r).collect()).await?;
    let mut kept = Vec::with_capacity(accepted.len());
    for ((index, record), outcome) in accepted.into_iter().zip(attached) {
        match outcome {
            Ok(()) => kept.push((index, record)),
            Err(error) => rejected.push(RejectedRecord {
                index,
                external_id: Some(record.external_id),
                error: error.error.to_string(),
                message: error.message,
            }),
        }
    }
    let accepted = kept;
    rejected.sort_by_key(|rejected| rejected.index);

    let now = now_rfc3339();
    let with_events: Vec<(String, &NormalizedRecord)> =
        accepted.iter().map(|(index, record)| (batch_event(&job_id, *index), record)).collect();
    let outcome = apply_records(&state.store, &workspace, &with_events, &now).await?;
    let created = outcome.applied.iter().filter(|applied| applied.answer() == "created").count();
    let resolved = outcome.resolved;
    let record_issue_ids: Vec<IssueId> =
        accepted.iter().map(|(_, record)| IssueId::derive(&workspace, &record.source, &record.external_id)).collect();

    // In record order, so that a backfill sent in time order is counted by Insights in time order.
    let mut distinct: Vec<&IssueId> = Vec::with_capacity(record_issue_ids.len());
    let mut seen = std::collections::HashSet::new();
    distinct.extend(record_issue_ids.iter().filter(|id| seen.insert(*id)));
    let cluster_messages = distinct
        .into_iter()
        .map(|issue_id| {
            ClusterRequest { workspace_id: workspace.clone(), issue_id: issue_id.clone(), job_id: Some(job_id.clone()) }
                .to_message(job_id.as_str())
        })
        .collect::<Vec<_>>();
    let job = Job {
        id: job_id.clone(),
        workspace_id: workspace.clone(),
        accepted: accepted.len(),
        rejected: rejected.clone(),
        created,
        updated: accepted.len() - created,
        record_issue_ids,
        created_at: now.clone(),
    };
    // The job is stored before its records are queued, so a worker never races a missing job.
    state.store.put_job(&job).await?;
    state.queue.send_batch(causeloop_storage::QueueName::Cluster, cluster_messages).await?;
    // A batch of one connector's Issues is that connector's event; a mixed batch is nobody's.
    let mut connectors = accepted.iter().map(|(_, record)| record.connector_id.as_deref());
    let first = connectors.next().flatten();
    let batch_connector = connectors.all(|connector| connector == first).then_some(first).flatten();
    let event = envelope(
        EventType::IssueBatchIngested,
        &workspace,
        job_id.as_str(),
        batch_connector.map(str::to_string),
        json!({"job_id": job_id, "accepted": job.accepted, "rejected": rejected.len(), "created": job.created, "updated": job.updated}),
        &now,
    );
    let mut events = vec![event];
    events.extend(resolved.iter().map(|issue| issue_resolved(issue, &now)));
    emit(state.queue.as_ref(), events).await?;
    let mut per_connector: BTreeMap<&str, u64> = BTreeMap::new();
    for connector in accepted.iter().filter_map(|(_, record)| record.connector_id.as_deref()) {
        *per_connector.entry(connector).or_default() += 1;
    }
    for (connector, records) in per_connector {
        record_push(&state.store, &workspace, connector, BATCH_KIND, None, records).await?;
    }

    Ok((StatusCode::ACCEPTED, Json(BatchAccepted { job_id: job_id.to_string(), accepted: job.accepted, rejected })))
}

/// Attaches pushed records to their connectors ([`attach_connector`]), reading the workspace's
/// connectors once, and only when some record could belong to one: pushes from sources that no
/// connector type matches cost no read. Per record, in order: the error of one that names a
/// connector the workspace does not have.
async fn attach_connectors(
    store: &Store,
    workspace: &WorkspaceId,
    mut records: Vec<&mut NormalizedRecord>,
) -> Result<Vec<Result<(), FieldError>>, StoreError> {
    if !records.iter().any(|record| may_belong_to_connector(record)) {
        return Ok(vec![Ok(()); records.len()]);
    }
    let connectors = store.all_connectors(workspace).await?;
    let refs: Vec<ConnectorRef<'_>> = connectors
        .iter()
        .map(|c| ConnectorRef { id: c.id.as_str(), connector_type: &c.connector_type, enabled: c.enabled })
        .collect();
    Ok(records.iter_mut().map(|record| attach_connector(record, &refs)).collect())
}

/// The sync-history kinds of a push through this API: one record, or a batch's records of one
/// connector.
const PUSH_KIND: &str = "push";
const BATCH_KIND: &str = "batch";

/// Appends a push to its connector's history, so the connector's history and health show all
/// of its traffic, not only what its receivers took in.
async fn record_push(
    store: &Store,
    workspace: &WorkspaceId,
    connector: &str,
    kind: &str,
    issue_id: Option<String>,
    records: u64,
) -> Result<(), StoreError> {
    // Attached connectors are the workspace's own, so their ids parse.
    let Some(connector) = ConnectorId::parse(connector) else {
        return Ok(());
    };
    let mut entry = SyncRecord::received(SyncId::random(now_millis(), random_suffix()), kind, Ok(issue_id));
    entry.records = Some(records);
    store.record_sync(workspace, &connector, &entry).await
}

/// What [`apply_records`] did.
#[derive(Debug, Default)]
pub struct AppliedRecords {
    /// Per record, in the order given: what applying it did.
    pub applied: Vec<Applied>,
    /// The Issues a record resolved, each as that record left it, and those a replayed record
    /// found resolved (see `Applied::announces_resolution`).
    pub resolved: Vec<Issue>,
    /// Every Issue a record changed, as stored.
    pub changed: Vec<Issue>,
}

/// Applies records, each with its ingest-event id: each Issue's records in order, in memory, on
/// the Issue as read. Round trips do not grow with the records one by one: the Issues are read
/// with one batched read per 100 and written in transactions of up to 100, conditioned on the
/// versions read. An Issue whose transaction lost a race (another request wrote one of its
/// Issues meanwhile) is re-read and re-applied alone; it remembers the ingest events it applied,
/// so nothing counts twice.
pub async fn apply_records(
    store: &Store,
    workspace: &WorkspaceId,
    records: &[(String, &NormalizedRecord)],
    now: &str,
) -> Result<AppliedRecords, StoreError> {
    let mut by_issue: BTreeMap<IssueId, Vec<usize>> = BTreeMap::new();
    for (position, (_, record)) in records.iter().enumerate() {
        by_issue.entry(IssueId::derive(workspace, &record.source, &record.external_id)).or_default().push(position);
    }
    let ids: Vec<IssueId> = by_issue.keys().cloned().collect();
    let stored = store.issues(workspace, &ids).await?;

    let mut applied: Vec<Option<Applied>> = vec![None; records.len()];
    let mut changed: Vec<ChangedIssue> = Vec::new();
    // Issues only replayed (nothing to write) that are resolved: their event is emitted again.
    let mut replayed_resolved: Vec<Issue> = Vec::new();
    for (positions, existing) in by_issue.values().zip(stored) {
        let read_version = existing.as_ref().map(|stored| stored.version);
        let mut issue = existing.map(|stored| stored.value);
        let mut any_change = false;
        let mut resolved = Vec::new();
        for &position in positions {
            let (event, record) = &records[position];
            let (applied_to, outcome) = Issue::apply(issue.take(), workspace, record, event, now);
            applied[position] = Some(outcome);
            any_change |= outcome.changed();
            if outcome.announces_resolution(&applied_to) {
                resolved.push(applied_to.clone());
            }
            issue = Some(applied_to);
        }
        match (any_change, issue) {
            (true, Some(issue)) => changed.push((issue, read_version, positions, resolved)),
            (false, Some(_)) => replayed_resolved.extend(resolved.pop()),
            _ => {}
        }
    }

    let writes: Vec<(&Issue, Option<u64>)> = changed.iter().map(|(issue, read, ..)| (issue, *read)).collect();
    let saved = store.save_issues(&writes).await;
    let mut result = AppliedRecords { resolved: replayed_resolved, ..AppliedRecords::default() };
    for ((issue, _, positions, resolved), saved) in changed.into_iter().zip(saved) {
        match saved {
            Ok(_) => {
                result.resolved.extend(resolved);
                result.changed.push(issue);
            }
            Err(StoreError::ConditionFailed) => {
                let mut last = None;
                for &position in positions {
                    let (event, record) = &records[position];
                    let (issue, outcome) = upsert_issue(store, workspace, record, event, now).await?;
                    applied[position] = Some(outcome);
                    if outcome.announces_resolution(&issue) {
                        result.resolved.push(issue.clone());
                    }
                    last = Some(issue);
                }
                result.changed.extend(last);
            }
            Err(err) => return Err(err),
        }
    }
    result.applied = applied.into_iter().map(|outcome| outcome.expect("every record is applied")).collect();
    Ok(result)
}

/// An Issue the records changed: as it is to be written, the version read, its records'
/// positions, and the states in which a record resolved it.
type ChangedIssue<'a> = (Issue, Option<u64>, &'a [usize], Vec<Issue>);

/// The ingest-event id of record `index` of a batch job: a retried job re-applies nothing.
fn batch_event(job_id: &JobId, index: usize) -> String {
    format!("{job_id}#{index}")
}

async fn job_status(
    State(state): State<AppState>,
    principal: Principal,
    Path(job_id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::IngestWrite)?;
    let workspace = &principal.workspace_id;
    let job_id = JobId::parse(&job_id).ok_or_else(|| ApiError::not_found("job"))?;
    let job = state.store.job(workspace, &job_id).await?.ok_or_else(|| ApiError::not_found("job"))?;
    let clustered_issues = state.store.clustered_issues(workspace, &job_id).await?;
    let clustered = job.record_issue_ids.iter().filter(|id| clustered_issues.contains(id.as_str())).count();
    Ok(Json(JobStatus {
        status: if clustered == job.accepted { "completed" } else { "processing" },
        accepted: job.accepted,
        rejected: job.rejected.len(),
        created: job.created,
        updated: job.updated,
        clustered,
        job_id: job.id.to_string(),
        errors: job.rejected,
        created_at: job.created_at,
    }))
}
