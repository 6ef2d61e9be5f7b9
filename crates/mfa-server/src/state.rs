use std::sync::Arc;

use mfa_config::Config;
use mfa_core::Clock;
use mfa_store::{ApiToken, Server, Store};

use crate::health::HealthProbe;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::notify::Notifier;
use crate::token_cache::TokenCache;

/// What handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub hub: Hub,
    pub notifier: Notifier,
    /// Server and API tokens recently presented, reused until a revocation is seen.
    pub servers: Arc<TokenCache<Server>>,
    pub api_tokens: Arc<TokenCache<ApiToken>>,
    /// When the database last answered /healthz.
    pub health: Arc<HealthProbe>,
    /// What `GET /metrics` reports (this state's own recorder).
    pub metrics: Arc<Metrics>,
}

impl AppState {
    /// Needs a Tokio runtime: with PostgreSQL it starts the cross-node event relay.
    pub fn new(store: Store, config: Config, clock: Arc<dyn Clock>) -> Self {
        Self {
            hub: Hub::new(store.clone()),
            notifier: Notifier::new(),
            servers: Arc::default(),
            api_tokens: Arc::default(),
            health: Arc::default(),
            metrics: Arc::new(Metrics::new(config.metrics_token.expose())),
            store,
            config: Arc::new(config),
            clock,
        }
    }
}
