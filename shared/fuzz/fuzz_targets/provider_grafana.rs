//! `POST /v1/webhooks/{workspaceId}/grafana`: Grafana unified-alerting contact points
//! (payload version 1), signed over the body or over `"{timestamp}:{body}"`.
//! Input: `[headers \0] body` (see `causeloop_fuzz`); the provider's verify, parse and
//! truncation count all run on it.
#![no_main]

use causeloop_fuzz::{headers_from, provider_webhook};
use causeloop_providers::Grafana;
use libfuzzer_sys::fuzz_target;

/// Grafana's timestamp header as the provider reads it (its constant is not exported).
const TIMESTAMP_HEADER: &str = "X-Grafana-Alerting-Timestamp";

/// With a timestamp header Grafana signs `"{timestamp}:{body}"`, so that `{hmac}` still matches
/// and the clock-skew check behind the MAC is reached.
fn grafana_signs(context: &[u8], body: &[u8]) -> Vec<u8> {
    match headers_from(context, b"").get(TIMESTAMP_HEADER) {
        Some(timestamp) => [timestamp.trim().as_bytes(), b":", body].concat(),
        None => body.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| provider_webhook(&Grafana, data, grafana_signs));
