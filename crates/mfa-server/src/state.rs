use std::sync::Arc;

use mfa_config::Config;
use mfa_core::Clock;
use mfa_store::Store;

/// What handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
}

impl AppState {
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            config: Arc::new(config),
            clock,
        }
    }
}
