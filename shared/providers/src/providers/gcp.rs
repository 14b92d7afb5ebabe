//! `gcp`: Google Cloud Monitoring webhook notification channels (schema version "1.2":
//! `{"version", "incident": {"incident_id", "policy_name", "condition_name", "summary", "state":
//! "open"|"closed", "started_at", "ended_at", "url", "resource", "metric", "severity", ...}}`).
//! The channel cannot sign; it authenticates with the API key as the basic-auth password.

use crate::json::{first_scalar, parse_body, required_scalar, scalar, scalar_at, string_map};
use crate::time_fmt::from_unix_seconds;
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::Value;

pub struct GoogleCloudMonitoring;

impl Provider for GoogleCloudMonitoring {
    fn name(&self) -> &'static str {
        "gcp"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyOnly
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_body(raw_body)?;
        let incident = body.get("incident").ok_or_else(|| ParseError::missing("incident"))?;
        let id = required_scalar(incident, "incident_id").map_err(|_| ParseError::missing("incident.incident_id"))?;
        let title = first_scalar(incident, &["policy_name", "condition_name", "summary"])
            .ok_or_else(|| ParseError::missing("incident.policy_name"))?;
        let state_word = required_scalar(incident, "state").map_err(|_| ParseError::missing("incident.state"))?;
        let state = match state_word.to_ascii_lowercase().as_str() {
            "open" => AlertState::Firing,
            "closed" => AlertState::Resolved,
            other => AlertState::Other(other.to_owned()),
        };
        let description =
            first_scalar(incident, &["summary", "documentation/content"]).unwrap_or_else(|| title.clone());
        let mut alert = CanonicalAlert::new(title, description, id, state, incident.clone());
        alert.severity = scalar(incident.get("severity")).filter(|s| !s.eq_ignore_ascii_case("no severity"));
        let mut tags =
            string_map(incident.get("policy_user_labels").filter(|v| v.is_object()), "incident.policy_user_labels")
                .unwrap_or_default();
        if let Ok(resource_labels) = string_map(incident.pointer("/resource/labels"), "labels") {
            for (k, v) in resource_labels {
                tags.insert(format!("resource.{k}"), v);
            }
        }
        for (tag, path) in [
            ("resource_type", "resource/type"),
            ("metric_type", "metric/type"),
            ("condition", "condition_name"),
            ("project_id", "scoping_project_id"),
        ] {
            if let Some(value) = scalar_at(incident, path) {
                tags.insert(tag.into(), value);
            }
        }
        alert.service = tags
            .get("service")
            .cloned()
            .or_else(|| scalar(incident.get("resource_display_name")))
            .or_else(|| scalar(incident.get("resource_name")));
        alert.environment = ["environment", "env"].iter().find_map(|k| tags.get(*k).cloned());
        alert.tags = tags;
        let seconds = |key: &str| incident.get(key).and_then(Value::as_i64).and_then(from_unix_seconds);
        alert.started_at = seconds("started_at");
        if alert.state == AlertState::Resolved {
            alert.ended_at = seconds("ended_at");
        }
        alert.url = scalar(incident.get("url"));
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }
}
