//! Revocation: rotating or removing a client key, a server token or an API token bumps one
//! counter in the same transaction. Every node watches it (and, with PostgreSQL, hears a
//! notification at once) and re-checks the credentials its open connections were made with:
//! a key checked once at a WebSocket upgrade would otherwise stay good for as long as the
//! socket lives.

use crate::{Backend, Store, StoreError};

/// The event payload revocations send to every node (PostgreSQL).
pub const REVOKED_EVENT: &str = "revoked";

impl Store {
    /// How many revocations there have been; a change means: check credentials again.
    pub async fn credential_epoch(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT epoch FROM credential_epoch WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// Counts a revocation inside the transaction that makes it (and, with PostgreSQL, tells every
/// node when it commits).
pub(crate) async fn bump_epoch(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE credential_epoch SET epoch = epoch + 1 WHERE id = 1")
        .execute(&mut *conn)
        .await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
            .bind(crate::EVENTS_CHANNEL)
            .bind(REVOKED_EVENT)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
