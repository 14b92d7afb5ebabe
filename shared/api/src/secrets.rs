//! Signing secrets and connector credentials: generated here, sealed with the master key in
//! [`crate::state::Settings::secret_box`] before they reach storage, opened only to verify or
//! sign. See `causeloop_domain::sealed` for why they are encrypted rather than hashed.

use crate::state::{MasterKeyError, Settings};
use axum::http::StatusCode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use causeloop_domain::keys::WEBHOOK_SECRET_PREFIX;
use causeloop_domain::sealed::{SealError, SecretBox};
use causeloop_domain::{ConnectorId, WebhookId, WorkspaceId};
use causeloop_http::ApiError;
use causeloop_storage::connectors::{Connector, StoredSecret, Webhook};
use causeloop_storage::repo::Versioned;
use causeloop_storage::{Store, StoreError};
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

/// The master keyring, or the error that says what the operator must mend.
pub async fn secret_box(settings: &Settings) -> Result<&SecretBox, ApiError> {
    settings.master_key().await.map_err(master_key_error)
}

/// The answer for a master keyring that cannot be used: 500 when none is configured, 503 when
/// the configured one cannot be read (Secrets Manager unreachable or denied), so senders retry.
pub fn master_key_error(err: MasterKeyError) -> ApiError {
    match err {
        MasterKeyError::NotConfigured => {
            tracing::error!("no master keyring is configured; secrets cannot be sealed or opened");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "secret_key_not_configured",
                "the service has no master key for secrets (CAUSELOOP_SECRET_KEY or CAUSELOOP_KEYRING_SECRET); ask its operator",
            )
        }
        MasterKeyError::Unavailable(why) => {
            tracing::error!(error = %why, "the master keyring cannot be read");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "secret_key_unavailable",
                "the service cannot read its master keyring right now; retry later",
            )
        }
    }
}

/// The answer when stored secrets exist but none opens with the keyring: the keyring lost the
/// key that sealed them (a rotation dropped it too early) or holds the wrong one. Saying so
/// beats a 401 that would send a correctly signing sender hunting for a wrong secret.
pub fn secrets_do_not_open(err: &SealError) -> ApiError {
    tracing::error!(error = %err, "stored secrets do not open with the master keyring");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "secret_key_mismatch",
        "the service's master keyring does not open this receiver's stored secrets; ask its operator",
    )
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
/// open is logged and skipped: it can verify nothing. When none opens, the error of the first
/// says why (a key the keyring no longer holds, the wrong keyring, tampering).
pub fn open_valid_secrets(secret_box: &SecretBox, webhook: &Webhook, now: &str) -> Result<Vec<String>, SealError> {
    let context = webhook_context(&webhook.workspace_id, &webhook.id);
    let mut opened = Vec::new();
    let mut first_error = None;
    for stored in webhook.secrets_valid_at(now) {
        match secret_box.open(&context, &stored.sealed).and_then(utf8) {
            Ok(secret) => opened.push(secret),
            Err(err) => {
                tracing::error!(webhook_id = %webhook.id, error = %err, "a stored signing secret does not open");
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) if opened.is_empty() => Err(err),
        _ => Ok(opened),
    }
}

fn utf8(bytes: Vec<u8>) -> Result<String, SealError> {
    String::from_utf8(bytes).map_err(|_| SealError::Malformed)
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
) -> Result<Map<String, Value>, SealError> {
    let bytes = secret_box.open(&credentials_context(workspace, connector), sealed)?;
    serde_json::from_slice(&bytes).map_err(|_| SealError::Malformed)
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
) -> Result<OAuthTokens, SealError> {
    let bytes = secret_box.open(&oauth_tokens_context(workspace, connector), sealed)?;
    serde_json::from_slice(&bytes).map_err(|_| SealError::Malformed)
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

/// What [`reseal_all`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResealReport {
    pub workspaces: usize,
    /// Webhook registrations (outbound endpoints and inbound receivers) written again.
    pub webhooks_resealed: usize,
    /// Connectors whose credentials or OAuth grant were written again.
    pub connectors_resealed: usize,
    /// Values that open with no key of the ring, left as they are: `<record>: <why>`.
    pub unopenable: Vec<String>,
}

/// How often one record is read and written again when a concurrent change wins the race.
const RESEAL_ATTEMPTS: usize = 5;

/// Seals every stored secret of every workspace again under the ring's current key: webhook
/// signing secrets (current and previous), connector credentials, OAuth tokens and pending
/// verifiers. Each record is rewritten with a versioned write, so a change made meanwhile (a
/// rotation, a token refresh) is read again rather than overwritten; a value already under the
/// current key is left alone, so running it again writes nothing. After it reports no
/// `unopenable` values, the older keys can leave the ring.
pub async fn reseal_all(store: &Store, ring: &SecretBox) -> Result<ResealReport, StoreError> {
    let mut report = ResealReport::default();
    for workspace in store.workspaces().await? {
        report.workspaces += 1;
        for webhook in store.all_webhooks(&workspace.id).await? {
            if reseal_record(
                || store.webhook(&workspace.id, &webhook.id),
                |record| reseal_webhook(ring, record),
                |record, version| async move { store.save_webhook(&record, version).await },
                &mut report.unopenable,
            )
            .await?
            {
                report.webhooks_resealed += 1;
            }
        }
        for connector in store.all_connectors(&workspace.id).await? {
            if reseal_record(
                || store.connector(&workspace.id, &connector.id),
                |record| reseal_connector(ring, record),
                |record, version| async move { store.save_connector(&record, version).await },
                &mut report.unopenable,
            )
            .await?
            {
                report.connectors_resealed += 1;
            }
        }
    }
    Ok(report)
}

/// Reads a record, reseals it and writes it back at the version read, again on a lost race.
/// Returns whether it was written.
async fn reseal_record<T, Read, ReadFut, Save, SaveFut>(
    read: Read,
    reseal: impl Fn(&mut T) -> Resealed,
    save: Save,
    unopenable: &mut Vec<String>,
) -> Result<bool, StoreError>
where
    Read: Fn() -> ReadFut,
    ReadFut: std::future::Future<Output = Result<Option<Versioned<T>>, StoreError>>,
    Save: Fn(T, u64) -> SaveFut,
    SaveFut: std::future::Future<Output = Result<u64, StoreError>>,
{
    for _ in 0..RESEAL_ATTEMPTS {
        let Some(Versioned { mut value, version }) = read().await? else {
            return Ok(false);
        };
        let resealed = reseal(&mut value);
        if resealed.changed {
            match save(value, version).await {
                Ok(_) => {}
                Err(StoreError::ConditionFailed) => continue,
                Err(err) => return Err(err),
            }
        }
        unopenable.extend(resealed.unopenable);
        return Ok(resealed.changed);
    }
    Err(StoreError::Contended)
}

#[derive(Default)]
struct Resealed {
    changed: bool,
    unopenable: Vec<String>,
}

impl Resealed {
    fn value(&mut self, ring: &SecretBox, context: &str, sealed: &mut String) {
        match ring.reseal(context, sealed, rand::random()) {
            Ok(Some(again)) => {
                *sealed = again;
                self.changed = true;
            }
            Ok(None) => {}
            Err(err) => self.unopenable.push(format!("{context}: {err}")),
        }
    }
}

fn reseal_webhook(ring: &SecretBox, webhook: &mut Webhook) -> Resealed {
    let context = webhook_context(&webhook.workspace_id, &webhook.id);
    let mut resealed = Resealed::default();
    for stored in std::iter::once(&mut webhook.signing_secret).chain(webhook.previous_secrets.iter_mut()) {
        resealed.value(ring, &context, &mut stored.sealed);
    }
    resealed
}

fn reseal_connector(ring: &SecretBox, connector: &mut Connector) -> Resealed {
    let (workspace, id) = (&connector.workspace_id, &connector.id);
    let mut resealed = Resealed::default();
    if let Some(sealed) = &mut connector.sealed_credentials {
        resealed.value(ring, &credentials_context(workspace, id), sealed);
    }
    if let Some(grant) = &mut connector.oauth {
        if let Some(sealed) = &mut grant.sealed_tokens {
            resealed.value(ring, &oauth_tokens_context(workspace, id), sealed);
        }
        if let Some(pending) = &mut grant.pending {
            resealed.value(ring, &oauth_verifier_context(id), &mut pending.sealed_verifier);
        }
    }
    resealed
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
        assert_eq!(open_credentials(&secret_box, &ws, &a, &sealed), Ok(credentials));
        assert_eq!(open_credentials(&secret_box, &ws, &b, &sealed), Err(SealError::WrongKeyOrTampered));
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
