//! `mfad.toml`: the configuration shared by `mfad` (the daemon) and `mfac` (the admin CLI).
//!
//! ```no_run
//! let loaded = mfa_config::load(None)?;
//! println!("listening on {}", loaded.config.listen);
//! # Ok::<(), mfa_config::ConfigError>(())
//! ```
//!
//! Every key has a default, so an empty (or absent) file is a valid configuration. Values are
//! validated while parsing, and every error names the file, line and dotted key, e.g.
//! `mfad.toml:3: listen: invalid socket address syntax`.
//! `mfad.example.toml` at the workspace root documents every key.

mod error;
mod load;
mod model;
mod ops;
mod policy;
mod push;
mod span;
mod tls;
mod validate;

pub use error::ConfigError;
pub use load::{CONFIG_ENV, DATABASE_URL_ENV, DEFAULT_FILE_NAME, Loaded, load, parse};
pub use model::{Config, TotpConfig};
pub use ops::{LogFormat, Secret};
pub use policy::PasswordConfig;
pub use push::{
    DEFAULT_NOTIFICATION_MESSAGE, HttpMethod, Networks, NotifyConfig, NotifyProvider, NtfyConfig,
    UserSettings, WebhookConfig, user_setting,
};
pub use tls::TlsConfig;
pub use validate::MAX_ELEVATED_SESSION;
