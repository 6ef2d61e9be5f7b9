use mfa_core::Timestamp;
use sqlx::Row;

use crate::{Store, StoreError};

/// One decision, as the audit log keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: i64,
    pub at: Option<Timestamp>,
    pub user: String,
    pub host: Option<String>,
    pub service: Option<String>,
    pub client_ip: Option<String>,
    pub method: Option<String>,
    /// allow | deny | approved | denied | expired | fraud | bypass ...
    pub result: String,
    pub reason: Option<String>,
    pub server: Option<String>,
    pub client: Option<String>,
    pub txid: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub user: Option<String>,
    pub since: Option<Timestamp>,
    pub limit: Option<i64>,
}

impl Store {
    pub async fn audit(&self, e: &AuditEntry, now: Timestamp) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, e, now).await
    }

    /// Entries oldest first, filtered by user and start time; the newest `limit` when given.
    pub async fn audit_entries(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, at, user_name, host, service, client_ip, method, result, reason, \
             server_name, client_alias, txid FROM audit \
             WHERE ($1 IS NULL OR user_name = $1) AND at >= $2 ORDER BY id DESC LIMIT $3",
        )
        .bind(f.user.clone())
        .bind(f.since.map_or(i64::MIN, Timestamp::millis))
        .bind(f.limit.unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut entries = rows
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    at: Some(Timestamp::from_millis(row.try_get("at")?)),
                    user: row.try_get("user_name")?,
                    host: row.try_get("host")?,
                    service: row.try_get("service")?,
                    client_ip: row.try_get("client_ip")?,
                    method: row.try_get("method")?,
                    result: row.try_get("result")?,
                    reason: row.try_get("reason")?,
                    server: row.try_get("server_name")?,
                    client: row.try_get("client_alias")?,
                    txid: row.try_get("txid")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        entries.reverse();
        Ok(entries)
    }
}

pub(crate) async fn insert_audit(
    conn: &mut sqlx::AnyConnection,
    e: &AuditEntry,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit (at, user_name, host, service, client_ip, method, result, reason, \
         server_name, client_alias, txid) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(e.at.unwrap_or(now).millis())
    .bind(e.user.clone())
    .bind(e.host.clone())
    .bind(e.service.clone())
    .bind(e.client_ip.clone())
    .bind(e.method.clone())
    .bind(e.result.clone())
    .bind(e.reason.clone())
    .bind(e.server.clone())
    .bind(e.client.clone())
    .bind(e.txid.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}
