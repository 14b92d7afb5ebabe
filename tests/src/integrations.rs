//! Helpers for the connector, webhook and inbound-receiver tests: the walkthrough's setup steps
//! (docs/custom-integration.md) and
//! raw requests whose exact bytes and headers the test controls.

use crate::TestApp;
use causeloop_api::state::{AppState, Settings};
use serde_json::{json, Value};
use std::sync::Arc;

/// The answer to a request: status and raw body bytes (for byte-for-byte comparisons).
pub struct RawAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

impl TestApp {
    pub async fn patch(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let response = self.http.patch(self.url(path)).bearer_auth(key).json(body).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn delete(&self, path: &str, key: &str) -> (u16, Value) {
        let response = self.http.delete(self.url(path)).bearer_auth(key).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs `body` exactly as given to the inbound receiver, with `signature` if any.
    pub async fn post_inbound(&self, connector_id: &str, body: &[u8], signature: Option<&str>) -> RawAnswer {
        let mut request = self
            .http
            .post(self.url(&format!("/v1/webhooks/inbound/{connector_id}")))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(signature) = signature {
            request = request.header("x-causeloop-signature", signature);
        }
        let response = request.send().await.expect("request");
        RawAnswer { status: response.status().as_u16(), body: response.bytes().await.expect("body").to_vec() }
    }

    /// Walkthrough step 1: a `custom_api` connector; returns its JSON.
    pub async fn create_custom_connector(&self, key: &str, name: &str) -> Value {
        let (status, body) = self
            .post("/v1/connectors", key, &json!({"type": "custom_api", "display_name": name, "credentials": {}}))
            .await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// Walkthrough step 3a: the inbound registration for `connector_id`; returns the answer with its secret.
    pub async fn enable_inbound(&self, key: &str, connector_id: &str) -> Value {
        let registration = json!({
            "url": format!("https://api.causeloop.ai/v1/webhooks/inbound/{connector_id}"),
            "connector_id": connector_id,
            "description": "Deploy Monitor real-time events",
        });
        let (status, body) = self.post("/v1/webhooks", key, &registration).await;
        assert_eq!(status, 201, "{body}");
        body
    }

    /// The same store and queues served with other settings (e.g. private targets refused), on
    /// another port. Returns its base URL.
    pub async fn serve_with(&self, settings: Settings) -> String {
        let mut state: AppState = self.state.clone();
        state.settings = Arc::new(settings);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let app = causeloop_api::app::serve(causeloop_api::app::Families::ALL, state);
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        base
    }
}

/// Lowercase hex HMAC-SHA256 of `body` keyed by the whole secret string, as the walkthrough signs
/// (the inbound tests also sign with Node's and Python's own HMAC implementations).
pub fn sign(secret: &str, body: &[u8]) -> String {
    causeloop_domain::signature::sign_hex(secret.as_bytes(), body)
}
