//! Cross-node events over PostgreSQL LISTEN/NOTIFY. With SQLite there is one node, and the
//! server broadcasts in process instead.

use sqlx::postgres::PgListener;

use crate::{Backend, Store, StoreError};

/// The channel every mfad node listens on.
pub const EVENTS_CHANNEL: &str = "mfa_events";

impl Store {
    /// Tells every node (this one included) about `payload`. PostgreSQL only; a no-op on SQLite.
    pub async fn notify_nodes(&self, payload: &str) -> Result<(), StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(());
        }
        // pg_notify returns void, which no driver decodes: select a constant from it instead.
        sqlx::query("SELECT 1 AS sent FROM pg_notify($1, $2)")
            .bind(EVENTS_CHANNEL)
            .bind(payload.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A dedicated connection listening for other nodes' events (PostgreSQL only).
    pub async fn event_listener(&self) -> Result<Option<EventListener>, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(EVENTS_CHANNEL).await?;
        Ok(Some(EventListener(listener)))
    }
}

pub struct EventListener(PgListener);

impl EventListener {
    /// The next payload; `Ok(None)` when the connection was lost and re-established, so
    /// notifications may have been missed and the caller should resynchronise.
    pub async fn next(&mut self) -> Result<Option<String>, StoreError> {
        Ok(self.0.try_recv().await?.map(|n| n.payload().to_owned()))
    }
}
