//! JSON request bodies: content type, size limit and shape, each failing with its own 4xx.

use crate::error::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::Value;

/// Checks and parses a JSON body. `limit` is named in the 413 so callers know what to change.
pub fn json_body(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<Value, ApiError> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let essence = content_type.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as `Content-Type: application/json`",
            ));
        }
    }
    if body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is {} bytes; the limit for this route is {limit} bytes", body.len()),
        )
        .with("limit_bytes", limit));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("empty_body", "the request body is empty; send a JSON object"));
    }
    serde_json::from_slice(body)
        .map_err(|err| ApiError::bad_request("invalid_json", format!("the body is not valid JSON: {err}")))
}

/// As [`json_body`], and the value must be an object.
pub fn json_object(headers: &HeaderMap, body: &[u8], limit: usize) -> Result<serde_json::Map<String, Value>, ApiError> {
    match json_body(headers, body, limit)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request("not_an_object", "the body must be a JSON object")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        headers
    }

    #[test]
    fn each_failure_has_its_own_code() {
        let headers = json_headers();
        assert_eq!(json_object(&headers, b"{\"a\":1}", 100).unwrap()["a"], 1);
        assert_eq!(json_object(&headers, b"{bad", 100).unwrap_err().code, "invalid_json");
        assert_eq!(json_object(&headers, b"[1]", 100).unwrap_err().code, "not_an_object");
        assert_eq!(json_object(&headers, b"  ", 100).unwrap_err().code, "empty_body");
        let too_big = json_object(&headers, &[b' '; 101], 100).unwrap_err();
        assert_eq!((too_big.status.as_u16(), too_big.code), (413, "body_too_large"));
        let mut text = HeaderMap::new();
        text.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(json_object(&text, b"{}", 100).unwrap_err().status.as_u16(), 415);
        assert!(json_object(&HeaderMap::new(), b"{}", 100).is_ok(), "no content type is tolerated");
    }
}
