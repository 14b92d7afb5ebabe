//! `custom`: our own JSON shape, for tools and scripts that can post it (`docs/monitoring-tools.md`).
//!
//! `{"title", "description", "sourceAlertId"?, "severity"?, "service"?, "environment"?,
//! "tags"?: {string: string}, "metadata"?: object}`, signed with `X-Webhook-Signature`.

use crate::hmac_sig::verify_webhook_signature;
use crate::json::{derived_id, parse_object, string_map};
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::{Map, Value};

pub struct Custom;

const SEVERITIES: &[&str] = &["critical", "high", "medium", "low", "info"];

fn optional_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ParseError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned())),
        Some(_) => Err(ParseError::invalid(field, "must be a string")),
    }
}

fn required_string(body: &Map<String, Value>, field: &str) -> Result<String, ParseError> {
    optional_string(body, field)?.ok_or_else(|| ParseError::missing(field))
}

impl Provider for Custom {
    fn name(&self) -> &'static str {
        "custom"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyAndHmac
    }

    fn verify(&self, headers: &Headers, raw_body: &[u8], secret: &[u8], _now_unix: i64) -> Result<(), VerifyError> {
        verify_webhook_signature(headers, raw_body, secret)
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_object(raw_body)?;
        let title = required_string(&body, "title")?;
        let description = required_string(&body, "description")?;
        let severity = optional_string(&body, "severity")?
            .map(|s| s.to_ascii_lowercase())
            .map(|s| {
                if SEVERITIES.contains(&s.as_str()) {
                    Ok(s)
                } else {
                    Err(ParseError::invalid("severity", format!("must be one of {}", SEVERITIES.join(", "))))
                }
            })
            .transpose()?;
        let service = optional_string(&body, "service")?;
        let environment = optional_string(&body, "environment")?;
        let tags = string_map(body.get("tags"), "tags")?;
        match body.get("metadata") {
            None | Some(Value::Null) | Some(Value::Object(_)) => {}
            Some(_) => return Err(ParseError::invalid("metadata", "must be an object")),
        }
        // Without an id from the sender, the same title for the same service and environment is
        // the same alert; the description is left out because senders often put times in it.
        let source_alert_id = match optional_string(&body, "sourceAlertId")? {
            Some(id) => id,
            None => derived_id(&[&title, service.as_deref().unwrap_or(""), environment.as_deref().unwrap_or("")]),
        };

        let mut alert =
            CanonicalAlert::new(title, description, source_alert_id, AlertState::Firing, Value::Object(body));
        alert.severity = severity;
        alert.service = service;
        alert.environment = environment;
        alert.tags = tags;
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::ConflictWhileOpen
    }
}
