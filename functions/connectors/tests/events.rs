//! The samples in events/connectors answer as documented when replayed through the real handler.

use causeloop_domain::sealed::SecretBox;
use function_testkit::{fresh_state, replay_http};
use std::sync::Arc;

#[tokio::test]
async fn sample_events_reach_the_connectors_routes() {
    let (mut state, key) = fresh_state().await;
    let mut settings = (*state.settings).clone();
    settings.secret_box = Some(SecretBox::new([7; 32]));
    state.settings = Arc::new(settings);
    let routes = causeloop_api::connectors::routes;

    let (status, body) = replay_http(routes(), state.clone(), &key.key, "connectors/get-catalog.json").await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"].as_array().unwrap().iter().any(|entry| entry["type"] == "custom_api"));

    let (status, body) = replay_http(routes(), state, &key.key, "connectors/post-connector.json").await;
    assert_eq!(
        (status, body["status"].as_str(), body["type"].as_str()),
        (201, Some("connected"), Some("custom_api")),
        "{body}"
    );
}
