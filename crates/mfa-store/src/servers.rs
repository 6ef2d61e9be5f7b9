use mfa_core::{Pattern, Timestamp};
use mfa_secrets::TokenHash;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::is_unique_violation;
use crate::revocation::bump_epoch;
use crate::rows::invalid;
use crate::rows::one_row;
use crate::{Store, StoreError};

/// A trusted server (integration): a host allowed to ask for MFA for the hosts it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    pub name: String,
    pub hosts: Vec<Pattern>,
    pub created_at: Timestamp,
}

impl Server {
    /// Whether this server may ask about logins on `host`.
    pub fn covers(&self, host: &str) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }
}

fn server_from_row(row: &AnyRow) -> Result<Server, StoreError> {
    Ok(Server {
        name: row.try_get("name")?,
        hosts: split_hosts(&row.try_get::<String, _>("hosts")?, "server hosts")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

/// Host patterns as stored (comma-separated), read back; `what` names the column in errors.
pub(crate) fn split_hosts(hosts: &str, what: &str) -> Result<Vec<Pattern>, StoreError> {
    hosts
        .split(',')
        .map(|h| Pattern::new(h).map_err(invalid(what)))
        .collect()
}

/// Host patterns as stored: comma-separated (servers and Duo integrations alike).
pub(crate) fn join_hosts(hosts: &[Pattern]) -> String {
    hosts
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl Store {
    pub async fn add_server(
        &self,
        name: &str,
        token_hash: &TokenHash,
        hosts: &[Pattern],
        now: Timestamp,
    ) -> Result<Server, StoreError> {
        if hosts.is_empty() {
            return Err(StoreError::Invalid(format!("server {name} names no host")));
        }
        sqlx::query(
            "INSERT INTO servers (name, token_hash, hosts, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name.to_owned())
        .bind(token_hash.as_str())
        .bind(join_hosts(hosts))
        .bind(now.millis())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("server {name}"))
            } else {
                e.into()
            }
        })?;
        Ok(Server {
            name: name.to_owned(),
            hosts: hosts.to_vec(),
            created_at: now,
        })
    }

    pub async fn servers(&self) -> Result<Vec<Server>, StoreError> {
        sqlx::query("SELECT name, hosts, created_at FROM servers ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(server_from_row)
            .collect()
    }

    pub async fn server_by_token(&self, hash: &TokenHash) -> Result<Option<Server>, StoreError> {
        let row = sqlx::query("SELECT name, hosts, created_at FROM servers WHERE token_hash = $1")
            .bind(hash.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(server_from_row).transpose()
    }

    pub async fn remove_server(&self, name: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM servers WHERE name = $1")
            .bind(name.to_owned())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("server {name}"))?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_server_token(&self, name: &str, hash: &TokenHash) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE servers SET token_hash = $1 WHERE name = $2")
            .bind(hash.as_str())
            .bind(name.to_owned())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("server {name}"))?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(())
    }
}
