//! Counts of what is in force now, for `GET /metrics` (read at each scrape: one indexed count
//! of pending pushes, one small scan of the lockouts table).

use mfa_core::Timestamp;
use sqlx::Row;

use crate::{LockKind, Store, StoreError};

impl Store {
    /// Pushes waiting for an answer now: pending and not yet past their expiry.
    pub async fn pending_push_count(&self, now: Timestamp) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM auth_requests WHERE state = 'pending' AND expires_at > $1",
        )
        .bind(now.millis())
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Locks in force now, by kind (every kind, zero when none).
    pub async fn lockout_counts(&self, now: Timestamp) -> Result<Vec<(LockKind, u64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS n FROM lockouts WHERE locked_until > $1 GROUP BY kind",
        )
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await?;
        let mut counts: Vec<(LockKind, u64)> = [LockKind::User, LockKind::Ip, LockKind::Caller]
            .into_iter()
            .map(|k| (k, 0))
            .collect();
        for row in &rows {
            let kind: String = row.try_get("kind")?;
            let n: i64 = row.try_get("n")?;
            if let Some(entry) = counts.iter_mut().find(|(k, _)| k.as_str() == kind) {
                entry.1 = u64::try_from(n).unwrap_or(0);
            }
        }
        Ok(counts)
    }
}
