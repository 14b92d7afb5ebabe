//! A provider's [`CanonicalAlert`] as the ingest record the rest of the system already knows, so
//! provider webhooks share deduplication, idempotency and limits with `POST /v1/ingest/events`.
//!
//! | record field | from the alert |
//! |---|---|
//! | `source` | the provider name (`alertmanager`, `cloudwatch`, ...) |
//! | `external_id` | `source_alert_id` (hashed when longer than the 256-character limit) |
//! | `title`, `body` | `title`, `description`, cut to their limits rather than refused |
//! | `severity` | the provider's word through the domain table ([`severity_of`]) |
//! | `service`, `environment`, `team` | the alert's, `team` from a `team` tag |
//! | `external_url` | `url`, when it is an http(s) URL within the limit |
//! | `source_created_at` | `started_at` |
//! | `status` | `resolved` for a resolved alert, otherwise unset (so a repeat reopens) |
//! | `connector_id` | the connector that admitted it (CloudWatch topic allow-list) |
//! | `metadata` | `{"provider", "alert_state", "ended_at"?, "provider_severity"?, "tags", "payload"}` |
//!
//! A monitoring tool's alert is never refused for being large: the payload is dropped from
//! metadata when it exceeds the metadata limits, and text fields are cut.

use causeloop_domain::ids::derived_body;
use causeloop_domain::ingest::{normalize_record, NormalizedRecord};
use causeloop_domain::limits::{
    MAX_BODY_BYTES, MAX_EXTERNAL_ID_CHARS, MAX_SHORT_FIELD_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS,
};
use causeloop_domain::validation::FieldError;
use causeloop_domain::{ConnectorId, Severity};
use causeloop_providers::{AlertState, CanonicalAlert};
use serde_json::{json, Map, Value};

/// The p-level for a provider's severity word. Unknown words give `None`: a new Issue then
/// starts at the default `p3` and a repeat keeps the stored level, instead of a tool's alert
/// being refused for a word we do not know. The original word is kept in metadata.
///
/// Azure Monitor counts from `Sev0` (critical) to `Sev4` (verbose), one step off the generic
/// `SEV1` = most severe convention of the domain table, so its words are read on its own scale.
pub fn severity_of(provider: &str, word: &str) -> Option<Severity> {
    if provider == "azure" {
        let level = word.trim().to_ascii_lowercase();
        return match level.as_str() {
            "sev0" => Some(Severity::P1),
            "sev1" => Some(Severity::P2),
            "sev2" => Some(Severity::P3),
            "sev3" => Some(Severity::P4),
            "sev4" => Some(Severity::P5),
            _ => Severity::from_word(word),
        };
    }
    Severity::from_word(word)
}

/// The alert state in one word, as kept in metadata and reported back.
pub fn state_word(state: &AlertState) -> String {
    match state {
        AlertState::Firing => "firing".to_string(),
        AlertState::Resolved => "resolved".to_string(),
        AlertState::Other(word) => word.clone(),
    }
}

fn cut_chars(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((end, _)) => text[..end].to_string(),
        None => text.to_string(),
    }
}

fn cut_bytes(text: &str, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text.to_string();
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn nonblank(text: &str) -> Option<&str> {
    let text = text.trim();
    (!text.is_empty()).then_some(text)
}

/// The deduplication id within the limit: ids longer than it are replaced by a stable digest.
pub fn external_id_of(alert: &CanonicalAlert) -> String {
    let id = alert.source_alert_id.trim();
    if !id.is_empty() && id.chars().count() <= MAX_EXTERNAL_ID_CHARS {
        id.to_string()
    } else {
        format!("digest:{}", derived_body("causeloop/alert-id/v1", &[id]))
    }
}

/// Builds the ingest record for `alert` from `provider` and validates it like the ingestion API.
pub fn to_record(
    provider: &str,
    alert: &CanonicalAlert,
    connector: Option<&ConnectorId>,
) -> Result<NormalizedRecord, FieldError> {
    let mut record = Map::new();
    record.insert("source".into(), json!(provider));
    record.insert("external_id".into(), json!(external_id_of(alert)));
    let title = nonblank(&alert.title).map(|t| cut_chars(t, MAX_TITLE_CHARS)).unwrap_or_else(|| {
        // Providers always name an alert; a blank title still must not lose the alert.
        format!("{provider} alert {}", alert.source_alert_id)
    });
    record.insert("title".into(), json!(cut_chars(&title, MAX_TITLE_CHARS)));
    if let Some(body) = nonblank(&alert.description) {
        record.insert("body".into(), json!(cut_bytes(body, MAX_BODY_BYTES)));
    }
    if let Some(severity) = alert.severity.as_deref().and_then(|word| severity_of(provider, word)) {
        record.insert("severity".into(), json!(severity.as_str()));
    }
    if alert.state == AlertState::Resolved {
        record.insert("status".into(), json!("resolved"));
    }
    let short = |value: Option<&str>| value.and_then(nonblank).map(|v| cut_chars(v, MAX_SHORT_FIELD_CHARS));
    if let Some(service) = short(alert.service.as_deref()) {
        record.insert("service".into(), json!(service));
    }
    if let Some(environment) = short(alert.environment.as_deref()) {
        record.insert("environment".into(), json!(environment));
    }
    if let Some(team) = short(alert.tags.get("team").map(String::as_str)) {
        record.insert("team".into(), json!(team));
    }
    if let Some(url) = alert.url.as_deref().and_then(nonblank) {
        if (url.starts_with("https://") || url.starts_with("http://")) && url.chars().count() <= MAX_URL_CHARS {
            record.insert("external_url".into(), json!(url));
        }
    }
    if let Some(started) = alert.started_at.as_deref() {
        record.insert("source_created_at".into(), json!(started));
    }
    if let Some(connector) = connector {
        record.insert("connector_id".into(), json!(connector.as_str()));
    }

    let mut metadata = Map::new();
    metadata.insert("provider".into(), json!(provider));
    metadata.insert("alert_state".into(), json!(state_word(&alert.state)));
    if let Some(ended) = &alert.ended_at {
        metadata.insert("ended_at".into(), json!(ended));
    }
    if let Some(word) = &alert.severity {
        metadata.insert("provider_severity".into(), json!(word));
    }
    if !alert.tags.is_empty() {
        metadata.insert("tags".into(), json!(alert.tags));
    }
    let mut with_payload = metadata.clone();
    with_payload.insert("payload".into(), alert.raw.clone());

    record.insert("metadata".into(), Value::Object(with_payload));
    match normalize_record(&Value::Object(record.clone())) {
        Err(error) if error.field == "metadata" => {
            // Too large or too deep with the payload (Sentry events easily are): keep the rest.
            metadata.insert("payload_omitted".into(), json!(error.error));
            record.insert("metadata".into(), Value::Object(metadata.clone()));
            match normalize_record(&Value::Object(record.clone())) {
                Err(error) if error.field == "metadata" => {
                    // Even the tags are over the limit: keep only what identifies the alert.
                    metadata.remove("tags");
                    metadata.insert("tags_omitted".into(), json!(true));
                    record.insert("metadata".into(), Value::Object(metadata));
                    normalize_record(&Value::Object(record))
                }
                other => other,
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use causeloop_domain::IssueStatus;
    use std::collections::BTreeMap;

    fn alert(state: AlertState) -> CanonicalAlert {
        CanonicalAlert {
            title: "High error rate".into(),
            description: "5xx above 5%".into(),
            severity: Some("warning".into()),
            service: Some("checkout".into()),
            environment: Some("production".into()),
            tags: BTreeMap::from([("team".into(), "payments".into()), ("region".into(), "eu".into())]),
            source_alert_id: "fp-1".into(),
            state,
            started_at: Some("2025-03-04T10:45:07.514Z".into()),
            ended_at: None,
            url: Some("https://grafana.example/alert/1".into()),
            raw: json!({"labels": {"alertname": "HighErrorRate"}}),
        }
    }

    #[test]
    fn maps_every_field() {
        let record = to_record("grafana", &alert(AlertState::Firing), None).unwrap();
        assert_eq!(record.source, "grafana");
        assert_eq!(record.external_id, "fp-1");
        assert_eq!(record.body.as_deref(), Some("5xx above 5%"));
        assert_eq!(record.severity, Some(Severity::P3));
        assert_eq!(record.status, None, "a firing alert leaves the status to the Issue rules");
        assert_eq!(record.team.as_deref(), Some("payments"));
        assert_eq!(record.external_url.as_deref(), Some("https://grafana.example/alert/1"));
        assert_eq!(record.source_created_at.as_deref(), Some("2025-03-04T10:45:07.514Z"));
        assert_eq!(record.metadata["provider_severity"], "warning");
        assert_eq!(record.metadata["tags"]["region"], "eu");
        assert_eq!(record.metadata["payload"]["labels"]["alertname"], "HighErrorRate");
    }

    #[test]
    fn resolved_alerts_resolve() {
        let record = to_record("alertmanager", &alert(AlertState::Resolved), None).unwrap();
        assert_eq!(record.status, Some(IssueStatus::Resolved));
    }

    #[test]
    fn unknown_severity_words_do_not_reject_the_alert() {
        let mut unknown = alert(AlertState::Firing);
        unknown.severity = Some("purple".into());
        let record = to_record("datadog", &unknown, None).unwrap();
        assert_eq!(record.severity, None);
        assert_eq!(record.metadata["provider_severity"], "purple");
    }

    #[test]
    fn azure_counts_from_sev0() {
        assert_eq!(severity_of("azure", "Sev0"), Some(Severity::P1));
        assert_eq!(severity_of("azure", "Sev3"), Some(Severity::P4));
        assert_eq!(severity_of("azure", "Sev4"), Some(Severity::P5));
        assert_eq!(severity_of("grafana", "sev1"), Some(Severity::P1));
    }

    #[test]
    fn oversized_parts_are_cut_or_dropped_not_refused() {
        let mut big = alert(AlertState::Firing);
        big.title = "t".repeat(5_000);
        big.description = "é".repeat(MAX_BODY_BYTES);
        big.source_alert_id = "x".repeat(400);
        big.url = Some(format!("https://example.com/{}", "p".repeat(MAX_URL_CHARS)));
        big.raw = json!({"blob": "b".repeat(20_000)});
        let record = to_record("custom", &big, None).unwrap();
        assert_eq!(record.title.chars().count(), MAX_TITLE_CHARS);
        assert!(record.body.unwrap().len() <= MAX_BODY_BYTES);
        assert!(record.external_id.starts_with("digest:"));
        assert_eq!(record.external_url, None);
        assert!(record.metadata.get("payload").is_none());
        assert_eq!(record.metadata["payload_omitted"], "too_large");
        assert_eq!(record.metadata["tags"]["team"], "payments");
    }

    #[test]
    fn deep_payloads_are_dropped() {
        let mut deep = alert(AlertState::Firing);
        let mut raw = json!("leaf");
        for _ in 0..12 {
            raw = json!({ "x": raw });
        }
        deep.raw = raw;
        let record = to_record("sentry", &deep, None).unwrap();
        assert_eq!(record.metadata["payload_omitted"], "too_deep");
    }
}
