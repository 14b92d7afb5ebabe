//! Local servers that follow each vendor's documented API, for the managed-connector tests.
//!
//! Every fake keeps the same model — [`Ticket`]s with times, priority, service and resolution —
//! and renders it the way its vendor does (`jira`, `github`, `pagerduty`, `servicenow`,
//! `datadog`): the documented paths, query parameters, pagination and time filters. The common
//! part here is what every vendor shares: the request log (method, path, query, headers) that
//! tests check, scripted faults (429 with `Retry-After`, 5xx) answered before the vendor route,
//! credentials and OAuth access tokens that expire, and an OAuth token endpoint at
//! `/oauth/token` with codes, PKCE and rotating refresh tokens.

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::json;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

pub mod datadog;
pub mod drive_pd_sn_dd;
pub mod pagerduty;
pub mod servicenow;

/// One vendor record in the shared model. Times are Unix milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    /// The vendor's key without decoration: a number for GitHub (`42`), `OPS-7` for Jira,
    /// `P1234AB` for PagerDuty, `INC0010001` for ServiceNow, a number for Datadog.
    pub key: String,
    pub title: String,
    pub body: String,
    /// 1 (most urgent) to 5.
    pub priority: u8,
    pub service: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// When it was resolved and the vendor's resolution text.
    pub resolved: Option<(i64, String)>,
}

impl Ticket {
    pub fn new(key: &str, title: &str, created_ms: i64) -> Self {
        Ticket {
            key: key.to_string(),
            title: title.to_string(),
            body: format!("{title}: details"),
            priority: 2,
            service: Some("checkout".to_string()),
            created_ms,
            updated_ms: created_ms,
            resolved: None,
        }
    }

    pub fn resolved_at(mut self, at_ms: i64, fix: &str) -> Self {
        self.resolved = Some((at_ms, fix.to_string()));
        self.updated_ms = self.updated_ms.max(at_ms);
        self
    }
}

/// A fault answered instead of the next vendor request (token requests are not faulted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 with this `Retry-After` (seconds).
    Throttle(u64),
    Status(u16),
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    /// Decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Seen {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }
}

/// An OAuth grant the fake has issued.
#[derive(Debug, Clone)]
struct Grant {
    code_challenge: Option<String>,
}

/// What a fake holds; vendor routers read tickets and page size from it.
#[derive(Debug)]
pub struct VendorState {
    pub tickets: Vec<Ticket>,
    /// Records per page (each vendor's `limit`/`per_page`/`maxResults` is capped at this).
    pub page_size: usize,
    pub faults: VecDeque<Fault>,
    pub seen: Vec<Seen>,
    /// The `Authorization` (or `DD-API-KEY`) header values accepted besides live access tokens.
    pub accepted_credentials: Vec<String>,
    /// Access token → expiry (Unix ms). Requests with an expired token get 401.
    pub access_tokens: HashMap<String, i64>,
    /// Refresh tokens still valid (rotating: each is spent by one use).
    pub refresh_tokens: Vec<String>,
    codes: HashMap<String, Grant>,
    issued: u64,
    /// Lifetime of issued access tokens, in ms.
    pub token_lifetime_ms: i64,
    /// The cloud id Jira's `accessible-resources` reports.
    pub cloud_id: String,
}

impl Default for VendorState {
    fn default() -> Self {
        VendorState {
            tickets: Vec::new(),
            page_size: 2,
            faults: VecDeque::new(),
            seen: Vec::new(),
            accepted_credentials: Vec::new(),
            access_tokens: HashMap::new(),
            refresh_tokens: Vec::new(),
            codes: HashMap::new(),
            issued: 0,
            token_lifetime_ms: 3_600_000,
            cloud_id: "11111111-2222-3333-4444-555555555555".to_string(),
        }
    }
}

pub type Shared = Arc<Mutex<VendorState>>;

/// A running fake vendor.
pub struct FakeVendor {
    /// `http://127.0.0.1:<port>`: the connector's `base_url`.
    pub base_url: String,
    pub state: Shared,
}

impl FakeVendor {
    /// Serves `vendor_routes` (one vendor's API over the shared state) on a free loopback port.
    pub async fn start(vendor_routes: Router<Shared>) -> Self {
        let state: Shared = Arc::new(Mutex::new(VendorState::default()));
        let app = vendor_routes
            .route("/oauth/token", axum::routing::post(token))
            .layer(middleware::from_fn_with_state(state.clone(), gate))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind fake vendor");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake vendor") });
        FakeVendor { base_url, state }
    }

    pub fn lock(&self) -> MutexGuard<'_, VendorState> {
        self.state.lock().unwrap()
    }

    pub fn put(&self, ticket: Ticket) {
        let mut state = self.lock();
        state.tickets.retain(|existing| existing.key != ticket.key);
        state.tickets.push(ticket);
    }

    pub fn accept(&self, credential: &str) {
        self.lock().accepted_credentials.push(credential.to_string());
    }

    pub fn fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Vendor requests seen so far (token requests included), oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// Issues an authorization code as the vendor would after the user consents, bound to the
    /// PKCE challenge the authorize URL carried (if any).
    pub fn consent(&self, code_challenge: Option<&str>) -> String {
        let mut state = self.lock();
        state.issued += 1;
        let code = format!("code-{}", state.issued);
        state.codes.insert(code.clone(), Grant { code_challenge: code_challenge.map(str::to_string) });
        code
    }

    /// Makes every access token issued so far expire now.
    pub fn expire_access_tokens(&self) {
        for expiry in self.lock().access_tokens.values_mut() {
            *expiry = 0;
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect()
}

/// Logs every request, answers scripted faults, and refuses vendor requests whose credentials
/// are neither accepted nor a live access token.
async fn gate(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let seen = Seen {
        method: parts.method.clone(),
        path: parts.uri.path().to_string(),
        query: query_pairs(parts.uri.query()),
        headers: parts.headers.clone(),
        body: body.clone(),
    };
    let is_token = seen.path == "/oauth/token";
    {
        let mut shared = state.lock().unwrap();
        shared.seen.push(seen.clone());
        if !is_token {
            if let Some(fault) = shared.faults.pop_front() {
                return match fault {
                    Fault::Throttle(seconds) => (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", seconds.to_string())],
                        axum::Json(json!({"message": "rate limited"})),
                    )
                        .into_response(),
                    Fault::Status(status) => {
                        (StatusCode::from_u16(status).unwrap(), axum::Json(json!({"message": "fault"}))).into_response()
                    }
                };
            }
            let credential = seen
                .headers
                .get("authorization")
                .or_else(|| seen.headers.get("dd-api-key"))
                .and_then(|value| value.to_str().ok())
                .unwrap_or("")
                .to_string();
            let bearer = credential.strip_prefix("Bearer ").unwrap_or("");
            let live_token = shared.access_tokens.get(bearer).is_some_and(|expiry| *expiry > now_ms());
            if !live_token && !shared.accepted_credentials.contains(&credential) {
                return (StatusCode::UNAUTHORIZED, axum::Json(json!({"message": "bad credentials"}))).into_response();
            }
        }
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(body))).await
}

/// The OAuth 2.0 token endpoint (RFC 6749 §4.1.3 and §6): form body, client credentials in the
/// body, PKCE verified (S256), refresh tokens rotated.
async fn token(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let form_encoded = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/x-www-form-urlencoded"));
    let refuse = |error: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error}))).into_response();
    if !form_encoded || form.get("client_id").is_none_or(String::is_empty) || !form.contains_key("client_secret") {
        return refuse("invalid_client");
    }
    let mut shared = state.lock().unwrap();
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(grant) = form.get("code").and_then(|code| shared.codes.remove(code)) else {
                return refuse("invalid_grant");
            };
            if let Some(challenge) = grant.code_challenge {
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                if causeloop_connectors_pkce(&verifier) != challenge {
                    return refuse("invalid_grant");
                }
            }
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            let Some(index) = shared.refresh_tokens.iter().position(|token| *token == presented) else {
                return refuse("invalid_grant");
            };
            shared.refresh_tokens.remove(index);
        }
        _ => return refuse("unsupported_grant_type"),
    }
    shared.issued += 1;
    let access = format!("access-{}", shared.issued);
    let refresh = format!("refresh-{}", shared.issued);
    let lifetime = shared.token_lifetime_ms;
    shared.access_tokens.insert(access.clone(), now_ms() + lifetime);
    shared.refresh_tokens.push(refresh.clone());
    axum::Json(json!({
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": lifetime / 1000,
        "token_type": "Bearer",
    }))
    .into_response()
}

/// BASE64URL(SHA-256(verifier)), written apart from the product's own.
fn causeloop_connectors_pkce(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Unix ms → RFC 3339 with milliseconds and `Z` (GitHub, PagerDuty, Datadog).
pub fn rfc3339(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).expect("time");
    at.format(&time::format_description::well_known::Rfc3339).expect("format")
}

/// Parses RFC 3339 (or ISO 8601 with an offset like `+0000`) into Unix ms.
pub fn parse_time(text: &str) -> Option<i64> {
    let parsed =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok().or_else(|| {
            let format = time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond][offset_hour sign:mandatory][offset_minute]"
            );
            time::OffsetDateTime::parse(text, &format).ok()
        })?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}
