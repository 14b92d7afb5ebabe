//! `limit` / `cursor` query parameters and the `{"data": [...], "next_cursor": ...}` answer.

use crate::error::ApiError;
use causeloop_domain::limits::{DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT};
use causeloop_storage::Cursor;
use serde_json::{json, Value};

pub fn page_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(DEFAULT_PAGE_LIMIT),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_PAGE_LIMIT).contains(&limit) => Ok(limit),
            _ => Err(ApiError::bad_request(
                "invalid_limit",
                format!("`limit` must be an integer from 1 to {MAX_PAGE_LIMIT}"),
            )
            .with("field", "limit")),
        },
    }
}

pub fn page_cursor(raw: Option<&str>) -> Option<Cursor> {
    raw.filter(|text| !text.is_empty()).map(Cursor::from_client)
}

pub fn page_body(data: Vec<Value>, next: Option<Cursor>) -> Value {
    json!({ "data": data, "next_cursor": next.map(|cursor| cursor.as_str().to_string()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds_are_enforced() {
        assert_eq!(page_limit(None).unwrap(), DEFAULT_PAGE_LIMIT);
        assert_eq!(page_limit(Some("100")).unwrap(), 100);
        assert_eq!(page_limit(Some(&MAX_PAGE_LIMIT.to_string())).unwrap(), MAX_PAGE_LIMIT);
        for bad in ["0", "-1", "ten", &(MAX_PAGE_LIMIT + 1).to_string()] {
            assert_eq!(page_limit(Some(bad)).unwrap_err().code, "invalid_limit", "{bad}");
        }
    }
}
