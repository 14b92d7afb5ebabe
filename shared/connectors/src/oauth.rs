//! OAuth 2.0 authorization code grant (RFC 6749 §4.1) with PKCE (RFC 7636, S256) where the
//! vendor supports it: the authorize URL, the code exchange, the refresh, and the token answer.
//!
//! The client authenticates at the token endpoint with `client_id` and `client_secret` in the
//! form body, which every one of these vendors accepts. Client ids, secrets and the vendors' URLs are deployment settings ([`ClientSettings`]); each
//! [`OAuthVendor`] carries the vendor's real URLs as defaults. A URL default may hold
//! `{base_url}`, the connector's own base URL (ServiceNow's endpoints live on the instance).

use crate::http::{self, check_status, json_body, Method, Request, Response};
use crate::Failure;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A vendor's authorization-code flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OAuthVendor {
    pub authorize_url: &'static str,
    pub token_url: &'static str,
    /// The scopes asked for, joined with spaces.
    pub scopes: &'static [&'static str],
    /// Extra parameters of the authorize URL (Atlassian's `audience` and `prompt`).
    pub authorize_params: &'static [(&'static str, &'static str)],
    pub pkce: bool,
}

/// One deployment's OAuth client for one vendor.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientSettings {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
}

impl ClientSettings {
    /// Settings with the vendor's real URLs wherever `authorize_url`/`token_url` are empty.
    pub fn with_defaults(mut self, vendor: &OAuthVendor) -> Self {
        if self.authorize_url.is_empty() {
            self.authorize_url = vendor.authorize_url.to_string();
        }
        if self.token_url.is_empty() {
            self.token_url = vendor.token_url.to_string();
        }
        self
    }

    /// Whether a client is configured at all.
    pub fn is_configured(&self) -> bool {
        !self.client_id.is_empty() && !self.client_secret.is_empty()
    }
}

/// `template` with `{base_url}` replaced by the connector's base URL.
pub fn expand(template: &str, base_url: &str) -> String {
    template.replace("{base_url}", base_url.trim_end_matches('/'))
}

/// The S256 code challenge of a PKCE verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Where to send the user: the vendor's authorize URL with the client, scopes, redirect, state
/// and (with PKCE) the challenge of `verifier`.
pub fn authorize_url(
    vendor: &OAuthVendor,
    settings: &ClientSettings,
    base_url: &str,
    redirect_uri: &str,
    state: &str,
    verifier: &str,
) -> String {
    let mut query: Vec<(&str, String)> = vec![
        ("response_type", "code".into()),
        ("client_id", settings.client_id.clone()),
        ("redirect_uri", redirect_uri.into()),
        ("state", state.into()),
    ];
    if !vendor.scopes.is_empty() {
        query.push(("scope", vendor.scopes.join(" ")));
    }
    query.extend(vendor.authorize_params.iter().map(|(name, value)| (*name, value.to_string())));
    if vendor.pkce {
        query.push(("code_challenge", pkce_challenge(verifier)));
        query.push(("code_challenge_method", "S256".into()));
    }
    let base = expand(&settings.authorize_url, base_url);
    let separator = if base.contains('?') { "&" } else { "?" };
    let pairs: Vec<String> = query.iter().map(|(name, value)| format!("{name}={}", http::query_value(value))).collect();
    format!("{base}{separator}{}", pairs.join("&"))
}

fn token_request(settings: &ClientSettings, base_url: &str, mut form: Vec<(String, String)>) -> Request {
    form.push(("client_id".into(), settings.client_id.clone()));
    form.push(("client_secret".into(), settings.client_secret.clone()));
    Request {
        method: Method::Post,
        url: expand(&settings.token_url, base_url),
        // GitHub answers form-encoded unless asked for JSON.
        headers: vec![("accept".into(), "application/json".into())],
        form: Some(form),
    }
}

/// Exchanges an authorization `code` for tokens.
pub fn code_exchange(
    vendor: &OAuthVendor,
    settings: &ClientSettings,
    base_url: &str,
    redirect_uri: &str,
    code: &str,
    verifier: &str,
) -> Request {
    let mut form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), code.to_string()),
        ("redirect_uri".to_string(), redirect_uri.to_string()),
    ];
    if vendor.pkce {
        form.push(("code_verifier".into(), verifier.into()));
    }
    token_request(settings, base_url, form)
}

/// Trades a refresh token for new tokens.
pub fn refresh(settings: &ClientSettings, base_url: &str, refresh_token: &str) -> Request {
    let form = vec![
        ("grant_type".to_string(), "refresh_token".to_string()),
        ("refresh_token".to_string(), refresh_token.to_string()),
    ];
    token_request(settings, base_url, form)
}

/// A token endpoint's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    /// A new refresh token (rotating refresh tokens replace the old one), if the answer has one.
    pub refresh_token: Option<String>,
    /// When the access token expires (Unix milliseconds), if the answer says.
    pub expires_at_millis: Option<i64>,
}

/// Reads a token endpoint's answer at `now_millis`. An OAuth error (`invalid_grant`, an expired
/// or reused refresh token) is `Unauthorized`: the grant is gone and the user must authorize again.
pub fn read_tokens(vendor_name: &str, response: &Response, now_millis: i64) -> Result<Tokens, Failure> {
    let oauth_error = |body: &Value| {
        body.get("error").and_then(Value::as_str).map(|error| {
            let detail = body.get("error_description").and_then(Value::as_str).unwrap_or("");
            Failure::Unauthorized(format!("{vendor_name} refused the grant: {error} {detail}").trim_end().to_string())
        })
    };
    if response.status == 400 || response.status == 401 {
        let body = json_body(vendor_name, response).unwrap_or(Value::Null);
        return Err(oauth_error(&body).unwrap_or_else(|| {
            Failure::Unauthorized(format!("{vendor_name} refused the grant ({})", response.status))
        }));
    }
    check_status(vendor_name, response, now_millis)?;
    let body = json_body(vendor_name, response)?;
    // GitHub answers 200 with an `error` field.
    if let Some(failure) = oauth_error(&body) {
        return Err(failure);
    }
    let access_token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| Failure::Permanent(format!("{vendor_name}'s token answer has no access_token")))?;
    let expires_in = body.get("expires_in").and_then(|value| value.as_i64().or_else(|| value.as_str()?.parse().ok()));
    Ok(Tokens {
        access_token: access_token.to_string(),
        refresh_token: body.get("refresh_token").and_then(Value::as_str).map(str::to_string),
        expires_at_millis: expires_in.map(|seconds| now_millis + seconds * 1000),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const VENDOR: OAuthVendor = OAuthVendor {
        authorize_url: "{base_url}/oauth_auth.do",
        token_url: "{base_url}/oauth_token.do",
        scopes: &["read", "offline_access"],
        authorize_params: &[("prompt", "consent")],
        pkce: true,
    };

    #[test]
    fn the_authorize_url_carries_client_state_scopes_and_challenge() {
        let settings = ClientSettings { client_id: "cid".into(), client_secret: "s".into(), ..Default::default() }
            .with_defaults(&VENDOR);
        let url = authorize_url(
            &VENDOR,
            &settings,
            "https://acme.service-now.com/",
            "https://cl.example/v1/oauth/callback",
            "st",
            "verifier",
        );
        assert!(
            url.starts_with("https://acme.service-now.com/oauth_auth.do?response_type=code&client_id=cid"),
            "{url}"
        );
        assert!(url.contains("redirect_uri=https%3A%2F%2Fcl.example%2Fv1%2Foauth%2Fcallback"), "{url}");
        assert!(url.contains("scope=read+offline_access") && url.contains("prompt=consent"), "{url}");
        // BASE64URL(SHA-256(verifier)) without padding, computed apart with Python's hashlib.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ0kHQhVtlHdXf0N6dAQO4ESp5U34E"),
            "CDdEnxmxitAJeWILrbl6PhMhy0h0eyqQiovziNcMkhk"
        );
        assert!(url.contains("code_challenge_method=S256"));
    }

    #[test]
    fn token_answers_and_grant_errors_are_read() {
        let ok = Response {
            status: 200,
            headers: vec![],
            body: br#"{"access_token":"a","refresh_token":"r","expires_in":3600,"token_type":"bearer"}"#.to_vec(),
        };
        let tokens = read_tokens("jira", &ok, 1_000).unwrap();
        assert_eq!(tokens.expires_at_millis, Some(3_601_000));
        assert_eq!(tokens.refresh_token.as_deref(), Some("r"));
        let github_error =
            Response { status: 200, headers: vec![], body: br#"{"error":"bad_verification_code"}"#.to_vec() };
        assert!(matches!(read_tokens("github", &github_error, 0), Err(Failure::Unauthorized(_))));
        let invalid_grant = Response { status: 400, headers: vec![], body: br#"{"error":"invalid_grant"}"#.to_vec() };
        assert!(
            matches!(read_tokens("jira", &invalid_grant, 0), Err(Failure::Unauthorized(m)) if m.contains("invalid_grant"))
        );
        let down = Response { status: 503, headers: vec![], body: vec![] };
        assert!(matches!(read_tokens("jira", &down, 0), Err(Failure::Transient(_))));
    }

    #[test]
    fn the_exchange_sends_the_verifier_only_with_pkce() {
        let settings = ClientSettings { client_id: "c".into(), client_secret: "s".into(), ..Default::default() }
            .with_defaults(&VENDOR);
        let request = code_exchange(&VENDOR, &settings, "https://acme.service-now.com", "https://r", "code", "v");
        assert_eq!(request.url, "https://acme.service-now.com/oauth_token.do");
        let form = request.form.unwrap();
        assert!(form.contains(&("code_verifier".into(), "v".into())));
        assert!(form.contains(&("grant_type".into(), "authorization_code".into())));
    }
}
