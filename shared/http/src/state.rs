//! What every handler shares: the store, the queues and the settings. Built once per process
//! (per Lambda container), never per request.

use causeloop_storage::{Queue, Store, Table};
use std::sync::Arc;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Lets outbound webhooks target http and private addresses (local development only).
    pub allow_private_targets: bool,
}

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub queue: Arc<dyn Queue>,
    pub settings: Arc<Settings>,
}

impl AppState {
    pub fn new(table: Arc<dyn Table>, queue: Arc<dyn Queue>, settings: Settings) -> Self {
        Self { store: Store::new(table), queue, settings: Arc::new(settings) }
    }
}
