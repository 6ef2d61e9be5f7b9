//! `[tls]`: the certificate and key mfad serves HTTPS with. Both or neither: a file with only
//! one of them is an error, not a silent fall-back to plain HTTP.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::validate;

/// `[tls]` as written; [`TlsConfig::files`] is `Some` exactly when HTTPS is on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TlsTable")]
pub struct TlsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<PathBuf>,
}

impl TlsConfig {
    /// HTTPS with the PEM certificate chain in `cert` and its private key in `key`.
    pub fn new(cert: PathBuf, key: PathBuf) -> Self {
        Self {
            cert: Some(cert),
            key: Some(key),
        }
    }

    /// The certificate chain and key files, or `None` for plain HTTP.
    pub fn files(&self) -> Option<(&Path, &Path)> {
        self.cert.as_deref().zip(self.key.as_deref())
    }
}

/// The table as parsed, before the both-or-neither check.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct TlsTable {
    #[serde(deserialize_with = "validate::optional_path")]
    cert: Option<PathBuf>,
    #[serde(deserialize_with = "validate::optional_path")]
    key: Option<PathBuf>,
}

impl TryFrom<TlsTable> for TlsConfig {
    type Error = &'static str;

    fn try_from(table: TlsTable) -> Result<Self, Self::Error> {
        match (&table.cert, &table.key) {
            (Some(_), None) => Err("`cert` is set but `key` is not: HTTPS needs both"),
            (None, Some(_)) => Err("`key` is set but `cert` is not: HTTPS needs both"),
            _ => Ok(Self {
                cert: table.cert,
                key: table.key,
            }),
        }
    }
}
