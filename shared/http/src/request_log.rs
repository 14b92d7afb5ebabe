//! Request ids and the one structured log line per request: request id, workspace, route,
//! status, latency. Headers and bodies are never logged, so no key or secret can leak here.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Filled by authentication so the log line can name the workspace.
#[derive(Clone, Default)]
pub struct RequestWorkspace(Arc<Mutex<Option<String>>>);

impl RequestWorkspace {
    pub fn set(&self, workspace: &str) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(workspace.to_string());
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|slot| slot.clone())
    }
}

/// The request's id, for handlers that record it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Accepts a caller's id only if it is short and plain, so it cannot forge log structure.
fn usable_request_id(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    (!text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)))
        .then(|| text.to_string())
}

pub async fn log_request(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(usable_request_id)
        .unwrap_or_else(|| format!("req_{:032x}", rand::random::<u128>()));
    let workspace = RequestWorkspace::default();
    request.extensions_mut().insert(workspace.clone());
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string());

    let mut response = next.run(request).await;

    let route = route
        .or_else(|| response.extensions().get::<MatchedPath>().map(|path| path.as_str().to_string()))
        .unwrap_or_else(|| "unmatched".to_string());
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::info!(
        request_id = %request_id,
        workspace = workspace.get().as_deref().unwrap_or("-"),
        method = %method,
        route = %route,
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
