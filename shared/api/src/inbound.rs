//! The inbound receiver, `POST /v1/webhooks/inbound/{connector_id}` (part of the `alerts`
//! Lambda; `docs/webhooks.md`, "The inbound receiver"): a source pushes its own events,
//! authenticated only by `x-causeloop-signature` = hex HMAC-SHA256(signing secret, raw body).
//!
//! Order of work, failing closed:
//! 1. the raw body is buffered as received (up to [`MAX_VERIFIABLE_BYTES`]) — nothing parses it
//!    before the signature is checked;
//! 2. the connector and its inbound registration are read; the signature is compared in constant
//!    time against every secret valid now (the current one and, during a rotation's grace
//!    period, the replaced ones). Missing header, wrong length, bad hex, mismatch, unknown or
//!    deleted connector, disabled connector or registration, no secret: **one** 401 with one
//!    body, so nothing tells a caller which;
//! 3. only then is the body judged: 415 for a non-JSON content type, 413 above 1 MiB, 400 for
//!    invalid JSON or a non-object;
//! 4. the event becomes an ingest record (rules in `causeloop_domain::inbound`, with the
//!    connector's `config.field_mapping`) applied like `POST /v1/ingest/events`: the same event
//!    twice is one Issue. `202 {"issue_id", "status"}`.
//!
//! Replays: the signature covers only the body, so the same signed bytes take effect once per
//! replay window (`INBOUND_REPLAY_WINDOW_SECONDS` of the storage crate, 7 days): a delivery is
//! remembered by the SHA-256 of its body after it is applied, and its ingest event derives from that digest (or from its
//! `Idempotency-Key`), so a replay — captured and resent, or a sender's retry — is answered like
//! the first delivery and counts no occurrence, reopens and resolves nothing. A source that
//! sends two real occurrences with identical bodies must tell them apart in the body (an event
//! id or a timestamp), as the walkthrough's examples do.
//!
//! Every authenticated delivery, accepted or not, is appended to the connector's sync history
//! (`GET /v1/connectors/{id}/syncs`); unauthenticated requests are not, so strangers cannot fill it.

use crate::events::{emit, envelope, issue_resolved};
use crate::ingest::{upsert_issue, IDEMPOTENCY_HEADER};
use crate::messages::ClusterRequest;
use crate::secrets::{open_valid_secrets, secret_box, secrets_do_not_open};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use causeloop_domain::events::EventType;
use causeloop_domain::ids::derived_body;
use causeloop_domain::inbound::{mapping_from_config, record_from_event};
use causeloop_domain::ingest::normalize_record;
use causeloop_domain::limits::MAX_SINGLE_BODY_BYTES;
use causeloop_domain::signature::verify_hex;
use causeloop_domain::{ConnectorId, SyncId, WorkspaceId};
use causeloop_http::body::json_object;
use causeloop_http::request_log::RequestWorkspace;
use causeloop_http::ApiError;
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::connectors::{Connector, InboundApplied, SyncRecord};
use causeloop_storage::QueueName;
use serde_json::json;
use sha2::{Digest, Sha256};

pub const ROUTES: &[(&str, &str)] = &[("POST", "/v1/webhooks/inbound/{connector_id}")];

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/webhooks/inbound/{connector_id}", post(receive))
}

pub const SIGNATURE_HEADER: &str = "x-causeloop-signature";
/// The largest body whose signature is checked: API Gateway's own payload limit. A larger body
/// cannot be verified and is refused as unauthenticated; one between 1 MiB and this limit is
/// verified and then refused as too large.
pub const MAX_VERIFIABLE_BYTES: usize = 6 * 1024 * 1024;
/// The sync-history kind of an inbound delivery.
pub const SYNC_KIND: &str = "inbound";

/// The one answer to every authentication failure.
fn unauthorized() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
        "the request is not signed with a valid signing secret for this receiver: send the hex HMAC-SHA256 of the raw body in x-causeloop-signature",
    )
}

/// The connector whose valid secret signed `body`, or `None` for every kind of failure. A
/// request that could never authenticate (no signature, no such receiver) is `None` before the
/// master keyring is consulted, so a keyring problem never turns a 401 into another answer.
async fn authenticate(
    state: &AppState,
    raw_connector_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Option<Connector>, ApiError> {
    let Some(presented) = headers.get(SIGNATURE_HEADER).and_then(|value| value.to_str().ok()) else {
        return Ok(None);
    };
    let Some(connector_id) = ConnectorId::parse(raw_connector_id) else {
        return Ok(None);
    };
    let Some(target) = state.store.inbound_target(&connector_id).await? else {
        return Ok(None);
    };
    let Some(webhook) = target.webhook.filter(|webhook| webhook.enabled) else {
        return Ok(None);
    };
    if !target.connector.enabled {
        return Ok(None);
    }
    let now = now_rfc3339();
    let secrets = open_valid_secrets(secret_box(&state.settings).await?, &webhook, &now)
        .map_err(|err| secrets_do_not_open(&err))?;
    // Check every valid secret (no early exit), so the time taken does not tell which matched.
    let matched =
        secrets.iter().fold(false, |matched, secret| verify_hex(secret.as_bytes(), body, presented) | matched);
    Ok(matched.then_some(target.connector))
}

async fn receive(
    State(state): State<AppState>,
    Path(connector_id): Path<String>,
    request_workspace: Option<Extension<RequestWorkspace>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Ok(body) = axum::body::to_bytes(body, MAX_VERIFIABLE_BYTES).await else {
        return Err(unauthorized());
    };
    let Some(connector) = authenticate(&state, &connector_id, &headers, &body).await? else {
        return Err(unauthorized());
    };
    let workspace = connector.workspace_id.clone();
    if let Some(Extension(slot)) = &request_workspace {
        slot.set(workspace.as_str());
    }

    let outcome = accept(&state, &connector, &headers, &body).await;
    match &outcome {
        Ok((issue_id, _)) => record_delivery(&state, &workspace, &connector.id, Ok(Some(issue_id.clone()))).await?,
        Err(err) if err.status.is_client_error() => {
            let error = format!("{}: {}", err.code, err.message);
            record_delivery(&state, &workspace, &connector.id, Err(error)).await?
        }
        // A failure on our side is retried by the source, and the retry is recorded.
        Err(_) => {}
    }
    let (issue_id, status) = outcome?;
    Ok((StatusCode::ACCEPTED, Json(json!({"issue_id": issue_id, "status": status}))).into_response())
}

/// Turns a verified delivery into an Issue; returns its id and `created` or `updated`.
async fn accept(
    state: &AppState,
    connector: &Connector,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(String, &'static str), ApiError> {
    let workspace = &connector.workspace_id;
    let event = json_object(headers, body, MAX_SINGLE_BODY_BYTES)?;
    let record = record_from_event(
        &event,
        &mapping_from_config(&connector.config),
        &connector.connector_type,
        connector.id.as_str(),
        &connector.display_name,
    );
    let record = normalize_record(&record).map_err(ApiError::field)?;
    let digest = hex::encode(Sha256::digest(body));
    if let Some(seen) = state.store.inbound_applied(workspace, &connector.id, &digest).await? {
        let status = if seen.status == "created" { "created" } else { "updated" };
        return Ok((seen.issue_id, status));
    }
    // A source that retries with an Idempotency-Key is counted once; otherwise each distinct
    // body is an occurrence (the dedup key still keeps it to one Issue).
    let ingest_event = match headers.get(IDEMPOTENCY_HEADER).and_then(|value| value.to_str().ok()) {
        Some(key) if !key.trim().is_empty() && key.len() <= 255 => {
            format!("idem:{}", derived_body("causeloop/inbound-idempotency/v1", &[connector.id.as_str(), key.trim()]))
        }
        _ => format!("inb:{}", derived_body("causeloop/inbound-body/v1", &[connector.id.as_str(), &digest])),
    };
    let now = now_rfc3339();
    let (issue, applied) = upsert_issue(&state.store, workspace, &record, &ingest_event, &now).await?;
    let cluster = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id.clone(), job_id: None };
    state.queue.send_batch(QueueName::Cluster, vec![cluster.to_message(&ingest_event)]).await?;
    let event = envelope(
        EventType::IssueIngested,
        workspace,
        &ingest_event,
        Some(connector.id.to_string()),
        json!({"issue": issue.to_api(), "status": applied.answer()}),
        &now,
    );
    let mut events = vec![event];
    if applied.announces_resolution(&issue) {
        events.push(issue_resolved(&issue, &now));
    }
    emit(state.queue.as_ref(), events).await?;
    let remembered = InboundApplied { issue_id: issue.id.to_string(), status: applied.answer().to_string() };
    state.store.remember_inbound(workspace, &connector.id, &digest, &remembered).await?;
    Ok((issue.id.to_string(), applied.answer()))
}

async fn record_delivery(
    state: &AppState,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    result: Result<Option<String>, String>,
) -> Result<(), ApiError> {
    let record = SyncRecord::received(SyncId::random(now_millis(), rand::random()), SYNC_KIND, result);
    state.store.record_sync(workspace, connector, &record).await?;
    Ok(())
}
