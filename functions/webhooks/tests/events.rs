//! The samples in events/webhooks (and the inbound delivery in events/alerts) answer as
//! documented when replayed through the real handlers: steps 1, 3a and 4a of the walkthrough in
//! docs/custom-integration.md, then the Deploy Monitor event signed with the secret step 3a returned.

use causeloop_domain::sealed::SecretBox;
use causeloop_domain::signature::sign_hex;
use function_testkit::{fresh_state, replay_edited, replay_http, sample, SAMPLE_KEY, SIGNATURE_PLACEHOLDER};
use serde_json::Value;
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
        replay_http(causeloop_api::connectors::routes(), state.clone(), &key.key, "connectors/post-connector.json")
            .await;
    assert_eq!(status, 201, "{connector}");
    let connector_id = connector["id"].as_str().unwrap().to_string();
    let with_ids = |text: String| text.replace(SAMPLE_KEY, &key.key).replace(CONNECTOR_PLACEHOLDER, &connector_id);

    let (status, inbound) =
        replay_edited(causeloop_api::webhooks::routes(), state.clone(), "webhooks/post-inbound-webhook.json", with_ids)
            .await;
    assert_eq!((status, inbound["direction"].as_str()), (201, Some("inbound")), "{inbound}");
    let secret = inbound["signing_secret"].as_str().unwrap().to_string();

    let (status, outbound) =
        replay_http(causeloop_api::webhooks::routes(), state.clone(), &key.key, "webhooks/post-outbound-webhook.json")
            .await;
    assert_eq!((status, outbound["direction"].as_str()), (201, Some("outbound")), "{outbound}");

    // The inbound sample, signed over its exact body bytes with the secret step 3a returned.
    let raw: Value = serde_json::from_str(&sample("alerts/inbound-deploy-monitor.json")).unwrap();
    let signature = sign_hex(secret.as_bytes(), raw["body"].as_str().unwrap().as_bytes());
    let signed = |text: String| with_ids(text).replace(SIGNATURE_PLACEHOLDER, &signature);
    let (status, accepted) =
        replay_edited(causeloop_api::inbound::routes(), state.clone(), "alerts/inbound-deploy-monitor.json", signed)
            .await;
    assert_eq!((status, accepted["status"].as_str()), (202, Some("created")), "{accepted}");

    // Unsigned (the placeholder left in), it is refused.
    let (status, refused) =
        replay_edited(causeloop_api::inbound::routes(), state, "alerts/inbound-deploy-monitor.json", with_ids).await;
    assert_eq!((status, refused["error"].as_str()), (401, Some("invalid_signature")));
}
