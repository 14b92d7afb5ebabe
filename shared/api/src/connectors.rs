//! The `connectors` family: the connector catalog, connector CRUD, test, sync, sync history and
//! integrations health (`docs/connectors.md`; steps 1 and 5 of `docs/custom-integration.md`).
//!
//! * Creation validates `credentials` and `config` against the catalog entry of `type` — every
//!   required field, no unknown one — and only then refuses types that are not available yet
//!   (422 with the reason), so a client sees every problem of its request at once.
//! * Credentials are write-only: sealed with the master key before storage, never returned,
//!   never logged; responses name which credential fields are set, never their values.
//! * Every creatable type (`custom_api`, `cloudwatch`, and push-only `sentry` / `pagerduty`)
//!   receives pushed data and needs no outbound connection, so it is `connected` at creation.
//!
//! Scopes: `connectors:read` for reads, `connectors:admin` for writes, test and sync.

use crate::fields::{optional_bool, optional_object, optional_string, reject_unknown, required_string};
use crate::secrets::{open_valid_secrets, seal_credentials, secret_box};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use causeloop_domain::catalog::{
    check_type_rules, connector_type, validate_config, validate_credentials, ConnectorType, CATALOG,
};
use causeloop_domain::delivery::DeliveryStatus;
use causeloop_domain::limits::MAX_CONNECTORS_PER_WORKSPACE;
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
}

const MAX_REQUEST_BYTES: usize = 64 * 1024;
const MAX_DISPLAY_NAME_CHARS: usize = 200;
/// The status of a connector that needs nothing external to work.
pub const STATUS_CONNECTED: &str = "connected";
/// Sync records read per connector for the 24-hour health figures.
const HEALTH_WINDOW_RECORDS: usize = 1_000;
const HEALTH_WINDOW_SECONDS: u64 = 24 * 3600;

/// The API's view of a connector: never its credentials, only which fields are set.
pub fn connector_view(connector: &Connector) -> Value {
    json!({
        "id": connector.id,
        "type": connector.connector_type,
        "display_name": connector.display_name,
        "status": connector.status,
        "enabled": connector.enabled,
        "config": connector.config,
        "credential_fields_set": connector.credential_fields,
        "inbound_webhook_id": connector.inbound_webhook_id,
        "created_at": connector.created_at,
        "updated_at": connector.updated_at,
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
) -> Result<(), ApiError> {
    validate_credentials(kind, credentials).map_err(ApiError::field)?;
    validate_config(kind, config).map_err(ApiError::field)?;
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
    validate_against_catalog(kind, &credentials, &config)?;
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
        Some(seal_credentials(secret_box(&state.settings)?, workspace, &id, &credentials))
    };
    let connector = Connector {
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
        created_at: now.clone(),
        updated_at: now,
    };
    state.store.insert_connector(&connector).await?;
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
    validate_against_catalog(kind, &credentials_for_check, &config)?;
    connector.config = Value::Object(config);
    if let Some(credentials) = new_credentials {
        connector.sealed_credentials = if credentials.is_empty() {
            None
        } else {
            Some(seal_credentials(secret_box(&state.settings)?, workspace, &connector.id, &credentials))
        };
        connector.credential_fields = field_names(&credentials);
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
    if open_valid_secrets(secret_box(&state.settings)?, &webhook, now).is_empty() {
        return Ok((false, "the inbound signing secret cannot be used; rotate it".to_string()));
    }
    Ok((true, format!("the connector is enabled and its inbound webhook {} has a signing secret", webhook.id)))
}

/// `POST /v1/connectors/{id}/sync`: only types that poll can sync, and none of the creatable
/// types does (polling types are `available: false` in the catalog); the answer says how their
/// data arrives instead.
async fn sync(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let connector = load(&state.store, &principal.workspace_id, &id).await?.value;
    let kind = catalog_entry(&connector.connector_type)?;
    let how = match (kind.id, causeloop_providers::provider(kind.id)) {
        ("custom_api", _) => "its events are pushed through the ingestion API or its inbound webhook",
        (_, Some(provider)) if provider.auth() == AuthRequirement::SnsSignature => "its alarms are pushed by SNS",
        (_, Some(_)) => "the tool pushes its events to /v1/webhooks/{workspace_id}/<type>; polling is not built yet",
        (_, None) => "polling for this type is not built yet",
    };
    Err::<StatusCode, _>(
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "sync_not_supported",
            format!("`{}` connectors cannot sync: {how}", kind.id),
        )
        .with("connector_type", kind.id),
    )
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
        let errors = window.iter().filter(|record| record.outcome != "success").count();
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
            "last_error": window.iter().find(|record| record.outcome != "success").and_then(|record| record.error.clone()),
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
