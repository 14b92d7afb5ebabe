//! Reading typed fields out of a JSON request object, each failure naming its field. Used by the
//! connectors and webhooks families, whose bodies are small configuration objects: unlike ingest
//! records, an unknown field there is a typo to report, not data to keep.

use causeloop_domain::FieldError;
use causeloop_http::ApiError;
use serde_json::{Map, Value};

pub(crate) fn reject_unknown(body: &Map<String, Value>, known: &[&str]) -> Result<(), ApiError> {
    match body.keys().find(|name| !known.contains(&name.as_str())) {
        None => Ok(()),
        Some(name) => Err(ApiError::field(FieldError::new(
            name.as_str(),
            "unknown_field",
            format!("`{name}` is not a field of this request (known: {})", known.join(", ")),
        ))),
    }
}

/// A string field: trimmed, non-empty and at most `max_chars` when present; null is absent.
pub(crate) fn optional_string(
    body: &Map<String, Value>,
    name: &str,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            let text = text.trim();
            if text.is_empty() {
                return Err(ApiError::field(FieldError::empty(name)));
            }
            if text.chars().count() > max_chars {
                return Err(ApiError::field(FieldError::too_long(name, max_chars, "characters")));
            }
            Ok(Some(text.to_string()))
        }
        Some(_) => Err(ApiError::field(FieldError::wrong_type(name, "a string"))),
    }
}

pub(crate) fn required_string(body: &Map<String, Value>, name: &str, max_chars: usize) -> Result<String, ApiError> {
    optional_string(body, name, max_chars)?.ok_or_else(|| ApiError::field(FieldError::missing(name)))
}

pub(crate) fn optional_bool(body: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(_) => Err(ApiError::field(FieldError::wrong_type(name, "true or false"))),
    }
}

pub(crate) fn optional_object(body: &Map<String, Value>, name: &str) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object.clone())),
        Some(_) => Err(ApiError::field(FieldError::wrong_type(name, "an object"))),
    }
}

pub(crate) fn optional_string_list(body: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .map(Some)
            .ok_or_else(|| ApiError::field(FieldError::wrong_type(name, "an array of strings"))),
        Some(_) => Err(ApiError::field(FieldError::wrong_type(name, "an array of strings"))),
    }
}
