use anyhow::Context as _;
use mfa_config::Config;
use mfa_core::{Clock, SystemClock, Timestamp};
use mfa_store::Store;

use crate::cli::Global;

/// What every command needs: the config, the open store, how to print.
pub struct Context {
    pub config: Config,
    pub store: Store,
    pub json: bool,
}

impl Context {
    pub async fn open(global: &Global) -> anyhow::Result<Self> {
        let loaded = mfa_config::load(global.config.as_deref())?;
        let config = loaded.config;
        let store = Store::open_with_key_file(&config.database_url(), &config.key_file())
            .await
            .context("cannot open the mfa database")?;
        Ok(Self {
            config,
            store,
            json: global.json,
        })
    }

    pub fn now(&self) -> Timestamp {
        SystemClock.now()
    }
}
