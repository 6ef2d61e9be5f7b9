use std::path::Path;

use anyhow::Context as _;
use mfa_config::Config;
use mfa_core::{Clock, SystemClock, Timestamp};
use mfa_store::Store;

/// What every command needs: the config, the open store, how to print.
pub struct Context {
    pub config: Config,
    pub store: Store,
    pub json: bool,
}

impl Context {
    /// Loads the config (`config`: --config, else mfa_config's search) and opens its store;
    /// `json`: print JSON (--json).
    pub async fn open(config: Option<&Path>, json: bool) -> anyhow::Result<Self> {
        let loaded = mfa_config::load(config)?;
        let config = loaded.config;
        crate::owner::check(&config)?;
        let store = Store::open_with_key_file(&config.database_url(), &config.key_file())
            .await
            .context("cannot open the mfa database")?;
        Ok(Self {
            config,
            store,
            json,
        })
    }

    pub fn now(&self) -> Timestamp {
        SystemClock.now()
    }
}
