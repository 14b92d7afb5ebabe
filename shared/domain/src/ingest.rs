//! Parsing and validating one ingest record into a [`NormalizedRecord`].
//!
//! Rules: known fields are type-checked and length-limited; unknown fields are kept in
//! `metadata` (never fatal); `service`, `environment` and `team` fall back to the same keys in
//! `metadata`, because that is where the walkthrough's own example puts `service`
//! (`docs/custom-integration.md`, step 2).

use crate::issue::IssueStatus;
use crate::limits::*;
use crate::severity::Severity;
use crate::time_fmt::{format_rfc3339, parse_rfc3339, parse_unix_millis};
use crate::validation::FieldError;
use serde_json::{Map, Value};

/// A record that passed validation; every field is within its limits.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedRecord {
    pub source: String,
    pub external_id: String,
    pub title: String,
    pub body: Option<String>,
    /// `None` when the record did not say, so an update keeps the stored severity.
    pub severity: Option<Severity>,
    pub status: Option<IssueStatus>,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub team: Option<String>,
    pub external_url: Option<String>,
    pub source_created_at: Option<String>,
    /// When the source resolved it (RFC 3339, normalized); only with a resolving record.
    pub resolved_at: Option<String>,
    /// The fix applied and a note, from `resolution: {"fix", "note"}`; only with a resolving record.
    pub fix: Option<String>,
    pub note: Option<String>,
    pub connector_id: Option<String>,
    pub metadata: Map<String, Value>,
}

const KNOWN_FIELDS: &[&str] = &[
    "source",
    "external_id",
    "title",
    "body",
    "severity",
    "status",
    "service",
    "environment",
    "team",
    "external_url",
    "source_created_at",
    "resolved_at",
    "resolution",
    "connector_id",
    "metadata",
];

/// Validates one record a client sent, at `now_millis` (the server's clock): like
/// [`normalize_record`], and `resolved_at` must not lie in the future (beyond
/// [`MAX_CLOCK_SKEW_MS`]), since the statistics that learn from it must only see the past.
pub fn normalize_record_at(value: &Value, now_millis: i64) -> Result<NormalizedRecord, FieldError> {
    let record = normalize_record(value)?;
    if let Some(at) = record.resolved_at.as_deref() {
        check_not_future("resolved_at", at, now_millis)?;
    }
    Ok(record)
}

/// Refuses an RFC 3339 time (already normalized) later than `now_millis` plus the allowed skew.
pub fn check_not_future(field: &str, at: &str, now_millis: i64) -> Result<(), FieldError> {
    let at = parse_unix_millis(at).map_or(0, |ms| ms as i64);
    if at > now_millis.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(FieldError::new(
            field,
            "in_future",
            format!("`{field}` lies in the future; at most {} s of clock skew is allowed", MAX_CLOCK_SKEW_MS / 1000),
        ));
    }
    Ok(())
}

/// Validates one record given as JSON. The first problem found is returned, naming its field.
/// Times are checked for form only; [`normalize_record_at`] also refuses future ones.
pub fn normalize_record(value: &Value) -> Result<NormalizedRecord, FieldError> {
    let Value::Object(fields) = value else {
        return Err(FieldError::new("record", "invalid_type", "each record must be a JSON object"));
    };
    let source = required_text(fields, "source", MAX_SOURCE_CHARS)?;
    let external_id = required_text(fields, "external_id", MAX_EXTERNAL_ID_CHARS)?;
    let title = required_text(fields, "title", MAX_TITLE_CHARS)?;
    let body = optional_text(fields, "body", usize::MAX)?;
    if let Some(body) = &body {
        if body.len() > MAX_BODY_BYTES {
            return Err(FieldError::too_long("body", MAX_BODY_BYTES, "bytes"));
        }
    }
    let severity = match optional_scalar_text(fields, "severity")? {
        None => None,
        Some(word) => Some(Severity::from_word(&word).ok_or_else(|| {
            FieldError::new(
                "severity",
                "invalid_value",
                format!("severity `{word}` is not recognised; use p1–p5 or critical, high, error, medium, warning, low, info"),
            )
        })?),
    };
    let mut status = match optional_text(fields, "status", 16)? {
        None => None,
        Some(word) => Some(
            IssueStatus::parse(&word)
                .ok_or_else(|| FieldError::new("status", "invalid_value", "`status` must be `open` or `resolved`"))?,
        ),
    };
    let resolved_at = optional_time(fields, "resolved_at")?;
    let (fix, note, has_resolution) = match fields.get("resolution") {
        None | Some(Value::Null) => (None, None, false),
        Some(Value::Object(resolution)) => {
            if let Some(unknown) = resolution.keys().find(|key| !matches!(key.as_str(), "fix" | "note")) {
                return Err(FieldError::new(
                    format!("resolution.{unknown}"),
                    "unknown_field",
                    "a resolution holds only `fix` and `note`",
                ));
            }
            (resolution_text(resolution, "fix")?, resolution_text(resolution, "note")?, true)
        }
        Some(_) => return Err(FieldError::wrong_type("resolution", "an object")),
    };
    if resolved_at.is_some() || has_resolution {
        match status {
            // A resolution time or a fix only describes a resolved Issue: it implies the status.
            None => status = Some(IssueStatus::Resolved),
            Some(IssueStatus::Resolved) => {}
            Some(IssueStatus::Open) => {
                let field = if resolved_at.is_some() { "resolved_at" } else { "resolution" };
                return Err(FieldError::new(
                    field,
                    "invalid_value",
                    format!("`{field}` can only be sent with `status` `resolved`"),
                ));
            }
        }
    }
    let external_url = optional_text(fields, "external_url", MAX_URL_CHARS)?;
    if let Some(url) = &external_url {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(FieldError::new("external_url", "invalid_value", "`external_url` must be an http(s) URL"));
        }
    }
    let source_created_at = optional_time(fields, "source_created_at")?;
    if let (Some(opened), Some(resolved)) = (&source_created_at, &resolved_at) {
        // Both are normalized to the same UTC form, which sorts like the instants.
        if resolved < opened {
            return Err(FieldError::new(
                "resolved_at",
                "invalid_value",
                "`resolved_at` must not be before `source_created_at`",
            ));
        }
    }
    let connector_id = optional_text(fields, "connector_id", 64)?;

    let mut metadata = match fields.get("metadata") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => return Err(FieldError::wrong_type("metadata", "an object")),
    };
    for (name, value) in fields {
        if !KNOWN_FIELDS.contains(&name.as_str()) {
            metadata.entry(name.clone()).or_insert_with(|| value.clone());
        }
    }
    check_metadata(&metadata)?;

    let service =
        optional_text(fields, "service", MAX_SHORT_FIELD_CHARS)?.or_else(|| metadata_text(&metadata, "service"));
    let environment = optional_text(fields, "environment", MAX_SHORT_FIELD_CHARS)?
        .or_else(|| metadata_text(&metadata, "environment"));
    let team = optional_text(fields, "team", MAX_SHORT_FIELD_CHARS)?.or_else(|| metadata_text(&metadata, "team"));

    Ok(NormalizedRecord {
        source,
        external_id,
        title,
        body,
        severity,
        status,
        service,
        environment,
        team,
        external_url,
        source_created_at,
        resolved_at,
        fix,
        note,
        connector_id,
        metadata,
    })
}

/// An RFC 3339 timestamp field, normalized to UTC with millisecond precision.
fn optional_time(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldError> {
    match optional_text(fields, name, 64)? {
        None => Ok(None),
        Some(text) => Ok(Some(format_rfc3339(parse_rfc3339(&text).ok_or_else(|| {
            FieldError::new(name, "invalid_value", format!("`{name}` must be an RFC 3339 timestamp"))
        })?))),
    }
}

/// `resolution.fix` / `resolution.note`: a string of at most [`MAX_RESOLUTION_TEXT_CHARS`];
/// blank is absent.
fn resolution_text(resolution: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldError> {
    let field = format!("resolution.{name}");
    match resolution.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.chars().count() > MAX_RESOLUTION_TEXT_CHARS => {
            Err(FieldError::too_long(&field, MAX_RESOLUTION_TEXT_CHARS, "characters"))
        }
        Some(Value::String(text)) => Ok(Some(text.trim().to_string()).filter(|t| !t.is_empty())),
        Some(_) => Err(FieldError::wrong_type(&field, "a string")),
    }
}

fn required_text(fields: &Map<String, Value>, name: &str, max_chars: usize) -> Result<String, FieldError> {
    optional_text(fields, name, max_chars)?.ok_or_else(|| FieldError::missing(name))
}

/// A string field: trimmed, non-empty when present, at most `max_chars` characters. JSON null is absent.
fn optional_text(fields: &Map<String, Value>, name: &str, max_chars: usize) -> Result<Option<String>, FieldError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Err(FieldError::empty(name));
            }
            if max_chars != usize::MAX && text.chars().count() > max_chars {
                return Err(FieldError::too_long(name, max_chars, "characters"));
            }
            Ok(Some(text.to_string()))
        }
        Some(_) => Err(FieldError::wrong_type(name, "a string")),
    }
}

/// Severity may arrive as a number (`1`) from tools that count levels.
fn optional_scalar_text(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, FieldError> {
    match fields.get(name) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => optional_text(fields, name, 32),
    }
}

fn metadata_text(metadata: &Map<String, Value>, name: &str) -> Option<String> {
    metadata
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty() && text.chars().count() <= MAX_SHORT_FIELD_CHARS)
        .map(str::to_string)
}

fn check_metadata(metadata: &Map<String, Value>) -> Result<(), FieldError> {
    let depth = 1 + metadata.values().map(depth_of).max().unwrap_or(0);
    if depth > MAX_METADATA_DEPTH {
        return Err(FieldError::new(
            "metadata",
            "too_deep",
            format!("`metadata` is nested {depth} levels deep; the limit is {MAX_METADATA_DEPTH}"),
        ));
    }
    let size = serde_json::to_vec(metadata).map(|bytes| bytes.len()).unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(FieldError::new(
            "metadata",
            "too_large",
            format!("`metadata` (with unknown fields) is {size} bytes serialized; the limit is {MAX_METADATA_BYTES}"),
        ));
    }
    Ok(())
}

fn depth_of(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth_of).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

/// A workspace's connector as [`attach_connector`] sees it.
#[derive(Debug, Clone, Copy)]
pub struct ConnectorRef<'a> {
    pub id: &'a str,
    pub connector_type: &'a str,
    pub enabled: bool,
}

/// Whether a pushed record could belong to a connector, so the caller reads the workspace's
/// connectors only when the answer can depend on them.
pub fn may_belong_to_connector(record: &NormalizedRecord) -> bool {
    record.connector_id.is_some() || crate::catalog::connector_type(&record.source).is_some()
}

/// Attaches a pushed record to its connector: the one it names, which must be one of the
/// workspace's; else the workspace's only enabled connector whose type is the record's source
/// (a `custom_api` record when one `custom_api` connector exists), so that a source following
/// the walkthrough — a connector, then pushes with its type as `source` — reaches endpoints
/// limited to that connector. With two such connectors the record names none: guessing would
/// send one source's Issues to the other's endpoints.
pub fn attach_connector(record: &mut NormalizedRecord, connectors: &[ConnectorRef<'_>]) -> Result<(), FieldError> {
    if let Some(named) = &record.connector_id {
        if !connectors.iter().any(|connector| connector.id == named) {
            return Err(FieldError::new(
                "connector_id",
                "unknown_connector",
                format!("no connector `{named}` exists in this workspace"),
            ));
        }
        return Ok(());
    }
    let mut of_source = connectors.iter().filter(|c| c.enabled && c.connector_type == record.source);
    if let (Some(only), None) = (of_source.next(), of_source.next()) {
        record.connector_id = Some(only.id.to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"source": "custom_api", "external_id": "deploy-1", "title": "Deploy failed: api"})
    }

    fn connector<'a>(id: &'a str, connector_type: &'a str, enabled: bool) -> ConnectorRef<'a> {
        ConnectorRef { id, connector_type, enabled }
    }

    #[test]
    fn a_record_without_a_connector_joins_the_only_enabled_connector_of_its_source() {
        let pushed = normalize_record(&json!({"source": "custom_api", "external_id": "d-1", "title": "t"})).unwrap();
        let connectors = [
            connector("con_a", "custom_api", true),
            connector("con_b", "jira", true),
            connector("con_c", "custom_api", false),
        ];
        let mut record = pushed.clone();
        attach_connector(&mut record, &connectors).unwrap();
        assert_eq!(record.connector_id.as_deref(), Some("con_a"));

        // Two enabled connectors of the type: no guess.
        let mut record = pushed.clone();
        attach_connector(&mut record, &[connectors[0], connector("con_d", "custom_api", true)]).unwrap();
        assert_eq!(record.connector_id, None);

        // No connector of the type (a free-form source): none.
        let mut record = normalize_record(&json!({"source": "nightly", "external_id": "d-1", "title": "t"})).unwrap();
        assert!(!may_belong_to_connector(&record));
        attach_connector(&mut record, &connectors).unwrap();
        assert_eq!(record.connector_id, None);
    }

    #[test]
    fn a_named_connector_must_exist_and_is_kept() {
        let named = |id: &str| {
            normalize_record(&json!({"source": "nightly", "external_id": "d-1", "title": "t", "connector_id": id}))
                .unwrap()
        };
        let connectors = [connector("con_a", "custom_api", true), connector("con_b", "custom_api", false)];
        let mut record = named("con_b");
        assert!(may_belong_to_connector(&record));
        attach_connector(&mut record, &connectors).unwrap();
        assert_eq!(record.connector_id.as_deref(), Some("con_b"), "a disabled connector can still be named");
        let error = attach_connector(&mut named("con_elsewhere"), &connectors).unwrap_err();
        assert_eq!((error.field.as_str(), error.error), ("connector_id", "unknown_connector"));
    }

    #[test]
    fn the_walkthrough_single_push_normalizes() {
        let record = normalize_record(&json!({
            "source": "custom_api",
            "external_id": "deploy-42",
            "title": "Deploy failed: payments",
            "body": "exit code 1",
            "severity": "p1",
            "external_url": "https://deploys.example.com/42",
            "metadata": {"service": "payments", "deploy_id": "42"}
        }))
        .unwrap();
        assert_eq!(record.severity, Some(Severity::P1));
        assert_eq!(record.service.as_deref(), Some("payments"), "service falls back to metadata");
        assert_eq!(record.metadata["deploy_id"], "42");
    }

    #[test]
    fn unknown_fields_land_in_metadata_without_overwriting_it() {
        let mut value = valid();
        value["region"] = json!("eu-west-1");
        value["metadata"] = json!({"region": "kept"});
        value["build"] = json!({"n": 7});
        let record = normalize_record(&value).unwrap();
        assert_eq!(record.metadata["region"], "kept");
        assert_eq!(record.metadata["build"]["n"], 7);
    }

    #[test]
    fn each_required_field_is_named_when_missing_empty_or_mistyped() {
        for field in ["source", "external_id", "title"] {
            let mut value = valid();
            value.as_object_mut().unwrap().remove(field);
            assert_eq!(normalize_record(&value).unwrap_err().field, field);
            value[field] = json!("   ");
            let err = normalize_record(&value).unwrap_err();
            assert_eq!((err.field.as_str(), err.error), (field, "empty_field"));
            value[field] = json!(12);
            let err = normalize_record(&value).unwrap_err();
            assert_eq!((err.field.as_str(), err.error), (field, "invalid_type"));
        }
    }

    #[test]
    fn limits_are_enforced_at_their_edges() {
        let mut value = valid();
        value["title"] = json!("é".repeat(MAX_TITLE_CHARS));
        assert!(normalize_record(&value).is_ok(), "limit counts characters, not bytes");
        value["title"] = json!("t".repeat(MAX_TITLE_CHARS + 1));
        assert_eq!(normalize_record(&value).unwrap_err().error, "too_long");

        let mut value = valid();
        value["external_id"] = json!("x".repeat(MAX_EXTERNAL_ID_CHARS + 1));
        assert_eq!(normalize_record(&value).unwrap_err().field, "external_id");

        let mut value = valid();
        value["body"] = json!("b".repeat(MAX_BODY_BYTES + 1));
        assert_eq!(normalize_record(&value).unwrap_err().field, "body");
    }

    #[test]
    fn metadata_depth_and_size_are_limited() {
        let mut deep = json!("leaf");
        for _ in 0..=MAX_METADATA_DEPTH {
            deep = json!({ "k": deep });
        }
        let mut value = valid();
        value["metadata"] = deep.clone();
        let err = normalize_record(&value).unwrap_err();
        assert_eq!((err.field.as_str(), err.error), ("metadata", "too_deep"));
        value["metadata"] = deep["k"].clone();
        assert!(normalize_record(&value).is_ok(), "exactly the limit is accepted");

        let mut value = valid();
        value["metadata"] = json!({"blob": "x".repeat(MAX_METADATA_BYTES)});
        assert_eq!(normalize_record(&value).unwrap_err().error, "too_large");
        let mut value = valid();
        value["unknown_blob"] = json!("x".repeat(MAX_METADATA_BYTES));
        assert_eq!(normalize_record(&value).unwrap_err().error, "too_large", "unknown fields count too");
    }

    #[test]
    fn severity_status_time_and_url_are_checked() {
        let mut value = valid();
        value["severity"] = json!("purple");
        assert_eq!(normalize_record(&value).unwrap_err().field, "severity");
        value["severity"] = json!(2);
        assert_eq!(normalize_record(&value).unwrap().severity, Some(Severity::P2));
        value["status"] = json!("closed");
        assert_eq!(normalize_record(&value).unwrap_err().field, "status");
        value["status"] = json!("resolved");
        value["source_created_at"] = json!("2026-01-01T10:00:00+01:00");
        let record = normalize_record(&value).unwrap();
        assert_eq!(record.source_created_at.as_deref(), Some("2026-01-01T09:00:00.000Z"));
        value["source_created_at"] = json!("last tuesday");
        assert_eq!(normalize_record(&value).unwrap_err().field, "source_created_at");
        let mut value = valid();
        value["external_url"] = json!("javascript:alert(1)");
        assert_eq!(normalize_record(&value).unwrap_err().field, "external_url");
    }

    #[test]
    fn a_resolved_record_carries_its_time_and_fix() {
        let now = parse_unix_millis("2026-01-10T00:00:00Z").unwrap() as i64;
        let mut value = valid();
        value["source_created_at"] = json!("2026-01-01T00:00:00Z");
        value["resolved_at"] = json!("2026-01-02T00:00:00+01:00");
        value["resolution"] = json!({"fix": "  raised the pool size ", "note": "see postmortem"});
        let record = normalize_record_at(&value, now).unwrap();
        assert_eq!(record.status, Some(IssueStatus::Resolved), "a resolution implies the status");
        assert_eq!(record.resolved_at.as_deref(), Some("2026-01-01T23:00:00.000Z"));
        assert_eq!(record.fix.as_deref(), Some("raised the pool size"));
        assert_eq!(record.note.as_deref(), Some("see postmortem"));
        assert!(record.metadata.is_empty(), "known fields stay out of metadata");

        value["resolved_at"] = json!("2026-01-10T00:06:00Z");
        let err = normalize_record_at(&value, now).unwrap_err();
        assert_eq!((err.field.as_str(), err.error), ("resolved_at", "in_future"));
        value["resolved_at"] = json!("2026-01-10T00:04:00Z");
        assert!(normalize_record_at(&value, now).is_ok(), "a little clock skew is allowed");
        value["resolved_at"] = json!("2025-12-31T00:00:00Z");
        assert_eq!(normalize_record(&value).unwrap_err().field, "resolved_at", "before it opened");
        value["resolved_at"] = json!("soon");
        assert_eq!(normalize_record(&value).unwrap_err().error, "invalid_value");

        let mut value = valid();
        value["status"] = json!("open");
        value["resolution"] = json!({"fix": "x"});
        assert_eq!(normalize_record(&value).unwrap_err().field, "resolution");
        value["status"] = json!("resolved");
        value["resolution"] = json!({"fix": "x".repeat(MAX_RESOLUTION_TEXT_CHARS + 1)});
        let err = normalize_record(&value).unwrap_err();
        assert_eq!((err.field.as_str(), err.error), ("resolution.fix", "too_long"));
        assert!(err.message.contains(&MAX_RESOLUTION_TEXT_CHARS.to_string()), "names the limit");
        value["resolution"] = json!({"fix": "x", "by": "me"});
        assert_eq!(normalize_record(&value).unwrap_err().error, "unknown_field");
        value["resolution"] = json!("restart");
        assert_eq!(normalize_record(&value).unwrap_err().field, "resolution");
    }

    #[test]
    fn non_objects_are_rejected() {
        assert_eq!(normalize_record(&json!([1])).unwrap_err().field, "record");
        assert_eq!(normalize_record(&json!("x")).unwrap_err().error, "invalid_type");
    }
}
