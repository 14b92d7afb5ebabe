//! `cloudwatch`: CloudWatch alarms delivered by an Amazon SNS HTTPS subscription.
//!
//! SNS cannot send a header of ours, so the request is authenticated by what SNS signed:
//! 1. the body is the SNS envelope (`Content-Type: text/plain`); one that cannot be read cannot
//!    be authenticated, so it is 401 like a bad signature, never 400/422;
//! 2. `SigningCertURL` must be an `https://sns.<region>.amazonaws.com/...pem` URL (401
//!    otherwise, nothing fetched); the certificate comes from [`super::sns`];
//! 3. the RSA signature over the documented string-to-sign (401 on any mismatch, so a tampered
//!    field is refused); the `x-amz-sns-message-id` / `x-amz-sns-topic-arn` headers, when sent,
//!    must agree with the signed values; the signed `Timestamp` must be one SNS could still be
//!    delivering (at most 3,900 s old: SNS retries an HTTP/S endpoint for an hour at most), so
//!    a captured message replayed later is refused (401);
//! 4. the topic must be in `config.topic_arns` of an enabled `cloudwatch` connector of the
//!    workspace in the path: 403 `topic_not_allowed` otherwise. The message is authentic but not
//!    this workspace's, which is an authorization failure, not an authentication one; and no
//!    subscription is confirmed for a topic the workspace did not list.
//!
//! Then by message type:
//! - `SubscriptionConfirmation`: SNS `ConfirmSubscription` with the topic ARN and token (the
//!   `SubscribeURL` is never fetched). Success is `200 {"status": "confirmed"}`; a failure is
//!   recorded on the connector and answers 502, so SNS retries the confirmation;
//! - `UnsubscribeConfirmation`: recorded on the connector, `200 {"status": "recorded"}`;
//! - `Notification`: the alarm JSON in `Message` (ALARM opens, OK resolves, INSUFFICIENT_DATA is
//!   recorded; metric and composite alarms alike), applied like every provider's alerts with the
//!   connector id on the Issue. The ingest event is `sns:<MessageId>` — SNS keeps the id across
//!   its retries and it equals `x-amz-sns-message-id` — so a retried delivery is a replay of the
//!   same event: the Issue does not count it twice. Each notification is also recorded on the
//!   connector under a record id derived from the message id, so a retry rewrites that record.

use super::sns::{confirmer, signing_certificate, CertError};
use super::{apply_alerts, parse_error, respond};
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use causeloop_domain::ids::SyncId;
use causeloop_domain::time_fmt::parse_unix_millis;
use causeloop_domain::{ConnectorId, IssueId, WorkspaceId};
use causeloop_http::ApiError;
use causeloop_providers::sns::{
    check_sns_freshness, parse_sns_message, verify_sns_message, SnsMessage, SnsMessageType,
};
use causeloop_providers::{parse_cloudwatch_alarm, AlertState, CloudWatch};
use causeloop_storage::clock::{now_millis, unix_now};
use causeloop_storage::connectors::{Connector, SyncRecord};
use causeloop_storage::StoreError;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The connector type whose `config.topic_arns` admits SNS topics.
pub const CONNECTOR_TYPE: &str = "cloudwatch";

fn unauthenticated(why: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_sns_signature",
        format!("the request is not an authentic Amazon SNS message: {why}"),
    )
}

fn topic_not_allowed(topic_arn: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "topic_not_allowed",
        format!(
            "SNS topic {topic_arn} is not in `config.topic_arns` of an enabled cloudwatch connector of this workspace"
        ),
    )
    .with("topic_arn", topic_arn)
}

/// A header SNS sets must name the same value as the signed body, or the request was altered.
fn header_agrees(headers: &HeaderMap, name: &str, signed: &str) -> bool {
    headers.get(name).is_none_or(|value| value.to_str().is_ok_and(|value| value.trim() == signed))
}

pub(super) async fn receive(
    state: &AppState,
    workspace: Option<WorkspaceId>,
    headers: &HeaderMap,
    body: &[u8],
    log_workspace: impl Fn(&WorkspaceId),
) -> Result<Response, ApiError> {
    if body.len() > causeloop_domain::limits::MAX_SINGLE_BODY_BYTES {
        return Err(super::body_too_large(body.len()));
    }
    let message = parse_sns_message(body).map_err(unauthenticated)?;
    let certificate =
        signing_certificate(&state.settings, &message.signing_cert_url).await.map_err(|err| match err {
            CertError::Untrusted(why) => unauthenticated(why),
            CertError::Unavailable(why) => {
                tracing::warn!(error = %why, "SNS signing certificate unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "certificate_unavailable",
                    "the SNS signing certificate could not be fetched; SNS will retry",
                )
            }
        })?;
    verify_sns_message(&message, &certificate).map_err(unauthenticated)?;
    check_sns_freshness(&message, unix_now()).map_err(unauthenticated)?;
    if !header_agrees(headers, "x-amz-sns-message-id", &message.message_id)
        || !header_agrees(headers, "x-amz-sns-topic-arn", &message.topic_arn)
    {
        return Err(unauthenticated("the x-amz-sns-* headers disagree with the signed message"));
    }

    let workspace = workspace.ok_or_else(|| topic_not_allowed(&message.topic_arn))?;
    let connector = allowed_connector(state, &workspace, &message.topic_arn)
        .await?
        .ok_or_else(|| topic_not_allowed(&message.topic_arn))?;
    log_workspace(&workspace);

    match message.message_type() {
        SnsMessageType::SubscriptionConfirmation => confirm(state, &workspace, &connector, &message).await,
        SnsMessageType::UnsubscribeConfirmation => {
            record(state, &workspace, &connector.id, &message, "sns_unsubscribe_confirmation", Ok(None)).await?;
            Ok((StatusCode::OK, Json(json!({"status": "recorded", "topicArn": message.topic_arn}))).into_response())
        }
        SnsMessageType::Notification => notify(state, &workspace, &connector, &message).await,
    }
}

/// The first enabled `cloudwatch` connector of the workspace that lists the topic (exact match).
async fn allowed_connector(
    state: &AppState,
    workspace: &WorkspaceId,
    topic_arn: &str,
) -> Result<Option<Connector>, StoreError> {
    let connectors = state.store.connectors_of_type(workspace, CONNECTOR_TYPE).await?;
    Ok(connectors.into_iter().find(|connector| {
        connector.enabled
            && connector.workspace_id == *workspace
            && connector
                .config
                .get("topic_arns")
                .and_then(Value::as_array)
                .is_some_and(|arns| arns.iter().any(|arn| arn.as_str() == Some(topic_arn)))
    }))
}

async fn confirm(
    state: &AppState,
    workspace: &WorkspaceId,
    connector: &Connector,
    message: &SnsMessage,
) -> Result<Response, ApiError> {
    let token = message.token.as_deref().unwrap_or_default();
    let confirmed = confirmer(state).await.confirm_subscription(&message.topic_arn, token).await;
    match confirmed {
        Ok(subscription_arn) => {
            record(state, workspace, &connector.id, message, "sns_confirmation", Ok(None)).await?;
            Ok((
                StatusCode::OK,
                Json(json!({
                    "status": "confirmed",
                    "topicArn": message.topic_arn,
                    "subscriptionArn": subscription_arn,
                })),
            )
                .into_response())
        }
        Err(error) => {
            tracing::warn!(connector_id = %connector.id, topic_arn = %message.topic_arn, error = %error, "SNS ConfirmSubscription failed");
            record(state, workspace, &connector.id, message, "sns_confirmation", Err(error.to_string())).await?;
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "subscription_confirmation_failed",
                "SNS ConfirmSubscription failed; the failure is recorded on the connector and SNS will retry",
            )
            .with("connector_id", connector.id.as_str()))
        }
    }
}

async fn notify(
    state: &AppState,
    workspace: &WorkspaceId,
    connector: &Connector,
    message: &SnsMessage,
) -> Result<Response, ApiError> {
    let alerts = parse_cloudwatch_alarm(&message.message).map_err(parse_error)?;
    let delivery = format!("sns:{}", message.message_id);
    let outcomes = apply_alerts(state, workspace, &CloudWatch, &alerts, &delivery, Some(&connector.id)).await?;
    // In CloudWatch's own words: cloudwatch_alarm, cloudwatch_ok, cloudwatch_insufficient_data.
    let kind = match alerts.first().map(|alert| &alert.state) {
        Some(AlertState::Firing) => "cloudwatch_alarm".to_string(),
        Some(AlertState::Resolved) => "cloudwatch_ok".to_string(),
        Some(AlertState::Other(word)) => format!("cloudwatch_{}", word.to_ascii_lowercase()),
        None => "cloudwatch_notification".to_string(),
    };
    let issue = outcomes.first().and_then(|outcome| outcome.issue_id.clone());
    record(state, workspace, &connector.id, message, &kind, Ok(issue)).await?;
    Ok(respond(&CloudWatch, &outcomes, None))
}

/// One entry in the connector's history per SNS message. The id is time-ordered by the signed
/// SNS timestamp and otherwise derived from the message id, so SNS retries land on one record.
async fn record(
    state: &AppState,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    message: &SnsMessage,
    kind: &str,
    result: Result<Option<IssueId>, String>,
) -> Result<(), StoreError> {
    let sent_millis = parse_unix_millis(&message.timestamp).unwrap_or_else(now_millis);
    let digest = Sha256::digest(format!("{}#{kind}", message.message_id).as_bytes());
    let mut derived = [0u8; 10];
    derived.copy_from_slice(&digest[..10]);
    let result = result.map(|issue| issue.map(|id| id.to_string()));
    let entry = SyncRecord::received(SyncId::random(sent_millis, derived), kind, result);
    state.store.record_sync(workspace, connector, &entry).await
}
