//! What every handler shares: the store, the queues and the settings. Built once per process
//! (per Lambda container), never per request.

use crate::sns::SubscriptionConfirmer;
use causeloop_domain::sealed::SecretBox;
use causeloop_storage::{Queue, Store, Table};
use std::collections::BTreeMap;
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Lets outbound webhooks target http and private addresses (local development only).
    pub allow_private_targets: bool,
    /// SNS signing certificates pinned by URL (`causeloop serve --trust-sns-cert URL=PEM`), for
    /// offline testing only: Lambda never sets this and fetches certificates over HTTPS.
    pub trusted_sns_certs: BTreeMap<String, Vec<u8>>,
    /// The master key that seals signing secrets and connector credentials at rest
    /// (`CAUSELOOP_SECRET_KEY`, or `<data-dir>/secret.key` for `causeloop serve`). Routes that
    /// store or use such secrets answer 500 while it is unset; see `causeloop_domain::sealed`.
    pub secret_box: Option<SecretBox>,
}

/// The environment variable holding the master key: base64 of 32 random bytes.
pub const SECRET_KEY_ENV: &str = "CAUSELOOP_SECRET_KEY";

/// Reads the master key from [`SECRET_KEY_ENV`]: `None` when unset, an error when malformed (a
/// function must not start with a key it would fail to use).
pub fn secret_box_from_env() -> Result<Option<SecretBox>, String> {
    match std::env::var(SECRET_KEY_ENV) {
        Err(_) => Ok(None),
        Ok(text) if text.trim().is_empty() => Ok(None),
        Ok(text) => SecretBox::from_base64(&text).map(Some).map_err(|err| format!("{SECRET_KEY_ENV}: {err}")),
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub queue: Arc<dyn Queue>,
    pub settings: Arc<Settings>,
    /// SNS `ConfirmSubscription`; `None` means the AWS SDK adapter configured from the
    /// environment, built on first use (see `causeloop_api::alerts`).
    pub sns_confirmer: Option<Arc<dyn SubscriptionConfirmer>>,
}

impl AppState {
    pub fn new(table: Arc<dyn Table>, queue: Arc<dyn Queue>, settings: Settings) -> Self {
        Self { store: Store::new(table), queue, settings: Arc::new(settings), sns_confirmer: None }
    }

    pub fn with_sns_confirmer(mut self, confirmer: Arc<dyn SubscriptionConfirmer>) -> Self {
        self.sns_confirmer = Some(confirmer);
        self
    }
}
