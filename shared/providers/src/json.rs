//! Small readers over `serde_json::Value` shared by the providers.

use crate::error::ParseError;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub(crate) fn parse_body(raw_body: &[u8]) -> Result<Value, ParseError> {
    serde_json::from_slice(raw_body).map_err(|e| ParseError::InvalidJson(e.to_string()))
}

pub(crate) fn parse_object(raw_body: &[u8]) -> Result<Map<String, Value>, ParseError> {
    match parse_body(raw_body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ParseError::InvalidJson("expected a JSON object".into())),
    }
}

/// A string, number or boolean as text; blank strings and everything else are absent.
pub(crate) fn scalar(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The scalar at a `/`-separated path (JSON Pointer without the leading slash).
pub(crate) fn scalar_at(value: &Value, path: &str) -> Option<String> {
    scalar(value.pointer(&format!("/{path}")))
}

/// The first present scalar among several paths.
pub(crate) fn first_scalar(value: &Value, paths: &[&str]) -> Option<String> {
    paths.iter().find_map(|path| scalar_at(value, path))
}

/// A required non-blank scalar, named by its path when missing.
pub(crate) fn required_scalar(value: &Value, path: &str) -> Result<String, ParseError> {
    scalar_at(value, path).ok_or_else(|| ParseError::missing(path.replace('/', ".")))
}

/// An object of scalar values (labels, annotations, tags). Absent or null is empty.
pub(crate) fn string_map(value: Option<&Value>, field: &str) -> Result<BTreeMap<String, String>, ParseError> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(_) | Value::Bool(_) => Ok((k.clone(), v.to_string())),
                _ => Err(ParseError::invalid(format!("{field}.{k}"), "must be a string")),
            })
            .collect(),
        Some(_) => Err(ParseError::invalid(field, "must be an object of strings")),
    }
}

/// The first non-blank value among `keys` in a label map.
pub(crate) fn first_label(labels: &BTreeMap<String, String>, keys: &[&str]) -> Option<String> {
    keys.iter().filter_map(|k| labels.get(*k)).map(|v| v.trim()).find(|v| !v.is_empty()).map(str::to_owned)
}

/// A deterministic dedup id for tools that send none: a hash of the identifying parts, with a
/// separator no part contains so that ("ab", "c") and ("a", "bc") differ.
pub(crate) fn derived_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0x1f]);
    }
    format!("sha256:{}", hex::encode(&hasher.finalize()[..16]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn derived_ids_are_stable_and_separate_parts() {
        assert_eq!(derived_id(&["a", "b"]), derived_id(&["a", "b"]));
        assert_ne!(derived_id(&["ab", "c"]), derived_id(&["a", "bc"]));
        assert!(derived_id(&["x"]).starts_with("sha256:"));
    }

    #[test]
    fn string_maps_take_scalars_and_name_the_bad_field() {
        let ok = json!({"a": "x", "n": 3, "b": true});
        let map = string_map(Some(&ok), "labels").unwrap();
        assert_eq!(map["n"], "3");
        assert_eq!(map["b"], "true");
        let bad = json!({"a": {"nested": 1}});
        assert_eq!(string_map(Some(&bad), "labels").unwrap_err().field(), Some("labels.a"));
        assert!(string_map(Some(&json!([1])), "labels").is_err());
        assert!(string_map(None, "labels").unwrap().is_empty());
    }

    #[test]
    fn scalars_skip_blank_strings_and_containers() {
        assert_eq!(scalar(Some(&json!("  "))), None);
        assert_eq!(scalar(Some(&json!({}))), None);
        assert_eq!(scalar(Some(&json!(12))), Some("12".into()));
        assert_eq!(scalar_at(&json!({"a": {"b": " x "}}), "a/b"), Some("x".into()));
    }
}
