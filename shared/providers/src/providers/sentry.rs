//! `sentry`: Sentry integration-platform webhooks and the legacy Webhooks plugin.
//!
//! Integration-platform requests carry `Sentry-Hook-Resource` and `Sentry-Hook-Signature`, the
//! hex HMAC-SHA256 of the body with the integration's Client Secret (so the secret configured
//! for this provider must be that Client Secret). Resources read:
//! - `event_alert` (issue alert rule fired): firing, keyed by the issue id;
//! - `metric_alert` with action `critical` / `warning` / `resolved`, keyed by the incident id;
//! - `issue` with action `created` / `unresolved` (firing), `resolved`, `ignored`/`archived`;
//! - anything else (`installation`, `comment`, `error`, issue `assigned`) carries no alert.
//!
//! The legacy plugin cannot sign; it is accepted only through a relay that adds
//! `X-Webhook-Signature`.

use crate::hmac_sig::{require_secret, verify_hex_hmac_sha256, WEBHOOK_SIGNATURE_HEADER};
use crate::json::{first_scalar, parse_body, required_scalar, scalar, scalar_at};
use crate::time_fmt::normalize;
use crate::{
    AlertState, AuthRequirement, CanonicalAlert, Headers, ParseError, Provider, Resend, SigningSecret, VerifyError,
};
use serde_json::Value;
use std::collections::BTreeMap;

pub struct Sentry;

pub const SIGNATURE_HEADER: &str = "Sentry-Hook-Signature";
pub const RESOURCE_HEADER: &str = "Sentry-Hook-Resource";

/// Sentry event tags are `[["key", "value"], ...]`; some payloads use `{"key": k, "value": v}`.
fn event_tags(event: &Value) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    if let Some(Value::Array(items)) = event.get("tags") {
        for item in items {
            let pair = match item {
                Value::Array(pair) if pair.len() == 2 => (scalar(pair.first()), scalar(pair.get(1))),
                Value::Object(_) => (scalar(item.get("key")), scalar(item.get("value"))),
                _ => continue,
            };
            if let (Some(k), Some(v)) = pair {
                tags.insert(k, v);
            }
        }
    }
    tags
}

fn issue_key(id: String) -> String {
    format!("issue:{id}")
}

fn from_event(event: &Value, rule: Option<String>, raw: &Value) -> Result<CanonicalAlert, ParseError> {
    let issue_id = first_scalar(event, &["issue_id", "groupID", "group_id"])
        .ok_or_else(|| ParseError::missing("data.event.issue_id"))?;
    let title = first_scalar(event, &["title", "message", "metadata/value"])
        .ok_or_else(|| ParseError::missing("data.event.title"))?;
    let detail = first_scalar(event, &["metadata/value", "message", "culprit"]);
    let description = match (rule, detail) {
        (Some(rule), Some(detail)) => format!("{rule}: {detail}"),
        (Some(rule), None) => rule,
        (None, Some(detail)) => detail,
        (None, None) => title.clone(),
    };
    let tags = event_tags(event);
    let mut alert = CanonicalAlert::new(title, description, issue_key(issue_id), AlertState::Firing, raw.clone());
    alert.severity = scalar(event.get("level")).or_else(|| tags.get("level").cloned());
    alert.environment = scalar(event.get("environment")).or_else(|| tags.get("environment").cloned());
    alert.service = tags.get("service").cloned();
    alert.started_at = scalar(event.get("datetime")).and_then(|t| normalize(&t));
    alert.url = first_scalar(event, &["web_url", "issue_url", "url"]);
    alert.tags = tags;
    Ok(alert)
}

fn event_alert(body: &Value) -> Result<Vec<CanonicalAlert>, ParseError> {
    let event = body.pointer("/data/event").ok_or_else(|| ParseError::missing("data.event"))?;
    let rule = first_scalar(body, &["data/triggered_rule", "data/issue_alert/title"]);
    let mut alert = from_event(event, rule.clone(), body)?;
    if let Some(rule) = rule {
        alert.tags.insert("sentry_rule".into(), rule);
    }
    Ok(vec![alert])
}

fn metric_alert(body: &Value) -> Result<Vec<CanonicalAlert>, ParseError> {
    let action = required_scalar(body, "action")?.to_ascii_lowercase();
    let incident = body.pointer("/data/metric_alert").ok_or_else(|| ParseError::missing("data.metric_alert"))?;
    let incident_id = required_scalar(incident, "id").map_err(|_| ParseError::missing("data.metric_alert.id"))?;
    let title = first_scalar(body, &["data/description_title", "data/metric_alert/title"])
        .or_else(|| scalar_at(incident, "alert_rule/name"))
        .ok_or_else(|| ParseError::missing("data.description_title"))?;
    let description = scalar_at(body, "data/description_text").unwrap_or_else(|| title.clone());
    let (state, severity) = match action.as_str() {
        "critical" | "warning" => (AlertState::Firing, Some(action.clone())),
        "resolved" => (AlertState::Resolved, None),
        other => (AlertState::Other(other.to_owned()), None),
    };
    let mut alert = CanonicalAlert::new(title, description, format!("metric_alert:{incident_id}"), state, body.clone());
    alert.severity = severity;
    alert.environment = scalar_at(incident, "alert_rule/environment");
    alert.service = incident
        .pointer("/alert_rule/projects")
        .or_else(|| incident.get("projects"))
        .and_then(|projects| scalar(projects.get(0)));
    alert.started_at = first_scalar(incident, &["date_started", "date_detected"]).and_then(|t| normalize(&t));
    if alert.state == AlertState::Resolved {
        alert.ended_at = scalar(incident.get("date_closed")).and_then(|t| normalize(&t));
    }
    alert.url = scalar_at(body, "data/web_url");
    if let Some(rule) = scalar_at(incident, "alert_rule/name") {
        alert.tags.insert("sentry_rule".into(), rule);
    }
    Ok(vec![alert])
}

fn issue(body: &Value) -> Result<Vec<CanonicalAlert>, ParseError> {
    let action = required_scalar(body, "action")?.to_ascii_lowercase();
    let state = match action.as_str() {
        "created" | "unresolved" => AlertState::Firing,
        "resolved" => AlertState::Resolved,
        "ignored" | "archived" => AlertState::Other(action.clone()),
        _ => return Ok(vec![]),
    };
    let issue = body.pointer("/data/issue").ok_or_else(|| ParseError::missing("data.issue"))?;
    let id = required_scalar(issue, "id").map_err(|_| ParseError::missing("data.issue.id"))?;
    let title = required_scalar(issue, "title").map_err(|_| ParseError::missing("data.issue.title"))?;
    let description = first_scalar(issue, &["metadata/value", "culprit"]).unwrap_or_else(|| title.clone());
    let mut alert = CanonicalAlert::new(title, description, issue_key(id), state, body.clone());
    alert.severity = scalar(issue.get("level"));
    alert.service = first_scalar(issue, &["project/slug", "project/name"]);
    alert.started_at = scalar(issue.get("firstSeen")).and_then(|t| normalize(&t));
    if alert.state == AlertState::Resolved {
        alert.ended_at = scalar(issue.get("lastSeen")).and_then(|t| normalize(&t));
    }
    alert.url = first_scalar(issue, &["web_url", "permalink", "url"]);
    if let Some(short_id) = scalar(issue.get("shortId")) {
        alert.tags.insert("sentry_short_id".into(), short_id);
    }
    Ok(vec![alert])
}

/// The legacy Webhooks plugin: `{id, project, project_name, culprit, message, url, level,
/// event: {...}}`, where `id` is the issue (group) id.
fn legacy_plugin(body: &Value) -> Result<Vec<CanonicalAlert>, ParseError> {
    let id = required_scalar(body, "id")?;
    let event = body.get("event").cloned().unwrap_or(Value::Null);
    let title = first_scalar(&event, &["title", "message"])
        .or_else(|| first_scalar(body, &["message", "culprit"]))
        .ok_or_else(|| ParseError::missing("message"))?;
    let description = match (scalar(body.get("culprit")), scalar(body.get("message"))) {
        (Some(culprit), Some(message)) if message != title => format!("{message} ({culprit})"),
        (Some(culprit), _) => culprit,
        (None, Some(message)) => message,
        (None, None) => title.clone(),
    };
    let tags = event_tags(&event);
    let mut alert = CanonicalAlert::new(title, description, issue_key(id), AlertState::Firing, body.clone());
    alert.severity = scalar(body.get("level")).or_else(|| scalar(event.get("level")));
    alert.service = first_scalar(body, &["project_slug", "project"]);
    alert.environment = scalar(event.get("environment")).or_else(|| tags.get("environment").cloned());
    alert.started_at = first_scalar(&event, &["datetime", "timestamp"])
        .and_then(|t| normalize(&t))
        .or_else(|| scalar(body.get("datetime")).and_then(|t| normalize(&t)));
    alert.url = scalar(body.get("url"));
    alert.tags = tags;
    Ok(vec![alert])
}

impl Provider for Sentry {
    fn name(&self) -> &'static str {
        "sentry"
    }

    fn auth(&self) -> AuthRequirement {
        AuthRequirement::ApiKeyAndOwnSignature
    }

    fn verify(&self, headers: &Headers, raw_body: &[u8], secret: &[u8], _now_unix: i64) -> Result<(), VerifyError> {
        require_secret(secret)?;
        let (header, presented) = [SIGNATURE_HEADER, WEBHOOK_SIGNATURE_HEADER]
            .into_iter()
            .find_map(|h| headers.get_nonblank(h).map(|v| (h, v)))
            .ok_or(VerifyError::MissingHeader(SIGNATURE_HEADER))?;
        verify_hex_hmac_sha256(secret, &[raw_body], presented, header)
    }

    fn parse(&self, headers: &Headers, raw_body: &[u8]) -> Result<Vec<CanonicalAlert>, ParseError> {
        let body = parse_body(raw_body)?;
        if !body.is_object() {
            return Err(ParseError::InvalidJson("expected a JSON object".into()));
        }
        let resource = headers.get_nonblank(RESOURCE_HEADER).map(str::to_ascii_lowercase).or_else(|| {
            // Without the header, recognise integration-platform bodies by their data.
            let data = body.get("data")?;
            ["event", "metric_alert", "issue"].into_iter().find(|k| data.get(*k).is_some()).map(|k| match k {
                "event" => "event_alert".to_owned(),
                other => other.to_owned(),
            })
        });
        match resource.as_deref() {
            Some("event_alert") => event_alert(&body),
            Some("metric_alert") => metric_alert(&body),
            Some("issue") => issue(&body),
            Some(_) => Ok(vec![]),
            None => legacy_plugin(&body),
        }
    }

    fn resend_semantics(&self) -> Resend {
        Resend::AcceptAsDuplicate
    }

    fn signing_secret(&self) -> SigningSecret {
        SigningSecret::ToolIssued
    }
}
