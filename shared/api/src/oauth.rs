//! OAuth 2.0 for managed connectors: `POST /v1/connectors/{id}/oauth/start` (connectors:admin)
//! and `GET /v1/oauth/callback` (no key: the state authenticates), and the access a sync uses —
//! refreshed before it expires and after a 401, rotating refresh tokens stored in the same
//! conditional write as the new access token.
//!
//! The flow: `start` makes a `state` (sealed under the master key, naming the connector, expiring
//! after [`FLOW_SECONDS`]) and a PKCE verifier, keeps the state's hash and the sealed verifier on
//! the connector, and answers the vendor's authorize URL. The user consents at the vendor, which
//! redirects to the callback with `code` and `state`. The callback opens the state (a forged one
//! fails before any read), clears the pending flow in a conditional write (so a state works once),
//! exchanges the code with the verifier, seals the tokens, and starts the connector's first sync.
//! For Jira, the granted site's cloud id comes from Atlassian's `accessible-resources`, and API
//! calls go through `<api>/ex/jira/<cloudId>`.

use crate::connectors::STATUS_CONNECTED;
use crate::outbound::OutboundClient;
use crate::secrets::{
    oauth_state, open_credentials, open_oauth_state, open_oauth_tokens, open_oauth_verifier, seal_oauth_tokens,
    seal_oauth_verifier, secret_box, OAuthTokens,
};
use crate::state::{AppState, MasterKeyError, Settings};
use crate::workers::sync::{start_sync, STATUS_NEEDS_AUTH};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use causeloop_connectors::oauth::{self as flow, ClientSettings, OAuthVendor};
use causeloop_connectors::{Auth, Failure, Request, Vendor};
use causeloop_domain::sealed::SealError;
use causeloop_domain::sync::SyncMode;
use causeloop_domain::time_fmt::format_unix_millis;
use causeloop_domain::{ConnectorId, Scope};
use causeloop_http::{ApiError, Principal};
use causeloop_storage::clock::now_millis;
use causeloop_storage::connectors::{Connector, PendingOAuth};
use causeloop_storage::StoreError;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use subtle::ConstantTimeEq;

/// How long a started flow may take to come back.
pub const FLOW_SECONDS: i64 = 600;
/// An access token this close to its expiry is refreshed before use.
const REFRESH_MARGIN_MS: i64 = 60_000;
/// Atlassian's API gateway, for Jira grants.
pub const JIRA_API_URL: &str = "https://api.atlassian.com";
/// Where the vendor sends the user back.
pub const CALLBACK_PATH: &str = "/v1/oauth/callback";

/// The deployment's OAuth client for `kind`, its URLs defaulted to the vendor's, if configured.
pub fn client_settings(settings: &Settings, kind: &str, vendor: &OAuthVendor) -> Option<ClientSettings> {
    let client = settings.oauth_clients.get(kind)?.clone().with_defaults(vendor);
    client.is_configured().then_some(client)
}

fn config_base_url(connector: &Connector) -> Option<String> {
    connector.config.get("base_url").and_then(Value::as_str).map(|url| url.trim_end_matches('/').to_string())
}

/// The API base of a connector without an OAuth gateway: its `base_url`, else the vendor's public API.
pub fn base_url(connector: &Connector) -> String {
    config_base_url(connector).unwrap_or_else(|| {
        match connector.connector_type.as_str() {
            "github" => "https://api.github.com",
            "pagerduty" => "https://api.pagerduty.com",
            "datadog" => "https://api.datadoghq.com",
            _ => "",
        }
        .to_string()
    })
}

/// What a sync authenticates with.
pub struct Access {
    pub auth: Auth,
    pub api_base: String,
    /// Whether a 401 is worth a token refresh (an OAuth grant with a refresh token).
    pub refreshable: bool,
}

pub enum AccessError {
    Store(StoreError),
    /// The connector must be authorized again (no credentials, a grant the vendor refused).
    NeedsAuth(String),
    Vendor(Failure),
}

impl From<StoreError> for AccessError {
    fn from(err: StoreError) -> Self {
        AccessError::Store(err)
    }
}

/// A stored secret that does not open: under a key the keyring no longer holds, the operator's
/// keyring is at fault and a new authorization would not help; otherwise the value is unusable
/// and the connector needs `remedy`.
fn unopenable(err: SealError, remedy: &str) -> AccessError {
    match err {
        SealError::UnknownKey(_) => AccessError::Vendor(Failure::Permanent(format!(
            "{err}: the service's operator must put that key back in the master keyring"
        ))),
        _ => AccessError::NeedsAuth(remedy.to_string()),
    }
}

/// The access for the connector's next vendor call: its OAuth grant (refreshed first when it
/// expires within a minute, or when `force_refresh` after a 401), else its credentials. A
/// refresh is saved on the connector (`version` moves on) before the new token is used.
pub async fn access(
    state: &AppState,
    client: &OutboundClient,
    connector: &mut Connector,
    version: &mut u64,
    force_refresh: bool,
    now: i64,
) -> Result<Access, AccessError> {
    let vendor = causeloop_connectors::vendor(&connector.connector_type)
        .ok_or_else(|| AccessError::NeedsAuth(format!("`{}` connectors cannot sync", connector.connector_type)))?;
    let secret_box = match state.settings.master_key().await {
        Ok(ring) => ring,
        Err(MasterKeyError::NotConfigured) => {
            return Err(AccessError::Vendor(Failure::Permanent("the service has no master key for secrets".into())))
        }
        Err(MasterKeyError::Unavailable(why)) => {
            return Err(AccessError::Vendor(Failure::Transient(format!("the master keyring cannot be read: {why}"))))
        }
    };
    let credentials: Map<String, Value> = match &connector.sealed_credentials {
        Some(sealed) => open_credentials(secret_box, &connector.workspace_id, &connector.id, sealed)
            .map_err(|err| unopenable(err, "the stored credentials do not open; set them again"))?,
        None => Map::new(),
    };
    let grant = connector.oauth.clone().unwrap_or_default();
    let Some(sealed_tokens) = &grant.sealed_tokens else {
        let auth = vendor.auth(&credentials, None).map_err(AccessError::NeedsAuth)?;
        return Ok(Access { auth, api_base: base_url(connector), refreshable: false });
    };
    let mut tokens = open_oauth_tokens(secret_box, &connector.workspace_id, &connector.id, sealed_tokens)
        .map_err(|err| unopenable(err, "the stored OAuth grant does not open; authorize again"))?;
    let expiring = tokens.expires_at_millis.is_some_and(|at| at - REFRESH_MARGIN_MS <= now);
    if expiring || force_refresh {
        tokens = refresh(state, client, vendor, connector, &tokens, now).await?;
        let mut grant = grant.clone();
        grant.sealed_tokens = Some(seal_oauth_tokens(secret_box, &connector.workspace_id, &connector.id, &tokens));
        connector.oauth = Some(grant);
        connector.updated_at = format_unix_millis(now as u64);
        *version = state.store.save_connector(connector, *version).await?;
    }
    let auth = vendor.auth(&credentials, Some(&tokens.access_token)).map_err(AccessError::NeedsAuth)?;
    let api_base = grant.api_base.clone().unwrap_or_else(|| base_url(connector));
    Ok(Access { auth, api_base, refreshable: tokens.refresh_token.is_some() })
}

/// Trades the refresh token for new tokens; a rotating vendor's new refresh token replaces the
/// old one, a vendor that sends none keeps the old one valid.
async fn refresh(
    state: &AppState,
    client: &OutboundClient,
    vendor: &dyn Vendor,
    connector: &Connector,
    tokens: &OAuthTokens,
    now: i64,
) -> Result<OAuthTokens, AccessError> {
    let Some(refresh_token) = &tokens.refresh_token else {
        return Err(AccessError::NeedsAuth(
            "the OAuth access token expired and there is no refresh token; authorize again".into(),
        ));
    };
    let oauth = vendor.oauth().ok_or_else(|| AccessError::NeedsAuth("this vendor has no OAuth".into()))?;
    let settings = client_settings(&state.settings, &connector.connector_type, oauth).ok_or_else(|| {
        AccessError::NeedsAuth(format!("the deployment has no OAuth client for {}", connector.connector_type))
    })?;
    let request = flow::refresh(&settings, &base_url(connector), refresh_token);
    let response = client.fetch(&request).await.map_err(AccessError::Vendor)?;
    match flow::read_tokens(vendor.kind(), &response, now) {
        Ok(new) => Ok(OAuthTokens {
            access_token: new.access_token,
            refresh_token: new.refresh_token.or_else(|| tokens.refresh_token.clone()),
            expires_at_millis: new.expires_at_millis,
        }),
        Err(Failure::Unauthorized(why)) => Err(AccessError::NeedsAuth(why)),
        Err(failure) => Err(AccessError::Vendor(failure)),
    }
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The redirect URI: the configured public URL, else this request's host (https unless a TLS
/// proxy in front says otherwise, or the host is loopback as in local development).
fn redirect_uri(settings: &Settings, headers: &HeaderMap) -> Result<String, ApiError> {
    if let Some(public) = &settings.public_url {
        return Ok(format!("{}{CALLBACK_PATH}", public.trim_end_matches('/')));
    }
    let host = headers.get(header::HOST).and_then(|value| value.to_str().ok()).ok_or_else(|| {
        ApiError::bad_request("missing_host", "the request has no Host header to build the OAuth redirect URI from")
    })?;
    let forwarded = headers.get("x-forwarded-proto").and_then(|value| value.to_str().ok());
    let loopback = host.starts_with("127.0.0.1") || host.starts_with("localhost") || host.starts_with("[::1]");
    let scheme = match forwarded {
        Some(proto) => proto,
        None if loopback => "http",
        None => "https",
    };
    Ok(format!("{scheme}://{host}{CALLBACK_PATH}"))
}

/// `POST /v1/connectors/{id}/oauth/start`.
pub async fn start(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    principal.require(Scope::ConnectorsAdmin)?;
    let id = ConnectorId::parse(&id).ok_or_else(|| ApiError::not_found("connector"))?;
    let stored =
        state.store.connector(&principal.workspace_id, &id).await?.ok_or_else(|| ApiError::not_found("connector"))?;
    let mut connector = stored.value;
    let oauth =
        causeloop_connectors::vendor(&connector.connector_type).and_then(|vendor| vendor.oauth()).ok_or_else(|| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "oauth_not_supported",
                format!("`{}` connectors do not authorize through OAuth", connector.connector_type),
            )
        })?;
    let settings = client_settings(&state.settings, &connector.connector_type, oauth).ok_or_else(|| {
        let kind = connector.connector_type.to_ascii_uppercase();
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "oauth_not_configured",
            format!(
                "this deployment has no OAuth client for {}: its operator sets CAUSELOOP_OAUTH_{kind}_CLIENT_ID and \
                 CAUSELOOP_OAUTH_{kind}_CLIENT_SECRET (or `causeloop serve --oauth-{}-client-id/-secret`)",
                connector.connector_type, connector.connector_type
            ),
        )
    })?;
    let secret_box = secret_box(&state.settings).await?;
    let now = now_millis() as i64;
    let expires_at_millis = now + FLOW_SECONDS * 1000;
    let state_token = oauth_state(secret_box, &connector.id, expires_at_millis);
    let verifier = base64_url(&rand::random::<[u8; 32]>());
    let redirect = redirect_uri(&state.settings, &headers)?;
    let authorize_url =
        flow::authorize_url(oauth, &settings, &base_url(&connector), &redirect, &state_token, &verifier);
    let mut grant = connector.oauth.clone().unwrap_or_default();
    grant.pending = Some(PendingOAuth {
        state_hash: sha256_hex(&state_token),
        sealed_verifier: seal_oauth_verifier(secret_box, &connector.id, &verifier),
        redirect_uri: redirect,
        expires_at_millis,
    });
    connector.oauth = Some(grant);
    connector.updated_at = format_unix_millis(now as u64);
    state.store.save_connector(&connector, stored.version).await?;
    Ok(Json(json!({
        "authorize_url": authorize_url,
        "state": state_token,
        "expires_at": format_unix_millis(expires_at_millis as u64),
    })))
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The small page the callback answers: what happened, as text.
fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let escape = |text: &str| {
        text.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;")
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{message}</p></body></html>",
        title = escape(title),
        message = escape(message)
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'"),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
        .into_response()
}

fn refused(message: &str) -> Response {
    page(StatusCode::BAD_REQUEST, "Authorization failed", message)
}

/// `GET /v1/oauth/callback?code=&state=` (or `error=` when the user declined).
pub async fn callback(State(state): State<AppState>, Query(query): Query<HashMap<String, String>>) -> Response {
    match finish(&state, &query).await {
        Ok(page) => page,
        Err(err) => {
            tracing::error!(error = %err, "the OAuth callback failed on the store");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Authorization failed",
                "The service could not save the grant; start again.",
            )
        }
    }
}

async fn finish(state: &AppState, query: &HashMap<String, String>) -> Result<Response, StoreError> {
    let Ok(secret_box) = state.settings.master_key().await else {
        return Ok(refused("The service cannot use its master key for secrets; try again later."));
    };
    let Some(state_token) = query.get("state") else {
        return Ok(refused("The callback has no state."));
    };
    let Some((connector_id, expires_at)) = open_oauth_state(secret_box, state_token) else {
        return Ok(refused("The state is not one this service issued."));
    };
    let now = now_millis() as i64;
    if expires_at <= now {
        return Ok(refused("The authorization took too long; start it again."));
    }
    let Some(stored) = state.store.connector_by_id(&connector_id).await? else {
        return Ok(refused("The connector no longer exists."));
    };
    let mut connector = stored.value;
    let mut grant = connector.oauth.clone().unwrap_or_default();
    let Some(pending) = grant.pending.take() else {
        return Ok(refused("This authorization was already used; start it again."));
    };
    if !bool::from(pending.state_hash.as_bytes().ct_eq(sha256_hex(state_token).as_bytes())) {
        return Ok(refused("This authorization was replaced by a newer one; use the latest."));
    }
    // Single use: the pending flow is cleared before the code is exchanged.
    connector.oauth = Some(grant.clone());
    let version = match state.store.save_connector(&connector, stored.version).await {
        Ok(version) => version,
        Err(StoreError::ConditionFailed) => return Ok(refused("This authorization was already used; start it again.")),
        Err(err) => return Err(err),
    };
    if let Some(error) = query.get("error") {
        let detail = query.get("error_description").map(String::as_str).unwrap_or("");
        return Ok(refused(&format!("The vendor did not grant access ({error}) {detail}")));
    }
    let Some(code) = query.get("code") else {
        return Ok(refused("The callback has no code."));
    };
    let Some(vendor) = causeloop_connectors::vendor(&connector.connector_type) else {
        return Ok(refused("This connector type has no OAuth."));
    };
    let Some(oauth) = vendor.oauth() else {
        return Ok(refused("This connector type has no OAuth."));
    };
    let Some(settings) = client_settings(&state.settings, &connector.connector_type, oauth) else {
        return Ok(refused("This deployment has no OAuth client for the connector's type."));
    };
    let Some(verifier) = open_oauth_verifier(secret_box, &connector.id, &pending.sealed_verifier) else {
        return Ok(refused("The flow's verifier does not open; start again."));
    };
    let client = state.vendor_client();
    let exchange = flow::code_exchange(oauth, &settings, &base_url(&connector), &pending.redirect_uri, code, &verifier);
    let tokens =
        match client.fetch(&exchange).await.and_then(|response| flow::read_tokens(vendor.kind(), &response, now)) {
            Ok(tokens) => tokens,
            Err(failure) => return Ok(refused(&format!("The code exchange failed: {failure}"))),
        };
    if connector.connector_type == "jira" {
        match jira_site(state, client, &connector, &tokens.access_token).await {
            Ok(api_base) => grant.api_base = Some(api_base),
            Err(why) => return Ok(refused(&why)),
        }
    }
    let tokens = OAuthTokens {
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token,
        expires_at_millis: tokens.expires_at_millis,
    };
    grant.sealed_tokens = Some(seal_oauth_tokens(secret_box, &connector.workspace_id, &connector.id, &tokens));
    connector.oauth = Some(grant);
    connector.status = STATUS_CONNECTED.to_string();
    connector.updated_at = format_unix_millis(now as u64);
    match state.store.save_connector(&connector, version).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed) => {
            return Ok(refused("The connector changed during the authorization; start again."));
        }
        Err(err) => return Err(err),
    }
    if connector.enabled {
        start_sync(state, &connector.workspace_id, &connector.id, SyncMode::Incremental, None, now).await?;
    }
    Ok(page(
        StatusCode::OK,
        "Connected",
        &format!(
            "{} is connected to Causeloop; its history is being imported. You can close this page.",
            connector.display_name
        ),
    ))
}

/// The Jira site a grant reaches, as Atlassian's gateway base for it: the accessible resource
/// whose URL is the connector's `base_url`, else the only one.
async fn jira_site(
    state: &AppState,
    client: &OutboundClient,
    connector: &Connector,
    access_token: &str,
) -> Result<String, String> {
    let api = state.settings.oauth_jira_api_url.clone().unwrap_or_else(|| JIRA_API_URL.to_string());
    let api = api.trim_end_matches('/');
    let request = Request::get(
        format!("{api}/oauth/token/accessible-resources"),
        &Auth::Bearer(access_token.to_string()),
        &[("accept", "application/json")],
    );
    let response = client.fetch(&request).await.map_err(|failure| format!("Atlassian's resources: {failure}"))?;
    causeloop_connectors::http::check_status("jira", &response, now_millis() as i64)
        .map_err(|failure| failure.to_string())?;
    let resources: Vec<Value> = serde_json::from_slice(&response.body)
        .map_err(|_| "Atlassian's accessible resources are not a JSON list".to_string())?;
    let wanted = config_base_url(connector);
    let site = resources
        .iter()
        .find(|resource| {
            resource.get("url").and_then(Value::as_str).map(|url| url.trim_end_matches('/').to_string()) == wanted
        })
        .or(if resources.len() == 1 { resources.first() } else { None })
        .ok_or_else(|| {
            format!(
                "the grant reaches no Jira site matching {} ({} sites granted)",
                wanted.unwrap_or_default(),
                resources.len()
            )
        })?;
    let cloud_id = site.get("id").and_then(Value::as_str).ok_or("Atlassian's resource has no id")?;
    if !cloud_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err("Atlassian's cloud id is malformed".into());
    }
    Ok(format!("{api}/ex/jira/{cloud_id}"))
}

/// Whether the connector can authenticate a sync: a live OAuth grant, or credentials complete
/// for the vendor (judged by their names; a PagerDuty connector holding only its push
/// `webhook_secret` receives webhooks but cannot poll).
pub fn can_poll(connector: &Connector) -> bool {
    let Some(vendor) = causeloop_connectors::vendor(&connector.connector_type) else { return false };
    if connector.oauth.as_ref().is_some_and(|grant| grant.sealed_tokens.is_some()) {
        return true;
    }
    let named: Map<String, Value> =
        connector.credential_fields.iter().map(|name| (name.clone(), Value::String("set".into()))).collect();
    vendor.auth(&named, None).is_ok()
}

/// The status of a polling connector that cannot poll yet: `needs_auth` unless it receives
/// pushed events (it holds credentials), which keep it `connected`.
pub fn status_without_poll(connector: &Connector) -> &'static str {
    if connector.credential_fields.is_empty() {
        STATUS_NEEDS_AUTH
    } else {
        STATUS_CONNECTED
    }
}
