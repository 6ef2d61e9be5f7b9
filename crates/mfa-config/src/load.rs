//! Finding, reading and parsing `mfad.toml`, then applying environment overrides.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::model::Config;
use crate::span;
use crate::validate;

/// Names the config file to use when no explicit path is given (must exist when set).
pub const CONFIG_ENV: &str = "MFA_CONFIG";
/// When set and non-empty, overrides `database_url` from the file.
pub const DATABASE_URL_ENV: &str = "MFA_DATABASE_URL";
/// The file looked for in the working directory when neither a path nor `MFA_CONFIG` is given.
pub const DEFAULT_FILE_NAME: &str = "mfad.toml";

/// A loaded configuration and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The configuration, with environment overrides applied.
    pub config: Config,
    /// The file that was read; `None` when no file was found and the defaults were used.
    pub source: Option<PathBuf>,
}

/// Loads the configuration.
///
/// Search order: `explicit` (must exist), else `$MFA_CONFIG` if set and non-empty (must
/// exist), else `./mfad.toml` if it exists, else the built-in defaults. Then
/// `$MFA_DATABASE_URL`, if set and non-empty, replaces `database_url`.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    let env = Env::from_process()?;
    load_with(explicit, &env, Path::new("."))
}

/// Parses config text. `path` is only used in error messages. No environment overrides.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|err| invalid(text, path, &err))
}

/// The environment variables `load` consults, captured once so tests can supply their own.
#[derive(Debug, Default)]
struct Env {
    config: Option<PathBuf>,
    database_url: Option<String>,
}

impl Env {
    fn from_process() -> Result<Self, ConfigError> {
        Self::from_vars(
            std::env::var_os(CONFIG_ENV),
            std::env::var_os(DATABASE_URL_ENV),
        )
    }

    /// Unset and empty variables are treated alike.
    fn from_vars(
        config: Option<OsString>,
        database_url: Option<OsString>,
    ) -> Result<Self, ConfigError> {
        let database_url = match database_url.filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => Some(v.into_string().map_err(|_| ConfigError::Env {
                var: DATABASE_URL_ENV,
                message: "is not valid UTF-8".to_owned(),
            })?),
        };
        Ok(Self {
            config: config.filter(|v| !v.is_empty()).map(PathBuf::from),
            database_url,
        })
    }
}

fn load_with(explicit: Option<&Path>, env: &Env, cwd: &Path) -> Result<Loaded, ConfigError> {
    let source = locate(explicit, env.config.as_deref(), cwd)?;
    let mut config = match &source {
        Some(path) => read(path)?,
        None => Config::default(),
    };
    apply_env(&mut config, env.database_url.as_deref())?;
    Ok(Loaded { config, source })
}

/// Which file to read, if any. Explicit and `MFA_CONFIG` paths are returned even if missing,
/// so that reading them reports the error.
fn locate(
    explicit: Option<&Path>,
    env_config: Option<&Path>,
    cwd: &Path,
) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(path) = explicit.or(env_config) {
        return Ok(Some(path.to_owned()));
    }
    let path = cwd.join(DEFAULT_FILE_NAME);
    match path.try_exists() {
        Ok(true) => Ok(Some(path)),
        Ok(false) => Ok(None),
        Err(source) => Err(ConfigError::Io { path, source }),
    }
}

/// Reads the file, refusing it when group or others have any access: it may hold secrets.
/// The mode is that of the file opened, so it cannot be swapped between check and read.
fn read(path: &Path) -> Result<Config, ConfigError> {
    use std::io::Read as _;
    use std::os::unix::fs::PermissionsExt as _;
    let io_err = |source| ConfigError::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io_err)?;
    let mode = file.metadata().map_err(io_err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::Mode {
            path: path.to_owned(),
            mode,
        });
    }
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io_err)?;
    parse(&text, path)
}

/// Applies `MFA_DATABASE_URL` (already filtered: `None` when unset or empty).
fn apply_env(config: &mut Config, database_url: Option<&str>) -> Result<(), ConfigError> {
    if let Some(url) = database_url {
        validate::check_database_url(url).map_err(|message| ConfigError::Env {
            var: DATABASE_URL_ENV,
            message,
        })?;
        config.database_url = Some(url.to_owned());
    }
    Ok(())
}

fn invalid(text: &str, path: &Path, err: &toml::de::Error) -> ConfigError {
    let (line, key) = match err.span() {
        Some(span) => (
            Some(span::line_of(text, span.start)),
            span::key_at(text, span.start),
        ),
        None => (None, None),
    };
    ConfigError::Invalid {
        path: path.to_owned(),
        line,
        key,
        message: one_line(err.message()),
    }
}

/// toml's messages are normally one line already; make sure of it.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
