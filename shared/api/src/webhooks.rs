//! The `webhooks` family: the webhook registry (`docs/webhooks.md`; steps 3a and 4a of
//! `docs/custom-integration.md`).
//!
//! `POST /v1/webhooks` registers one of two things:
//! * an **outbound endpoint** — `url` (https, public), `event_types`, optional `connector_id`
//!   filter, `description`, `enabled` — that the delivery worker posts signed events to;
//! * the **inbound enablement** of a connector — when `url`'s path is
//!   `/v1/webhooks/inbound/{connector_id}` for the given `connector_id` (whatever the host: the
//!   service does not know the name it is reached by) and no `event_types` are given. Its secret
//!   is the one the source signs with; see [`crate::inbound`].
//!
//! Either way the answer carries `signing_secret` once; reads never show it. Rotation keeps the
//! secrets it replaces valid for a grace period (24 h unless the request says otherwise), so a
//! source can switch without losing events; a grace of 0 revokes them at once.
//!
//! Scopes: `webhooks:read` for reads, `webhooks:admin` for writes and rotation; an inbound
//! registration's secret may also be rotated with `connectors:admin` (it is the connector's
//! secret), an outbound endpoint's never: that would hand a connectors key a customer's
//! signing secret (`docs/api-contract.md`, "Scopes").

use crate::fields::{optional_bool, optional_string, optional_string_list, reject_unknown, required_string};
use crate::secrets::{new_signing_secret, seal_signing_secret, secret_box};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use causeloop_domain::events::EventType;
use causeloop_domain::limits::MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE;
use causeloop_domain::time_fmt::{format_rfc3339, format_unix_millis, parse_rfc3339};
use causeloop_domain::url_guard::{check_outbound_url, check_resolved_address, UrlRefusal};
use causeloop_domain::{ConnectorId, FieldError, Scope, WebhookId};
use causeloop_http::body::json_object;
use causeloop_http::pagination::{page_body, page_cursor, page_limit};
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::{now_millis, now_rfc3339};
use causeloop_storage::connectors::{Webhook, WebhookDirection};
use causeloop_storage::StoreError;
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::time::Duration;

pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{id}"),
    ("PATCH", "/v1/webhooks/{id}"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("POST", "/v1/webhooks/{id}/rotate"),
    ("GET", "/v1/webhooks/{id}/deliveries"),
    ("GET", "/v1/webhooks/{id}/deliveries/{delivery_id}"),
    ("POST", "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver"),
    ("POST", "/v1/webhooks/{id}/test"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks", post(register).get(list))
        .route("/v1/webhooks/{id}", get(show).patch(update).delete(remove))
        .route("/v1/webhooks/{id}/rotate", post(rotate))
        .merge(crate::deliveries::routes())
}

/// Replaced secrets that still verify during their grace, at most: a source switching secrets
/// needs one or two; every stored one costs each verification an HMAC.
pub const MAX_PREVIOUS_SECRETS: usize = 3;

/// The path whose registration means "enable inbound delivery for this connector".
pub const INBOUND_PATH_PREFIX: &str = "/v1/webhooks/inbound/";
/// How long replaced secrets keep verifying after a rotation, unless the request says otherwise.
pub const DEFAULT_ROTATION_GRACE_SECONDS: i64 = 24 * 3600;
pub const MAX_ROTATION_GRACE_SECONDS: i64 = 7 * 24 * 3600;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_EVENT_TYPES: usize = 20;
const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// A registration must not hang on a slow resolver; an unanswered lookup is judged at delivery.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

fn refusal(refusal: UrlRefusal) -> ApiError {
    ApiError::bad_request(refusal.code(), refusal.to_string()).with("field", "url")
}

/// Judges an outbound target: the URL text and IP literals by the pure guard, then every
/// address the host resolves to now. A host that does not resolve yet is accepted: there is
/// nothing to judge, and the delivery worker applies the same guard to each connection (which
/// also defeats DNS rebinding after registration).
pub async fn check_outbound_target(url: &str, allow_private: bool) -> Result<String, ApiError> {
    let checked = check_outbound_url(url, allow_private).map_err(refusal)?;
    if let Some((host, port)) = &checked.resolve {
        if let Ok(Ok(addresses)) =
            tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), *port))).await
        {
            for address in addresses {
                check_resolved_address(host, address.ip(), allow_private).map_err(refusal)?;
            }
        }
    }
    Ok(checked.url.to_string())
}

/// The connector id named by an inbound receiver URL, if `url` is one.
fn inbound_connector_in(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    let id = parsed.path().strip_prefix(INBOUND_PATH_PREFIX)?.trim_end_matches('/');
    (!id.is_empty() && !id.contains('/')).then(|| id.to_string())
}

fn parse_event_types(types: Vec<String>) -> Result<Vec<String>, ApiError> {
    if types.len() > MAX_EVENT_TYPES {
        return Err(ApiError::field(FieldError::new(
            "event_types",
            "too_many_items",
            format!("`event_types` holds at most {MAX_EVENT_TYPES} items"),
        )));
    }
    let mut parsed: Vec<String> = Vec::new();
    for name in types {
        if serde_json::from_value::<EventType>(Value::String(name.clone())).is_err() {
            return Err(ApiError::field(FieldError::new(
                "event_types",
                "invalid_value",
                format!(
                    "`{name}` is not an event type (known: issue.ingested, issue.batch_ingested, issue.resolved, issue.triaged, \
                     pattern.detected, pattern.recurring, connector.sync.completed, connector.sync.failed)"
                ),
            )));
        }
        if !parsed.contains(&name) {
            parsed.push(name);
        }
    }
    Ok(parsed)
}

pub(crate) fn parse_webhook_id(raw: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(raw).ok_or_else(|| ApiError::not_found("webhook"))
}

/// The API's view of a registration: never a secret, only when the current one was issued and
/// until when replaced ones still verify.
pub fn webhook_view(webhook: &Webhook, now: &str) -> Value {
    let previous_until = webhook
        .previous_secrets
        .iter()
        .filter(|secret| secret.is_valid_at(now))
        .filter_map(|secret| secret.expires_at.clone())
        .max();
    json!({
        "id": webhook.id,
        "direction": webhook.direction,
        "url": webhook.url,
        "event_types": webhook.event_types,
        "connector_id": webhook.connector_id,
        "description": webhook.description,
        "enabled": webhook.enabled,
        "disabled_reason": webhook.disabled_reason,
        "failing_since": webhook.failing_since,
        // While set, no attempt reaches the endpoint: too many failed in a row (docs/webhooks.md).
        "circuit_open_until": webhook.circuit.open_until_ms.map(format_unix_millis).filter(|until| until.as_str() > now),
        "secret_issued_at": webhook.signing_secret.created_at,
        "previous_secret_expires_at": previous_until,
        "created_at": webhook.created_at,
        "updated_at": webhook.updated_at,
    })
}

const REGISTER_FIELDS: &[&str] = &["url", "event_types", "connector_id", "description", "enabled"];

async fn register(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksAdmin)?;
    let workspace = &principal.workspace_id;
    let body = json_object(&headers, &body, MAX_REQUEST_BYTES)?;
    reject_unknown(&body, REGISTER_FIELDS)?;
    let url = required_string(&body, "url", causeloop_domain::url_guard::MAX_URL_CHARS)?;
    let event_types = optional_string_list(&body, "event_types")?.unwrap_or_default();
    let connector_id = optional_string(&body, "connector_id", 64)?;
    let description = optional_string(&body, "description", MAX_DESCRIPTION_CHARS)?;
    let enabled = optional_bool(&body, "enabled")?.unwrap_or(true);
    let sealer = secret_box(&state.settings).await?;
    if inbound_connector_in(&url).is_none() {
        // Checked before writing: two racing registrations can pass it together, by one each.
        let outbound = state
            .store
            .all_webhooks(workspace)
            .await?
            .iter()
            .filter(|webhook| webhook.direction == WebhookDirection::Outbound)
            .count();
        if outbound >= MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "too_many_endpoints",
                format!(
                    "a workspace registers at most {MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE} outbound endpoints; delete one first"
                ),
            )
            .with("limit", MAX_OUTBOUND_ENDPOINTS_PER_WORKSPACE));
        }
    }

    let now = now_rfc3339();
    let id = WebhookId::random(now_millis(), rand::random());
    let secret = new_signing_secret();
    let mut webhook = Webhook {
        id: id.clone(),
        workspace_id: workspace.clone(),
        direction: WebhookDirection::Outbound,
        url: url.clone(),
        event_types: Vec::new(),
        connector_id: None,
        description,
        enabled,
        signing_secret: seal_signing_secret(sealer, workspace, &id, &secret, &now),
        previous_secrets: Vec::new(),
        failing_since: None,
        disabled_reason: None,
        circuit: Default::default(),
        created_at: now.clone(),
        updated_at: now.clone(),
    };

    if let Some(url_connector) = inbound_connector_in(&url) {
        let named = connector_id.ok_or_else(|| {
            ApiError::field(FieldError::new(
                "connector_id",
                "missing_field",
                format!("an inbound registration names its connector: set `connector_id` to `{url_connector}`"),
            ))
        })?;
        if named != url_connector {
            return Err(ApiError::field(FieldError::new(
                "connector_id",
                "connector_mismatch",
                format!("`url` is the inbound receiver of `{url_connector}` but `connector_id` is `{named}`"),
            )));
        }
        if !event_types.is_empty() {
            return Err(ApiError::field(FieldError::new(
                "event_types",
                "invalid_value",
                "an inbound registration receives events from its source; it subscribes to no `event_types`",
            )));
        }
        let connector_id = ConnectorId::parse(&named).ok_or_else(|| ApiError::not_found("connector"))?;
        let connector =
            state.store.connector(workspace, &connector_id).await?.ok_or_else(|| ApiError::not_found("connector"))?;
        if let Some(existing) = &connector.value.inbound_webhook_id {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "inbound_already_enabled",
                format!("inbound delivery is already enabled for this connector by `{existing}`; rotate its secret or delete it first"),
            )
            .with("webhook_id", existing.as_str()));
        }
        webhook.direction = WebhookDirection::Inbound;
        webhook.connector_id = Some(connector_id);
        state.store.enable_inbound(&webhook, &connector.value, connector.version).await?;
    } else {
        if event_types.is_empty() {
            return Err(ApiError::field(FieldError::new(
                "event_types",
                "missing_field",
                format!(
                    "an outbound webhook subscribes to at least one event type in `event_types` (an inbound \
                     registration's `url` ends in {INBOUND_PATH_PREFIX}<connector_id>)"
                ),
            )));
        }
        webhook.event_types = parse_event_types(event_types)?;
        webhook.url = check_outbound_target(&url, state.settings.allow_private_targets).await?;
        if let Some(named) = connector_id {
            let connector_id = ConnectorId::parse(&named).ok_or_else(|| ApiError::not_found("connector"))?;
            state.store.connector(workspace, &connector_id).await?.ok_or_else(|| ApiError::not_found("connector"))?;
            webhook.connector_id = Some(connector_id);
        }
        state.store.insert_webhook(&webhook).await?;
    }

    let mut answer = webhook_view(&webhook, &now);
    answer["signing_secret"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(answer)))
}

async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksRead)?;
    let limit = page_limit(query.get("limit").map(String::as_str))?;
    let cursor = page_cursor(query.get("cursor").map(String::as_str));
    let (webhooks, next) = state.store.list_webhooks(&principal.workspace_id, limit, cursor).await?;
    let now = now_rfc3339();
    Ok(Json(page_body(webhooks.iter().map(|webhook| webhook_view(webhook, &now)).collect(), next)))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksRead)?;
    let id = parse_webhook_id(&id)?;
    let webhook =
        state.store.webhook(&principal.workspace_id, &id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(Json(webhook_view(&webhook.value, &now_rfc3339())))
}

const UPDATE_FIELDS: &[&str] = &["url", "event_types", "connector_id", "description", "enabled"];
/// An inbound registration is defined by its connector; only these may change.
const INBOUND_MUTABLE_FIELDS: &[&str] = &["description", "enabled"];

async fn update(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksAdmin)?;
    let workspace = &principal.workspace_id;
    let id = parse_webhook_id(&id)?;
    let body = json_object(&headers, &body, MAX_REQUEST_BYTES)?;
    reject_unknown(&body, UPDATE_FIELDS)?;
    let stored = state.store.webhook(workspace, &id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    let mut webhook = stored.value;

    // The request is well formed (the same body may change an outbound endpoint); it conflicts
    // with what this registration is: an inbound registration belongs to its connector.
    if webhook.direction == WebhookDirection::Inbound {
        if let Some(name) = body.keys().find(|name| !INBOUND_MUTABLE_FIELDS.contains(&name.as_str())) {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "immutable_field",
                format!("`{name}` of an inbound registration cannot change; delete it and register again"),
            )
            .with("field", name.as_str()));
        }
    }
    if body.contains_key("description") {
        webhook.description = optional_string(&body, "description", MAX_DESCRIPTION_CHARS)?;
    }
    if let Some(enabled) = optional_bool(&body, "enabled")? {
        if enabled && !webhook.enabled {
            // Enabling again gives the endpoint a fresh five days before it can be disabled.
            webhook.disabled_reason = None;
            webhook.failing_since = None;
            webhook.circuit = Default::default();
        }
        webhook.enabled = enabled;
    }
    if let Some(types) = optional_string_list(&body, "event_types")? {
        if types.is_empty() {
            return Err(ApiError::field(FieldError::empty("event_types")));
        }
        webhook.event_types = parse_event_types(types)?;
    }
    if body.contains_key("connector_id") {
        webhook.connector_id = match optional_string(&body, "connector_id", 64)? {
            None => None,
            Some(named) => {
                let connector_id = ConnectorId::parse(&named).ok_or_else(|| ApiError::not_found("connector"))?;
                state
                    .store
                    .connector(workspace, &connector_id)
                    .await?
                    .ok_or_else(|| ApiError::not_found("connector"))?;
                Some(connector_id)
            }
        };
    }
    if let Some(url) = optional_string(&body, "url", causeloop_domain::url_guard::MAX_URL_CHARS)? {
        if inbound_connector_in(&url).is_some() {
            return Err(ApiError::field(FieldError::new(
                "url",
                "invalid_value",
                "an outbound webhook cannot become an inbound registration; register the inbound URL separately",
            )));
        }
        let checked = check_outbound_target(&url, state.settings.allow_private_targets).await?;
        if checked != webhook.url {
            // Another URL is another endpoint: its predecessor's failures say nothing of it.
            webhook.circuit = Default::default();
            webhook.failing_since = None;
        }
        webhook.url = checked;
    }
    let now = now_rfc3339();
    webhook.updated_at = now.clone();
    state.store.save_webhook(&webhook, stored.version).await?;
    Ok(Json(webhook_view(&webhook, &now)))
}

async fn remove(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksAdmin)?;
    let id = parse_webhook_id(&id)?;
    state.store.delete_webhook(&principal.workspace_id, &id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `grace_period_seconds` from an optional JSON body.
fn grace_seconds(headers: &HeaderMap, body: &[u8]) -> Result<i64, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_ROTATION_GRACE_SECONDS);
    }
    let body: Map<String, Value> = json_object(headers, body, MAX_REQUEST_BYTES)?;
    reject_unknown(&body, &["grace_period_seconds"])?;
    match body.get("grace_period_seconds") {
        None | Some(Value::Null) => Ok(DEFAULT_ROTATION_GRACE_SECONDS),
        Some(value) => {
            // JSON has one number type: 3600.0 is the integer 3600, as JSON Schema says.
            let integral = value.as_f64().filter(|seconds| seconds.fract() == 0.0 && seconds.abs() < 1e15);
            value
                .as_i64()
                .or(integral.map(|seconds| seconds as i64))
                .filter(|seconds| (0..=MAX_ROTATION_GRACE_SECONDS).contains(seconds))
                .ok_or_else(|| {
                    ApiError::field(FieldError::new(
                        "grace_period_seconds",
                        "invalid_value",
                        format!("`grace_period_seconds` must be an integer from 0 to {MAX_ROTATION_GRACE_SECONDS}"),
                    ))
                })
        }
    }
}

async fn rotate(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    principal.require_any(&[Scope::WebhooksAdmin, Scope::ConnectorsAdmin])?;
    let workspace = &principal.workspace_id;
    let id = parse_webhook_id(&id)?;
    let grace = grace_seconds(&headers, &body)?;
    let sealer = secret_box(&state.settings).await?;
    let stored = state.store.webhook(workspace, &id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    let mut webhook = stored.value;
    if webhook.direction == WebhookDirection::Outbound {
        principal.require(Scope::WebhooksAdmin)?;
    }

    let now_at = time::OffsetDateTime::now_utc();
    let now = format_rfc3339(now_at);
    let grace_ends = format_rfc3339(now_at + time::Duration::seconds(grace));
    // Every secret that verifies now keeps verifying until the grace ends, never longer: a
    // grace of 0 revokes them all at once (the answer to a leaked secret).
    let mut replaced = webhook.signing_secret.clone();
    replaced.expires_at = Some(grace_ends.clone());
    let mut previous = vec![replaced];
    for mut secret in webhook.previous_secrets.drain(..).filter(|secret| secret.is_valid_at(&now)) {
        let expires = secret.expires_at.take().filter(|at| parse_rfc3339(at).is_some()).unwrap_or(grace_ends.clone());
        secret.expires_at = Some(expires.min(grace_ends.clone()));
        previous.push(secret);
    }
    previous.retain(|secret| secret.is_valid_at(&now));
    // Newest first: rotating again and again within a grace keeps only the latest few.
    previous.truncate(MAX_PREVIOUS_SECRETS);

    let secret = new_signing_secret();
    webhook.signing_secret = seal_signing_secret(sealer, workspace, &id, &secret, &now);
    webhook.previous_secrets = previous;
    webhook.updated_at = now.clone();
    match state.store.save_webhook(&webhook, stored.version).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "conflict",
                "the webhook changed while rotating (another rotation?); read it and retry",
            ))
        }
        Err(err) => return Err(err.into()),
    }
    let mut answer = webhook_view(&webhook, &now);
    answer["signing_secret"] = Value::String(secret);
    answer["grace_period_seconds"] = json!(grace);
    Ok(Json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognizes_inbound_receiver_urls_on_any_host() {
        let id = "con_01hzzzzzzzzzzzzzzzzzzzzzzz";
        assert_eq!(
            inbound_connector_in(&format!("https://api.causeloop.ai/v1/webhooks/inbound/{id}")).as_deref(),
            Some(id)
        );
        assert_eq!(
            inbound_connector_in(&format!("http://127.0.0.1:8080/v1/webhooks/inbound/{id}/")).as_deref(),
            Some(id)
        );
        assert_eq!(inbound_connector_in("https://hooks.example.com/v1/webhooks/inbound/"), None);
        assert_eq!(inbound_connector_in("https://hooks.example.com/hooks/causeloop"), None);
        assert_eq!(inbound_connector_in("https://h/v1/webhooks/inbound/a/b"), None);
    }

    #[test]
    fn event_types_are_checked_and_deduplicated() {
        let types =
            parse_event_types(vec!["issue.ingested".into(), "issue.ingested".into(), "pattern.detected".into()])
                .unwrap();
        assert_eq!(types, ["issue.ingested", "pattern.detected"]);
        assert_eq!(parse_event_types(vec!["issue.exploded".into()]).unwrap_err().code, "invalid_value");
    }

    #[tokio::test]
    async fn outbound_targets_are_guarded() {
        assert!(check_outbound_target("https://8.8.8.8/hook", false).await.is_ok());
        assert_eq!(check_outbound_target("http://8.8.8.8/hook", false).await.unwrap_err().code, "insecure_url");
        assert_eq!(check_outbound_target("https://10.0.0.1/hook", false).await.unwrap_err().code, "forbidden_target");
        // `localhost` resolves to loopback: refused unless private targets are allowed.
        assert_eq!(check_outbound_target("https://localhost/hook", false).await.unwrap_err().code, "forbidden_target");
        assert!(check_outbound_target("http://localhost:9/hook", true).await.is_ok());
        assert_eq!(check_outbound_target("http://169.254.169.254/", true).await.unwrap_err().code, "forbidden_target");
    }
}
