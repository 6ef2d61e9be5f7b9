//! The shape of `mfad.toml`: one struct per table, every key optional.
//!
//! To add a key: add the field (with a `deserialize_with` validator if its type does not
//! validate itself), give it a default in the struct's `Default` impl, and document it in
//! `mfad.example.toml` (a test fails if you forget). Keep sub-tables (`[totp]`, ...) as the
//! last fields so the struct serializes to valid TOML.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ops::{LogFormat, Secret};
use crate::policy::PasswordConfig;
use crate::push::{Networks, NotifyConfig, UserSettings};
use crate::tls::TlsConfig;
use crate::validate;
use mfa_otp::{Algorithm, Digits, TotpParams};

/// Where the host name is read from for the default `server_name`.
const HOSTNAME_FILE: &str = "/proc/sys/kernel/hostname";

/// The whole configuration file shared by `mfad` and `mfac`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Names this server in otpauth URIs: the account label is `tux@<server_name>`.
    /// Default: the machine's host name, else `localhost`.
    #[serde(deserialize_with = "validate::server_name")]
    pub server_name: String,

    /// Where the daemon's HTTP API listens. Default `127.0.0.1:8420`.
    pub listen: SocketAddr,

    /// Directory for the database and key file defaults. Default `./mfa-data`
    /// (relative paths are relative to the working directory, not to the config file).
    #[serde(deserialize_with = "validate::path")]
    pub data_dir: PathBuf,

    /// Database URL as written in the file (or overridden by `MFA_DATABASE_URL`);
    /// use [`Config::database_url`] for the effective value.
    #[serde(
        deserialize_with = "validate::database_url",
        skip_serializing_if = "Option::is_none"
    )]
    pub database_url: Option<String>,

    /// Key file as written in the file; use [`Config::key_file`] for the effective value.
    #[serde(
        deserialize_with = "validate::optional_path",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_file: Option<PathBuf>,

    /// Log filter, as a `tracing_subscriber::EnvFilter` directive. Default `info`.
    pub log: String,

    /// Public base URL of this server, for approve links. Default `http://<listen>`.
    #[serde(
        deserialize_with = "validate::host_addr",
        skip_serializing_if = "Option::is_none"
    )]
    pub host_addr: Option<String>,

    /// Seconds a push waits for an answer before it is denied (reason: timeout). Default 30.
    #[serde(deserialize_with = "validate::auth_timeout")]
    pub auth_timeout: u32,

    /// Approving a push needs the two-digit number shown at the login prompt. Default true.
    pub number_matching: bool,

    /// Failures within `block_duration` that lock out for `block_duration`: per login user and
    /// per login source address (denied or expired pushes, wrong codes and passwords), and per
    /// caller address (bad tokens and links). Default 5. The OTP service throttles each
    /// credential with the same numbers.
    #[serde(deserialize_with = "validate::max_failed_attempts")]
    pub max_failed_attempts: u32,

    /// Seconds: the failure window and the first lock's length. Default 300.
    #[serde(deserialize_with = "validate::block_duration")]
    pub block_duration: u32,

    /// Seconds: the longest a lock lasts. Each lock that follows another within this long of
    /// its end lasts twice as long as that one (300, 600, 1200, ...), up to this. Never
    /// shorter than `block_duration`. Default 86400.
    #[serde(deserialize_with = "validate::max_block_duration")]
    pub max_block_duration: u32,

    /// Days the audit log is kept; older entries are purged. Default 400.
    #[serde(deserialize_with = "validate::audit_retention_days")]
    pub audit_retention_days: u32,

    /// Logins from these networks need no second factor. Default none.
    #[serde(deserialize_with = "validate::networks")]
    pub trusted_ip_networks: Networks,

    /// Peers whose X-Forwarded-For / X-Real-IP headers are believed. Default none.
    #[serde(deserialize_with = "validate::networks")]
    pub trusted_reverse_proxies: Networks,

    /// What a login needs when no rule says more: `disabled`, `enabled`, `any-required`
    /// (default: one of the app's methods), `totp-required`, `password-required`.
    pub mfa_policy: mfa_core::policy::MfaPolicy,

    /// Seconds an elevated session lasts when a caller asks for one with `remember: true`.
    /// Default 900.
    #[serde(deserialize_with = "validate::elevated_session")]
    pub elevated_session: u32,

    /// The longest elevated session a caller may ask for, in seconds; 0: none. Default 3600.
    #[serde(deserialize_with = "validate::max_elevated_session")]
    pub max_elevated_session: u32,

    /// Connections mfad serves at once; the excess is answered 503 and closed. Never more
    /// than the open-file limit allows (three quarters of it). Default 768.
    #[serde(deserialize_with = "validate::max_connections")]
    pub max_connections: u32,

    /// Connections one client address (an IPv6 /64) may hold at once; the excess is answered
    /// 429 and closed. `trusted_reverse_proxies` are exempt. Default 128.
    #[serde(deserialize_with = "validate::max_connections_per_ip")]
    pub max_connections_per_ip: u32,

    /// How mfad writes its log lines: `text` (default) or `json` (one JSON object a line).
    pub log_format: LogFormat,

    /// When set, `GET /metrics` answers only `Authorization: Bearer <metrics_token>`.
    /// Default empty: the metrics are open (they hold counts, never names or addresses).
    #[serde(deserialize_with = "validate::metrics_token")]
    pub metrics_token: Secret,

    /// The web console at `/admin` (`mfac admin add NAME`). Default: on only when mfad listens
    /// on a loopback address or serves HTTPS (`[tls]`), so that its password and session
    /// cookie never cross a network in the clear; use [`Config::admin_enabled`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_enabled: Option<bool>,

    /// HTTPS (`[tls]`): both `cert` and `key`, or neither for plain HTTP.
    pub tls: TlsConfig,

    /// The password policy (`[password]`).
    pub password: PasswordConfig,

    /// Parameters for newly enrolled TOTP clients (`[totp]`).
    pub totp: TotpConfig,

    /// Push notifications (`[notify]`).
    pub notify: NotifyConfig,

    /// Per-user notification templates (`[user_settings.NAME]`, `[user_settings.default]`).
    pub user_settings: BTreeMap<String, UserSettings>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server_name: default_server_name(),
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8420)),
            data_dir: PathBuf::from("./mfa-data"),
            database_url: None,
            key_file: None,
            log: "info".to_owned(),
            host_addr: None,
            auth_timeout: 30,
            number_matching: true,
            max_failed_attempts: 5,
            block_duration: 300,
            max_block_duration: 86_400,
            audit_retention_days: 400,
            trusted_ip_networks: Vec::new(),
            trusted_reverse_proxies: Vec::new(),
            mfa_policy: mfa_core::policy::MfaPolicy::default(),
            elevated_session: 900,
            max_elevated_session: 3600,
            max_connections: 768,
            max_connections_per_ip: 128,
            log_format: LogFormat::Text,
            metrics_token: Secret::default(),
            admin_enabled: None,
            tls: TlsConfig::default(),
            password: PasswordConfig::default(),
            totp: TotpConfig::default(),
            notify: NotifyConfig::default(),
            user_settings: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The effective database URL: `database_url` if set, else `sqlite://<data_dir>/mfa.db`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("mfa.db").display()),
        }
    }

    /// The effective public base URL: `host_addr` if set, else `https://<listen>` with
    /// `[tls]`, `http://<listen>` without.
    pub fn host_addr(&self) -> String {
        match &self.host_addr {
            Some(url) => url.clone(),
            None if self.tls.files().is_some() => format!("https://{}", self.listen),
            None => format!("http://{}", self.listen),
        }
    }

    /// Whether mfad serves the web console: `admin_enabled` if set, else only on a loopback
    /// listener or with `[tls]`.
    pub fn admin_enabled(&self) -> bool {
        self.admin_enabled
            .unwrap_or_else(|| self.listen.ip().is_loopback() || self.tls.files().is_some())
    }

    /// The authority of [`Config::host_addr`]: its host and port as written, without scheme,
    /// user info, path, query or fragment (`mfa.example.org`, `mfa.example.org:8443`,
    /// `[2001:db8::1]:8420`). What Duo's clients take as their `host`.
    pub fn host_authority(&self) -> String {
        url_authority(&self.host_addr()).to_owned()
    }

    /// The effective key file: `key_file` if set, else `<data_dir>/mfa.key`.
    pub fn key_file(&self) -> PathBuf {
        match &self.key_file {
            Some(path) => path.clone(),
            None => self.data_dir.join("mfa.key"),
        }
    }
}

/// The authority of an `http://` or `https://` URL (any scheme, in fact): what lies between
/// `scheme://` and the first `/`, `?` or `#`, without a `user@`.
fn url_authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// `[totp]`: the parameters given to newly enrolled clients (existing enrolments keep theirs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TotpConfig {
    /// HMAC algorithm: `SHA1` (default, what every authenticator app supports), `SHA256`, `SHA512`.
    #[serde(
        deserialize_with = "validate::algorithm",
        serialize_with = "validate::serialize_algorithm"
    )]
    pub algorithm: Algorithm,

    /// Code length, 6..=8. Default 6.
    #[serde(
        deserialize_with = "validate::digits",
        serialize_with = "validate::serialize_digits"
    )]
    pub digits: Digits,

    /// Time step in seconds, 15..=120. Default 30.
    #[serde(deserialize_with = "validate::period")]
    pub period: u32,

    /// Accepted clock drift, in steps either side of now, 0..=10. Default 1.
    #[serde(deserialize_with = "validate::skew")]
    pub skew: u32,
}

impl Default for TotpConfig {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::Sha1,
            digits: Digits::default(),
            period: 30,
            skew: 1,
        }
    }
}

impl TotpConfig {
    /// Algorithm, digits and period as `mfa_otp` parameters for a new enrolment.
    pub fn params(&self) -> TotpParams {
        TotpParams {
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
        }
    }
}

/// This machine's host name, or `localhost` if it cannot be read or is unusable as a label.
pub(crate) fn default_server_name() -> String {
    std::fs::read_to_string(HOSTNAME_FILE)
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| validate::check_server_name(name).is_ok())
        .unwrap_or_else(|| "localhost".to_owned())
}
