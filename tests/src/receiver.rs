//! A real webhook receiver for delivery tests: an HTTP server on 127.0.0.1 that records every
//! request byte for byte and answers from a script — fail, throttle with `Retry-After`, stall —
//! then 200 once the script runs out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// 429 with this `Retry-After` value.
    Throttle(String),
    /// Holds the request this long before answering 200.
    Stall(Duration),
    /// A status with a body (for the excerpt).
    Body(u16, String),
}

#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ReceivedRequest {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<ReceivedRequest>>,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = Router::new().fallback(receive).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hooks/causeloop", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });
        Self { url, shared }
    }

    /// Replies for the next requests, in order; afterwards every request gets 200.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.script.lock().unwrap().extend(replies);
    }

    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }
}

async fn receive(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    shared.requests.lock().unwrap().push(ReceivedRequest { headers, body });
    let reply = shared.script.lock().unwrap().pop_front();
    match reply {
        None => (StatusCode::OK, "ok").into_response(),
        Some(Reply::Status(code)) => StatusCode::from_u16(code).expect("status").into_response(),
        Some(Reply::Body(code, body)) => (StatusCode::from_u16(code).expect("status"), body).into_response(),
        Some(Reply::Throttle(after)) => {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", after)], "slow down").into_response()
        }
        Some(Reply::Stall(duration)) => {
            tokio::time::sleep(duration).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}
