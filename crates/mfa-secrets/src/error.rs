use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum SecretsError {
    #[error("cannot read key file {path}: {source}")]
    KeyFileRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot create key file {path}: {source}")]
    KeyFileCreate {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write key file {path}: {source}")]
    KeyFileWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "key file {path} is readable by others (mode {mode:04o}): run `chmod 600 {path}` and check who saw it"
    )]
    KeyFileMode { path: PathBuf, mode: u32 },
    #[error("key file {path} is not an mfa key (expected 32 bytes in base64 on one line)")]
    KeyFileFormat { path: PathBuf },
    #[error(
        "the secrets were sealed with key {sealed_with}, but the key file holds key {have}: use the key file this database was created with"
    )]
    WrongKey { sealed_with: String, have: String },
    #[error("a sealed secret is corrupt or was moved to another record")]
    Corrupt,
    #[error("the operating system's random number generator failed: {0}")]
    Random(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}
