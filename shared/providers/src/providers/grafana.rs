//! `grafana`: Grafana unified alerting webhook contact point (payload version "1").
//!
//! Signed when the contact point's HMAC settings are filled in: the signature header carries the
//! hex HMAC-SHA256 of the body, or of `"{timestamp}:{body}"` when a timestamp header is
//! configured too. Customers set the header to `X-Grafana-Alerting-Signature` and the timestamp
//! header to `X-Grafana-Alerting-Timestamp`; Grafana's own default signature header,
//! `X-Grafana-Alert-Signature`, is accepted as well.

use super::prometheus_style::{parse_group, truncated_alerts};
use crate::hmac_sig::{require_secret, verify_hex_hmac_sha256};
use crate::{AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};

pub struct Grafana;

pub const SIGNATURE_HEADER: &str = "X-Grafana-Alerting-Signature";
const GRAFANA_DEFAULT_SIGNATURE_HEADER: &str = "X-Grafana-Alert-Signature";
pub const TIMESTAMP_HEADER: &str = "X-Grafana-Alerting-Timestamp";
/// How far a signed timestamp may be from our clock, in either direction.
pub const MAX_TIMESTAMP_SKEW_SECS: i64 = 300;

impl Provider for Grafana {
    fn name(&self) -> &'static str {
        "grafana"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyAndOwnSignature
    }

    fn verify(&self, headers: &Headers, raw_body: &[u8], secret: &[u8], now_unix: i64) -> Result<(), VerifyError> {
        require_secret(secret)?;
        let (header, presented) = [SIGNATURE_HEADER, GRAFANA_DEFAULT_SIGNATURE_HEADER]
            .into_iter()
            .find_map(|h| headers.get_nonblank(h).map(|v| (h, v)))
            .ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
        match headers.get(TIMESTAMP_HEADER) {
            None => verify_hex_hmac_sha256(secret, &[raw_body], presented, header),
            Some(timestamp) => {
                let timestamp = timestamp.trim();
                let seconds: i64 =
                    timestamp.parse().map_err(|_| VerifyError::BadTimestamp { header: TIMESTAMP_HEADER })?;
                // The MAC is checked first so that an unauthenticated caller learns nothing
                // about our clock from the error.
                verify_hex_hmac_sha256(secret, &[timestamp.as_bytes(), b":", raw_body], presented, header)?;
                if now_unix.abs_diff(seconds) > MAX_TIMESTAMP_SKEW_SECS.unsigned_abs() {
                    return Err(VerifyError::StaleTimestamp {
                        timestamp: seconds,
                        now: now_unix,
                        max_skew_secs: MAX_TIMESTAMP_SKEW_SECS,
                    });
                }
                Ok(())
            }
        }
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        parse_group(raw_body)
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }

    fn truncated_alerts(&self, raw_body: &[u8]) -> Option<u64> {
        truncated_alerts(raw_body)
    }
}
