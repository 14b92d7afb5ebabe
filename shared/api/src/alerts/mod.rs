//! The `alerts` family: `POST /v1/webhooks/{id}/{provider}`, where monitoring tools post their
//! own alert formats (`docs/api-contract.md`, "Provider webhooks"; per-tool setup in
//! `docs/monitoring-tools.md`). `id` is the workspace id — what monitoring-tool docs call
//! `tenantId`; the router names it `id` because axum needs one parameter name per position and
//! the webhook registry's `/v1/webhooks/{id}` shares the position. Literal segments
//! (`/v1/webhooks/inbound/...`, `/v1/webhooks/{id}/rotate`, ...) win, as in API Gateway.
//!
//! Order of work for every request, failing closed at each step:
//! 1. the provider must exist (404 listing the supported ones);
//! 2. authentication, before the body is parsed (401):
//!    - key providers: `X-API-Key` or `Authorization: Bearer` must be a key *of the workspace in
//!      the path* — a key of another workspace is 401, like an unknown key — and hold
//!      `ingest:write` (otherwise 403 naming the scope, as everywhere else in the API);
//!      then the provider's signature with the key's webhook secret: `X-Webhook-Signature` for
//!      `custom` (and for any other tool that sends it), Grafana's and Sentry's own headers,
//!      PagerDuty's; Datadog, Alertmanager and the other tools that cannot sign pass with the
//!      key alone. Every comparison is constant time (`subtle`, in the providers crate);
//!    - `cloudwatch`: see [`cloudwatch`] — SNS signature, then the workspace's topic allow-list;
//! 3. parsing (400 for a body that is not JSON, 422 naming the missing or invalid field);
//! 4. each alert becomes an ingest record ([`mapping`]) applied with
//!    [`crate::ingest::upsert_issue`], so deduplication and idempotency are the ingestion API's.
//!
//! Answers: a new alert `202 {"incidentId", "status": "triaging"}`; a repeat of an open alert
//! `202 {"status": "duplicate"}` for tools that re-send on a timer, and
//! `409 {"error": "duplicate_alert", "message", "incidentId"}` for `custom` (its documented
//! contract). Either way the Issue stays one and its occurrences and last_seen advance. A
//! resolved alert answers `"resolved"` and emits `issue.resolved` when it closes an open Issue;
//! one never seen firing is recorded as a resolved Issue. States that neither open nor resolve
//! (CloudWatch `INSUFFICIENT_DATA`, Datadog `No Data`, PagerDuty `acknowledged`, ...) answer
//! `"recorded"`: they are noted on an existing Issue's metadata and never create one.
//! A notification with several alerts (Alertmanager and Grafana groups) adds `"alerts"`, one
//! entry per alert; the top-level status is the most significant one
//! (triaging > duplicate > resolved > recorded).
//!
//! Provider secrets: Sentry signs with its integration's Client Secret and PagerDuty with its
//! subscription secret, which the customer cannot set to our webhook secret. Store that secret as
//! the `webhook_secret` credential of a `sentry` / `pagerduty` connector of the workspace (sealed
//! at rest like every credential); signatures are then checked against it, and always also
//! against the key's webhook secret (for relays that re-sign). See `signing_secrets`.

pub mod cloudwatch;
pub mod mapping;
pub mod sns;

use crate::events::{emit, envelope, issue_resolved};
use crate::ingest::upsert_issue;
use crate::messages::ClusterRequest;
use crate::state::AppState;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Json, Router};
use bytes::Bytes;
use causeloop_domain::events::{EventEnvelope, EventType};
use causeloop_domain::issue::Applied;
use causeloop_domain::keys::{hash_key, key_matches, looks_like_key, unwrap_webhook_secret};
use causeloop_domain::limits::MAX_SINGLE_BODY_BYTES;
use causeloop_domain::{ConnectorId, IssueId, IssueStatus, Scope, SyncId, WorkspaceId};
use causeloop_http::auth::bearer_key;
use causeloop_http::request_log::RequestWorkspace;
use causeloop_http::{ApiError, Principal};
use causeloop_providers::{
    provider, registry, AlertState, AuthRequirement, CanonicalAlert, Custom, Headers, ParseError, Provider, Resend,
    SigningSecret, VerifyError, TOOL_SECRET_FIELD,
};
use causeloop_storage::clock::now_millis;
use causeloop_storage::connectors::SyncRecord;
use causeloop_storage::update::update_with_retries;
use causeloop_storage::{OutMessage, QueueName, Store, StoreError};
use serde_json::{json, Value};

/// Every route of the family, as (method, path); `openapi.yaml` is checked against these.
pub const ROUTES: &[(&str, &str)] = &[("POST", "/v1/webhooks/{id}/{provider}")];

pub const API_KEY_HEADER: &str = "x-api-key";
/// The header that carries the signature of tools that can sign with our scheme.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "x-webhook-signature";

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/webhooks/{id}/{provider}", post(receive_alert))
}

/// What one alert did to its Issue, in the words of the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertStatus {
    /// A new Issue, or one that came back after being resolved.
    Triaging,
    /// A repeat of an alert whose Issue is open.
    Duplicate,
    Resolved,
    /// A state that neither opens nor resolves; noted, nothing opened.
    Recorded,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Triaging => "triaging",
            AlertStatus::Duplicate => "duplicate",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Recorded => "recorded",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AlertOutcome {
    /// `None` only for a non-state alert of an Issue that does not exist.
    pub issue_id: Option<IssueId>,
    pub status: AlertStatus,
    pub source_alert_id: String,
    pub state: String,
}

/// Queue messages and events produced while applying a notification, sent together.
#[derive(Default)]
struct Outbox {
    cluster: Vec<OutMessage>,
    events: Vec<EventEnvelope>,
}

impl Outbox {
    async fn flush(self, state: &AppState) -> Result<(), StoreError> {
        if !self.cluster.is_empty() {
            state.queue.send_batch(QueueName::Cluster, self.cluster).await?;
        }
        emit(state.queue.as_ref(), self.events).await
    }
}

fn unknown_provider(name: &str) -> ApiError {
    let supported: Vec<&str> = registry().iter().map(|p| p.name()).collect();
    ApiError::new(
        StatusCode::NOT_FOUND,
        "unknown_provider",
        format!("there is no provider `{name}`; supported providers: {}", supported.join(", ")),
    )
    .with("supported", supported)
}

fn unauthorized_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "send an API key of this workspace with the `ingest:write` scope as `X-API-Key` or `Authorization: Bearer`",
    )
}

fn invalid_signature(error: &VerifyError) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_signature", format!("the request signature was refused: {error}"))
}

fn parse_error(error: ParseError) -> ApiError {
    match error {
        ParseError::InvalidJson(why) => {
            ApiError::bad_request("invalid_json", format!("the body is not valid JSON for this provider: {why}"))
        }
        other => {
            let field = other.field().map(str::to_string);
            let error = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_payload",
                format!("the payload cannot be read as this provider's format: {other}"),
            );
            match field {
                Some(field) => error.with("field", field),
                None => error,
            }
        }
    }
}

fn body_too_large(len: usize) -> ApiError {
    causeloop_http::body::body_too_large(len, MAX_SINGLE_BODY_BYTES)
}

fn provider_headers(headers: &HeaderMap) -> Headers {
    headers.iter().filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))).collect()
}

async fn receive_alert(
    State(state): State<AppState>,
    Path((id, provider_name)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    request_workspace: Option<Extension<RequestWorkspace>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let provider = provider(&provider_name).ok_or_else(|| unknown_provider(&provider_name))?;
    let workspace = WorkspaceId::parse(&id);
    let log_workspace = |ws: &WorkspaceId| {
        if let Some(Extension(slot)) = &request_workspace {
            slot.set(ws.as_str());
        }
    };
    if provider.auth() == AuthRequirement::SnsSignature {
        return cloudwatch::receive(&state, workspace, &headers, &body, log_workspace).await;
    }

    let (workspace, webhook_secret) = authenticate(&state, workspace, &headers, query.as_deref()).await?;
    log_workspace(&workspace);
    if body.len() > MAX_SINGLE_BODY_BYTES {
        return Err(body_too_large(body.len()));
    }
    let tool_headers = provider_headers(&headers);
    let connector = verify_signature(&state, &workspace, provider, &tool_headers, &body, &webhook_secret).await?;

    let alerts = provider.parse(&tool_headers, &body).map_err(parse_error)?;
    let delivery = format!("whk:{:032x}", rand::random::<u128>());
    let applied = apply_alerts(&state, &workspace, provider, &alerts, &delivery, connector.as_ref()).await;
    // A delivery signed with a connector's own secret is that connector's traffic: its Issues
    // carry it, and its history and health show the delivery, applied or not.
    if let Some(connector) = &connector {
        let result = match &applied {
            Ok(outcomes) => Ok(outcomes.iter().find_map(|outcome| outcome.issue_id.as_ref()).map(|id| id.to_string())),
            Err(error) => Err(error.message.clone()),
        };
        let entry = SyncRecord::received(SyncId::random(now_millis(), rand::random()), PROVIDER_WEBHOOK_KIND, result);
        state.store.record_sync(&workspace, connector, &entry).await?;
    }
    Ok(respond(provider, &applied?, provider.truncated_alerts(&body)))
}

/// The sync-history kind of a provider webhook delivery signed with a connector's secret.
const PROVIDER_WEBHOOK_KIND: &str = "provider_webhook";

/// The presented key must be a live key of `workspace` with `ingest:write`. Yields the
/// workspace and the key's webhook secret, unwrapped with the presented key.
async fn authenticate(
    state: &AppState,
    workspace: Option<WorkspaceId>,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(WorkspaceId, String), ApiError> {
    let presented = presented_key(headers, query)?;
    let presented = presented.as_str();
    let record = state.store.key_by_hash(&hash_key(presented)).await?.ok_or_else(unauthorized_key)?;
    // The store matched on the hash; compare again in constant time, as the HTTP layer does.
    if !key_matches(presented, &record.key_hash) || record.revoked_at.is_some() {
        return Err(unauthorized_key());
    }
    // A key of another workspace is refused like an unknown one: the path's workspace is
    // never confirmed or denied to a caller without a key of it.
    let workspace = workspace.filter(|ws| *ws == record.workspace_id).ok_or_else(unauthorized_key)?;
    let principal =
        Principal { workspace_id: record.workspace_id.clone(), key_id: record.key_id.clone(), scopes: record.scopes };
    principal.require(Scope::IngestWrite)?;
    let secret = unwrap_webhook_secret(presented, &record.wrapped_webhook_secret).ok_or_else(|| {
        tracing::error!(key_id = %record.key_id, "stored webhook secret is corrupt");
        ApiError::internal()
    })?;
    Ok((workspace, secret))
}

/// The query parameter Google Cloud Monitoring's token authentication appends to the URL.
pub const AUTH_TOKEN_PARAMETER: &str = "auth_token";

/// The key a tool presents: `X-API-Key`, a Bearer token, or, for tools that can send neither
/// (Azure Monitor, Google Cloud Monitoring), the password of HTTP basic authentication or the
/// `auth_token` query parameter. Those two travel in places proxies log and browsers keep, so
/// they are accepted only over HTTPS: behind API Gateway, or a TLS proxy for `causeloop serve`,
/// which say so with `X-Forwarded-Proto: https`.
fn presented_key(headers: &HeaderMap, query: Option<&str>) -> Result<String, ApiError> {
    let header_key = headers
        .get(API_KEY_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .or_else(|| bearer_key(headers));
    if let Some(key) = header_key {
        return Some(key.to_string()).filter(|key| looks_like_key(key)).ok_or_else(unauthorized_key);
    }
    let basic_password = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .and_then(|(_, encoded)| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok())
        .and_then(|pair| pair.split_once(':').map(|(_, password)| password.to_string()));
    let token = query.into_iter().flat_map(|query| query.split('&')).find_map(|pair| {
        pair.strip_prefix(AUTH_TOKEN_PARAMETER).and_then(|rest| rest.strip_prefix('=')).map(str::to_string)
    });
    let key = basic_password.or(token).filter(|key| looks_like_key(key)).ok_or_else(unauthorized_key)?;
    let over_https = headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"));
    if !over_https {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "https_required",
            "a key in basic authentication or in `auth_token` is accepted only over HTTPS (X-Forwarded-Proto: https)",
        ));
    }
    Ok(key)
}

/// The provider's own signature check, with the key's webhook secret. Tools that cannot sign
/// pass, unless they send `X-Webhook-Signature` anyway (a relay that signs): a signature that
/// is present is always checked. Yields the connector whose own secret verified it, if any.
async fn verify_signature(
    state: &AppState,
    workspace: &WorkspaceId,
    provider: &dyn Provider,
    headers: &Headers,
    body: &[u8],
    webhook_secret: &str,
) -> Result<Option<ConnectorId>, ApiError> {
    let now = causeloop_storage::unix_now();
    match provider.auth() {
        AuthRequirement::ApiKeyOnly => {
            if headers.get_nonblank(WEBHOOK_SIGNATURE_HEADER).is_some() {
                Custom.verify(headers, body, webhook_secret.as_bytes(), now).map_err(|e| invalid_signature(&e))?;
            }
            Ok(None)
        }
        AuthRequirement::ApiKeyAndHmac | AuthRequirement::ApiKeyAndOwnSignature => {
            let mut refusal = None;
            let candidates = signing_secrets(state, workspace, provider, webhook_secret).await?;
            for (connector, secret) in candidates.secrets {
                match provider.verify(headers, body, secret.as_bytes(), now) {
                    Ok(()) => return Ok(connector),
                    Err(error) => {
                        refusal.get_or_insert(error);
                    }
                }
            }
            // Nothing verified; when some secrets could not be opened, the signature may well be
            // good, so the keyring problem is the answer rather than a 401.
            Err(candidates.unopened.unwrap_or_else(|| invalid_signature(&refusal.unwrap_or(VerifyError::Mismatch))))
        }
        // Routed to `cloudwatch::receive` before this point; refuse rather than guess.
        AuthRequirement::SnsSignature => Err(invalid_signature(&VerifyError::SnsCertificateRequired)),
    }
}

/// The secrets a provider's signature may be made with, any of which verifies it: the
/// `webhook_secret` credential of each enabled connector of the provider's type (Sentry,
/// PagerDuty), then the key's webhook secret (every tool whose secret the customer sets, and
/// relays that re-sign), each with the connector it belongs to. Fails closed: no candidate
/// matching is a 401, or the keyring's error when connectors' secrets could not be opened.
async fn signing_secrets(
    state: &AppState,
    workspace: &WorkspaceId,
    provider: &dyn Provider,
    webhook_secret: &str,
) -> Result<CandidateSecrets, ApiError> {
    let mut secrets = Vec::new();
    let mut unopened = None;
    if provider.signing_secret() == SigningSecret::ToolIssued {
        let connectors = state.store.connectors_of_type(workspace, provider.name()).await?;
        let sealed: Vec<_> = connectors
            .iter()
            .filter(|connector| connector.enabled && connector.credential_fields.iter().any(|f| f == TOOL_SECRET_FIELD))
            .filter_map(|connector| Some((connector, connector.sealed_credentials.as_deref()?)))
            .collect();
        if !sealed.is_empty() {
            match state.settings.master_key().await {
                Err(err) => unopened = Some(crate::secrets::master_key_error(err)),
                Ok(secret_box) => {
                    for (connector, sealed) in sealed {
                        match crate::secrets::open_credentials(secret_box, workspace, &connector.id, sealed) {
                            Ok(credentials) => match credentials.get(TOOL_SECRET_FIELD).and_then(Value::as_str) {
                                Some(secret) if !secret.is_empty() => {
                                    secrets.push((Some(connector.id.clone()), secret.to_string()))
                                }
                                _ => {
                                    tracing::warn!(connector_id = %connector.id, "connector credentials hold no webhook_secret")
                                }
                            },
                            Err(err) => {
                                unopened.get_or_insert_with(|| crate::secrets::secrets_do_not_open(&err));
                            }
                        }
                    }
                }
            }
        }
    }
    secrets.push((None, webhook_secret.to_string()));
    Ok(CandidateSecrets { secrets, unopened })
}

struct CandidateSecrets {
    secrets: Vec<(Option<ConnectorId>, String)>,
    /// Why some connector's secret could not be opened, if one could not.
    unopened: Option<ApiError>,
}

/// Applies each alert in order, then sends the queued clustering requests and events (also
/// when a later alert failed, so that the ones written are not left unclustered).
pub(crate) async fn apply_alerts(
    state: &AppState,
    workspace: &WorkspaceId,
    provider: &dyn Provider,
    alerts: &[CanonicalAlert],
    delivery: &str,
    connector: Option<&ConnectorId>,
) -> Result<Vec<AlertOutcome>, ApiError> {
    let now = causeloop_storage::clock::now_rfc3339();
    let mut outbox = Outbox::default();
    let mut outcomes = Vec::with_capacity(alerts.len());
    let mut failure = None;
    for (index, alert) in alerts.iter().enumerate() {
        let ingest_event = format!("{delivery}#{index}");
        match apply_alert(state, workspace, provider, alert, &ingest_event, connector, &now, &mut outbox).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    outbox.flush(state).await?;
    match failure {
        Some(error) => Err(error),
        None => Ok(outcomes),
    }
}

#[allow(clippy::too_many_arguments)]
async fn apply_alert(
    state: &AppState,
    workspace: &WorkspaceId,
    provider: &dyn Provider,
    alert: &CanonicalAlert,
    ingest_event: &str,
    connector: Option<&ConnectorId>,
    now: &str,
    outbox: &mut Outbox,
) -> Result<AlertOutcome, ApiError> {
    let record = mapping::to_record(provider.name(), alert, connector).map_err(|error| {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", error.message).with("field", error.field)
    })?;
    let issue_id = IssueId::derive(workspace, &record.source, &record.external_id);
    let state_word = mapping::state_word(&alert.state);
    let outcome = |issue_id: Option<IssueId>, status| AlertOutcome {
        issue_id,
        status,
        source_alert_id: alert.source_alert_id.clone(),
        state: state_word.clone(),
    };

    if let AlertState::Other(word) = &alert.state {
        let noted = note_alert_state(&state.store, workspace, &issue_id, word, now).await?;
        return Ok(outcome(noted.then_some(issue_id), AlertStatus::Recorded));
    }

    let (issue, applied) = upsert_issue(&state.store, workspace, &record, ingest_event, now).await?;
    let status = match (&alert.state, applied) {
        (AlertState::Resolved, _) => AlertStatus::Resolved,
        (_, Applied::Created) | (_, Applied::Replayed { created: true }) => AlertStatus::Triaging,
        (_, Applied::Replayed { created: false }) => AlertStatus::Duplicate,
        (_, Applied::Updated { was: IssueStatus::Open }) => AlertStatus::Duplicate,
        // It was resolved and came back: a recurrence, triaged again.
        (_, Applied::Updated { .. }) => AlertStatus::Triaging,
    };

    // Queued on replays too, like the ingestion API: if an earlier attempt stopped after its
    // write, this completes it, and derived ids make the repeat harmless downstream.
    let cluster = ClusterRequest { workspace_id: workspace.clone(), issue_id: issue.id.clone(), job_id: None };
    outbox.cluster.push(cluster.to_message(ingest_event));
    outbox.events.push(envelope(
        EventType::IssueIngested,
        workspace,
        ingest_event,
        issue.connector_id.clone(),
        json!({"issue": issue.to_api(), "status": applied.answer(), "provider": provider.name()}),
        now,
    ));
    // A tool resends a resolution whose delivery failed as a new notification: the Issue is
    // already resolved then, and announcing it again completes what the failure lost (the
    // event's id derives from the resolution, so a copy already sent is the same event).
    let resolves = alert.state == AlertState::Resolved && issue.resolved_from_open();
    if resolves || applied.announces_resolution(&issue) {
        let mut resolved = issue_resolved(&issue, now);
        resolved.data["provider"] = json!(provider.name());
        outbox.events.push(resolved);
    }
    Ok(outcome(Some(issue.id), status))
}

/// Notes a state that neither opens nor resolves on the alert's Issue, without counting an
/// occurrence or changing its status. `false` when there is no such Issue (nothing is created
/// for an alert that never fired).
async fn note_alert_state(
    store: &Store,
    workspace: &WorkspaceId,
    issue_id: &IssueId,
    word: &str,
    now: &str,
) -> Result<bool, StoreError> {
    update_with_retries(|| async move {
        let Some(stored) = store.issue(workspace, issue_id).await? else {
            return Ok(false);
        };
        let mut issue = stored.value;
        issue.metadata.insert("alert_state".into(), json!(word));
        issue.metadata.insert("alert_state_at".into(), json!(now));
        issue.updated_at = now.to_string();
        store.save_issue(&issue, Some(stored.version)).await?;
        Ok(true)
    })
    .await
}

/// The response for a notification's outcomes (see the module documentation).
pub(crate) fn respond(provider: &dyn Provider, outcomes: &[AlertOutcome], truncated: Option<u64>) -> Response {
    let Some(lead) = outcomes.iter().min_by_key(|outcome| outcome.status) else {
        let mut answer = json!({"status": "ignored", "message": "the notification carries no alert"});
        if let Some(truncated) = truncated {
            answer["truncatedAlerts"] = json!(truncated);
        }
        return (StatusCode::ACCEPTED, Json(answer)).into_response();
    };
    if provider.resend_semantics() == Resend::ConflictWhileOpen && outcomes.len() == 1 {
        if let (AlertStatus::Duplicate, Some(issue_id)) = (lead.status, &lead.issue_id) {
            return ApiError::new(
                StatusCode::CONFLICT,
                "duplicate_alert",
                format!("an open incident already exists for sourceAlertId '{}'", lead.source_alert_id),
            )
            .with("incidentId", issue_id.as_str())
            .into_response();
        }
    }
    let mut answer = json!({"status": lead.status.as_str()});
    if let Some(issue_id) = &lead.issue_id {
        answer["incidentId"] = json!(issue_id);
    }
    if outcomes.len() > 1 {
        answer["alerts"] = outcomes
            .iter()
            .map(|outcome| {
                json!({
                    "incidentId": outcome.issue_id,
                    "status": outcome.status.as_str(),
                    "sourceAlertId": outcome.source_alert_id,
                    "state": outcome.state,
                })
            })
            .collect();
    }
    if let Some(truncated) = truncated {
        answer["truncatedAlerts"] = json!(truncated);
    }
    (StatusCode::ACCEPTED, Json(answer)).into_response()
}
