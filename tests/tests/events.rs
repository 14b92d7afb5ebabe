//! The sample events of `events/`, replayed through each function's real router or worker
//! exactly as Lambda hands them over (API Gateway HTTP API v2 requests, SQS batches), on a real
//! in-memory store with a real key, so the samples stay true.

use causeloop_api::app::Function;
use causeloop_tests::events::{
    fresh_state, replay_edited, replay_http, replay_text, sample, sqs_sample, SAMPLE_KEY, SIGNATURE_PLACEHOLDER,
    WORKSPACE_PLACEHOLDER,
};
use serde_json::{json, Value};

mod ingest {
    //! The samples in events/ingest answer as documented when replayed through the real handler.
    use super::*;

    #[tokio::test]
    async fn sample_events_reach_the_ingest_routes() {
        let (state, key) = fresh_state().await;
        let (status, body) = replay_http(Function::Ingest, state.clone(), &key.key, "ingest/post-event.json").await;
        assert_eq!((status, body["status"].as_str()), (202, Some("created")), "{body}");
        let (status, body) = replay_http(Function::Ingest, state.clone(), &key.key, "ingest/post-batch.json").await;
        assert_eq!(status, 202, "{body}");
        assert_eq!((body["accepted"].as_u64(), body["rejected"][0]["index"].as_u64()), (Some(1), Some(1)));
        // The sample's job id belongs to no workspace here: the route answers, with a 404.
        let (status, body) = replay_http(Function::Ingest, state, &key.key, "ingest/get-status.json").await;
        assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    }
}

mod issues {
    //! The samples in events/issues answer as documented when replayed through the real handler.
    use super::*;

    #[tokio::test]
    async fn sample_events_reach_the_issues_routes() {
        let (state, key) = fresh_state().await;
        let (status, body) = replay_http(Function::Issues, state.clone(), &key.key, "issues/list-issues.json").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"], serde_json::json!([]));
        let (status, body) =
            replay_http(Function::Issues, state.clone(), &key.key, "issues/get-predictions.json").await;
        assert_eq!((status, body["horizon_days"].as_i64()), (200, Some(30)), "{body}");
        assert_eq!(body["data"], serde_json::json!([]));
        for sample in ["issues/get-issue.json", "issues/patch-issue.json", "issues/get-recommendations.json"] {
            let (status, body) = replay_http(Function::Issues, state.clone(), &key.key, sample).await;
            assert_eq!((status, body["error"].as_str()), (404, Some("not_found")), "{sample}: {body}");
        }
    }
}

mod connectors {
    //! The samples in events/connectors answer as documented when replayed through the real handler.
    use super::*;
    use causeloop_domain::sealed::SecretBox;
    use std::sync::Arc;

    #[tokio::test]
    async fn sample_events_reach_the_connectors_routes() {
        let (mut state, key) = fresh_state().await;
        let mut settings = (*state.settings).clone();
        settings.secret_box = Some(SecretBox::new([7; 32]));
        state.settings = Arc::new(settings);

        let (status, body) =
            replay_http(Function::Connectors, state.clone(), &key.key, "connectors/get-catalog.json").await;
        assert_eq!(status, 200, "{body}");
        assert!(body["data"].as_array().unwrap().iter().any(|entry| entry["type"] == "custom_api"));

        let (status, body) = replay_http(Function::Connectors, state, &key.key, "connectors/post-connector.json").await;
        assert_eq!(
            (status, body["status"].as_str(), body["type"].as_str()),
            (201, Some("connected"), Some("custom_api")),
            "{body}"
        );
    }
}

mod webhooks {
    //! The samples in events/webhooks (and the inbound delivery in events/alerts) answer as
    //! documented when replayed through the real handlers: steps 1, 3a and 4a of the walkthrough in
    //! docs/custom-integration.md, then the Deploy Monitor event signed with the secret step 3a
    //! returned.
    use super::*;
    use causeloop_domain::sealed::SecretBox;
    use causeloop_domain::signature::sign_hex;
    use std::sync::Arc;

    /// The placeholder the samples carry for a connector id only known at run time.
    const CONNECTOR_PLACEHOLDER: &str = "con_REPLACE_WITH_A_CONNECTOR_ID";

    #[tokio::test]
    async fn sample_events_follow_the_walkthrough() {
        let (mut state, key) = fresh_state().await;
        let mut settings = (*state.settings).clone();
        settings.secret_box = Some(SecretBox::new([7; 32]));
        state.settings = Arc::new(settings);

        let (status, connector) =
            replay_http(Function::Connectors, state.clone(), &key.key, "connectors/post-connector.json").await;
        assert_eq!(status, 201, "{connector}");
        let connector_id = connector["id"].as_str().unwrap().to_string();
        let with_ids = |text: String| text.replace(SAMPLE_KEY, &key.key).replace(CONNECTOR_PLACEHOLDER, &connector_id);

        let (status, inbound) =
            replay_edited(Function::Webhooks, state.clone(), "webhooks/post-inbound-webhook.json", with_ids).await;
        assert_eq!((status, inbound["direction"].as_str()), (201, Some("inbound")), "{inbound}");
        let secret = inbound["signing_secret"].as_str().unwrap().to_string();

        let (status, outbound) =
            replay_http(Function::Webhooks, state.clone(), &key.key, "webhooks/post-outbound-webhook.json").await;
        assert_eq!((status, outbound["direction"].as_str()), (201, Some("outbound")), "{outbound}");

        // The inbound sample, signed over its exact body bytes with the secret step 3a returned.
        let raw: Value = serde_json::from_str(&sample("alerts/inbound-deploy-monitor.json")).unwrap();
        let signature = sign_hex(secret.as_bytes(), raw["body"].as_str().unwrap().as_bytes());
        let signed = |text: String| with_ids(text).replace(SIGNATURE_PLACEHOLDER, &signature);
        let (status, accepted) =
            replay_edited(Function::Alerts, state.clone(), "alerts/inbound-deploy-monitor.json", signed).await;
        assert_eq!((status, accepted["status"].as_str()), (202, Some("created")), "{accepted}");

        // Unsigned (the placeholder left in), it is refused.
        let (status, refused) =
            replay_edited(Function::Alerts, state, "alerts/inbound-deploy-monitor.json", with_ids).await;
        assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_signature")));
    }
}

mod alerts {
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
    use super::*;
    use base64::Engine;
    use causeloop_domain::sealed::SecretBox;
    use causeloop_domain::signature::sign_hex;
    use rsa::pkcs1v15::SigningKey;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    use std::sync::Arc;

    const SNS_KEY: &str = include_str!("../../shared/providers/tests/fixtures/sns-signing-key.pem");
    const SNS_CERT: &[u8] = include_bytes!("../../shared/providers/tests/fixtures/sns-signing-cert.pem");

    #[tokio::test]
    async fn the_custom_sample_opens_an_issue_once_and_then_is_a_duplicate() {
        let (state, key) = fresh_state().await;
        let event: Value = serde_json::from_str(&sample("alerts/apigw-custom.json")).unwrap();
        let signature = sign_hex(key.webhook_secret.as_bytes(), event["body"].as_str().unwrap().as_bytes());
        let filled =
            |text: String| text.replace(SAMPLE_KEY, &key.key).replace(WORKSPACE_PLACEHOLDER, key.workspace_id.as_str());
        let signed = |text: String| filled(text).replace(SIGNATURE_PLACEHOLDER, &signature);

        let (status, refused) =
            replay_edited(Function::Alerts, state.clone(), "alerts/apigw-custom.json", filled).await;
        assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_signature")), "{refused}");

        let (status, created) =
            replay_edited(Function::Alerts, state.clone(), "alerts/apigw-custom.json", signed).await;
        assert_eq!((status, created["status"].as_str()), (202, Some("triaging")), "{created}");
        assert!(created["incidentId"].as_str().is_some_and(|id| id.starts_with("iss_")), "{created}");

        let (status, duplicate) = replay_edited(Function::Alerts, state, "alerts/apigw-custom.json", signed).await;
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
            // Sent now: SNS delivers a message for an hour at most, so the sample's own time is stale.
            message["Timestamp"] = json!(causeloop_storage::clock::now_rfc3339());
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

        let (status, refused) = replay_text(Function::Alerts, state.clone(), &cloudwatch_event(workspace, false)).await;
        assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_sns_signature")), "{refused}");

        let signed = cloudwatch_event(workspace, true);
        let (status, refused) = replay_text(Function::Alerts, state.clone(), &signed).await;
        assert_eq!((status, refused["error"].as_str()), (403, Some("topic_not_allowed")), "{refused}");

        // The documented step (docs/monitoring-tools.md): a cloudwatch connector listing the topic,
        // through the connectors sample.
        let connector = json!({"type": "cloudwatch", "display_name": "Alarms", "config": {"topic_arns": [topic]}});
        let (status, created) =
            replay_edited(Function::Connectors, state.clone(), "connectors/post-connector.json", |text| {
                let mut event: Value = serde_json::from_str(&text.replace(SAMPLE_KEY, &key.key)).unwrap();
                event["body"] = json!(connector.to_string());
                event.to_string()
            })
            .await;
        assert_eq!((status, created["type"].as_str()), (201, Some("cloudwatch")), "{created}");

        let (status, opened) = replay_text(Function::Alerts, state.clone(), &signed).await;
        assert_eq!((status, opened["status"].as_str()), (202, Some("triaging")), "{opened}");
        assert!(opened["incidentId"].as_str().is_some_and(|id| id.starts_with("iss_")), "{opened}");

        let (status, retried) = replay_text(Function::Alerts, state, &signed).await;
        assert_eq!((status, &retried["incidentId"]), (202, &opened["incidentId"]), "{retried}");
    }
}

mod cluster {
    //! The SQS sample in events/cluster is accepted by the worker's Lambda adapter and answered with
    //! a partial batch failure response of the shape Lambda expects.
    use super::*;

    #[tokio::test]
    async fn the_sample_sqs_batch_gets_a_partial_batch_response() {
        let (state, _) = fresh_state().await;
        let event = sqs_sample("cluster/sqs-batch.json");
        let ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();
        assert_eq!(ids.len(), 2);
        let response = causeloop_api::lambda::cluster_batch(&state, event).await;
        for failure in &response.batch_item_failures {
            assert!(ids.contains(&failure.item_identifier), "failures name messages of the batch");
        }
        let json = serde_json::to_value(&response).unwrap();
        assert!(json.get("batchItemFailures").is_some_and(|v| v.is_array()), "{json}");
    }
}

mod deliver {
    //! The SQS sample in events/deliver (an event to fan out, a delivery task, and a message no
    //! worker can read) goes through the worker's Lambda adapter: the first two are handled, the
    //! third is reported as a batch item failure, so SQS retries only it and then dead-letters it.
    use super::*;
    use causeloop_api::outbound::OutboundClient;
    use causeloop_api::workers::deliver::DeliverWorker;

    #[tokio::test]
    async fn the_sample_batch_fails_only_its_unreadable_message() {
        let (state, _) = fresh_state().await;
        let worker = DeliverWorker::new(state, OutboundClient::new(false).unwrap());
        let event = sqs_sample("deliver/sqs-batch.json");
        let ids: Vec<String> = event.records.iter().filter_map(|r| r.message_id.clone()).collect();
        assert_eq!(ids.len(), 3);
        let response = causeloop_api::lambda::deliver_batch(&worker, event).await;
        let failed: Vec<&str> = response.batch_item_failures.iter().map(|f| f.item_identifier.as_str()).collect();
        assert_eq!(failed, [ids[2].as_str()]);
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], ids[2].as_str());
    }
}

mod sync {
    //! The samples in events/sync: a sync step through the worker's Lambda adapter (its connector
    //! is unknown here, so the step ends without failing the message), and the scheduler's tick.
    use super::*;
    use causeloop_api::workers::sync::SyncWorker;

    #[tokio::test]
    async fn the_sample_step_and_tick_are_handled() {
        let (state, _) = fresh_state().await;
        let worker = SyncWorker::new(state.clone());
        let batch: Value = serde_json::from_str(&causeloop_tests::events::sample("sync/sqs-batch.json")).unwrap();
        let response = causeloop_api::lambda::sync_event(&state, &worker, batch).await.unwrap();
        assert_eq!(response, json!({"batchItemFailures": []}));
        let tick: Value = serde_json::from_str(&causeloop_tests::events::sample("sync/schedule.json")).unwrap();
        let report = causeloop_api::lambda::sync_event(&state, &worker, tick).await.unwrap();
        assert_eq!(report, json!({"started": 0, "requeued": 0}));
    }
}

mod keys {
    //! The sample in events/keys answers as documented when replayed through the real handler.
    use super::*;

    #[tokio::test]
    async fn sample_event_reaches_the_keys_routes() {
        let (state, key) = fresh_state().await;
        let (status, body) = replay_http(Function::Keys, state, &key.key, "keys/get-me.json").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["id"], key.key_id.as_str());
        assert!(body["grants"].as_array().unwrap().contains(&json!("keys:admin")), "{body}");
    }
}

mod console {
    //! The sample in events/console reaches the console's page, which needs no key.
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn sample_event_reaches_the_console() {
        let (state, _) = fresh_state().await;
        let request = lambda_http::request::from_str(&sample("console/get-index.json")).expect("an API Gateway event");
        let router = causeloop_api::app::serve(Function::Console.families(), state);
        let response = router.oneshot(request).await.expect("router is infallible");
        assert_eq!(response.status().as_u16(), 200);
        let csp = response.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.starts_with("default-src 'self'; script-src 'self';"), "{csp}");
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
        assert!(String::from_utf8_lossy(&bytes).contains("/console/app.js"));
    }
}
