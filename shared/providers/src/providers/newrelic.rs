//! `newrelic`: New Relic workflow webhook destinations with the default payload template
//! (`id`, `issueUrl`, `title`, `priority`, `state`, `createdAt`, `updatedAt`, `sources`,
//! `alertPolicyNames`, `alertConditionNames`, `impactedEntities`, ...). New Relic cannot sign;
//! the workspace API key goes in the destination's custom headers.

use crate::json::{parse_body, required_scalar, scalar};
use crate::time_fmt::from_unix_millis;
use crate::{AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, VerifyError};
use serde_json::Value;

pub struct NewRelic;

fn first_of_list(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Array(items) => items.iter().find_map(|item| scalar(Some(item))),
        other => scalar(Some(other)),
    }
}

fn joined_list(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(|i| scalar(Some(i))).collect();
            (!parts.is_empty()).then(|| parts.join(","))
        }
        other => scalar(Some(other)),
    }
}

impl Provider for NewRelic {
    fn name(&self) -> &'static str {
        "newrelic"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyOnly
    }

    fn verify(&self, _: &Headers, _: &[u8], _: &[u8], _: i64) -> Result<(), VerifyError> {
        Ok(())
    }

    fn parse(&self, _headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_body(raw_body)?;
        let id = required_scalar(&body, "id")?;
        let title = first_of_list(body.get("title"))
            .or_else(|| first_of_list(body.get("alertConditionNames")))
            .ok_or_else(|| ParseError::missing("title"))?;
        let state_word = required_scalar(&body, "state")?;
        let state = match state_word.to_ascii_uppercase().as_str() {
            "CREATED" | "ACTIVATED" => AlertState::Firing,
            "CLOSED" => AlertState::Resolved,
            _ => AlertState::Other(state_word.to_ascii_lowercase()),
        };
        let description = first_of_list(body.get("description"))
            .or_else(|| first_of_list(body.get("alertConditionNames")))
            .unwrap_or_else(|| title.clone());
        let mut alert = CanonicalAlert::new(title, description, id, state, body.clone());
        alert.severity = scalar(body.get("priority"));
        alert.service = first_of_list(body.get("impactedEntities"));
        for (tag, key) in [
            ("alert_policies", "alertPolicyNames"),
            ("alert_conditions", "alertConditionNames"),
            ("sources", "sources"),
            ("workflow", "workflowName"),
        ] {
            if let Some(value) = joined_list(body.get(key)) {
                alert.tags.insert(tag.into(), value);
            }
        }
        let millis = |key: &str| body.get(key).and_then(Value::as_i64).and_then(from_unix_millis);
        alert.started_at = millis("createdAt");
        if alert.state == AlertState::Resolved {
            alert.ended_at = millis("updatedAt");
        }
        alert.url = scalar(body.get("issueUrl"));
        Ok(vec![alert])
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }
}
