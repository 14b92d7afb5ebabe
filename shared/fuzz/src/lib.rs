//! What the fuzz targets share: how one fuzz input is split into a request's parts, and the
//! provider harness every `provider_*` target runs.
//!
//! # Input format
//! An input is a request body, optionally preceded by a *context* part and a NUL byte:
//! `CONTEXT \0 BODY`, split at the last NUL byte. Without one the whole input is the body, so
//! every seed that is a plain sample body (`events/alerts/*.json`) is a valid input as it is.
//! What the context holds depends on the target: request headers for the providers, a signing
//! certificate for SNS (DER holds NUL bytes, hence the last one), the connector config for the
//! inbound mapping. JSON text never holds a raw NUL byte (strings write it as `\u0000`), so the
//! split loses no body the parsers could accept.

use causeloop_providers::{AuthRequirement, Headers, Provider, MAX_ALERTS_PER_NOTIFICATION};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The secret every provider target verifies with; `{hmac}` in a header is signed with it.
pub const SECRET: &[u8] = b"fuzz-webhook-secret";
/// The clock every target passes as "now": 2026-01-01T00:00:00Z, the time the seed corpus'
/// signed timestamps are near.
pub const NOW_UNIX: i64 = 1_767_225_600;
/// Header values equal to this (after trimming) are replaced by the hex HMAC-SHA256 of the signed
/// bytes with [`SECRET`], and `v1={hmac}` (PagerDuty's form) likewise: a fuzzer cannot forge a
/// MAC, and without one the code that runs after a matching signature would never be reached.
pub const HMAC_PLACEHOLDER: &str = "{hmac}";

/// Splits `CONTEXT \0 BODY` at the last NUL byte; `None` when the input has none (all of it is
/// the body).
pub fn split_context(data: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match data.iter().rposition(|&b| b == 0) {
        Some(nul) => (Some(&data[..nul]), &data[nul + 1..]),
        None => (None, data),
    }
}

/// Reads `Name: value` lines (as HTTP sends them; lines without a colon are skipped) into
/// [`Headers`], replacing [`HMAC_PLACEHOLDER`] with the MAC of `signed`.
pub fn headers_from(context: &[u8], signed: &[u8]) -> Headers {
    let text = String::from_utf8_lossy(context);
    let mut mac = None;
    let mut headers = Headers::new();
    for line in text.lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let value = if value.contains(HMAC_PLACEHOLDER) {
            let mac = mac.get_or_insert_with(|| hmac_hex(signed));
            value.replace(HMAC_PLACEHOLDER, mac)
        } else {
            value.to_owned()
        };
        headers.insert(name.trim(), &value);
    }
    headers
}

fn hmac_hex(message: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET).expect("HMAC takes any key length");
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The bytes a provider signs, given the request's context part and body: the body itself for
/// every tool but Grafana with a timestamp header (see `provider_grafana`).
pub type SignedBytes = fn(context: &[u8], body: &[u8]) -> Vec<u8>;

/// The body, as most tools sign it.
pub fn signs_body(_context: &[u8], body: &[u8]) -> Vec<u8> {
    body.to_vec()
}

/// One webhook request to `provider`, the way the HTTP layer handles it: signature check, then
/// parsing, then the truncation count. Asserts only what the crate documents:
/// - nothing panics (the harness' job is to let libFuzzer see it);
/// - a notification yields at most [`MAX_ALERTS_PER_NOTIFICATION`] alerts (each becomes an
///   Issue write within the request);
/// - verification fails closed on an empty secret for every provider that checks a signature.
pub fn provider_webhook(provider: &dyn Provider, data: &[u8], signed_bytes: SignedBytes) {
    let (context, body) = split_context(data);
    let headers = context.map(|context| headers_from(context, &signed_bytes(context, body))).unwrap_or_default();

    let verified = provider.verify(&headers, body, SECRET, NOW_UNIX);
    // Error messages end up in responses and logs; formatting them must not panic either.
    if let Err(error) = &verified {
        let _ = error.to_string();
    }
    if matches!(provider.auth(), AuthRequirement::ApiKeyAndHmac | AuthRequirement::ApiKeyAndOwnSignature) {
        assert!(
            provider.verify(&headers, body, b"", NOW_UNIX).is_err(),
            "{}: an empty secret must never verify",
            provider.name()
        );
    }

    match provider.parse(&headers, body) {
        Ok(alerts) => {
            assert!(
                alerts.len() <= MAX_ALERTS_PER_NOTIFICATION,
                "{}: {} alerts from one notification",
                provider.name(),
                alerts.len()
            );
        }
        Err(error) => {
            let _ = (error.to_string(), error.field());
        }
    }
    let _ = provider.truncated_alerts(body);
}
