//! Provider webhooks `POST /v1/webhooks/{workspace}/{provider}` over real HTTP, with the sample
//! bodies of `events/alerts/`: authentication per provider, 202/409 semantics, resolution,
//! grouped and truncated Alertmanager notifications, and CloudWatch over SNS.
//!
//! SNS: moto implements `ConfirmSubscription` but never POSTs a `SubscriptionConfirmation` (or
//! any notification) to an HTTPS subscriber itself, so these tests sign their own SNS messages
//! with the test key in `shared/providers/tests/fixtures` and pin its certificate for the
//! sample `SigningCertURL` through `Settings::trusted_sns_certs` (what
//! `causeloop serve --trust-sns-cert` sets). The string-to-sign is built here from the AWS
//! documentation, independently of the code under test.

use base64::Engine;
use causeloop_api::alerts::sns::SdkSubscriptionConfirmer;
use causeloop_api::alerts::sns::{ConfirmError, ConfirmFuture, SubscriptionConfirmer};
use causeloop_api::provisioning::CreatedKey;
use causeloop_api::state::AppState;
use causeloop_domain::{ConnectorId, SyncId};
use causeloop_storage::connectors::{Connector, SyncRecord};
use causeloop_tests::{both_backends, moto_endpoint, spawn_app, spawn_app_with, unique, Backend, TestApp};
use hmac::{Hmac, Mac};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

macro_rules! sample {
    ($name:literal) => {
        include_str!(concat!("../../events/alerts/", $name))
    };
}

const CUSTOM: &str = sample!("custom.json");
const ALERTMANAGER: &str = sample!("alertmanager.json");
const AZURE: &str = sample!("azure.json");
const GCP: &str = sample!("gcp.json");
const ALERTMANAGER_RESOLVED: &str = sample!("alertmanager-resolved.json");
const GRAFANA: &str = sample!("grafana.json");
const DATADOG: &str = sample!("datadog-default.json");
const SENTRY_EVENT_ALERT: &str = sample!("sentry-event-alert.json");
const SENTRY_ISSUE_RESOLVED: &str = sample!("sentry-issue-resolved.json");
const PAGERDUTY: &str = sample!("pagerduty.json");
const CLOUDWATCH_ALARM: &str = sample!("cloudwatch-alarm.json");
const CLOUDWATCH_COMPOSITE: &str = sample!("cloudwatch-composite-alarm.json");
const SNS_CONFIRMATION: &str = sample!("cloudwatch-subscription-confirmation.json");

const SNS_KEY: &str = include_str!("../../shared/providers/tests/fixtures/sns-signing-key.pem");
const SNS_CERT: &[u8] = include_bytes!("../../shared/providers/tests/fixtures/sns-signing-cert.pem");
/// The `SigningCertURL` of the samples; the tests pin the fixture certificate for it.
const CERT_URL: &str =
    "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem";
const SAMPLE_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:causeloop-alarms";

// --- helpers -------------------------------------------------------------------------------

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    hex::encode(mac.finalize().into_bytes())
}

fn path(workspace: &str, provider: &str) -> String {
    format!("/v1/webhooks/{workspace}/{provider}")
}

/// POSTs raw bytes with exactly the given headers.
async fn post_raw(app: &TestApp, path: &str, body: &str, headers: &[(&str, String)]) -> (u16, Value) {
    let mut request = app.http.post(app.url(path)).body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `custom` as docs/monitoring-tools.md shows it: `X-API-Key` plus the body's HMAC.
async fn post_custom(app: &TestApp, key: &CreatedKey, body: &str) -> (u16, Value) {
    let headers = [
        ("content-type", "application/json".to_string()),
        ("x-api-key", key.key.clone()),
        ("x-webhook-signature", hmac_hex(&key.webhook_secret, &[body.as_bytes()])),
    ];
    post_raw(app, &path(key.workspace_id.as_str(), "custom"), body, &headers).await
}

/// A tool that can only send `Authorization: Bearer` (Alertmanager's `http_config`).
async fn post_bearer(app: &TestApp, key: &CreatedKey, provider: &str, body: &str) -> (u16, Value) {
    let headers = [("content-type", "application/json".to_string()), ("authorization", format!("Bearer {}", key.key))];
    post_raw(app, &path(key.workspace_id.as_str(), provider), body, &headers).await
}

async fn issue(app: &TestApp, id: &Value) -> Value {
    let (status, body) = app.get(&format!("/v1/issues/{}", id.as_str().expect("incidentId")), &app.owner.key).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn with(body: &str, pointer: &str, value: Value) -> String {
    let mut doc: Value = serde_json::from_str(body).unwrap();
    *doc.pointer_mut(pointer).unwrap_or_else(|| panic!("{pointer} not in body")) = value;
    doc.to_string()
}

fn events_of<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events.iter().filter(|event| event["event_type"] == event_type).collect()
}

// --- SNS helpers ---------------------------------------------------------------------------

/// The string SNS signs (AWS: "Verifying the signatures of Amazon SNS messages").
fn sns_string_to_sign(message: &Value) -> String {
    let kind = message["Type"].as_str().unwrap();
    let fields: &[&str] = if kind == "Notification" {
        &["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
    } else {
        &["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
    };
    let mut text = String::new();
    for field in fields {
        if let Some(value) = message[*field].as_str() {
            text.push_str(&format!("{field}\n{value}\n"));
        }
    }
    text
}

/// Signs `message` as SNS would with the fixture key, using its `SignatureVersion`, sent now.
fn sns_signed(message: Value) -> String {
    sns_signed_at(message, &causeloop_storage::clock::now_rfc3339())
}

/// Signs `message` as sent at `timestamp` (RFC 3339).
fn sns_signed_at(message: Value, timestamp: &str) -> String {
    let mut message = message;
    message["Timestamp"] = json!(timestamp);
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(SNS_KEY).unwrap();
    let text = sns_string_to_sign(&message);
    let signature = match message["SignatureVersion"].as_str().unwrap() {
        "1" => SigningKey::<sha1::Sha1>::new(key).sign(text.as_bytes()).to_vec(),
        _ => SigningKey::<sha2::Sha256>::new(key).sign(text.as_bytes()).to_vec(),
    };
    message["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
    message.to_string()
}

fn sns_sample(sample: &str) -> Value {
    serde_json::from_str(sample).unwrap()
}

/// A notification of the alarm sample with its state, message id and topic replaced.
fn alarm_notification(state: &str, message_id: &str, topic: &str) -> Value {
    let mut message = sns_sample(CLOUDWATCH_ALARM);
    let mut alarm: Value = serde_json::from_str(message["Message"].as_str().unwrap()).unwrap();
    alarm["NewStateValue"] = json!(state);
    message["Message"] = json!(alarm.to_string());
    message["Subject"] = json!(format!("{state}: \"checkout-api-5xx\" in EU (Ireland)"));
    message["MessageId"] = json!(message_id);
    message["TopicArn"] = json!(topic);
    message
}

async fn post_sns(app: &TestApp, workspace: &str, body: &str) -> (u16, Value) {
    let message: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    let mut headers = vec![("content-type", "text/plain; charset=UTF-8".to_string())];
    // The headers SNS adds, copied from the body as SNS does.
    for (header, field) in
        [("x-amz-sns-message-type", "Type"), ("x-amz-sns-message-id", "MessageId"), ("x-amz-sns-topic-arn", "TopicArn")]
    {
        if let Some(value) = message[field].as_str() {
            headers.push((header, value.to_string()));
        }
    }
    post_raw(app, &path(workspace, "cloudwatch"), body, &headers).await
}

async fn add_cloudwatch_connector(
    app: &TestApp,
    workspace: &CreatedKey,
    topics: &[&str],
    enabled: bool,
) -> ConnectorId {
    let now = causeloop_storage::clock::now_rfc3339();
    let connector = Connector {
        id: ConnectorId::random(causeloop_storage::clock::now_millis(), rand::random()),
        workspace_id: workspace.workspace_id.clone(),
        connector_type: "cloudwatch".into(),
        display_name: "CloudWatch alarms".into(),
        status: "connected".into(),
        enabled,
        config: json!({"topic_arns": topics}),
        sealed_credentials: None,
        credential_fields: vec![],
        inbound_webhook_id: None,
        sync: Default::default(),
        oauth: None,
        created_at: now.clone(),
        updated_at: now,
    };
    app.state.store.insert_connector(&connector).await.expect("insert connector");
    connector.id
}

async fn sync_history(app: &TestApp, workspace: &CreatedKey, connector: &ConnectorId) -> Vec<SyncRecord> {
    app.state.store.sync_records(&workspace.workspace_id, connector, 50, None).await.expect("sync records").0
}

/// Records every confirmation it is asked for and answers like SNS.
#[derive(Default)]
struct RecordingConfirmer {
    calls: Mutex<Vec<(String, String)>>,
}

impl SubscriptionConfirmer for RecordingConfirmer {
    fn confirm_subscription<'a>(&'a self, topic_arn: &'a str, token: &'a str) -> ConfirmFuture<'a> {
        self.calls.lock().unwrap().push((topic_arn.to_string(), token.to_string()));
        Box::pin(async move { Ok::<_, ConfirmError>(format!("{topic_arn}:sub-1")) })
    }
}

fn pin_test_certificate(state: AppState) -> AppState {
    let mut state = state;
    let mut settings = (*state.settings).clone();
    settings.trusted_sns_certs.insert(CERT_URL.to_string(), SNS_CERT.to_vec());
    state.settings = Arc::new(settings);
    state
}

async fn spawn_sns_app(backend: Backend, confirmer: Arc<dyn SubscriptionConfirmer>) -> Option<TestApp> {
    spawn_app_with(backend, move |state| pin_test_certificate(state).with_sns_confirmer(confirmer)).await
}

// --- custom --------------------------------------------------------------------------------

async fn custom_answers_202_then_409_while_open_then_202_after_resolve(app: TestApp) {
    let key = app.owner.clone();
    let (status, created) = post_custom(&app, &key, CUSTOM).await;
    assert_eq!((status, created["status"].as_str()), (202, Some("triaging")), "{created}");
    let incident = created["incidentId"].clone();
    assert!(incident.as_str().unwrap().starts_with("iss_"));
    let first = issue(&app, &incident).await;
    assert_eq!(first["source"], "custom");
    assert_eq!(first["external_id"], "checkout-latency-slo");
    assert_eq!(first["severity"], "p2", "high maps to p2");
    assert_eq!(first["service"], "checkout");
    assert_eq!(first["team"], "payments", "the team tag becomes the team");

    let (status, duplicate) = post_custom(&app, &key, CUSTOM).await;
    assert_eq!(status, 409, "{duplicate}");
    assert_eq!(duplicate["error"], "duplicate_alert");
    assert_eq!(duplicate["incidentId"], incident);
    assert!(duplicate["message"].as_str().unwrap().contains("checkout-latency-slo"));
    let repeated = issue(&app, &incident).await;
    assert_eq!(repeated["occurrences"], 2, "a 409 still counts the occurrence");
    assert!(repeated["last_seen"].as_str() >= first["last_seen"].as_str());

    let (status, _) = app
        .http
        .patch(app.url(&format!("/v1/issues/{}", incident.as_str().unwrap())))
        .bearer_auth(&app.owner.key)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(status, 200);
    let (status, again) = post_custom(&app, &key, CUSTOM).await;
    assert_eq!((status, again["status"].as_str()), (202, Some("triaging")), "{again}");
    assert_eq!(again["incidentId"], incident, "a recurrence reopens the same Issue");
    let reopened = issue(&app, &incident).await;
    assert_eq!((reopened["status"].as_str(), reopened["occurrences"].as_u64()), (Some("open"), Some(3)));
}
both_backends!(custom_dedup, custom_answers_202_then_409_while_open_then_202_after_resolve);

async fn authentication_fails_closed_before_parsing(app: TestApp) {
    let key = app.owner.clone();
    let other = app.key(&unique("other"), "ingest:write").await;
    let reader = app.key(&unique("reader"), "issues:read").await;
    let ws = key.workspace_id.as_str();
    let json_type = ("content-type", "application/json".to_string());

    let (status, body) = post_raw(&app, &path(ws, "custom"), CUSTOM, std::slice::from_ref(&json_type)).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("unauthorized")), "no key: {body}");

    // A valid key, signed correctly, but for another workspace than the path's.
    let (status, _) =
        post_custom(&app, &CreatedKey { workspace_id: key.workspace_id.clone(), ..other.clone() }, CUSTOM).await;
    assert_eq!(status, 401, "a key of another workspace");
    let (status, _) =
        post_raw(&app, &path("ws_not-an-id", "custom"), CUSTOM, &[json_type.clone(), ("x-api-key", key.key.clone())])
            .await;
    assert_eq!(status, 401, "a malformed workspace id");

    // The path names the reader's own workspace: only the scope is missing.
    let (status, body) = post_custom(&app, &reader, CUSTOM).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("insufficient_scope")), "{body}");
    assert_eq!(body["required_scope"], "ingest:write");

    let key_only = [json_type.clone(), ("x-api-key", key.key.clone())];
    let (status, body) = post_raw(&app, &path(ws, "custom"), CUSTOM, &key_only).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_signature")), "missing signature: {body}");

    let bad = [json_type.clone(), ("x-api-key", key.key.clone()), ("x-webhook-signature", "ab".repeat(32))];
    let (status, _) = post_raw(&app, &path(ws, "custom"), CUSTOM, &bad).await;
    assert_eq!(status, 401, "wrong signature");
    let signed_with_other_secret = [
        json_type.clone(),
        ("x-api-key", key.key.clone()),
        ("x-webhook-signature", hmac_hex(&other.webhook_secret, &[CUSTOM.as_bytes()])),
    ];
    let (status, _) = post_raw(&app, &path(ws, "custom"), CUSTOM, &signed_with_other_secret).await;
    assert_eq!(status, 401, "signed with another key's secret");

    // Authentication comes before parsing: garbage with a bad signature is 401, not 400/422.
    let garbage = "{\"title\": ";
    let (status, _) = post_raw(&app, &path(ws, "custom"), garbage, &bad).await;
    assert_eq!(status, 401);
    let (status, _) = post_raw(&app, &path(ws, "custom"), "{\"title\": \"x\"}", &bad).await;
    assert_eq!(status, 401);

    // Correctly signed but malformed: 422 naming the field, 400 for a body that is not JSON.
    let (status, body) = post_custom(&app, &key, r#"{"title": "Disk full"}"#).await;
    assert_eq!(
        (status, body["error"].as_str(), body["field"].as_str()),
        (422, Some("invalid_payload"), Some("description")),
        "{body}"
    );
    let (status, body) =
        post_custom(&app, &key, r#"{"title": "x", "description": "y", "severity": "apocalyptic"}"#).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("severity")), "{body}");
    let (status, body) = post_custom(&app, &key, garbage).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_json")), "{body}");

    let (_, issues) = app.get("/v1/issues", &app.owner.key).await;
    assert!(issues["data"].as_array().unwrap().is_empty(), "nothing refused was stored: {issues}");
}
both_backends!(custom_auth, authentication_fails_closed_before_parsing);

#[tokio::test]
async fn unknown_provider_is_404_listing_the_supported_ones() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (status, body) = post_bearer(&app, &app.owner, "nagios", "{}").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("unknown_provider")), "{body}");
    let supported: Vec<&str> = body["supported"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    for name in ["custom", "datadog", "grafana", "alertmanager", "cloudwatch", "sentry", "pagerduty"] {
        assert!(supported.contains(&name), "{name} in {supported:?}");
        assert!(body["message"].as_str().unwrap().contains(name));
    }
}

// --- Alertmanager --------------------------------------------------------------------------

async fn alertmanager_groups_are_one_issue_per_fingerprint(app: TestApp) {
    let key = app.owner.clone();
    // The sample is a truncated group: one alert firing, one resolved never seen firing.
    let (status, body) = post_bearer(&app, &key, "alertmanager", ALERTMANAGER).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("triaging")), "{body}");
    assert_eq!(body["truncatedAlerts"], 2);
    let alerts = body["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(
        (alerts[0]["sourceAlertId"].as_str(), alerts[0]["status"].as_str()),
        (Some("5c2b7f1a9e0d4c33"), Some("triaging"))
    );
    assert_eq!(
        (alerts[1]["sourceAlertId"].as_str(), alerts[1]["status"].as_str()),
        (Some("a81f3c2d7b6e5f40"), Some("resolved"))
    );
    assert_ne!(alerts[0]["incidentId"], alerts[1]["incidentId"]);
    let firing = issue(&app, &alerts[0]["incidentId"]).await;
    assert_eq!((firing["status"].as_str(), firing["source"].as_str()), (Some("open"), Some("alertmanager")));
    let resolved_only = issue(&app, &alerts[1]["incidentId"]).await;
    assert_eq!(resolved_only["status"], "resolved", "a resolved alert never seen firing is recorded resolved");
    let events = app.drain_events().await;
    assert_eq!(events_of(&events, "issue.ingested").len(), 2);
    assert!(events_of(&events, "issue.resolved").is_empty(), "nothing was open to resolve");

    // Alertmanager re-sends the group on its repeat interval: 202 duplicate, counted.
    let (status, again) = post_bearer(&app, &key, "alertmanager", ALERTMANAGER).await;
    assert_eq!((status, again["alerts"][0]["status"].as_str()), (202, Some("duplicate")), "{again}");
    assert_eq!(again["status"], "duplicate");
    let repeated = issue(&app, &alerts[0]["incidentId"]).await;
    assert_eq!(repeated["occurrences"], 2);
    assert!(repeated["last_seen"].as_str() >= firing["last_seen"].as_str());
    app.drain_events().await;

    // The firing alert resolves: the Issue resolves and issue.resolved goes out once.
    let resolved = with(&with(ALERTMANAGER, "/alerts/0/status", json!("resolved")), "/status", json!("resolved"));
    let (status, body) = post_bearer(&app, &key, "alertmanager", &resolved).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("resolved")), "{body}");
    assert_eq!(issue(&app, &alerts[0]["incidentId"]).await["status"], "resolved");
    let events = app.drain_events().await;
    let resolutions = events_of(&events, "issue.resolved");
    assert_eq!(resolutions.len(), 1, "{events:?}");
    assert_eq!(resolutions[0]["data"]["issue"]["id"], alerts[0]["incidentId"]);
}
both_backends!(alertmanager_groups, alertmanager_groups_are_one_issue_per_fingerprint);

async fn alertmanager_resolved_only_groups_record_resolved_issues(app: TestApp) {
    let key = app.owner.clone();
    let (status, body) = post_bearer(&app, &key, "alertmanager", ALERTMANAGER_RESOLVED).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("resolved")), "{body}");
    assert!(body.get("alerts").is_none(), "one alert, one answer");
    let recorded = issue(&app, &body["incidentId"]).await;
    assert_eq!((recorded["status"].as_str(), recorded["occurrences"].as_u64()), (Some("resolved"), Some(1)));
    assert!(recorded["resolution"]["resolved_at"].is_string());

    // Without alerts[] the group is unreadable: 422 naming it. Without a key: 401 first.
    let (status, body) = post_bearer(&app, &key, "alertmanager", r#"{"version": "4", "status": "firing"}"#).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("alerts")), "{body}");
    let (status, _) = post_raw(&app, &path(key.workspace_id.as_str(), "alertmanager"), "{}", &[]).await;
    assert_eq!(status, 401);
}
both_backends!(alertmanager_resolved_only, alertmanager_resolved_only_groups_record_resolved_issues);

// --- Grafana, Datadog, Sentry --------------------------------------------------------------

async fn grafana_is_verified_by_its_own_signature(app: TestApp) {
    let key = app.owner.clone();
    let url = path(key.workspace_id.as_str(), "grafana");
    let base = vec![("content-type", "application/json".to_string()), ("x-api-key", key.key.clone())];

    let (status, _) = post_raw(&app, &url, GRAFANA, &base).await;
    assert_eq!(status, 401, "Grafana must sign");
    let mut signed = base.clone();
    signed.push(("x-grafana-alerting-signature", hmac_hex(&key.webhook_secret, &[GRAFANA.as_bytes()])));
    let (status, body) = post_raw(&app, &url, GRAFANA, &signed).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("triaging")), "{body}");
    assert_eq!(body["alerts"].as_array().unwrap().len(), 2);

    // With the timestamp header, the MAC covers "{timestamp}:{body}" and the time must be recent.
    let now = causeloop_storage::unix_now().to_string();
    let mut timed = base.clone();
    timed.push(("x-grafana-alerting-timestamp", now.clone()));
    timed.push((
        "x-grafana-alerting-signature",
        hmac_hex(&key.webhook_secret, &[now.as_bytes(), b":", GRAFANA.as_bytes()]),
    ));
    let (status, body) = post_raw(&app, &url, GRAFANA, &timed).await;
    assert_eq!((status, body["alerts"][0]["status"].as_str()), (202, Some("duplicate")), "{body}");
    let stale = "1000000000";
    let mut old = base.clone();
    old.push(("x-grafana-alerting-timestamp", stale.to_string()));
    old.push((
        "x-grafana-alerting-signature",
        hmac_hex(&key.webhook_secret, &[stale.as_bytes(), b":", GRAFANA.as_bytes()]),
    ));
    let (status, _) = post_raw(&app, &url, GRAFANA, &old).await;
    assert_eq!(status, 401, "a replayed old signature");
}
both_backends!(grafana_signature, grafana_is_verified_by_its_own_signature);

async fn datadog_accepts_the_key_alone_and_counts_resends(app: TestApp) {
    let key = app.owner.clone();
    let url = path(key.workspace_id.as_str(), "datadog");
    let headers = vec![("content-type", "application/json".to_string()), ("x-api-key", key.key.clone())];
    let (status, first) = post_raw(&app, &url, DATADOG, &headers).await;
    assert_eq!((status, first["status"].as_str()), (202, Some("triaging")), "{first}");
    let (status, again) = post_raw(&app, &url, DATADOG, &headers).await;
    assert_eq!((status, again["status"].as_str()), (202, Some("duplicate")), "a timer resend is not a 409");
    assert_eq!(again["incidentId"], first["incidentId"]);
    assert_eq!(issue(&app, &first["incidentId"]).await["occurrences"], 2);

    // A signature that is sent is checked, even for a tool that need not sign.
    let mut forged = headers.clone();
    forged.push(("x-webhook-signature", "00".repeat(32)));
    let (status, _) = post_raw(&app, &url, DATADOG, &forged).await;
    assert_eq!(status, 401);
    // Blank, as a Datadog header field left empty sends it, is absent.
    let mut blank = headers.clone();
    blank.push(("x-webhook-signature", " ".to_string()));
    assert_eq!(post_raw(&app, &url, DATADOG, &blank).await.0, 202);

    let (status, body) = post_raw(&app, &url, r#"{"body": "no title"}"#, &headers).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("title")), "{body}");
}
both_backends!(datadog_key_only, datadog_accepts_the_key_alone_and_counts_resends);

async fn sentry_is_verified_by_sentry_hook_signature(app: TestApp) {
    let key = app.owner.clone();
    let url = path(key.workspace_id.as_str(), "sentry");
    let sentry = |body: &str, resource: &str, secret: &str| {
        vec![
            ("content-type", "application/json".to_string()),
            ("x-api-key", key.key.clone()),
            ("sentry-hook-resource", resource.to_string()),
            ("sentry-hook-signature", hmac_hex(secret, &[body.as_bytes()])),
        ]
    };
    let (status, _) =
        post_raw(&app, &url, SENTRY_EVENT_ALERT, &sentry(SENTRY_EVENT_ALERT, "event_alert", "whsec_wrong")).await;
    assert_eq!(status, 401);
    let (status, fired) =
        post_raw(&app, &url, SENTRY_EVENT_ALERT, &sentry(SENTRY_EVENT_ALERT, "event_alert", &key.webhook_secret)).await;
    assert_eq!((status, fired["status"].as_str()), (202, Some("triaging")), "{fired}");
    let stored = issue(&app, &fired["incidentId"]).await;
    assert_eq!(stored["source"], "sentry");
    assert!(stored["external_url"].as_str().is_some_and(|url| url.starts_with("https://")), "{stored}");

    let (status, resolved) =
        post_raw(&app, &url, SENTRY_ISSUE_RESOLVED, &sentry(SENTRY_ISSUE_RESOLVED, "issue", &key.webhook_secret)).await;
    assert_eq!((status, resolved["status"].as_str()), (202, Some("resolved")), "{resolved}");
}
both_backends!(sentry_signature, sentry_is_verified_by_sentry_hook_signature);

// --- CloudWatch over SNS -------------------------------------------------------------------

async fn cloudwatch_alarms_open_resolve_and_deduplicate(backend: Backend) {
    let Some(app) = spawn_sns_app(backend, Arc::new(RecordingConfirmer::default())).await else { return };
    let key = app.owner.clone();
    let ws = key.workspace_id.as_str();
    let connector = add_cloudwatch_connector(&app, &key, &[SAMPLE_TOPIC], true).await;

    let alarm = sns_signed(alarm_notification("ALARM", "11111111-0000-4000-8000-000000000001", SAMPLE_TOPIC));
    let (status, opened) = post_sns(&app, ws, &alarm).await;
    assert_eq!((status, opened["status"].as_str()), (202, Some("triaging")), "{opened}");
    let stored = issue(&app, &opened["incidentId"]).await;
    assert_eq!(stored["source"], "cloudwatch");
    assert_eq!(stored["external_id"], "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:checkout-api-5xx");
    assert_eq!(stored["connector_id"], connector.as_str());
    assert_eq!(stored["metadata"]["tags"]["alarm_type"], "metric");

    // SNS retries the same message (same MessageId): harmless.
    let (status, retried) = post_sns(&app, ws, &alarm).await;
    assert_eq!((status, retried["incidentId"].clone()), (202, opened["incidentId"].clone()), "{retried}");
    assert_eq!(issue(&app, &opened["incidentId"]).await["occurrences"], 1, "a retry is not an occurrence");

    // INSUFFICIENT_DATA is recorded, neither opening nor resolving.
    let no_data =
        sns_signed(alarm_notification("INSUFFICIENT_DATA", "11111111-0000-4000-8000-000000000002", SAMPLE_TOPIC));
    let (status, recorded) = post_sns(&app, ws, &no_data).await;
    assert_eq!((status, recorded["status"].as_str()), (202, Some("recorded")), "{recorded}");
    let noted = issue(&app, &opened["incidentId"]).await;
    assert_eq!((noted["status"].as_str(), noted["occurrences"].as_u64()), (Some("open"), Some(1)));
    assert_eq!(noted["metadata"]["alert_state"], "INSUFFICIENT_DATA");
    app.drain_events().await;

    let ok = sns_signed(alarm_notification("OK", "11111111-0000-4000-8000-000000000003", SAMPLE_TOPIC));
    let (status, resolved) = post_sns(&app, ws, &ok).await;
    assert_eq!((status, resolved["status"].as_str()), (202, Some("resolved")), "{resolved}");
    assert_eq!(issue(&app, &opened["incidentId"]).await["status"], "resolved");
    let events = app.drain_events().await;
    assert_eq!(events_of(&events, "issue.resolved").len(), 1, "{events:?}");
    assert_eq!(events_of(&events, "issue.resolved")[0]["connector_id"], connector.as_str());

    let kinds: Vec<String> = sync_history(&app, &key, &connector).await.into_iter().map(|r| r.kind).collect();
    for kind in ["cloudwatch_alarm", "cloudwatch_insufficient_data", "cloudwatch_ok"] {
        assert_eq!(kinds.iter().filter(|k| *k == kind).count(), 1, "{kind} once in {kinds:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_alarms_sqlite() {
    cloudwatch_alarms_open_resolve_and_deduplicate(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_alarms_moto() {
    cloudwatch_alarms_open_resolve_and_deduplicate(Backend::Moto).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_composite_alarms_without_subject() {
    let app = spawn_sns_app(Backend::Sqlite, Arc::new(RecordingConfirmer::default())).await.unwrap();
    let key = app.owner.clone();
    add_cloudwatch_connector(&app, &key, &[SAMPLE_TOPIC], true).await;
    let composite = sns_sample(CLOUDWATCH_COMPOSITE);
    assert!(composite.get("Subject").is_none(), "the sample has no Subject");
    assert_eq!(composite["SignatureVersion"], "2");
    let (status, body) = post_sns(&app, key.workspace_id.as_str(), &sns_signed(composite)).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("triaging")), "{body}");
    let stored = issue(&app, &body["incidentId"]).await;
    assert_eq!(stored["metadata"]["tags"]["alarm_type"], "composite");
    assert!(stored["metadata"]["tags"]["alarm_rule"].as_str().unwrap().contains("ALARM("));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloudwatch_refuses_what_sns_did_not_sign_or_the_workspace_did_not_allow() {
    let app = spawn_sns_app(Backend::Sqlite, Arc::new(RecordingConfirmer::default())).await.unwrap();
    let key = app.owner.clone();
    let ws = key.workspace_id.as_str();
    let disabled_topic = "arn:aws:sns:eu-west-1:123456789012:paused";
    add_cloudwatch_connector(&app, &key, &[SAMPLE_TOPIC], true).await;
    add_cloudwatch_connector(&app, &key, &[disabled_topic], false).await;
    let genuine = alarm_notification("ALARM", "22222222-0000-4000-8000-000000000001", SAMPLE_TOPIC);

    // A signed field changed after signing.
    let mut tampered: Value = serde_json::from_str(&sns_signed(genuine.clone())).unwrap();
    tampered["Message"] = json!(tampered["Message"].as_str().unwrap().replace("ALARM", "OK"));
    let (status, body) = post_sns(&app, ws, &tampered.to_string()).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_sns_signature")), "{body}");
    let mut retitled: Value = serde_json::from_str(&sns_signed(genuine.clone())).unwrap();
    retitled["Subject"] = json!("OK: nothing to see");
    assert_eq!(post_sns(&app, ws, &retitled.to_string()).await.0, 401, "tampered Subject");
    let mut moved: Value = serde_json::from_str(&sns_signed(genuine.clone())).unwrap();
    moved["TopicArn"] = json!(disabled_topic);
    assert_eq!(post_sns(&app, ws, &moved.to_string()).await.0, 401, "tampered TopicArn");

    // A certificate URL off the SNS hosts is refused before anything is fetched, even when the
    // signature matches the key.
    for url in [
        "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-x.pem",
        "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
        "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-x.pem",
    ] {
        let mut elsewhere = genuine.clone();
        elsewhere["SigningCertURL"] = json!(url);
        let (status, body) = post_sns(&app, ws, &sns_signed(elsewhere)).await;
        assert_eq!(status, 401, "{url}: {body}");
    }

    // Authentic but replayed after SNS could no longer be delivering it (SNS retries an HTTPS
    // endpoint for an hour at most), or dated in the future: refused, whatever the signature.
    for (when, why) in
        [("2025-03-04T10:45:07.560Z", "a captured message replayed later"), ("2099-01-01T00:00:00Z", "future")]
    {
        let (status, body) = post_sns(&app, ws, &sns_signed_at(genuine.clone(), when)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_sns_signature")), "{why}: {body}");
        assert!(body["message"].as_str().unwrap().contains("outside the window"), "{body}");
    }

    // Not JSON, or not an SNS envelope: cannot be authenticated.
    assert_eq!(post_sns(&app, ws, "not json").await.0, 401);
    assert_eq!(post_sns(&app, ws, r#"{"Type": "Notification"}"#).await.0, 401);

    // Authentic, but the topic is not on an enabled connector's allow-list of this workspace.
    let other_topic = alarm_notification(
        "ALARM",
        "22222222-0000-4000-8000-000000000002",
        "arn:aws:sns:eu-west-1:999999999999:theirs",
    );
    let (status, body) = post_sns(&app, ws, &sns_signed(other_topic)).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("topic_not_allowed")), "{body}");
    let paused = alarm_notification("ALARM", "22222222-0000-4000-8000-000000000003", disabled_topic);
    assert_eq!(post_sns(&app, ws, &sns_signed(paused)).await.0, 403, "a disabled connector admits nothing");
    let stranger = app.key(&unique("stranger"), "ingest:write").await;
    assert_eq!(
        post_sns(&app, stranger.workspace_id.as_str(), &sns_signed(genuine.clone())).await.0,
        403,
        "another workspace"
    );

    // Authentic and allowed, but the alarm inside is unreadable: 422 naming the field.
    let mut broken = genuine.clone();
    broken["Message"] = json!(r#"{"NewStateValue": "ALARM"}"#);
    let (status, body) = post_sns(&app, ws, &sns_signed(broken)).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("Message.AlarmName")), "{body}");

    let (_, issues) = app.get("/v1/issues", &app.owner.key).await;
    assert!(issues["data"].as_array().unwrap().is_empty(), "nothing refused was stored: {issues}");
    // The genuine message still goes through.
    assert_eq!(post_sns(&app, ws, &sns_signed(genuine)).await.0, 202);
}

/// A confirmation message for `topic`, as SNS sends it, with a fresh token.
fn confirmation_for(topic: &str, token: &str) -> Value {
    let mut message = sns_sample(SNS_CONFIRMATION);
    message["TopicArn"] = json!(topic);
    message["Token"] = json!(token);
    message["MessageId"] = json!(format!("{:032x}", rand::random::<u128>()));
    message["SubscribeURL"] = json!(format!(
        "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token={token}"
    ));
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_confirmation_calls_confirm_subscription_with_topic_and_token() {
    let recorder = Arc::new(RecordingConfirmer::default());
    let app = spawn_sns_app(Backend::Sqlite, recorder.clone()).await.unwrap();
    let key = app.owner.clone();
    let connector = add_cloudwatch_connector(&app, &key, &[SAMPLE_TOPIC], true).await;

    let (status, body) = post_sns(&app, key.workspace_id.as_str(), &sns_signed(sns_sample(SNS_CONFIRMATION))).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("confirmed")), "{body}");
    let token = sns_sample(SNS_CONFIRMATION)["Token"].as_str().unwrap().to_string();
    assert_eq!(*recorder.calls.lock().unwrap(), vec![(SAMPLE_TOPIC.to_string(), token)]);
    let history = sync_history(&app, &key, &connector).await;
    assert_eq!((history[0].kind.as_str(), history[0].outcome.as_str()), ("sns_confirmation", "success"));

    // A confirmation for a topic the workspace did not list is never confirmed.
    let foreign = confirmation_for("arn:aws:sns:eu-west-1:999999999999:theirs", "t0ken");
    assert_eq!(post_sns(&app, key.workspace_id.as_str(), &sns_signed(foreign)).await.0, 403);
    assert_eq!(recorder.calls.lock().unwrap().len(), 1);

    // UnsubscribeConfirmation is recorded on the connector.
    let mut unsubscribe = confirmation_for(SAMPLE_TOPIC, "unsub-token");
    unsubscribe["Type"] = json!("UnsubscribeConfirmation");
    let (status, body) = post_sns(&app, key.workspace_id.as_str(), &sns_signed(unsubscribe)).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("recorded")), "{body}");
    let kinds: Vec<String> = sync_history(&app, &key, &connector).await.into_iter().map(|r| r.kind).collect();
    assert!(kinds.contains(&"sns_unsubscribe_confirmation".to_string()), "{kinds:?}");
    assert_eq!(recorder.calls.lock().unwrap().len(), 1, "unsubscribing confirms nothing");
}

fn sns_config(endpoint: &str) -> aws_sdk_sns::Config {
    aws_sdk_sns::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sns::config::Credentials::new("test", "test", None, None, "moto"))
        .build()
}

/// The real AWS SDK adapter against moto's SNS: a topic and a pending HTTPS subscription exist
/// in moto, and the confirmation this service receives is confirmed there, in the topic's region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscription_confirmation_against_moto_sns() {
    let Some(endpoint) = moto_endpoint() else { return };
    let confirmer = Arc::new(SdkSubscriptionConfirmer::new(sns_config(&endpoint)));
    let app = spawn_sns_app(Backend::Moto, confirmer).await.expect("moto");
    let key = app.owner.clone();

    let sns = aws_sdk_sns::Client::from_conf(
        sns_config(&endpoint).to_builder().region(aws_sdk_sns::config::Region::new("eu-west-1")).build(),
    );
    let topic = sns.create_topic().name(unique("alarms")).send().await.expect("create topic");
    let topic_arn = topic.topic_arn().unwrap().to_string();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("https")
        .endpoint(app.url(&path(key.workspace_id.as_str(), "cloudwatch")))
        .send()
        .await
        .expect("subscribe");
    let connector = add_cloudwatch_connector(&app, &key, &[&topic_arn], true).await;

    let confirmation = sns_signed(confirmation_for(&topic_arn, &format!("{:064x}", rand::random::<u128>())));
    let (status, body) = post_sns(&app, key.workspace_id.as_str(), &confirmation).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("confirmed")), "{body}");
    assert!(body["subscriptionArn"].as_str().unwrap().starts_with(&format!("{topic_arn}:")), "{body}");
    let history = sync_history(&app, &key, &connector).await;
    assert_eq!((history[0].kind.as_str(), history[0].outcome.as_str()), ("sns_confirmation", "success"));

    // A topic moto does not know is refused by SNS: 502 so that SNS retries, and recorded.
    let missing = format!("arn:aws:sns:eu-west-1:123456789012:{}", unique("gone"));
    let gone_connector = add_cloudwatch_connector(&app, &key, &[&missing], true).await;
    let (status, body) =
        post_sns(&app, key.workspace_id.as_str(), &sns_signed(confirmation_for(&missing, "abc"))).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("subscription_confirmation_failed")), "{body}");
    let failure = &sync_history(&app, &key, &gone_connector).await[0];
    assert_eq!((failure.kind.as_str(), failure.outcome.as_str()), ("sns_confirmation", "failure"));
}

/// Where SNS cannot be reached, the confirmation answers 5xx (SNS retries) and the failure is
/// recorded on the connector.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_sns_answers_502_and_records_the_failure() {
    let unreachable = Arc::new(SdkSubscriptionConfirmer::new(sns_config("http://127.0.0.1:9")));
    let app = spawn_sns_app(Backend::Sqlite, unreachable).await.unwrap();
    let key = app.owner.clone();
    let connector = add_cloudwatch_connector(&app, &key, &[SAMPLE_TOPIC], true).await;
    let confirmation = sns_signed(sns_sample(SNS_CONFIRMATION));
    let (status, body) = post_sns(&app, key.workspace_id.as_str(), &confirmation).await;
    assert_eq!((status, body["error"].as_str()), (502, Some("subscription_confirmation_failed")), "{body}");
    let history: Vec<SyncRecord> = sync_history(&app, &key, &connector).await;
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].kind.as_str(), history[0].outcome.as_str()), ("sns_confirmation", "failure"));
    assert!(history[0].error.as_deref().is_some_and(|e| e.contains("ConfirmSubscription")), "{history:?}");
    assert!(SyncId::parse(&history[0].id).is_some());

    // SNS retries the same message: the same history entry, not a second one.
    assert_eq!(post_sns(&app, key.workspace_id.as_str(), &confirmation).await.0, 502);
    assert_eq!(sync_history(&app, &key, &connector).await.len(), 1);
}

// --- tools that sign with a secret of their own ---------------------------------------------

async fn add_connector_with_webhook_secret(app: &TestApp, key: &CreatedKey, kind: &str, secret: &str) {
    let now = causeloop_storage::clock::now_rfc3339();
    let id = ConnectorId::random(causeloop_storage::clock::now_millis(), rand::random());
    let credentials = json!({"webhook_secret": secret}).as_object().unwrap().clone();
    let secret_box = app.state.settings.secret_box.as_ref().expect("the harness configures a master key");
    let connector = Connector {
        id: id.clone(),
        workspace_id: key.workspace_id.clone(),
        connector_type: kind.into(),
        display_name: kind.into(),
        status: "connected".into(),
        enabled: true,
        config: json!({}),
        sealed_credentials: Some(causeloop_api::secrets::seal_credentials(
            secret_box,
            &key.workspace_id,
            &id,
            &credentials,
        )),
        credential_fields: vec!["webhook_secret".into()],
        inbound_webhook_id: None,
        sync: Default::default(),
        oauth: None,
        created_at: now.clone(),
        updated_at: now,
    };
    app.state.store.insert_connector(&connector).await.expect("insert connector");
}

/// Sentry's Client Secret and PagerDuty's subscription secret cannot be set to our webhook
/// secret: stored as a connector's `webhook_secret` credential, they verify the tool's signature.
async fn provider_secrets_on_connectors_verify_sentry_and_pagerduty(app: TestApp) {
    let key = app.owner.clone();
    let sentry_secret = format!("{:064x}", rand::random::<u128>());
    add_connector_with_webhook_secret(&app, &key, "sentry", &sentry_secret).await;
    let url = path(key.workspace_id.as_str(), "sentry");
    let sentry = |secret: &str| {
        vec![
            ("content-type", "application/json".to_string()),
            ("x-api-key", key.key.clone()),
            ("sentry-hook-resource", "event_alert".to_string()),
            ("sentry-hook-signature", hmac_hex(secret, &[SENTRY_EVENT_ALERT.as_bytes()])),
        ]
    };
    let (status, body) = post_raw(&app, &url, SENTRY_EVENT_ALERT, &sentry(&sentry_secret)).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("triaging")), "{body}");
    assert_eq!(post_raw(&app, &url, SENTRY_EVENT_ALERT, &sentry("not-the-secret")).await.0, 401);
    // The key's webhook secret still verifies (a relay that re-signs).
    assert_eq!(post_raw(&app, &url, SENTRY_EVENT_ALERT, &sentry(&key.webhook_secret)).await.0, 202);

    let pagerduty_secret = format!("{:064x}", rand::random::<u128>());
    add_connector_with_webhook_secret(&app, &key, "pagerduty", &pagerduty_secret).await;
    let url = path(key.workspace_id.as_str(), "pagerduty");
    let pagerduty = |secret: &str| {
        vec![
            ("content-type", "application/json".to_string()),
            ("x-api-key", key.key.clone()),
            ("x-pagerduty-signature", format!("v1={}", hmac_hex(secret, &[PAGERDUTY.as_bytes()]))),
        ]
    };
    let (status, body) = post_raw(&app, &url, PAGERDUTY, &pagerduty(&pagerduty_secret)).await;
    assert_eq!((status, body["status"].as_str()), (202, Some("triaging")), "{body}");
    assert_eq!(post_raw(&app, &url, PAGERDUTY, &pagerduty(&sentry_secret)).await.0, 401, "another tool's secret");
}
both_backends!(provider_secrets, provider_secrets_on_connectors_verify_sentry_and_pagerduty);

/// Azure Monitor and Google Cloud Monitoring cannot send our headers: the key also comes as the
/// password of basic authentication or as `auth_token`, over HTTPS only (what API Gateway and a
/// TLS proxy in front of `causeloop serve` say with X-Forwarded-Proto).
async fn keys_tools_can_send_are_accepted_over_https_only(app: TestApp) {
    use base64::Engine as _;
    let key = app.owner.clone();
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("azure:{}", key.key)));
    let json = ("content-type", "application/json".to_string());
    let https = ("x-forwarded-proto", "https".to_string());
    let azure = path(key.workspace_id.as_str(), "azure");
    let gcp = path(key.workspace_id.as_str(), "gcp");

    let (status, refused) = post_raw(&app, &azure, AZURE, &[json.clone(), ("authorization", basic.clone())]).await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("https_required")), "{refused}");
    let (status, body) = post_raw(&app, &azure, AZURE, &[json.clone(), https.clone(), ("authorization", basic)]).await;
    assert_eq!(status, 202, "{body}");

    let with_token = format!("{gcp}?auth_token={}", key.key);
    let (status, refused) = post_raw(&app, &with_token, GCP, std::slice::from_ref(&json)).await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("https_required")), "{refused}");
    let (status, body) = post_raw(&app, &with_token, GCP, &[json.clone(), https.clone()]).await;
    assert_eq!(status, 202, "{body}");

    // A wrong key in either place is the usual 401.
    let wrong = format!("{gcp}?auth_token=clk_{}", "x".repeat(43));
    assert_eq!(post_raw(&app, &wrong, GCP, &[json.clone(), https.clone()]).await.0, 401);
    let wrong_basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("azure:not-a-key"));
    assert_eq!(post_raw(&app, &azure, AZURE, &[json, https, ("authorization", wrong_basic)]).await.0, 401);
}
both_backends!(keys_in_basic_auth_or_auth_token_over_https_only, keys_tools_can_send_are_accepted_over_https_only);
