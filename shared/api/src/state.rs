//! What every handler and worker shares: the store, the queues and the settings. Built once per
//! process (per Lambda container), never per request.

use crate::alerts::sns::SubscriptionConfirmer;
use crate::config::Config;
use axum::extract::FromRef;
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

impl Settings {
    /// The settings a deployment's configuration gives.
    pub fn from_config(config: &Config) -> Self {
        Settings {
            allow_private_targets: config.allow_private_targets,
            secret_box: config.secret_key.clone(),
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

/// Lets `causeloop_http::Principal` authenticate against this state's store.
impl FromRef<AppState> for Store {
    fn from_ref(state: &AppState) -> Store {
        state.store.clone()
    }
}
