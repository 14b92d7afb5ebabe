//! Replays the sample events of `events/` through the real handlers, so the samples stay true
//! and each function is shown to answer its real event shape. Dev-only.

use aws_lambda_events::event::sqs::SqsEvent;
use axum::Router;
use causeloop_api::provisioning::{create_key, CreatedKey};
use causeloop_domain::ScopeSet;
use causeloop_http::{AppState, Settings};
use causeloop_storage::sqlite::SqliteStore;
use serde_json::Value;
use std::sync::Arc;
use tower::ServiceExt;

/// The key placeholder the sample events carry in their Authorization header.
pub const SAMPLE_KEY: &str = "clk_REPLACE_WITH_A_KEY_FROM_causeloop_keys_create_xxxxx";

pub fn sample(relative: &str) -> String {
    let path = format!("{}/../../events/{relative}", env!("CARGO_MANIFEST_DIR"));
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
/// key, and sends it through `router` finished by `causeloop_http::app`.
pub async fn replay_http(routes: Router<AppState>, state: AppState, key: &str, relative: &str) -> (u16, Value) {
    let text = sample(relative).replace(SAMPLE_KEY, key);
    let request = lambda_http::request::from_str(&text).expect("sample is an API Gateway event");
    let response = causeloop_http::app(routes, state).oneshot(request).await.expect("router is infallible");
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

pub fn sqs_sample(relative: &str) -> SqsEvent {
    serde_json::from_str(&sample(relative)).expect("sample is an SQS event")
}
