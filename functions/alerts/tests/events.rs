//! The API Gateway (HTTP API v2) samples of events/alerts replayed through the alerts function's
//! real router, on a real in-memory store with a real key:
//! - `apigw-custom.json`: a `custom` alert, signed with the key's webhook secret, is
//!   accepted (202), then refused as a duplicate while its Issue is open (409); unsigned, 401;
//! - `apigw-cloudwatch-alarm.json`: a CloudWatch alarm as an SNS HTTPS subscription delivers it.
//!   The sample's placeholder signature is refused (401). Signed with the test key of
//!   shared/providers/tests/fixtures, whose certificate is pinned for the sample's
//!   `SigningCertURL` (nothing is fetched), it is refused while no cloudwatch connector of the
//!   workspace lists the topic (403), then opens an Issue (202); SNS's retry of the same message
//!   answers the same Issue.

use base64::Engine;
use causeloop_domain::sealed::SecretBox;
use causeloop_domain::signature::sign_hex;
use function_testkit::{
    fresh_state, replay_edited, replay_text, sample, SAMPLE_KEY, SIGNATURE_PLACEHOLDER, WORKSPACE_PLACEHOLDER,
};
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{json, Value};
use std::sync::Arc;

const SNS_KEY: &str = include_str!("../../../shared/providers/tests/fixtures/sns-signing-key.pem");
const SNS_CERT: &[u8] = include_bytes!("../../../shared/providers/tests/fixtures/sns-signing-cert.pem");

#[tokio::test]
async fn the_custom_sample_opens_an_issue_once_and_then_is_a_duplicate() {
    let (state, key) = fresh_state().await;
    let event: Value = serde_json::from_str(&sample("alerts/apigw-custom.json")).unwrap();
    let signature = sign_hex(key.webhook_secret.as_bytes(), event["body"].as_str().unwrap().as_bytes());
    let filled =
        |text: String| text.replace(SAMPLE_KEY, &key.key).replace(WORKSPACE_PLACEHOLDER, key.workspace_id.as_str());
    let signed = |text: String| filled(text).replace(SIGNATURE_PLACEHOLDER, &signature);

    let (status, refused) = replay_edited(alerts::routes(), state.clone(), "alerts/apigw-custom.json", filled).await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_signature")), "{refused}");

    let (status, created) = replay_edited(alerts::routes(), state.clone(), "alerts/apigw-custom.json", signed).await;
    assert_eq!((status, created["status"].as_str()), (202, Some("triaging")), "{created}");
    assert!(created["incidentId"].as_str().is_some_and(|id| id.starts_with("iss_")), "{created}");

    let (status, duplicate) = replay_edited(alerts::routes(), state, "alerts/apigw-custom.json", signed).await;
    assert_eq!((status, duplicate["error"].as_str()), (409, Some("duplicate_alert")), "{duplicate}");
    assert_eq!(duplicate["incidentId"], created["incidentId"]);
}

/// The string SNS signs for a Notification (AWS: "Verifying the signatures of Amazon SNS
/// messages"), built here independently of the code under test.
fn notification_string_to_sign(message: &Value) -> String {
    let mut text = String::new();
    for field in ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"] {
        if let Some(value) = message[field].as_str() {
            text.push_str(&format!("{field}\n{value}\n"));
        }
    }
    text
}

/// The sample event with its workspace filled in and, if `sign`, its SNS message re-signed with
/// the fixture key (SignatureVersion 1: SHA1withRSA).
fn cloudwatch_event(workspace: &str, sign: bool) -> String {
    let text = sample("alerts/apigw-cloudwatch-alarm.json").replace(WORKSPACE_PLACEHOLDER, workspace);
    let mut event: Value = serde_json::from_str(&text).unwrap();
    if sign {
        let mut message: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
        assert_eq!(message["SignatureVersion"], "1");
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(SNS_KEY).unwrap();
        let signature = SigningKey::<sha1::Sha1>::new(key).sign(notification_string_to_sign(&message).as_bytes());
        message["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature.to_vec()));
        let body = serde_json::to_string_pretty(&message).unwrap();
        event["headers"]["content-length"] = json!(body.len().to_string());
        event["body"] = json!(body);
    }
    event.to_string()
}

#[tokio::test]
async fn the_cloudwatch_sample_needs_a_valid_sns_signature_and_an_allowed_topic() {
    let (mut state, key) = fresh_state().await;
    let event: Value = serde_json::from_str(&sample("alerts/apigw-cloudwatch-alarm.json")).unwrap();
    let message: Value = serde_json::from_str(event["body"].as_str().unwrap()).unwrap();
    let (cert_url, topic) = (message["SigningCertURL"].as_str().unwrap(), message["TopicArn"].as_str().unwrap());
    let mut settings = (*state.settings).clone();
    settings.trusted_sns_certs.insert(cert_url.to_string(), SNS_CERT.to_vec());
    settings.secret_box = Some(SecretBox::new([7; 32]));
    state.settings = Arc::new(settings);
    let workspace = key.workspace_id.as_str();

    let (status, refused) = replay_text(alerts::routes(), state.clone(), &cloudwatch_event(workspace, false)).await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_sns_signature")), "{refused}");

    let signed = cloudwatch_event(workspace, true);
    let (status, refused) = replay_text(alerts::routes(), state.clone(), &signed).await;
    assert_eq!((status, refused["error"].as_str()), (403, Some("topic_not_allowed")), "{refused}");

    // The documented step (docs/monitoring-tools.md): a cloudwatch connector listing the topic,
    // through the connectors sample.
    let connector = json!({"type": "cloudwatch", "display_name": "Alarms", "config": {"topic_arns": [topic]}});
    let (status, created) =
        replay_edited(causeloop_api::connectors::routes(), state.clone(), "connectors/post-connector.json", |text| {
            let mut event: Value = serde_json::from_str(&text.replace(SAMPLE_KEY, &key.key)).unwrap();
            event["body"] = json!(connector.to_string());
            event.to_string()
        })
        .await;
    assert_eq!((status, created["type"].as_str()), (201, Some("cloudwatch")), "{created}");

    let (status, opened) = replay_text(alerts::routes(), state.clone(), &signed).await;
    assert_eq!((status, opened["status"].as_str()), (202, Some("triaging")), "{opened}");
    assert!(opened["incidentId"].as_str().is_some_and(|id| id.starts_with("iss_")), "{opened}");

    let (status, retried) = replay_text(alerts::routes(), state, &signed).await;
    assert_eq!((status, &retried["incidentId"]), (202, &opened["incidentId"]), "{retried}");
}
