//! API errors: `{"error": "<code>", "message": "<sentence>", ...}` with a fitting status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use causeloop_domain::validation::FieldError;
use causeloop_domain::Scope;
use causeloop_storage::StoreError;
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub extra: Map<String, Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: Map::new() }
    }

    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: send `Authorization: Bearer <key>`",
        )
    }

    pub fn missing_scope(scope: Scope) -> Self {
        Self::new(StatusCode::FORBIDDEN, "insufficient_scope", format!("this route needs the `{scope}` scope"))
            .with("required_scope", scope.as_str())
    }

    /// Unknown and foreign ids answer identically, so ids of other workspaces cannot be probed.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
    }

    pub fn method_not_allowed() -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not accept that method")
    }

    pub fn field(error: FieldError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error.error, error.message).with("field", error.field)
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "the request failed on our side; it is safe to retry",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::InvalidCursor => {
                ApiError::bad_request("invalid_cursor", "`cursor` is not valid for this list").with("field", "cursor")
            }
            StoreError::Throttled => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "throttled", "the store is busy; retry with backoff")
            }
            StoreError::Contended => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "contended",
                "the record is being changed by many requests at once; retry with backoff",
            ),
            StoreError::ConditionFailed => {
                ApiError::new(StatusCode::CONFLICT, "conflict", "the record changed concurrently; retry the request")
            }
            other => {
                tracing::error!(error = %other, "storage failure");
                ApiError::internal()
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("error".into(), json!(self.code));
        body.insert("message".into(), json!(self.message));
        // An error that names when to come back says it in the standard header too.
        let retry_after = self.extra.get("retry_after_seconds").and_then(Value::as_u64);
        body.extend(self.extra);
        let mut response = (self.status, Json(Value::Object(body))).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}
