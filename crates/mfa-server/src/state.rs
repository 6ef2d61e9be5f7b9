use std::sync::Arc;

use mfa_config::Config;
use mfa_core::Clock;
use mfa_store::Store;

use crate::hub::Hub;
use crate::notify::Notifier;

/// What handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub hub: Hub,
    pub notifier: Notifier,
}

impl AppState {
    /// Needs a Tokio runtime: with PostgreSQL it starts the cross-node event relay.
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            hub: Hub::new(store.clone()),
            notifier: Notifier::new(),
            store,
            config: Arc::new(config),
            clock,
        }
    }
}
