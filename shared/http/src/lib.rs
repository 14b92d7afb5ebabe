//! The HTTP plumbing shared by every route family and by both hosts (Lambda via `lambda_http`,
//! and `causeloop serve`): errors as JSON, API-key auth, request ids, one log line per request,
//! JSON bodies with named limits, and pagination. What the application is made of (its state,
//! configuration and assembly) lives in `causeloop_api`.
//!
//! Architecture invariant: nothing here knows Lambda event types; `functions/*` adapt Lambda to
//! the `axum::Router` this crate finishes with [`app`].

pub mod auth;
pub mod body;
pub mod error;
pub mod pagination;
pub mod request_log;

pub use auth::Principal;
pub use error::ApiError;

use axum::routing::get;
use axum::{Json, Router};

/// Finishes a router: adds `/health`, JSON 404/405 answers, the request-id and log layer, and
/// the state. Both hosts serve exactly this.
pub fn app<S: Clone + Send + Sync + 'static>(routes: Router<S>, state: S) -> Router {
    routes
        .route("/health", get(|| async { Json(serde_json::json!({"status": "ok"})) }))
        .fallback(|| async { ApiError::not_found("route") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(axum::extract::DefaultBodyLimit::max(body::MAX_REQUEST_BODY_BYTES))
        .layer(axum::middleware::from_fn(body::refuse_oversized_bodies))
        .layer(axum::middleware::from_fn(request_log::log_request))
        .with_state(state)
}
