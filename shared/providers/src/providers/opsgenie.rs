//! `opsgenie`: Opsgenie's outgoing Webhook integration (alert action data).
//!
//! `{"action": "Create"|"Close"|"Acknowledge"|..., "alert": {"alertId", "message", "tags",
//! "priority", "entity", "alias", "createdAt", ...}, "source", "integrationName"}`. Opsgenie
//! cannot sign; the workspace API key goes in the integration's custom headers.

use crate::json::{parse_body, required_scalar, scalar};
use crate::time_fmt::from_unix_millis;
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::Value;

pub struct Opsgenie;

impl Provider for Opsgenie {
    fn name(&self) -> &'static str {
        "opsgenie"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyOnly
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_body(raw_body)?;
        let action = required_scalar(&body, "action")?;
        let state = match action.to_ascii_lowercase().as_str() {
            "create" | "unacknowledge" => AlertState::Firing,
            "close" => AlertState::Resolved,
            "acknowledge" => AlertState::Other("acknowledged".into()),
            "delete" => AlertState::Other("deleted".into()),
            // Notes, tags, escalations, assignments: no state change.
            _ => return Ok(vec![]),
        };
        let alert_body = body.get("alert").ok_or_else(|| ParseError::missing("alert"))?;
        let id = required_scalar(alert_body, "alertId").map_err(|_| ParseError::missing("alert.alertId"))?;
        let title = required_scalar(alert_body, "message").map_err(|_| ParseError::missing("alert.message"))?;
        let description = scalar(alert_body.get("description")).unwrap_or_else(|| title.clone());
        let mut alert = CanonicalAlert::new(title, description, id, state, alert_body.clone());
        alert.severity = scalar(alert_body.get("priority"));
        if let Some(Value::Array(tags)) = alert_body.get("tags") {
            for tag in tags.iter().filter_map(|t| scalar(Some(t))) {
                match tag.split_once(':') {
                    Some((k, v)) => alert.tags.insert(k.trim().into(), v.trim().into()),
                    None => alert.tags.insert(tag, String::new()),
                };
            }
        }
        for key in ["entity", "alias", "tinyId", "source"] {
            if let Some(value) = scalar(alert_body.get(key)) {
                alert.tags.insert(format!("opsgenie_{key}"), value);
            }
        }
        alert.service =
            alert.tags.get("service").filter(|s| !s.is_empty()).cloned().or_else(|| scalar(alert_body.get("entity")));
        alert.environment =
            ["env", "environment"].iter().find_map(|k| alert.tags.get(*k).filter(|s| !s.is_empty()).cloned());
        let created_at = alert_body.get("createdAt").and_then(Value::as_i64).and_then(from_unix_millis);
        alert.started_at = created_at;
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }
}
