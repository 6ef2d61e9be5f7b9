//! The one error type of this crate.

use std::fmt;
use std::path::PathBuf;

/// Why the configuration could not be loaded.
///
/// Every variant renders as a single line, suitable for a log line or for `mfac check-config`.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file we tried to read.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },

    /// Group or others may read or write the config file, which may hold secrets (a database
    /// password, the ntfy token, webhook credentials). The message names no value from it.
    #[error(
        "config file {} is open to group or others (mode {mode:04o}); it may hold secrets: run `chmod 600 {}` (owned by the user mfad runs as) and check who saw it",
        path.display(),
        path.display()
    )]
    Mode {
        /// The refused file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// The file was read but is not valid TOML, or a key is unknown or has an invalid value.
    ///
    /// Renders as `<path>:<line>: <key>: <message>`, e.g.
    /// `mfad.toml:3: listen: invalid socket address syntax`; the `<line>: ` and `<key>: `
    /// parts are left out when unknown (a pure syntax error has no key).
    #[error("{}", InvalidDisplay { path, line: *line, key: key.as_deref(), message })]
    Invalid {
        /// The file the text came from (as given, not canonicalised).
        path: PathBuf,
        /// 1-based line of the offending key or value, when toml reported a position.
        line: Option<usize>,
        /// Dotted key path of the offending entry, e.g. `totp.digits`, when one could be found.
        key: Option<String>,
        /// One-line description of the problem (without toml's source snippet).
        message: String,
    },

    /// An environment variable that overrides the file has an invalid value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable, e.g. `MFA_DATABASE_URL`.
        var: &'static str,
        /// One-line description of the problem.
        message: String,
    },
}

struct InvalidDisplay<'a> {
    path: &'a std::path::Path,
    line: Option<usize>,
    key: Option<&'a str>,
    message: &'a str,
}

impl fmt::Display for InvalidDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}
