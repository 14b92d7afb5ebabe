//! The HTTP client that posts webhook deliveries and calls vendors' APIs for managed connectors,
//! with the SSRF guard applied at connection time.
//!
//! Registration already refused private targets, but DNS can change afterwards (rebinding), so
//! the guard runs again for every connection: the client resolves names only through
//! [`GuardedResolver`], which hands the connector nothing but addresses that
//! `url_guard::check_resolved_address` accepts — the address connected to is always one that
//! was checked. IP literals never reach a resolver, so [`OutboundClient::post`] judges the URL
//! text first. Redirects are not followed (a 3xx is a failed attempt) and no proxy from the
//! environment is used.

use causeloop_domain::delivery::{
    parse_retry_after, response_excerpt, AttemptErrorKind, AttemptResult, SignatureHeaders, ATTEMPT_TIMEOUT_SECONDS,
    RESPONSE_EXCERPT_BYTES,
};
use causeloop_domain::url_guard::{check_outbound_url, check_resolved_address, UrlRefusal};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::error::Error as StdError;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const USER_AGENT: &str = "Causeloop-Webhooks/1.0";
/// The most of one vendor answer read (a page of records, a token answer).
pub const MAX_VENDOR_BODY_BYTES: usize = 16 * 1024 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the resolver gave no address; found again in the request error's source chain.
#[derive(Debug)]
enum ResolveError {
    Refused(UrlRefusal),
    Dns(String),
}

impl std::fmt::Display for ResolveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ResolveError::Refused(refusal) => refusal.fmt(f),
            ResolveError::Dns(why) => write!(f, "DNS lookup failed: {why}"),
        }
    }
}

impl StdError for ResolveError {}

/// Resolves with the system resolver and keeps only the addresses the SSRF guard accepts.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|err| Box::new(ResolveError::Dns(err.to_string())) as Box<dyn StdError + Send + Sync>)?
                .collect();
            if found.is_empty() {
                return Err(Box::new(ResolveError::Dns(format!("{host} has no address"))) as _);
            }
            let mut allowed = Vec::with_capacity(found.len());
            for address in found {
                match check_resolved_address(&host, address.ip(), allow_private) {
                    Ok(()) => allowed.push(address),
                    // One forbidden address refuses the host: a name that mixes public and private
                    // answers is what a rebinding attack looks like.
                    Err(refusal) => return Err(Box::new(ResolveError::Refused(refusal)) as _),
                }
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// One per process (per Lambda container): connections and TLS sessions are reused across
/// deliveries.
#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    allow_private: bool,
    timeout: Duration,
}

/// What is posted on one attempt.
pub struct OutboundRequest<'a> {
    pub url: &'a str,
    pub body: &'a str,
    pub event_type: &'a str,
    pub delivery_id: &'a str,
    pub attempt: u32,
    pub timestamp: u64,
    pub signatures: &'a SignatureHeaders,
}

impl OutboundClient {
    /// The production client: attempts time out after [`ATTEMPT_TIMEOUT_SECONDS`].
    pub fn new(allow_private: bool) -> Result<Self, String> {
        Self::with_timeout(allow_private, Duration::from_secs(ATTEMPT_TIMEOUT_SECONDS))
    }

    /// A client whose attempts time out after `timeout` (tests shorten it).
    pub fn with_timeout(allow_private: bool, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(timeout)
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|err| format!("cannot build the delivery HTTP client: {err}"))?;
        Ok(Self { client, allow_private, timeout })
    }

    /// Posts one attempt and reports what came back. Never fails: every failure is an outcome.
    pub async fn post(&self, request: &OutboundRequest<'_>) -> AttemptResult {
        if let Err(refusal) = check_outbound_url(request.url, self.allow_private) {
            return AttemptResult::Error { kind: AttemptErrorKind::RefusedByPolicy, message: refusal.to_string() };
        }
        let timestamp = request.timestamp.to_string();
        let mut builder = self
            .client
            .post(request.url)
            .header("content-type", "application/json")
            .header("x-causeloop-signature", &request.signatures.causeloop)
            .header("x-causeloop-event-type", request.event_type)
            .header("x-causeloop-delivery-id", request.delivery_id)
            .header("x-causeloop-attempt", request.attempt.to_string())
            .header("x-causeloop-timestamp", &timestamp)
            .header("webhook-id", request.delivery_id)
            .header("webhook-timestamp", &timestamp)
            .header("webhook-signature", &request.signatures.standard);
        if !request.signatures.causeloop_previous.is_empty() {
            builder = builder.header("x-causeloop-signature-previous", &request.signatures.causeloop_previous);
        }
        let mut response = match builder.body(request.body.to_string()).send().await {
            Ok(response) => response,
            Err(err) => return classify(&err, self.timeout),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, causeloop_storage::clock::now_millis() / 1000));
        // Only the excerpt is read; a body that stalls after the status line still counts as an
        // answer with what arrived, and the rest is dropped with the connection.
        let mut excerpt = Vec::new();
        while excerpt.len() < RESPONSE_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => excerpt.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        AttemptResult::Response { status, retry_after_seconds: retry_after, excerpt: response_excerpt(&excerpt) }
    }
}

impl OutboundClient {
    /// Sends one vendor request of a managed connector (a page, a token exchange) and reads its
    /// answer, at most [`MAX_VENDOR_BODY_BYTES`]. A refused target or an oversized answer is
    /// permanent; a connection that failed or timed out is transient.
    pub async fn fetch(
        &self,
        request: &causeloop_connectors::Request,
    ) -> Result<causeloop_connectors::Response, causeloop_connectors::Failure> {
        use causeloop_connectors::{Failure, Method};
        if let Err(refusal) = check_outbound_url(&request.url, self.allow_private) {
            return Err(Failure::Permanent(format!("the vendor URL is refused: {refusal}")));
        }
        let mut builder = match request.method {
            Method::Get => self.client.get(&request.url),
            Method::Post => self.client.post(&request.url),
        };
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        if let Some(form) = &request.form {
            let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
            builder = builder.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let mut response = match builder.send().await {
            Ok(response) => response,
            Err(err) => {
                return Err(match classify(&err, self.timeout) {
                    AttemptResult::Error { kind: AttemptErrorKind::RefusedByPolicy, message } => {
                        Failure::Permanent(message)
                    }
                    AttemptResult::Error { message, .. } => Failure::Transient(message),
                    AttemptResult::Response { status, .. } => Failure::Transient(format!("status {status}")),
                })
            }
        };
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_VENDOR_BODY_BYTES {
                        return Err(Failure::Permanent(format!(
                            "the vendor's answer is larger than {MAX_VENDOR_BODY_BYTES} bytes"
                        )));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(err) => return Err(Failure::Transient(format!("the vendor's answer broke off: {}", chain(&err)))),
            }
        }
        Ok(causeloop_connectors::Response { status, headers, body })
    }
}

/// Names the failure of a request that got no response.
fn classify(err: &reqwest::Error, timeout: Duration) -> AttemptResult {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(current) = source {
        if let Some(resolve) = current.downcast_ref::<ResolveError>() {
            let kind = match resolve {
                ResolveError::Refused(_) => AttemptErrorKind::RefusedByPolicy,
                ResolveError::Dns(_) => AttemptErrorKind::Dns,
            };
            return AttemptResult::Error { kind, message: resolve.to_string() };
        }
        if let Some(tls) = tls_error(current) {
            return AttemptResult::Error { kind: AttemptErrorKind::Tls, message: format!("TLS failed: {tls}") };
        }
        source = current.source();
    }
    let kind = if err.is_timeout() { AttemptErrorKind::Timeout } else { AttemptErrorKind::Connect };
    let message = match kind {
        AttemptErrorKind::Timeout => format!("no answer within {} s", timeout.as_secs_f32()),
        _ => format!("connection failed: {}", chain(err)),
    };
    AttemptResult::Error { kind, message }
}

/// The rustls error inside `err`, looking through io::Errors (the TLS stream reports through
/// them, sometimes nested), whose `source` skips the error they wrap.
fn tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    if let Some(tls) = err.downcast_ref::<rustls::Error>() {
        return Some(tls);
    }
    if let Some(io) = err.downcast_ref::<std::io::Error>() {
        return tls_error(io.get_ref()?);
    }
    None
}

/// The error and its causes on one line, for the attempt log.
fn chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    async fn resolve(allow_private: bool, host: &str) -> Result<Vec<SocketAddr>, String> {
        let resolver = GuardedResolver { allow_private };
        match resolver.resolve(Name::from_str(host).unwrap()).await {
            Ok(addresses) => Ok(addresses.collect()),
            Err(err) => Err(err.to_string()),
        }
    }

    #[tokio::test]
    async fn names_resolving_to_private_addresses_are_refused_when_connecting() {
        // `localhost` stands for any name an attacker points at loopback after registration.
        let refused = resolve(false, "localhost").await.unwrap_err();
        assert!(refused.contains("loopback"), "{refused}");
        let allowed = resolve(true, "localhost").await.unwrap();
        assert!(!allowed.is_empty() && allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");
        let missing = resolve(true, "no-such-host.invalid").await.unwrap_err();
        assert!(missing.starts_with("DNS lookup failed"), "{missing}");
    }
}
