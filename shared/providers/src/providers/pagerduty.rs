//! `pagerduty`: PagerDuty V3 webhook subscriptions.
//!
//! Every delivery is one event, `{"event": {"event_type", "resource_type", "occurred_at",
//! "data": <incident>}}`, signed in `X-PagerDuty-Signature` as `v1=<hex HMAC-SHA256 of the
//! body>` with the subscription's secret; while a secret rotates several comma-separated `v1=`
//! values arrive and any may match.

use crate::hmac_sig::{decode_hex_mac, hmac_sha256, require_secret};
use crate::json::{first_scalar, parse_body, required_scalar, scalar, scalar_at};
use crate::time_fmt::normalize;
use crate::{
    AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, SigningSecret, VerifyError,
};
use subtle::ConstantTimeEq;

pub struct PagerDuty;

pub const SIGNATURE_HEADER: &str = "X-PagerDuty-Signature";

impl Provider for PagerDuty {
    fn name(&self) -> &'static str {
        "pagerduty"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyAndOwnSignature
    }

    fn verify(&self, headers: &Headers, raw_body: &[u8], secret: &[u8], _now_unix: i64) -> Result<(), VerifyError> {
        require_secret(secret)?;
        let header = headers.get_nonblank(SIGNATURE_HEADER).ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
        let expected = hmac_sha256(secret, &[raw_body]);
        let mut first_error = None;
        let mut matched = subtle::Choice::from(0);
        for candidate in header.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let Some(hex) = candidate.strip_prefix("v1=") else {
                first_error.get_or_insert(VerifyError::BadFormat { header: SIGNATURE_HEADER });
                continue;
            };
            match decode_hex_mac(hex, SIGNATURE_HEADER) {
                Ok(presented) => matched |= expected.ct_eq(&presented),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if bool::from(matched) {
            Ok(())
        } else {
            Err(first_error.unwrap_or(VerifyError::Mismatch))
        }
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_body(raw_body)?;
        let event = body.get("event").ok_or_else(|| ParseError::missing("event"))?;
        let event_type = required_scalar(event, "event_type").map_err(|_| ParseError::missing("event.event_type"))?;
        let state = match event_type.as_str() {
            "incident.triggered" | "incident.reopened" | "incident.unacknowledged" => AlertState::Firing,
            "incident.resolved" => AlertState::Resolved,
            "incident.acknowledged" => AlertState::Other("acknowledged".into()),
            // Annotations, reassignments, pings and the like change no alert state.
            _ => return Ok(vec![]),
        };
        let incident = event.get("data").ok_or_else(|| ParseError::missing("event.data"))?;
        let id = required_scalar(incident, "id").map_err(|_| ParseError::missing("event.data.id"))?;
        let title =
            first_scalar(incident, &["title", "summary"]).ok_or_else(|| ParseError::missing("event.data.title"))?;
        let mut alert = CanonicalAlert::new(title.clone(), title, id, state, incident.clone());
        alert.severity = first_scalar(incident, &["priority/summary", "urgency"]);
        alert.service = scalar_at(incident, "service/summary");
        alert.started_at = scalar(incident.get("created_at")).and_then(|t| normalize(&t));
        if alert.state == AlertState::Resolved {
            alert.ended_at = scalar(event.get("occurred_at")).and_then(|t| normalize(&t));
        }
        alert.url = scalar(incident.get("html_url"));
        for (tag, path) in [("urgency", "urgency"), ("incident_number", "number"), ("incident_key", "incident_key")] {
            if let Some(value) = scalar_at(incident, path) {
                alert.tags.insert(tag.into(), value);
            }
        }
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }

    fn signing_secret(&self) -> SigningSecret {
        SigningSecret::ToolIssued
    }
}
