use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0} does not exist")]
    NotFound(String),
    #[error("{0} exists already")]
    Exists(String),
    #[error("{what} is still used by {by}: remove those first")]
    InUse { what: String, by: String },
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    Url(String),
    #[error("cannot open database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot prepare database {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Secrets(#[from] mfa_secrets::SecretsError),
    #[error("stored data is invalid: {0}")]
    Invalid(String),
    /// What the backend cannot do (the message says what to use instead).
    #[error("{0}")]
    Unsupported(String),
    #[error("backup failed: {0}")]
    Backup(String),
    /// Another process uses the database in a way that excludes this one (see `lock.rs`): the
    /// message says who and what to do.
    #[error("{0}")]
    Locked(String),
    /// The key file does not hold the key the database's secrets are sealed with.
    #[error(
        "the database's secrets are sealed with key {sealed_with}, but the key file {key_file} holds key {have}: {hint}"
    )]
    WrongKeyFile {
        key_file: PathBuf,
        sealed_with: String,
        have: String,
        /// Which file holds the right key, or what to do.
        hint: String,
    },
    /// A key rotation failed; the message says in what state it left the key files.
    #[error("key rotation failed: {0}")]
    Rotate(String),
    /// The transaction a write was part of did not commit; nothing of it was stored.
    #[error("database write not committed: {0}")]
    Commit(String),
}

impl StoreError {
    /// The database names key `sealed_with` and `key_file` holds `have`, and no key file a key
    /// rotation leaves beside it holds the right key.
    pub(crate) fn wrong_key_file(key_file: &Path, sealed_with: String, have: String) -> Self {
        let old = crate::rotate::old_key_path(key_file);
        let old_matches = mfa_secrets::load_key(&old).is_ok_and(|k| k.id_hex() == sealed_with);
        let hint = if old_matches {
            format!(
                "{} holds it (the database is older than this key file: restored from a backup?): \
                 put that file back as {}, or restore the database that goes with this key file",
                old.display(),
                key_file.display()
            )
        } else {
            "use the key file this database was created with (or, after `mfac key rotate` on \
             another machine, copy its new key file here)"
                .to_owned()
        };
        StoreError::WrongKeyFile {
            key_file: key_file.to_owned(),
            sealed_with,
            have,
            hint,
        }
    }

    /// The database could not be reached (as opposed to a query that failed): worth a retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            StoreError::Commit(_)
                | StoreError::Database(
                    sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
                )
        )
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

pub(crate) fn is_foreign_key_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_foreign_key_violation())
}
