//! Replays the sample events of `events/` through each function's real router or worker, as
//! Lambda hands them over, so the samples stay true and each function is shown to answer its
//! real event shape.

use aws_lambda_events::event::sqs::SqsEvent;
use causeloop_api::app::Function;
use causeloop_api::provisioning::{create_key, CreatedKey};
use causeloop_api::state::{AppState, Settings};
use causeloop_domain::ScopeSet;
use causeloop_storage::sqlite::SqliteStore;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// The key placeholder the sample events carry in their Authorization header.
pub const SAMPLE_KEY: &str = "clk_REPLACE_WITH_A_KEY_FROM_causeloop_keys_create_xxxxx";
/// The workspace id placeholder of the provider webhook samples' paths.
pub const WORKSPACE_PLACEHOLDER: &str = "ws_REPLACE_WITH_A_WORKSPACE_ID";
/// The placeholder of the samples' HMAC signature headers.
pub const SIGNATURE_PLACEHOLDER: &str = "REPLACE_WITH_THE_HEX_HMAC_SHA256_OF_THE_BODY";

pub fn sample(relative: &str) -> String {
    let path = format!("{}/../events/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// A state on a fresh in-memory store with an all-scope key.
pub async fn fresh_state() -> (AppState, CreatedKey) {
    let store = SqliteStore::in_memory().expect("sqlite");
    let state = AppState::new(Arc::new(store.clone()), Arc::new(store), Settings::default());
    let key = create_key(&state.store, "samples", ScopeSet::all()).await.expect("key");
    (state, key)
}

/// Parses an API Gateway HTTP API (v2) sample as `lambda_http` does in Lambda, swaps in a real
/// key, and sends it through `function`'s router.
pub async fn replay_http(function: Function, state: AppState, key: &str, relative: &str) -> (u16, Value) {
    replay_edited(function, state, relative, |text| text.replace(SAMPLE_KEY, key)).await
}

/// Like [`replay_http`], with the sample's text passed through `edit` first (to fill in
/// placeholders known only at run time).
pub async fn replay_edited(
    function: Function,
    state: AppState,
    relative: &str,
    edit: impl FnOnce(String) -> String,
) -> (u16, Value) {
    replay_text(function, state, &edit(sample(relative))).await
}

/// Parses `event` (API Gateway HTTP API v2 JSON) as `lambda_http` does in Lambda and sends it
/// through `function`'s router, as its Lambda serves it.
pub async fn replay_text(function: Function, state: AppState, event: &str) -> (u16, Value) {
    let request = lambda_http::request::from_str(event).expect("sample is an API Gateway event");
    let router = causeloop_api::app::serve(function.families(), state);
    let response = router.oneshot(request).await.expect("router is infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub fn sqs_sample(relative: &str) -> SqsEvent {
    serde_json::from_str(&sample(relative)).expect("sample is an SQS event")
}
