//! Signing secrets and connector credentials: generated here, sealed with the master key in
//! [`crate::state::Settings::secret_box`] before they reach storage, opened only to verify or
//! sign. See `causeloop_domain::sealed` for why they are encrypted rather than hashed.

use crate::state::Settings;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use causeloop_domain::keys::WEBHOOK_SECRET_PREFIX;
use causeloop_domain::sealed::SecretBox;
use causeloop_domain::{ConnectorId, WebhookId, WorkspaceId};
use causeloop_http::ApiError;
use causeloop_storage::connectors::{StoredSecret, Webhook};
use serde_json::{Map, Value};

/// Random bytes in every signing secret (`docs/api-contract.md`, "Secrets").
pub const SIGNING_SECRET_BYTES: usize = 32;

/// A new `whsec_` secret: the prefix and standard base64 of 32 random bytes, the form Standard
/// Webhooks libraries take (they HMAC with the decoded bytes). `x-causeloop-signature` uses the
/// whole string, prefix included, as the HMAC key, as the receivers in `docs/webhooks.md` do.
pub fn new_signing_secret() -> String {
    let random: [u8; SIGNING_SECRET_BYTES] = rand::random();
    format!("{WEBHOOK_SECRET_PREFIX}{}", STANDARD.encode(random))
}

/// The master key, or a 500 that says what the operator must configure.
pub fn secret_box(settings: &Settings) -> Result<&SecretBox, ApiError> {
    settings.secret_box.as_ref().ok_or_else(|| {
        tracing::error!("CAUSELOOP_SECRET_KEY is not configured; secrets cannot be sealed or opened");
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "secret_key_not_configured",
            "the service has no master key for secrets (CAUSELOOP_SECRET_KEY); ask its operator",
        )
    })
}

/// The associated data binding a webhook secret to its record.
fn webhook_context(workspace: &WorkspaceId, webhook: &WebhookId) -> String {
    format!("webhook-secret/{workspace}/{webhook}")
}

fn credentials_context(workspace: &WorkspaceId, connector: &ConnectorId) -> String {
    format!("connector-credentials/{workspace}/{connector}")
}

pub fn seal_signing_secret(
    secret_box: &SecretBox,
    workspace: &WorkspaceId,
    webhook: &WebhookId,
    secret: &str,
    now: &str,
) -> StoredSecret {
    StoredSecret {
        sealed: secret_box.seal(&webhook_context(workspace, webhook), secret.as_bytes(), rand::random()),
        created_at: now.to_string(),
        expires_at: None,
    }
}

/// Every secret of `webhook` that verifies signatures at `now`, opened. A secret that does not
/// open (a changed master key) is logged and skipped: it can verify nothing.
pub fn open_valid_secrets(secret_box: &SecretBox, webhook: &Webhook, now: &str) -> Vec<String> {
    let context = webhook_context(&webhook.workspace_id, &webhook.id);
    webhook
        .secrets_valid_at(now)
        .filter_map(|stored| match secret_box.open(&context, &stored.sealed) {
            Ok(bytes) => String::from_utf8(bytes).ok(),
            Err(err) => {
                tracing::error!(webhook_id = %webhook.id, error = %err, "a stored signing secret does not open");
                None
            }
        })
        .collect()
}

/// The current signing secret of `webhook`, for signing outbound deliveries.
pub fn open_current_secret(secret_box: &SecretBox, webhook: &Webhook) -> Option<String> {
    let context = webhook_context(&webhook.workspace_id, &webhook.id);
    secret_box.open(&context, &webhook.signing_secret.sealed).ok().and_then(|bytes| String::from_utf8(bytes).ok())
}

pub fn seal_credentials(
    secret_box: &SecretBox,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    credentials: &Map<String, Value>,
) -> String {
    let plaintext = serde_json::to_vec(credentials).expect("a JSON object serializes");
    secret_box.seal(&credentials_context(workspace, connector), &plaintext, rand::random())
}

/// The connector's credentials, for the sync worker that will use them.
pub fn open_credentials(
    secret_box: &SecretBox,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    sealed: &str,
) -> Option<Map<String, Value>> {
    let bytes = secret_box.open(&credentials_context(workspace, connector), sealed).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn oauth_tokens_context(workspace: &WorkspaceId, connector: &ConnectorId) -> String {
    format!("connector-oauth-tokens/{workspace}/{connector}")
}

fn oauth_verifier_context(connector: &ConnectorId) -> String {
    format!("connector-oauth-verifier/{connector}")
}

fn oauth_state_context(connector: &ConnectorId) -> String {
    format!("connector-oauth-state/{connector}")
}

/// A connector's OAuth tokens, as sealed at rest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OAuthTokens {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// Unix milliseconds; `None` when the vendor gave no expiry.
    #[serde(default)]
    pub expires_at_millis: Option<i64>,
}

pub fn seal_oauth_tokens(
    secret_box: &SecretBox,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    tokens: &OAuthTokens,
) -> String {
    let plaintext = serde_json::to_vec(tokens).expect("tokens serialize");
    secret_box.seal(&oauth_tokens_context(workspace, connector), &plaintext, rand::random())
}

pub fn open_oauth_tokens(
    secret_box: &SecretBox,
    workspace: &WorkspaceId,
    connector: &ConnectorId,
    sealed: &str,
) -> Option<OAuthTokens> {
    let bytes = secret_box.open(&oauth_tokens_context(workspace, connector), sealed).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn seal_oauth_verifier(secret_box: &SecretBox, connector: &ConnectorId, verifier: &str) -> String {
    secret_box.seal(&oauth_verifier_context(connector), verifier.as_bytes(), rand::random())
}

pub fn open_oauth_verifier(secret_box: &SecretBox, connector: &ConnectorId, sealed: &str) -> Option<String> {
    String::from_utf8(secret_box.open(&oauth_verifier_context(connector), sealed).ok()?).ok()
}

/// The `state` of an OAuth flow: `<connector_id>.<sealed>`, where the sealed part (authenticated
/// encryption under the master key, bound to the connector) holds the expiry and a random nonce.
/// Forged or altered states fail to open before any store read; single use is enforced by the
/// hash of the state kept on the connector until its callback.
pub fn oauth_state(secret_box: &SecretBox, connector: &ConnectorId, expires_at_millis: i64) -> String {
    let nonce: [u8; 16] = rand::random();
    let payload = format!("{expires_at_millis}.{}", hex::encode(nonce));
    let sealed = secret_box.seal(&oauth_state_context(connector), payload.as_bytes(), rand::random());
    format!("{connector}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
}

/// The connector and expiry a `state` names, if it is one this service made.
pub fn open_oauth_state(secret_box: &SecretBox, state: &str) -> Option<(ConnectorId, i64)> {
    let (connector, sealed) = state.split_once('.')?;
    let connector = ConnectorId::parse(connector)?;
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(sealed).ok()?;
    let payload = secret_box.open(&oauth_state_context(&connector), std::str::from_utf8(&sealed).ok()?).ok()?;
    let expires = std::str::from_utf8(&payload).ok()?.split_once('.')?.0.parse().ok()?;
    Some((connector, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_whsec_and_32_random_bytes() {
        let secret = new_signing_secret();
        let body = secret.strip_prefix("whsec_").unwrap();
        assert_eq!(STANDARD.decode(body).unwrap().len(), 32);
        assert_ne!(secret, new_signing_secret());
    }

    #[test]
    fn credentials_round_trip_only_for_their_connector() {
        let secret_box = SecretBox::new([1; 32]);
        let ws = WorkspaceId::random(1, [1; 10]);
        let (a, b) = (ConnectorId::random(1, [2; 10]), ConnectorId::random(1, [3; 10]));
        let credentials: Map<String, Value> = serde_json::from_str(r#"{"api_token":"t0k3n"}"#).unwrap();
        let sealed = seal_credentials(&secret_box, &ws, &a, &credentials);
        assert!(!sealed.contains("t0k3n"));
        assert_eq!(open_credentials(&secret_box, &ws, &a, &sealed), Some(credentials));
        assert_eq!(open_credentials(&secret_box, &ws, &b, &sealed), None);
    }

    #[test]
    fn oauth_states_open_only_unaltered_and_for_their_connector() {
        let secret_box = SecretBox::new([1; 32]);
        let connector = ConnectorId::random(1, [2; 10]);
        let state = oauth_state(&secret_box, &connector, 1_234);
        assert!(state.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)), "{state}");
        assert_eq!(open_oauth_state(&secret_box, &state), Some((connector.clone(), 1_234)));
        let other = ConnectorId::random(1, [3; 10]);
        let moved = format!("{other}.{}", state.split_once('.').unwrap().1);
        assert_eq!(open_oauth_state(&secret_box, &moved), None);
        let mut altered = state.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(open_oauth_state(&secret_box, std::str::from_utf8(&altered).unwrap()), None);
        assert_eq!(open_oauth_state(&SecretBox::new([9; 32]), &state), None);
        assert_ne!(state, oauth_state(&secret_box, &connector, 1_234), "each state is random");
    }
}
