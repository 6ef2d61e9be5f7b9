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
    /// The transaction a write was part of did not commit; nothing of it was stored.
    #[error("database write not committed: {0}")]
    Commit(String),
}

impl StoreError {
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
