//! The `connectors` family: the connector catalog, connector CRUD, test, sync, sync history and
//! integrations health (`docs/connectors.md`; steps 1 and 5 of `docs/custom-integration.md`).
//!
//! * Creation validates `credentials` and `config` against the catalog entry of `type` — every
//!   required field, no unknown one — and only then refuses types that are not available yet
//!   (422 with the reason), so a client sees every problem of its request at once.
//! * Credentials are write-only: sealed with the master key before storage, never returned,
//!   never logged; responses name which credential fields are set, never their values.
//! * Push types are `connected` at creation. A polling type (Jira, GitHub, PagerDuty, ServiceNow,
//!   Datadog) created with credentials is `connected` and starts its first sync (a backfill) at
//!   once; created without, it is `needs_auth` until its OAuth flow completes (`oauth.rs`).
//! * `POST /v1/connectors/{id}/sync` starts a sync run by the sync worker (`workers/sync.rs`);
//!   `GET /v1/connectors/{id}/syncs` shows the runs with the connector's other history.
//!
//! Scopes: `connectors:read` for reads, `connectors:admin` for writes, test, sync and OAuth.

use crate::fields::{optional_bool, optional_object, optional_string, reject_unknown, required_string};
use crate::oauth::{can_poll, status_without_poll};
use crate::secrets::{open_valid_secrets, seal_credentials, secret_box};
use crate::state::AppState;
use crate::workers::sync::{parse_mode, start_sync};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use causeloop_domain::catalog::{
    check_type_rules, connector_type, schedule_minutes, validate_config, validate_credentials, ConnectorType, CATALOG,
};
use causeloop_domain::delivery::DeliveryStatus;
use causeloop_domain::limits::MAX_CONNECTORS_PER_WORKSPACE;
use causeloop_domain::sync::{StartRefused, SyncMode, SyncRun};
use causeloop_domain::time_fmt::{format_unix_millis, parse_unix_millis};
use causeloop_domain::{ConnectorId, DeliveryId, FieldError, Scope, SyncId, WorkspaceId};
use causeloop_http::body::json_object;
use causeloop_http::pagination::{page_body, page_cursor, page_limit};
use causeloop_http::{ApiError, Principal};
use causeloop_providers::{AuthRequirement, Provider, SigningSecret, TOOL_SECRET_FIELD};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::connectors::{Connector, WebhookDirection};
use causeloop_storage::repo::Versioned;
use causeloop_storage::Store;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/connector-catalog"),
    ("POST", "/v1/connectors"),
    ("GET", "/v1/connectors"),
    ("GET", "/v1/connectors/{id}"),
    ("PATCH", "/v1/connectors/{id}"),
    ("DELETE", "/v1/connectors/{id}"),
    ("POST", "/v1/connectors/{id}/test"),
    ("POST", "/v1/connectors/{id}/sync"),
    ("GET", "/v1/connectors/{id}/syncs"),
    ("GET", "/v1/integrations/health"),
    ("POST", "/v1/connectors/{id}/oauth/start"),
    ("GET", "/v1/oauth/callback"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/connector-catalog", get(catalog))
        .route("/v1/connectors", post(create).get(list))
        .route("/v1/connectors/{id}", get(show).patch(update).delete(remove))
        .route("/v1/connectors/{id}/test", post(test))
        .route("/v1/connectors/{id}/sync", post(sync))
        .route("/v1/connectors/{id}/syncs", get(syncs))
        .route("/v1/integrations/health", get(health))
        .route("/v1/connectors/{id}/oauth/start", post(crate::oauth::start))
        .route(crate::oauth::CALLBACK_PATH, get(crate::oauth::callback))
}

const MAX_REQUEST_BYTES: usize = 64 * 1024;
const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// The status of a connector that needs nothing external to work.
pub const STATUS_CONNECTED: &str = "connected";
/// Records read per connector (sync history) and per endpoint (deliveries, which carry their
/// payloads) for the 24-hour health figures: one health request reads at most this many per
/// connector and endpoint, whatever the traffic; `window_truncated` says when the cut applied.
const HEALTH_WINDOW_RECORDS: usize = 200;
const HEALTH_WINDOW_SECONDS: u64 = 24 * 3600;

/// The API's view of a connector: never its credentials or tokens, only which fields are set and
/// whether an OAuth grant is held. A disabled connector's status is `disabled`.
pub fn connector_view(connector: &Connector) -> Value {
    let polls = connector_type(&connector.connector_type).is_some_and(ConnectorType::polls);
    let sync = polls.then(|| {
        json!({
            "schedule_minutes": schedule_minutes(connector.config.as_object().unwrap_or(&Map::new())),
            "watermark": connector.sync.watermark_millis.map(|at| format_unix_millis(at.max(0) as u64)),
            "last_sync": connector.sync.run.as_ref().map(sync_view),
        })
    });
    json!({
        "id": connector.id,
        "type": connector.connector_type,
        "display_name": connector.display_name,
        "status": if connector.enabled { connector.status.as_str() } else { "disabled" },
        "enabled": connector.enabled,
        "config": connector.config,
        "credential_fields_set": connector.credential_fields,
        "oauth_connected": connector.oauth.as_ref().is_some_and(|grant| grant.sealed_tokens.is_some()),
        "inbound_webhook_id": connector.inbound_webhook_id,
        "sync": sync,
        "created_at": connector.created_at,
        "updated_at": connector.updated_at,
    })
}

/// A sync run as the API shows it (the vendor cursor left out).
pub fn sync_view(run: &SyncRun) -> Value {
    let at = |millis: i64| format_unix_millis(millis.max(0) as u64);
    json!({
        "sync_id": run.id,
        "mode": run.mode,
        "status": run.status,
        "since": at(run.since_millis),
        "until": at(run.until_millis),
        "started_at": at(run.started_at_millis),
        "finished_at": run.finished_at_millis.map(at),
        "pages": run.counts.pages,
        "records_seen": run.counts.records_seen,
        "records_skipped": run.counts.records_skipped,
        "issues_created": run.counts.issues_created,
        "issues_updated": run.counts.issues_updated,
        "issues_resolved": run.counts.issues_resolved,
        "resume_after": run.resume_after_millis.map(at),
        "error": run.error,
    })
}

/// The names of the credential fields that are set, sorted: all a response may say about them.
fn field_names(credentials: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = credentials.keys().cloned().collect();
    names.sort();
    names
}

fn parse_connector_id(raw: &str) -> Result<ConnectorId, ApiError> {
    ConnectorId::parse(raw).ok_or_else(|| ApiError::not_found("connector"))
}

async fn load(store: &Store, workspace: &WorkspaceId, raw: &str) -> Result<Versioned<Connector>, ApiError> {
    let id = parse_connector_id(raw)?;
    store.connector(workspace, &id).await?.ok_or_else(|| ApiError::not_found("connector"))
}

async fn catalog(principal: Principal) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsRead)?;
    Ok(Json(json!({"data": CATALOG, "next_cursor": null})))
}

fn catalog_entry(name: &str) -> Result<&'static ConnectorType, ApiError> {
    connector_type(name).ok_or_else(|| {
        let known: Vec<&str> = CATALOG.iter().map(|entry| entry.id).collect();
        ApiError::field(FieldError::new(
            "type",
            "invalid_value",
            format!("`{name}` is not a connector type (known: {}; see GET /v1/connector-catalog)", known.join(", ")),
        ))
    })
}

/// Validates `credentials` and `config` for `kind`; errors name the field, never a value.
fn validate_against_catalog(
    kind: &ConnectorType,
    credentials: &Map<String, Value>,
    config: &Map<String, Value>,
    allow_http: bool,
) -> Result<(), ApiError> {
    validate_credentials(kind, credentials).map_err(ApiError::field)?;
    validate_config(kind, config, allow_http).map_err(ApiError::field)?;
    check_type_rules(kind, config).map_err(ApiError::field)
}

const CREATE_FIELDS: &[&str] = &["type", "display_name", "credentials", "config", "enabled"];

async fn create(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let workspace = &principal.workspace_id;
    let body = json_object(&headers, &body, MAX_REQUEST_BYTES)?;
    reject_unknown(&body, CREATE_FIELDS)?;
    let kind = catalog_entry(&required_string(&body, "type", 64)?)?;
    let display_name = required_string(&body, "display_name", MAX_DISPLAY_NAME_CHARS)?;
    let credentials = optional_object(&body, "credentials")?.unwrap_or_default();
    let config = optional_object(&body, "config")?.unwrap_or_default();
    let enabled = optional_bool(&body, "enabled")?.unwrap_or(true);
    validate_against_catalog(kind, &credentials, &config, state.settings.allow_private_targets)?;
    if !kind.available {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "connector_type_unavailable",
            format!(
                "`{}` connectors cannot be created yet: {}",
                kind.id,
                kind.unavailable_reason.unwrap_or("not built")
            ),
        )
        .with("field", "type"));
    }

    // Checked before writing: two racing creates can pass it together, by one each.
    if state.store.all_connectors(workspace).await?.len() >= MAX_CONNECTORS_PER_WORKSPACE {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "too_many_connectors",
            format!("a workspace holds at most {MAX_CONNECTORS_PER_WORKSPACE} connectors; delete one first"),
        )
        .with("limit", MAX_CONNECTORS_PER_WORKSPACE));
    }

    let now = now_rfc3339();
    let id = ConnectorId::random(now_millis(), rand::random());
    let sealed_credentials = if credentials.is_empty() {
        None
    } else {
        Some(seal_credentials(secret_box(&state.settings).await?, workspace, &id, &credentials))
    };
    let mut connector = Connector {
        id,
        workspace_id: workspace.clone(),
        connector_type: kind.id.to_string(),
        display_name,
        status: STATUS_CONNECTED.to_string(),
        enabled,
        config: Value::Object(config),
        sealed_credentials,
        credential_fields: field_names(&credentials),
        inbound_webhook_id: None,
        sync: Default::default(),
        oauth: None,
        created_at: now.clone(),
        updated_at: now,
    };
    let polls_now = kind.polls() && can_poll(&connector);
    if kind.polls() && !polls_now {
        connector.status = status_without_poll(&connector).to_string();
    }
    state.store.insert_connector(&connector).await?;
    if polls_now && enabled {
        let started =
            start_sync(&state, workspace, &connector.id, SyncMode::Incremental, None, now_millis() as i64).await?;
        if let Some(Ok(run)) = started {
            connector.sync.run = Some(run);
        }
    }
    Ok((StatusCode::CREATED, Json(connector_view(&connector))))
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsRead)?;
    let limit = page_limit(query.get("limit").map(String::as_str))?;
    let cursor = page_cursor(query.get("cursor").map(String::as_str));
    let (connectors, next) = state.store.list_connectors(&principal.workspace_id, limit, cursor).await?;
    Ok(Json(page_body(connectors.iter().map(connector_view).collect(), next)))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsRead)?;
    Ok(Json(connector_view(&load(&state.store, &principal.workspace_id, &id).await?.value)))
}

const UPDATE_FIELDS: &[&str] = &["display_name", "credentials", "config", "enabled"];

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let workspace = &principal.workspace_id;
    let body = json_object(&headers, &body, MAX_REQUEST_BYTES)?;
    if body.contains_key("type") {
        return Err(ApiError::field(FieldError::new(
            "type",
            "immutable_field",
            "a connector's `type` cannot change; create a new connector",
        )));
    }
    reject_unknown(&body, UPDATE_FIELDS)?;
    let stored = load(&state.store, workspace, &id).await?;
    let mut connector = stored.value;
    let kind = catalog_entry(&connector.connector_type)?;

    if let Some(name) = optional_string(&body, "display_name", MAX_DISPLAY_NAME_CHARS)? {
        connector.display_name = name;
    }
    if let Some(enabled) = optional_bool(&body, "enabled")? {
        connector.enabled = enabled;
    }
    // `config` and `credentials` are replaced whole and validated like at creation; omitted,
    // they stay as they are.
    let config = match optional_object(&body, "config")? {
        Some(config) => config,
        None => connector.config.as_object().cloned().unwrap_or_default(),
    };
    let new_credentials = optional_object(&body, "credentials")?;
    let credentials_for_check = match &new_credentials {
        Some(credentials) => credentials.clone(),
        // Stored credentials passed validation when written; check only the names here.
        None => connector.credential_fields.iter().map(|name| (name.clone(), Value::String("set".into()))).collect(),
    };
    validate_against_catalog(kind, &credentials_for_check, &config, state.settings.allow_private_targets)?;
    connector.config = Value::Object(config);
    if let Some(credentials) = new_credentials {
        connector.sealed_credentials = if credentials.is_empty() {
            None
        } else {
            Some(seal_credentials(secret_box(&state.settings).await?, workspace, &connector.id, &credentials))
        };
        connector.credential_fields = field_names(&credentials);
        if kind.polls() {
            connector.status = if can_poll(&connector) {
                STATUS_CONNECTED.to_string()
            } else {
                status_without_poll(&connector).to_string()
            };
        }
    }
    connector.updated_at = now_rfc3339();
    state.store.save_connector(&connector, stored.version).await?;
    Ok(Json(connector_view(&connector)))
}

async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let id = parse_connector_id(&id)?;
    state
        .store
        .delete_connector(&principal.workspace_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("connector"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/connectors/{id}/test`: whether the connector can receive data right now.
async fn test(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let workspace = &principal.workspace_id;
    let connector = load(&state.store, workspace, &id).await?.value;
    let checked_at = now_rfc3339();
    let (success, message) = if !connector.enabled {
        (false, "the connector is disabled; enable it with PATCH /v1/connectors/{id}".to_string())
    } else {
        match (connector.connector_type.as_str(), causeloop_providers::provider(&connector.connector_type)) {
            ("custom_api", _) => test_custom_api(&state, &connector, &checked_at).await?,
            (_, Some(provider)) => test_pushing_tool(provider, &connector),
            (other, None) => (false, format!("`{other}` connectors cannot be tested yet")),
        }
    };
    Ok(Json(json!({"success": success, "message": message, "checked_at": checked_at})))
}

/// A connector of a monitoring tool that pushes to its provider webhook is usable when it holds
/// what verifying the tool's requests needs.
fn test_pushing_tool(provider: &dyn Provider, connector: &Connector) -> (bool, String) {
    let path = format!("/v1/webhooks/{}/{}", connector.workspace_id, provider.name());
    if provider.auth() == AuthRequirement::SnsSignature {
        return (
            true,
            format!(
                "the connector is enabled and allows its SNS topics; subscribe each topic to {path} \
                 (the subscription is confirmed automatically)"
            ),
        );
    }
    if provider.signing_secret() == SigningSecret::ToolIssued
        && !connector.credential_fields.iter().any(|field| field == TOOL_SECRET_FIELD)
    {
        return (false, format!("the connector has no {TOOL_SECRET_FIELD} credential; set it with PATCH"));
    }
    (true, format!("the connector is enabled; point the tool at {path} with an X-API-Key header"))
}

/// A custom_api connector is usable when its inbound registration exists, is enabled and holds
/// a secret that opens (the ingestion API needs nothing from the connector).
async fn test_custom_api(state: &AppState, connector: &Connector, now: &str) -> Result<(bool, String), ApiError> {
    let Some(webhook_id) = &connector.inbound_webhook_id else {
        return Ok((
            false,
            "no inbound signing secret: register the inbound webhook with POST /v1/webhooks \
             (url ending in /v1/webhooks/inbound/<connector_id>) to receive pushed events"
                .to_string(),
        ));
    };
    let webhook = state.store.webhook(&connector.workspace_id, webhook_id).await?;
    let Some(webhook) = webhook.map(|v| v.value).filter(|w| w.direction == WebhookDirection::Inbound) else {
        return Ok((false, "the inbound registration is missing; register it again".to_string()));
    };
    if !webhook.enabled {
        return Ok((false, format!("the inbound registration {} is disabled", webhook.id)));
    }
    match open_valid_secrets(secret_box(&state.settings).await?, &webhook, now) {
        Ok(secrets) if !secrets.is_empty() => {}
        Ok(_) => return Ok((false, "the inbound signing secret cannot be used; rotate it".to_string())),
        Err(err) => {
            return Ok((
                false,
                format!("the inbound signing secret does not open with the service's master keyring: {err}"),
            ))
        }
    }
    Ok((true, format!("the connector is enabled and its inbound webhook {} has a signing secret", webhook.id)))
}

/// `POST /v1/connectors/{id}/sync` with `{"mode": "incremental"}` (the default) or
/// `{"mode": "backfill", "since": "<RFC 3339>"}`: starts a sync run (202) for the sync worker.
/// Only polling types sync; the answer for a push type says how its data arrives instead.
async fn sync(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let connector = load(&state.store, &principal.workspace_id, &id).await?.value;
    let kind = catalog_entry(&connector.connector_type)?;
    if !kind.polls() {
        let how = match (kind.id, causeloop_providers::provider(kind.id)) {
            ("custom_api", _) => "its events are pushed through the ingestion API or its inbound webhook",
            (_, Some(provider)) if provider.auth() == AuthRequirement::SnsSignature => "its alarms are pushed by SNS",
            (_, Some(_)) => "the tool pushes its events to /v1/webhooks/{workspace_id}/<type>",
            (_, None) => "polling for this type is not built",
        };
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "sync_not_supported",
            format!("`{}` connectors cannot sync: {how}", kind.id),
        )
        .with("connector_type", kind.id));
    }
    let request = if body.is_empty() { Map::new() } else { json_object(&headers, &body, MAX_REQUEST_BYTES)? };
    reject_unknown(&request, &["mode", "since"])?;
    let mode = match optional_string(&request, "mode", 32)? {
        None => SyncMode::Incremental,
        Some(word) => parse_mode(&word).ok_or_else(|| {
            ApiError::field(FieldError::new("mode", "invalid_value", "`mode` must be `incremental` or `backfill`"))
        })?,
    };
    let since = match optional_string(&request, "since", 64)? {
        None => None,
        Some(_) if mode == SyncMode::Incremental => {
            return Err(ApiError::field(FieldError::new(
                "since",
                "invalid_value",
                "`since` belongs to a backfill; an incremental sync reads from the connector's watermark",
            )))
        }
        Some(text) => Some(parse_unix_millis(&text).ok_or_else(|| {
            ApiError::field(FieldError::new("since", "invalid_value", "`since` must be an RFC 3339 time"))
        })? as i64),
    };
    if !connector.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "connector_disabled",
            "the connector is disabled; enable it with PATCH /v1/connectors/{id}",
        ));
    }
    if !can_poll(&connector) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "needs_auth",
            "the connector has no credentials or OAuth grant to poll with: set its credentials with PATCH, or \
             authorize it with POST /v1/connectors/{id}/oauth/start",
        ));
    }
    let now = now_millis() as i64;
    match start_sync(&state, &principal.workspace_id, &connector.id, mode, since, now).await? {
        None => Err(ApiError::not_found("connector")),
        Some(Ok(run)) => {
            Ok((StatusCode::ACCEPTED, Json(json!({"sync_id": run.id, "status": "queued", "mode": run.mode}))))
        }
        Some(Err(StartRefused::InProgress(sync_id))) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "sync_in_progress",
            format!("sync {sync_id} of this connector is running; wait for it to finish"),
        )
        .with("sync_id", sync_id)),
        Some(Err(StartRefused::BadSince(why))) => Err(ApiError::field(FieldError::new("since", "invalid_value", why))),
    }
}

async fn syncs(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsRead)?;
    let limit = page_limit(query.get("limit").map(String::as_str))?;
    let cursor = page_cursor(query.get("cursor").map(String::as_str));
    let connector = load(&state.store, &principal.workspace_id, &id).await?.value;
    let (records, next) = state.store.sync_records(&principal.workspace_id, &connector.id, limit, cursor).await?;
    let data =
        records.into_iter().map(|record| serde_json::to_value(record).expect("sync records serialize")).collect();
    Ok(Json(page_body(data, next)))
}

/// `GET /v1/integrations/health`: per connector its status, last event and the last 24 hours'
/// deliveries and errors; per outbound endpoint its state and the last 24 hours' deliveries by
/// status, with the success rate of those that finished (`null` when none has), and its URL
/// only for a key that holds `webhooks:read`.
async fn health(State(state): State<AppState>, principal: Principal) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsRead)?;
    let workspace = &principal.workspace_id;
    let since_millis = now_millis().saturating_sub(HEALTH_WINDOW_SECONDS * 1000);
    let since_id = SyncId::random(since_millis, [0; 10]).to_string();
    let mut connectors = Vec::new();
    for connector in state.store.all_connectors(workspace).await? {
        let (latest, _) = state.store.sync_records(workspace, &connector.id, 1, None).await?;
        let window = state.store.sync_records_since(workspace, &connector.id, &since_id, HEALTH_WINDOW_RECORDS).await?;
        // A running sync is not an error; only failures are.
        let errors = window.iter().filter(|record| record.outcome == "failure").count();
        let last = latest.first();
        connectors.push(json!({
            "id": connector.id,
            "type": connector.connector_type,
            "display_name": connector.display_name,
            "status": connector.status,
            "enabled": connector.enabled,
            "inbound_enabled": connector.inbound_webhook_id.is_some(),
            "last_event_at": last.map(|record| record.at.clone()),
            "last_outcome": last.map(|record| record.outcome.clone()),
            "last_error": window.iter().find(|record| record.outcome == "failure").and_then(|record| record.error.clone()),
            "events_24h": window.len(),
            "errors_24h": errors,
            "window_truncated": window.len() == HEALTH_WINDOW_RECORDS,
        }));
    }
    let since_delivery = DeliveryId::random(since_millis, [0; 10]);
    let mut endpoints = Vec::new();
    for webhook in state.store.all_webhooks(workspace).await? {
        if webhook.direction != WebhookDirection::Outbound {
            continue;
        }
        let window =
            state.store.deliveries_since(workspace, &webhook.id, &since_delivery, HEALTH_WINDOW_RECORDS).await?;
        let count = |status| window.iter().filter(|delivery| delivery.status == status).count();
        let (succeeded, failed) = (count(DeliveryStatus::Succeeded), count(DeliveryStatus::Failed));
        let finished = succeeded + failed;
        endpoints.push(json!({
            "id": webhook.id,
            // Endpoint URLs are often capability URLs: shown only to keys that may read webhooks.
            "url": principal.scopes.grants(Scope::WebhooksRead).then_some(&webhook.url),
            "enabled": webhook.enabled,
            "disabled_reason": webhook.disabled_reason,
            "failing_since": webhook.failing_since,
            "circuit_open_until": webhook
                .circuit
                .open_until_ms
                .filter(|until| *until > now_millis())
                .map(causeloop_domain::time_fmt::format_unix_millis),
            "event_types": webhook.event_types,
            "deliveries_24h": window.len(),
            "succeeded_24h": succeeded,
            "failed_24h": failed,
            "pending_24h": count(DeliveryStatus::Pending),
            // Of the deliveries that finished; null when none has.
            "delivery_success_rate": (finished > 0).then(|| succeeded as f64 / finished as f64),
            "window_truncated": window.len() == HEALTH_WINDOW_RECORDS,
        }));
    }
    Ok(Json(json!({"checked_at": now_rfc3339(), "connectors": connectors, "outbound_endpoints": endpoints})))
}
