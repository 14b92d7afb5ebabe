//! The delivery routes of the `webhooks` family: an endpoint's attempt log, redelivery and the
//! test ping. The worker that makes the attempts is [`crate::workers::deliver`].
//!
//! Delivery records, attempts included, are kept for
//! [`DELIVERY_RETENTION_SECONDS`](causeloop_domain::delivery::DELIVERY_RETENTION_SECONDS) (30
//! days) after their event, then expire by TTL.

use crate::events::envelope;
use crate::state::AppState;
use crate::webhooks::parse_webhook_id;
use crate::workers::deliver::task_for;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use causeloop_domain::delivery::{Delivery, DeliveryStatus, Redelivery};
use causeloop_domain::events::EventType;
use causeloop_domain::time_fmt::format_unix_millis;
use causeloop_domain::{DeliveryId, Scope, WebhookId, WorkspaceId};
use causeloop_http::pagination::{page_body, page_cursor, page_limit};
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::now_millis;
use causeloop_storage::connectors::{Webhook, WebhookDirection};
use causeloop_storage::repo::Versioned;
use causeloop_storage::{QueueName, StoreError};
use serde_json::{json, Value};
use std::collections::HashMap;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/webhooks/{id}/deliveries", get(list))
        .route("/v1/webhooks/{id}/deliveries/{delivery_id}", get(show))
        .route("/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver", post(redeliver))
        .route("/v1/webhooks/{id}/test", post(test))
}

/// A delivery as the API shows it: its state and attempts (newest first); `payload` only when
/// one delivery is read.
pub fn delivery_view(delivery: &Delivery, with_payload: bool) -> Value {
    let mut view = json!({
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "created_at": format_unix_millis(delivery.created_at_ms),
        "attempts_made": delivery.attempts_made,
        "next_attempt_at": delivery.next_attempt_ms.filter(|_| delivery.status == DeliveryStatus::Pending).map(format_unix_millis),
        "failure_reason": delivery.failure_reason,
        "attempts": delivery.attempts.iter().rev().collect::<Vec<_>>(),
    });
    if with_payload {
        view["payload"] = serde_json::from_str(&delivery.payload).unwrap_or(Value::String(delivery.payload.clone()));
    }
    view
}

fn parse_delivery_id(raw: &str) -> Result<DeliveryId, ApiError> {
    DeliveryId::parse(raw).ok_or_else(|| ApiError::not_found("delivery"))
}

/// The workspace's outbound endpoint `id`; inbound registrations have no deliveries.
async fn outbound_endpoint(state: &AppState, workspace: &WorkspaceId, id: &WebhookId) -> Result<Webhook, ApiError> {
    let webhook = state.store.webhook(workspace, id).await?.ok_or_else(|| ApiError::not_found("webhook"))?.value;
    if webhook.direction != WebhookDirection::Outbound {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_outbound",
            "this registration enables inbound delivery for a connector; it receives events and delivers none",
        ));
    }
    Ok(webhook)
}

async fn find_delivery(
    state: &AppState,
    workspace: &WorkspaceId,
    webhook: &WebhookId,
    id: &DeliveryId,
) -> Result<Versioned<Delivery>, ApiError> {
    state.store.delivery(workspace, webhook, id).await?.ok_or_else(|| ApiError::not_found("delivery"))
}

/// `GET /v1/webhooks/{id}/deliveries?status=&limit=&cursor=`: newest first.
async fn list(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksRead)?;
    let id = parse_webhook_id(&id)?;
    let limit = page_limit(query.get("limit").map(String::as_str))?;
    let cursor = page_cursor(query.get("cursor").map(String::as_str));
    // Present but empty is no status either.
    let status = match query.get("status").map(String::as_str) {
        None => None,
        Some(raw) => Some(DeliveryStatus::parse(raw).ok_or_else(|| {
            ApiError::bad_request("invalid_status", "`status` must be one of pending, succeeded, failed")
                .with("field", "status")
        })?),
    };
    outbound_endpoint(&state, &principal.workspace_id, &id).await?;
    let (deliveries, next) = state.store.list_deliveries(&principal.workspace_id, &id, status, limit, cursor).await?;
    Ok(Json(page_body(deliveries.iter().map(|delivery| delivery_view(delivery, false)).collect(), next)))
}

async fn show(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksRead)?;
    let (id, delivery_id) = (parse_webhook_id(&id)?, parse_delivery_id(&delivery_id)?);
    // As the list does: a deleted endpoint's deliveries are gone with it (their records only
    // wait for their expiry).
    state.store.webhook(&principal.workspace_id, &id).await?.ok_or_else(|| ApiError::not_found("webhook"))?;
    let delivery = find_delivery(&state, &principal.workspace_id, &id, &delivery_id).await?;
    // The payload is an event envelope, usually a whole Issue: shown only to a key that may read
    // Issues anyway.
    Ok(Json(delivery_view(&delivery.value, principal.scopes.grants(Scope::IssuesRead))))
}

/// Starts a new round of attempts for a finished delivery, with the same id and payload.
async fn redeliver(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksAdmin)?;
    let workspace = &principal.workspace_id;
    let (id, delivery_id) = (parse_webhook_id(&id)?, parse_delivery_id(&delivery_id)?);
    let webhook = outbound_endpoint(&state, workspace, &id).await?;
    if !webhook.enabled {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "endpoint_disabled",
            "the endpoint is disabled; enable it (PATCH enabled=true) before redelivering",
        ));
    }
    let Versioned { value: mut delivery, version } = find_delivery(&state, workspace, &id, &delivery_id).await?;
    match delivery.redeliver(now_millis()) {
        Redelivery::InProgress => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "delivery_pending",
                "the delivery is still pending: its next attempt is scheduled; redeliver it once it has finished",
            ))
        }
        // Saved by an earlier request whose queue send may have failed: the task is sent again.
        Redelivery::AwaitingAttempt => {}
        Redelivery::Started => match state.store.save_delivery(&delivery, version).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed) => {
                return Err(ApiError::new(StatusCode::CONFLICT, "conflict", "the delivery changed meanwhile; retry"))
            }
            Err(err) => return Err(err.into()),
        },
    }
    state.queue.send_batch(QueueName::Delivery, vec![task_for(&delivery).to_message()]).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_view(&delivery, false))))
}

/// Test pings per endpoint: one per this many seconds.
pub const TEST_INTERVAL_SECONDS: u64 = 10;

/// `POST /v1/webhooks/{id}/test`: delivers a `ping` event to this endpoint alone, whatever its
/// subscriptions, and even while it is disabled (to check it before enabling it again). One per
/// endpoint per [`TEST_INTERVAL_SECONDS`]: the ping of a time slot is one event, so a second
/// request in the slot finds its delivery and answers 429, and a key cannot turn Causeloop into
/// a request flood against a URL.
async fn test(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::WebhooksAdmin)?;
    let workspace = &principal.workspace_id;
    let id = parse_webhook_id(&id)?;
    let webhook = outbound_endpoint(&state, workspace, &id).await?;
    let now_ms = now_millis();
    let slot_ms = TEST_INTERVAL_SECONDS * 1000;
    let slot = now_ms / slot_ms;
    let event = envelope(
        EventType::Ping,
        workspace,
        &format!("ping/{}/{slot}", webhook.id),
        None,
        json!({"webhook_id": webhook.id, "message": "a test delivery from Causeloop"}),
        &format_unix_millis(now_ms),
    );
    let payload = serde_json::to_string(&event).expect("envelope serializes");
    let delivery =
        Delivery::new(webhook.id.clone(), event.id.clone(), workspace.clone(), EventType::Ping, payload, now_ms);
    let (stored, created) = state.store.create_delivery(&delivery).await?;
    if !created {
        let retry_after = ((slot + 1) * slot_ms).saturating_sub(now_ms).div_ceil(1000).max(1);
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "test_rate_limited",
            format!(
                "an endpoint gets one test per {TEST_INTERVAL_SECONDS} s; this one was tested {} s ago",
                (now_ms - stored.value.created_at_ms) / 1000
            ),
        )
        .with("retry_after_seconds", retry_after)
        .with("delivery_id", stored.value.id.as_str()));
    }
    state.queue.send_batch(QueueName::Delivery, vec![task_for(&stored.value).to_message()]).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_view(&stored.value, false))))
}
