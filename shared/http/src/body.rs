//! JSON request bodies: content type, size limit and shape, each failing with its own 4xx.

use crate::error::ApiError;
use axum::http::{header, HeaderMap, StatusCode};
use serde_json::Value;

/// The largest request body any route reads: API Gateway's Lambda proxy integration carries at
/// most 6 MB, so `causeloop serve` refuses the same, before reading a byte of it.
pub const MAX_REQUEST_BODY_BYTES: usize = causeloop_domain::limits::MAX_BATCH_BODY_BYTES;

/// The 413 of a body over `limit` bytes (`size`: as far as known).
pub fn body_too_large(size: usize, limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is {size} bytes; the limit for this route is {limit} bytes"),
    )
    .with("limit_bytes", limit)
}

/// Refuses, from its `Content-Length` and before it is read, a body over
/// [`MAX_REQUEST_BODY_BYTES`]; a body sent without a length is cut off at the limit by
/// `DefaultBodyLimit` while it is read.
pub async fn refuse_oversized_bodies(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > MAX_REQUEST_BODY_BYTES as u64) {
        return body_too_large(usize::try_from(size).unwrap_or(usize::MAX), MAX_REQUEST_BODY_BYTES).into_response();
    }
    let response = next.run(request).await;
    // A body without a length that passed the limit while being read: axum answers that in
    // plain text; the API answers every limit in its own JSON, naming it.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the body is over {MAX_REQUEST_BODY_BYTES} bytes, the most any route reads"),
        )
        .with("limit_bytes", MAX_REQUEST_BODY_BYTES)
        .into_response();
    }
    response
}

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
        return Err(body_too_large(body.len(), limit));
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
