//! Turning an inbound webhook event (any JSON object a source chooses to send) into an ingest
//! record, which then goes through the same validation as the ingestion API.
//!
//! Mapping rules, per canonical field — the first rule that yields a usable value wins:
//!
//! | field | rules |
//! |---|---|
//! | `title` | connector mapping; `title`, `summary`, `subject`; `<event kind>: <subject>` from `event_type`/`type`/`event`/`action` and `service`/`resource`/`component`/`application`/`app`/`host`/`name` (e.g. `deploy.failed: payment-service`); the event kind alone; the first line of `message`/`description`/`error`; `Event from <connector name>` |
//! | `external_id` | connector mapping; `external_id`, `id`, `event_id`; the first (alphabetically) other `*_id` field; else `sha256:` + a hash of the event's canonical JSON (so the same event re-sent, whatever its whitespace, is the same Issue). Values longer than 256 characters are replaced by their hash. |
//! | `severity` | connector mapping; `severity`, `priority`, `level` — if it is a recognised word (p1–p5, critical, high, ...); otherwise left unset |
//! | `status` | connector mapping; `status`, `state` — only `open` or `resolved` |
//! | `body` | connector mapping; `body`, `description`, `message`, `error`, `details` (cut to 64 KiB) |
//! | `service`, `environment`, `team` | connector mapping; the same-named field (`env` for environment) |
//! | `external_url` | connector mapping; `external_url`, `url`, `link`, `html_url` — if it is an http(s) URL |
//! | `source_created_at` | connector mapping; `source_created_at`, `timestamp`, `occurred_at`, `created_at`, `time` — if RFC 3339 |
//!
//! Strings and numbers are both accepted as values. A mapping pointer that finds nothing falls
//! back to the default rules, so a partly-matching event still becomes an Issue. `source` is the
//! connector's type; `connector_id` is the connector; `metadata` is the whole event when it fits
//! the metadata limits, else its top-level scalar fields.

use crate::limits::{
    MAX_BODY_BYTES, MAX_EXTERNAL_ID_CHARS, MAX_METADATA_BYTES, MAX_SHORT_FIELD_CHARS, MAX_TITLE_CHARS, MAX_URL_CHARS,
};
use crate::severity::Severity;
use crate::time_fmt::{format_rfc3339, parse_rfc3339};
use crate::validation::FieldError;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The canonical fields a connector's `field_mapping` may redirect.
pub const MAPPABLE_FIELDS: &[&str] = &[
    "title",
    "body",
    "external_id",
    "severity",
    "status",
    "service",
    "environment",
    "team",
    "external_url",
    "source_created_at",
];

/// Canonical field → RFC 6901 JSON pointer into the event.
pub type FieldMapping = BTreeMap<String, String>;

/// Validates a `field_mapping` object; errors name `<path>.<field>`.
pub fn parse_field_mapping(path: &str, value: &Value) -> Result<FieldMapping, FieldError> {
    let Value::Object(entries) = value else {
        return Err(FieldError::wrong_type(path, "an object of canonical field → JSON pointer"));
    };
    let mut mapping = FieldMapping::new();
    for (field, pointer) in entries {
        let field_path = format!("{path}.{field}");
        if !MAPPABLE_FIELDS.contains(&field.as_str()) {
            return Err(FieldError::new(
                field_path,
                "unknown_field",
                format!("`{field}` is not a mappable field (use one of {})", MAPPABLE_FIELDS.join(", ")),
            ));
        }
        let Value::String(pointer) = pointer else {
            return Err(FieldError::wrong_type(&field_path, "a JSON pointer string such as \"/alert/summary\""));
        };
        if !pointer.starts_with('/') || pointer.len() > 512 {
            return Err(FieldError::new(
                &field_path,
                "invalid_value",
                format!("`{field_path}` must be a JSON pointer (RFC 6901) such as \"/alert/summary\""),
            ));
        }
        mapping.insert(field.clone(), pointer.clone());
    }
    Ok(mapping)
}

/// Reads a connector's mapping from its config; a stored mapping was validated on write, so an
/// unreadable one (impossible short of corruption) maps nothing rather than losing events.
pub fn mapping_from_config(config: &Value) -> FieldMapping {
    config.get("field_mapping").and_then(|value| parse_field_mapping("field_mapping", value).ok()).unwrap_or_default()
}

/// A scalar as text: non-empty strings (trimmed) and numbers.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

struct Event<'a> {
    fields: &'a Map<String, Value>,
    root: Value,
    mapping: &'a FieldMapping,
}

impl Event<'_> {
    /// The mapped value of `canonical`, else the first of `names` that `accept` takes.
    fn pick(&self, canonical: &str, names: &[&str], accept: impl Fn(String) -> Option<String>) -> Option<String> {
        let mapped = self.mapping.get(canonical).and_then(|pointer| self.root.pointer(pointer)).and_then(scalar_text);
        mapped
            .and_then(&accept)
            .or_else(|| names.iter().filter_map(|name| self.fields.get(*name).and_then(scalar_text)).find_map(&accept))
    }
}

fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn truncate_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

fn hashed_id(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(&Sha256::digest(bytes)[..16]))
}

/// Builds the ingest record for one inbound event (see the module documentation for the rules).
pub fn record_from_event(
    event: &Map<String, Value>,
    mapping: &FieldMapping,
    source: &str,
    connector_id: &str,
    connector_name: &str,
) -> Value {
    let root = Value::Object(event.clone());
    let event_view = Event { fields: event, root, mapping };
    let any = Some;

    let external_id = event_view
        .pick("external_id", &["external_id", "id", "event_id"], any)
        .or_else(|| {
            let mut id_fields: Vec<(&String, &Value)> =
                event.iter().filter(|(name, _)| name.ends_with("_id") && name.len() > 3).collect();
            id_fields.sort_by(|a, b| a.0.cmp(b.0));
            id_fields.into_iter().find_map(|(_, value)| scalar_text(value))
        })
        .map(|id| if id.chars().count() > MAX_EXTERNAL_ID_CHARS { hashed_id(id.as_bytes()) } else { id })
        .unwrap_or_else(|| hashed_id(event_view.root.to_string().as_bytes()));

    let kind = ["event_type", "type", "event", "action"].iter().find_map(|name| event.get(*name).and_then(scalar_text));
    let subject = ["service", "resource", "component", "application", "app", "host", "name"]
        .iter()
        .find_map(|name| event.get(*name).and_then(scalar_text));
    let title = event_view
        .pick("title", &["title", "summary", "subject"], any)
        .or_else(|| match (&kind, &subject) {
            (Some(kind), Some(subject)) => Some(format!("{kind}: {subject}")),
            (Some(kind), None) => Some(kind.clone()),
            _ => None,
        })
        .or_else(|| {
            ["message", "description", "error"]
                .iter()
                .find_map(|name| event.get(*name).and_then(scalar_text))
                .and_then(|text| text.lines().next().map(|line| truncate_chars(line.trim(), 200)))
                .filter(|line| !line.is_empty())
        })
        .unwrap_or_else(|| format!("Event from {connector_name}"));

    let mut record = Map::new();
    record.insert("source".into(), Value::String(source.to_string()));
    record.insert("external_id".into(), Value::String(external_id));
    record.insert("title".into(), Value::String(truncate_chars(&title, MAX_TITLE_CHARS)));
    record.insert("connector_id".into(), Value::String(connector_id.to_string()));

    let mut put = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            record.insert(name.to_string(), Value::String(value));
        }
    };
    put(
        "severity",
        event_view.pick("severity", &["severity", "priority", "level"], |word| {
            Severity::from_word(&word).map(|severity| severity.as_str().to_string())
        }),
    );
    put(
        "status",
        event_view.pick("status", &["status", "state"], |word| {
            let word = word.to_ascii_lowercase();
            matches!(word.as_str(), "open" | "resolved").then_some(word)
        }),
    );
    put(
        "body",
        event_view
            .pick("body", &["body", "description", "message", "error", "details"], any)
            .map(|body| truncate_bytes(&body, MAX_BODY_BYTES)),
    );
    let short = |text: String| Some(truncate_chars(&text, MAX_SHORT_FIELD_CHARS));
    put("service", event_view.pick("service", &["service"], short));
    put("environment", event_view.pick("environment", &["environment", "env"], short));
    put("team", event_view.pick("team", &["team"], short));
    put(
        "external_url",
        event_view.pick("external_url", &["external_url", "url", "link", "html_url"], |url| {
            ((url.starts_with("https://") || url.starts_with("http://")) && url.chars().count() <= MAX_URL_CHARS)
                .then_some(url)
        }),
    );
    put(
        "source_created_at",
        event_view.pick(
            "source_created_at",
            &["source_created_at", "timestamp", "occurred_at", "created_at", "time"],
            // The canonical form: fixed-width, so a valid time with any number of fraction
            // digits fits ingest's length limit instead of failing the whole event.
            |t| parse_rfc3339(&t).map(format_rfc3339),
        ),
    );
    record.insert("metadata".into(), Value::Object(metadata_of(event)));
    Value::Object(record)
}

/// The event itself when it fits the metadata limits; otherwise its top-level scalars that fit,
/// marked as truncated, so an oversized event still becomes an Issue.
fn metadata_of(event: &Map<String, Value>) -> Map<String, Value> {
    let fits = |map: &Map<String, Value>| {
        serde_json::to_vec(map).map(|bytes| bytes.len() < MAX_METADATA_BYTES).unwrap_or(false)
    };
    let depth_ok = event.values().map(depth_of).max().unwrap_or(0) < crate::limits::MAX_METADATA_DEPTH;
    if depth_ok && fits(event) {
        return event.clone();
    }
    let mut kept = Map::new();
    kept.insert("_truncated".into(), Value::Bool(true));
    for (name, value) in event {
        if matches!(value, Value::Object(_) | Value::Array(_)) {
            continue;
        }
        kept.insert(name.clone(), value.clone());
        if !fits(&kept) {
            kept.remove(name);
        }
    }
    kept
}

fn depth_of(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::normalize_record;
    use serde_json::json;

    fn record(event: Value, mapping: &FieldMapping) -> crate::ingest::NormalizedRecord {
        let value = record_from_event(event.as_object().unwrap(), mapping, "custom_api", "con_x", "Deploy Monitor");
        normalize_record(&value).expect("a mapped event always validates")
    }

    #[test]
    fn the_walkthrough_deploy_monitor_event_gets_a_meaningful_title_and_stable_id() {
        let event = json!({"event_type": "deploy.failed", "deploy_id": "DEPLOY-9999", "service": "payment-service", "severity": "p1"});
        let mapped = record(event, &FieldMapping::new());
        assert_eq!(mapped.title, "deploy.failed: payment-service");
        assert_eq!(mapped.external_id, "DEPLOY-9999");
        assert_eq!(mapped.severity, Some(Severity::P1));
        assert_eq!(mapped.service.as_deref(), Some("payment-service"));
        assert_eq!(mapped.source, "custom_api");
        assert_eq!(mapped.connector_id.as_deref(), Some("con_x"));
        assert_eq!(mapped.metadata["deploy_id"], "DEPLOY-9999");
    }

    #[test]
    fn explicit_fields_win_over_derived_ones() {
        let mapped = record(
            json!({"id": 42, "title": "Disk full", "event_type": "x", "service": "db", "url": "https://x.example/1", "timestamp": "2026-01-01T00:00:00Z"}),
            &FieldMapping::new(),
        );
        assert_eq!((mapped.title.as_str(), mapped.external_id.as_str()), ("Disk full", "42"));
        assert_eq!(mapped.external_url.as_deref(), Some("https://x.example/1"));
        assert!(mapped.source_created_at.is_some());
    }

    /// Found by the `inbound_mapping` fuzz target: a valid time with a long fraction used to pass
    /// the mapping and then fail ingest's length limit, refusing the whole event.
    #[test]
    fn a_mapped_time_is_canonical_so_it_always_fits() {
        let fraction = "0".repeat(60);
        let event = json!({"title": "Backup failed", "timestamp": format!("2026-01-01T00:00:00.{fraction}Z")});
        let mapped = record(event, &FieldMapping::new());
        assert_eq!(mapped.source_created_at.as_deref(), Some("2026-01-01T00:00:00.000Z"));
    }

    #[test]
    fn a_mapping_redirects_fields_and_falls_back_when_the_pointer_finds_nothing() {
        let mapping: FieldMapping = [
            ("title".to_string(), "/alert/summary".to_string()),
            ("external_id".to_string(), "/alert/key".to_string()),
            ("severity".to_string(), "/alert/level".to_string()),
        ]
        .into_iter()
        .collect();
        let mapped = record(json!({"alert": {"summary": "CPU hot", "key": "A-1", "level": "critical"}}), &mapping);
        assert_eq!(
            (mapped.title.as_str(), mapped.external_id.as_str(), mapped.severity),
            ("CPU hot", "A-1", Some(Severity::P1))
        );
        let fallback = record(json!({"title": "plain", "id": "B-2"}), &mapping);
        assert_eq!((fallback.title.as_str(), fallback.external_id.as_str()), ("plain", "B-2"));
    }

    #[test]
    fn events_without_an_id_hash_to_the_same_id_whatever_the_whitespace() {
        let a: Value = serde_json::from_str(r#"{"message":"boom\nstack","n":1}"#).unwrap();
        let b: Value = serde_json::from_str("{ \"n\" : 1 , \"message\" : \"boom\\nstack\" }").unwrap();
        let (a, b) = (record(a, &FieldMapping::new()), record(b, &FieldMapping::new()));
        assert_eq!(a.external_id, b.external_id);
        assert!(a.external_id.starts_with("sha256:"));
        assert_eq!(a.title, "boom");
        let c = record(json!({"message": "other"}), &FieldMapping::new());
        assert_ne!(a.external_id, c.external_id);
        assert_eq!(record(json!({}), &FieldMapping::new()).title, "Event from Deploy Monitor");
    }

    #[test]
    fn unusable_values_are_left_out_instead_of_failing_the_event() {
        let long_id = "x".repeat(300);
        let mapped = record(
            json!({"id": long_id, "severity": "purple", "status": "failed", "url": "javascript:alert(1)", "timestamp": "yesterday", "big": "y".repeat(20_000)}),
            &FieldMapping::new(),
        );
        assert!(mapped.external_id.starts_with("sha256:"));
        assert_eq!(
            (mapped.severity, mapped.status, mapped.external_url, mapped.source_created_at),
            (None, None, None, None)
        );
        assert_eq!(mapped.metadata["_truncated"], true);
        assert_eq!(mapped.metadata["severity"], "purple");
    }

    #[test]
    fn mapping_validation_names_the_field() {
        assert!(parse_field_mapping("m", &json!({"title": "/a/b"})).is_ok());
        assert_eq!(parse_field_mapping("m", &json!({"title": "a"})).unwrap_err().field, "m.title");
        assert_eq!(parse_field_mapping("m", &json!({"title": 1})).unwrap_err().error, "invalid_type");
        assert_eq!(parse_field_mapping("m", &json!({"source": "/s"})).unwrap_err().error, "unknown_field");
        assert_eq!(parse_field_mapping("m", &json!([])).unwrap_err().error, "invalid_type");
    }
}
