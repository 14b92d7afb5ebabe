//! The HTTP layer shared by every route family and by both hosts (Lambda via `lambda_http`, and
//! `causeloop serve`): errors as JSON, API-key auth, request ids, one log line per request, JSON
//! bodies with named limits, and pagination.
//!
//! Architecture invariant: nothing here knows Lambda event types; `functions/*` adapt Lambda to
//! the `axum::Router` this crate finishes with [`app`].

pub mod auth;
#[cfg(feature = "aws")]
pub mod aws;
pub mod body;
pub mod error;
pub mod pagination;
pub mod request_log;
pub mod sns;
pub mod state;
pub mod telemetry;

pub use auth::Principal;
pub use error::ApiError;
pub use state::{AppState, Settings};

use axum::routing::get;
use axum::{Json, Router};

/// Finishes a router: adds `/health`, JSON 404/405 answers, the request-id and log layer, and
/// the state. Both hosts serve exactly this.
pub fn app(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .route("/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state)
}

/// Now, as the RFC 3339 string every stored timestamp uses.
pub fn now_rfc3339() -> String {
    causeloop_domain::time_fmt::format_rfc3339(time::OffsetDateTime::now_utc())
}

pub fn now_millis() -> u64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as u64
}
