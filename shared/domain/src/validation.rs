//! Validation failures as values. The HTTP layer turns them into 4xx bodies; the batch route turns
//! each into a `rejected` entry.

use serde::Serialize;

/// One field that failed validation, with a machine code and a sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub error: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, error: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), error, message: message.into() }
    }

    pub fn missing(field: &str) -> Self {
        Self::new(field, "missing_field", format!("`{field}` is required"))
    }

    pub fn wrong_type(field: &str, expected: &str) -> Self {
        Self::new(field, "invalid_type", format!("`{field}` must be {expected}"))
    }

    pub fn too_long(field: &str, limit: usize, unit: &str) -> Self {
        Self::new(field, "too_long", format!("`{field}` exceeds the limit of {limit} {unit}"))
    }

    pub fn empty(field: &str) -> Self {
        Self::new(field, "empty_field", format!("`{field}` must not be empty"))
    }
}

/// A request-level problem that is not about one field of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Field(FieldError),
    TooManyRecords { limit: usize, got: usize },
    EmptyBatch,
}
