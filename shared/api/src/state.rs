//! What every handler and worker shares: the store, the queues and the settings. Built once per
//! process (per Lambda container), never per request.

use crate::alerts::sns::SubscriptionConfirmer;
use crate::config::Config;
use crate::outbound::OutboundClient;
use axum::extract::FromRef;
use causeloop_connectors::oauth::ClientSettings;
use causeloop_domain::sealed::SecretBox;
use causeloop_storage::{Queue, Store, Table};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a vendor call (a page, a token exchange) may take.
pub const VENDOR_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Lets outbound webhooks target http and private addresses (local development only).
    pub allow_private_targets: bool,
    /// SNS signing certificates pinned by URL (`causeloop serve --trust-sns-cert URL=PEM`), for
    /// offline testing only: Lambda never sets this and fetches certificates over HTTPS.
    pub trusted_sns_certs: BTreeMap<String, Vec<u8>>,
    /// The master keyring that seals signing secrets, connector credentials and OAuth grants at
    /// rest, when it is known at start (`CAUSELOOP_SECRET_KEY`, or `<data-dir>/secret.key` for
    /// `causeloop serve`); see `causeloop_domain::sealed`. Read it through
    /// [`Settings::master_key`], which also covers a keyring loaded on first use.
    pub secret_box: Option<SecretBox>,
    /// Where the keyring comes from when it is not known at start: Secrets Manager on AWS.
    pub keyring_loader: Option<KeyringLoader>,
    /// OAuth clients by connector type, as configured (URLs not yet defaulted).
    pub oauth_clients: BTreeMap<String, ClientSettings>,
    /// Atlassian's API gateway for Jira OAuth grants; `https://api.atlassian.com` if unset.
    pub oauth_jira_api_url: Option<String>,
    /// The public base URL OAuth redirect URIs are built on.
    pub public_url: Option<String>,
}

/// Fetches the master keyring.
pub type FetchKeyring = dyn Fn() -> Pin<Box<dyn Future<Output = Result<SecretBox, String>> + Send>> + Send + Sync;

/// A keyring read once, on first use, by the processes that seal or open secrets: a function
/// that never touches one (ingest, issues) never pays for the read. A failed read is not kept,
/// so the next use tries again.
#[derive(Clone)]
pub struct KeyringLoader {
    fetch: Arc<FetchKeyring>,
    loaded: Arc<tokio::sync::OnceCell<SecretBox>>,
}

impl KeyringLoader {
    pub fn new(fetch: Arc<FetchKeyring>) -> Self {
        Self { fetch, loaded: Arc::new(tokio::sync::OnceCell::new()) }
    }
}

impl std::fmt::Debug for KeyringLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyringLoader(loaded: {:?})", self.loaded.get())
    }
}

/// Why the master keyring cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterKeyError {
    /// Neither a keyring nor a place to read one is configured.
    NotConfigured,
    /// The configured keyring could not be read or parsed; the text says why.
    Unavailable(String),
}

impl Settings {
    /// The master keyring: the one known at start, else the one its loader reads (once).
    pub async fn master_key(&self) -> Result<&SecretBox, MasterKeyError> {
        if let Some(ring) = &self.secret_box {
            return Ok(ring);
        }
        let loader = self.keyring_loader.as_ref().ok_or(MasterKeyError::NotConfigured)?;
        loader.loaded.get_or_try_init(|| (loader.fetch)()).await.map_err(MasterKeyError::Unavailable)
    }

    /// The settings a deployment's configuration gives.
    pub fn from_config(config: &Config) -> Self {
        Settings {
            allow_private_targets: config.allow_private_targets,
            secret_box: config.secret_key.clone(),
            oauth_clients: config.oauth_clients.clone(),
            oauth_jira_api_url: config.oauth_jira_api_url.clone(),
            public_url: config.public_url.clone(),
            ..Settings::default()
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub queue: Arc<dyn Queue>,
    pub settings: Arc<Settings>,
    /// SNS `ConfirmSubscription`; `None` means the AWS SDK adapter configured from the
    /// environment, built on first use (see `crate::alerts::sns`).
    pub sns_confirmer: Option<Arc<dyn SubscriptionConfirmer>>,
    /// The HTTP client for vendors' APIs (OAuth token exchanges, sync pages), built on first use.
    vendor_client: Arc<OnceLock<OutboundClient>>,
}

impl AppState {
    pub fn new(table: Arc<dyn Table>, queue: Arc<dyn Queue>, settings: Settings) -> Self {
        Self {
            store: Store::new(table),
            queue,
            settings: Arc::new(settings),
            sns_confirmer: None,
            vendor_client: Arc::new(OnceLock::new()),
        }
    }

    /// The client vendor calls go through: the SSRF guard of outbound deliveries, a longer
    /// timeout ([`VENDOR_TIMEOUT`]).
    pub fn vendor_client(&self) -> &OutboundClient {
        self.vendor_client.get_or_init(|| {
            OutboundClient::with_timeout(self.settings.allow_private_targets, VENDOR_TIMEOUT)
                .expect("the vendor HTTP client builds")
        })
    }

    pub fn with_sns_confirmer(mut self, confirmer: Arc<dyn SubscriptionConfirmer>) -> Self {
        self.sns_confirmer = Some(confirmer);
        self
    }
}

/// Lets `causeloop_http::Principal` authenticate against this state's store.
impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}
