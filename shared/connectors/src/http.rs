//! Requests and answers as plain values, and the one reading of an answer's status and rate-limit
//! headers that every vendor shares.

use crate::Auth;
use base64::Engine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A request to send. `url` is absolute and already carries its query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: Method,
    pub url: String,
    /// Header names in lowercase.
    pub headers: Vec<(String, String)>,
    /// An `application/x-www-form-urlencoded` body (OAuth token requests), if any.
    pub form: Option<Vec<(String, String)>>,
}

impl Request {
    /// A GET of `url` with `auth` and the vendor's documented `headers`.
    pub fn get(url: String, auth: &Auth, headers: &[(&str, &str)]) -> Self {
        let mut all: Vec<(String, String)> =
            headers.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        all.extend(auth_headers(auth));
        Request { method: Method::Get, url, headers: all, form: None }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// The headers that carry `auth`.
pub fn auth_headers(auth: &Auth) -> Vec<(String, String)> {
    match auth {
        Auth::Basic { user, password } => {
            let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            vec![("authorization".into(), format!("Basic {encoded}"))]
        }
        Auth::Bearer(token) => vec![("authorization".into(), format!("Bearer {token}"))],
        Auth::PagerDutyToken(key) => vec![("authorization".into(), format!("Token token={key}"))],
        Auth::Datadog { api_key, application_key } => {
            vec![("dd-api-key".into(), api_key.clone()), ("dd-application-key".into(), application_key.clone())]
        }
    }
}

/// An answer: status, headers (names in lowercase) and the body as read (bounded by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }
}

/// Why a page could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The vendor asks to wait (429, a rate-limit header at zero, GitHub's secondary limit):
    /// retry the same page after this many seconds.
    RateLimited { retry_after_seconds: u64 },
    /// The credentials or the access token were refused (401): refresh the token, or the
    /// connector needs to be authorized again.
    Unauthorized(String),
    /// Worth retrying later with backoff (5xx, timeouts, a connection that failed).
    Transient(String),
    /// Retrying the same request cannot help (403 without a rate limit, 404, a body that is not
    /// what the vendor documents, a config the vendor refuses).
    Permanent(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::RateLimited { retry_after_seconds } => {
                write!(f, "rate limited by the vendor; retrying after {retry_after_seconds} s")
            }
            Failure::Unauthorized(message) | Failure::Transient(message) | Failure::Permanent(message) => {
                f.write_str(message)
            }
        }
    }
}

/// When no header says how long to wait.
pub const DEFAULT_RETRY_AFTER_SECONDS: u64 = 60;
/// The longest wait honoured in one step; a longer reset is waited in several.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 900;

/// Seconds from `now_millis` until `value`, a `Retry-After` (delta seconds or an HTTP date).
fn retry_after(value: &str, now_millis: i64) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_millis = at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64;
    Some(((at_millis - now_millis).max(0) / 1000) as u64)
}

/// Seconds from `now_millis` until a reset given in epoch seconds (GitHub's `X-RateLimit-Reset`).
fn until_epoch(value: &str, now_millis: i64) -> Option<u64> {
    let epoch: i64 = value.trim().parse().ok()?;
    Some(((epoch * 1000 - now_millis).max(0) / 1000) as u64 + 1)
}

/// What a non-2xx answer means, read the same way for every vendor:
/// - 429, or 403 with `Retry-After` or `x-ratelimit-remaining: 0` (GitHub's primary and
///   secondary limits answer 403 or 429): wait for `Retry-After`, else the reset time
///   (`x-ratelimit-reset`, epoch seconds), else [`DEFAULT_RETRY_AFTER_SECONDS`];
/// - 401: unauthorized;
/// - 408, 5xx: transient;
/// - anything else: permanent, with the status and an excerpt of the body.
///
/// `Ok(())` for 2xx.
pub fn check_status(vendor: &str, response: &Response, now_millis: i64) -> Result<(), Failure> {
    let status = response.status;
    if (200..300).contains(&status) {
        return Ok(());
    }
    let exhausted = response.header("x-ratelimit-remaining").is_some_and(|remaining| remaining.trim() == "0");
    let asked_to_wait = response.header("retry-after").is_some();
    if status == 429 || (status == 403 && (exhausted || asked_to_wait)) {
        let wait = response
            .header("retry-after")
            .and_then(|value| retry_after(value, now_millis))
            .or_else(|| response.header("x-ratelimit-reset").and_then(|value| until_epoch(value, now_millis)))
            .unwrap_or(DEFAULT_RETRY_AFTER_SECONDS);
        return Err(Failure::RateLimited { retry_after_seconds: wait.clamp(1, MAX_RETRY_AFTER_SECONDS) });
    }
    let excerpt = excerpt(&response.body);
    match status {
        401 => Err(Failure::Unauthorized(format!("{vendor} refused the credentials (401): {excerpt}"))),
        408 | 500..=599 => Err(Failure::Transient(format!("{vendor} answered {status}: {excerpt}"))),
        _ => Err(Failure::Permanent(format!("{vendor} answered {status}: {excerpt}"))),
    }
}

/// At most 200 characters of a body, for an error message.
pub fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    crate::text::cut_chars(&text, 200)
}

/// Decodes a JSON body, or a permanent failure naming the vendor.
pub fn json_body(vendor: &str, response: &Response) -> Result<serde_json::Value, Failure> {
    serde_json::from_slice(&response.body)
        .map_err(|err| Failure::Permanent(format!("{vendor} answered a body that is not JSON: {err}")))
}

/// A list answer read: the status checked, the body parsed, and the array under `field` taken
/// out of it; the rest of the body is returned beside it (for the paging fields next to the list).
pub fn list_answer(
    vendor: &str,
    response: &Response,
    now_millis: i64,
    field: &str,
) -> Result<(serde_json::Value, Vec<serde_json::Value>), Failure> {
    check_status(vendor, response, now_millis)?;
    let mut body = json_body(vendor, response)?;
    match body.get_mut(field).map(serde_json::Value::take) {
        Some(serde_json::Value::Array(items)) => Ok((body, items)),
        _ => Err(Failure::Permanent(format!("{vendor}: the answer has no `{field}` list"))),
    }
}

/// Percent-encodes one query value.
pub fn query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `base` joined with `path` and `query` pairs (values encoded).
pub fn url(base: &str, path: &str, query: &[(&str, String)]) -> String {
    let mut url = format!("{}{}", base.trim_end_matches('/'), path);
    for (index, (name, value)) in query.iter().enumerate() {
        url.push(if index == 0 { '?' } else { '&' });
        url.push_str(name);
        url.push('=');
        url.push_str(&query_value(value));
    }
    url
}

/// Whether `next` (a URL the vendor gave, e.g. a `Link` header) stays on `base`'s scheme, host and
/// port: credentials are only ever sent where the connector points.
pub fn same_origin(base: &str, next: &str) -> bool {
    match (url::Url::parse(base), url::Url::parse(next)) {
        (Ok(base), Ok(next)) => {
            base.scheme() == next.scheme()
                && base.host_str() == next.host_str()
                && base.port_or_known_default() == next.port_or_known_default()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: b"{\"message\":\"nope\"}".to_vec(),
        }
    }

    #[test]
    fn rate_limits_are_read_from_every_documented_header() {
        let now = 1_700_000_000_000;
        assert_eq!(
            check_status("x", &answer(429, &[("retry-after", "7")]), now),
            Err(Failure::RateLimited { retry_after_seconds: 7 })
        );
        assert_eq!(
            check_status("x", &answer(429, &[("retry-after", "Tue, 14 Nov 2023 22:15:00 GMT")]), now),
            Err(Failure::RateLimited { retry_after_seconds: 100 })
        );
        // GitHub's primary limit: 403 with remaining 0 and the reset in epoch seconds.
        assert_eq!(
            check_status(
                "github",
                &answer(403, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1700000030")]),
                now
            ),
            Err(Failure::RateLimited { retry_after_seconds: 31 })
        );
        assert_eq!(
            check_status("x", &answer(429, &[]), now),
            Err(Failure::RateLimited { retry_after_seconds: DEFAULT_RETRY_AFTER_SECONDS })
        );
        assert_eq!(
            check_status("x", &answer(429, &[("retry-after", "86400")]), now),
            Err(Failure::RateLimited { retry_after_seconds: MAX_RETRY_AFTER_SECONDS })
        );
        assert!(matches!(check_status("x", &answer(403, &[]), now), Err(Failure::Permanent(_))));
        assert!(matches!(check_status("x", &answer(401, &[]), now), Err(Failure::Unauthorized(_))));
        assert!(matches!(check_status("x", &answer(503, &[]), now), Err(Failure::Transient(_))));
        assert_eq!(check_status("x", &answer(200, &[]), now), Ok(()));
    }

    #[test]
    fn next_links_must_stay_where_the_connector_points() {
        assert!(same_origin("https://api.github.com", "https://api.github.com/repositories/1/issues?page=2"));
        assert!(!same_origin("https://api.github.com", "https://evil.example/issues?page=2"));
        assert!(!same_origin("https://api.github.com", "http://api.github.com/issues"));
        assert!(same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8080/x"));
        assert!(!same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8081/x"));
    }

    #[test]
    fn each_auth_kind_has_its_header() {
        let basic = auth_headers(&Auth::Basic { user: "a@b.c".into(), password: "t".into() });
        assert_eq!(basic, vec![("authorization".to_string(), "Basic YUBiLmM6dA==".to_string())]);
        assert_eq!(auth_headers(&Auth::PagerDutyToken("k".into()))[0].1, "Token token=k");
        assert_eq!(auth_headers(&Auth::Bearer("t".into()))[0].1, "Bearer t");
        assert_eq!(auth_headers(&Auth::Datadog { api_key: "a".into(), application_key: "b".into() }).len(), 2);
    }

    #[test]
    fn urls_encode_their_query_values() {
        assert_eq!(
            url(
                "https://x.atlassian.net/",
                "/rest/api/3/search/jql",
                &[("jql", "updated >= 1 order by updated".into())]
            ),
            "https://x.atlassian.net/rest/api/3/search/jql?jql=updated+%3E%3D+1+order+by+updated"
        );
    }
}
