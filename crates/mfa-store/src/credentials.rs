//! A client's other factors: a password (argon2id hash) and single-use recovery codes
//! (SHA-256 each). Changing a password and using a code are single conditional statements, so
//! of concurrent attempts exactly one succeeds.

use mfa_core::{Alias, Timestamp};
use mfa_secrets::{PasswordHash, TokenHash};
use sqlx::Row;

use crate::rows::one_row;
use crate::{Store, StoreError};

/// A client's password as stored: its hash and when it was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPassword {
    pub hash: PasswordHash,
    pub changed_at: Timestamp,
}

fn not_found(alias: &Alias) -> StoreError {
    StoreError::NotFound(format!("client {alias}"))
}

impl Store {
    /// Sets (or replaces) a client's password; its age starts now.
    pub async fn set_client_password(
        &self,
        alias: &Alias,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE clients SET password_hash = $1, password_changed_at = $2 WHERE alias = $3",
        )
        .bind(hash.as_str())
        .bind(now.millis())
        .bind(alias.as_str())
        .execute(&self.pool)
        .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))
    }

    /// Replaces the password only if it is still `old`: of two racing changes, one wins.
    pub async fn change_client_password(
        &self,
        alias: &Alias,
        old: &PasswordHash,
        new: &PasswordHash,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE clients SET password_hash = $1, password_changed_at = $2 \
             WHERE alias = $3 AND password_hash = $4",
        )
        .bind(new.as_str())
        .bind(now.millis())
        .bind(alias.as_str())
        .bind(old.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a client's password; false when it had none.
    pub async fn remove_client_password(&self, alias: &Alias) -> Result<bool, StoreError> {
        self.client(alias).await?;
        let done = sqlx::query(
            "UPDATE clients SET password_hash = NULL, password_changed_at = NULL \
             WHERE alias = $1 AND password_hash IS NOT NULL",
        )
        .bind(alias.as_str())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn client_password(
        &self,
        alias: &Alias,
    ) -> Result<Option<StoredPassword>, StoreError> {
        let row =
            sqlx::query("SELECT password_hash, password_changed_at FROM clients WHERE alias = $1")
                .bind(alias.as_str())
                .fetch_optional(&self.pool)
                .await?
                .ok_or_else(|| not_found(alias))?;
        let hash: Option<String> = row.try_get("password_hash")?;
        let changed: Option<i64> = row.try_get("password_changed_at")?;
        Ok(hash.map(|h| StoredPassword {
            hash: PasswordHash::from_stored(h),
            changed_at: Timestamp::from_millis(changed.unwrap_or(0)),
        }))
    }

    /// Which of `aliases` have a password.
    pub async fn clients_with_password(&self, aliases: &[Alias]) -> Result<Vec<Alias>, StoreError> {
        let mut with = Vec::new();
        for alias in aliases {
            let has: Option<i64> = sqlx::query_scalar(
                "SELECT 1 FROM clients WHERE alias = $1 AND password_hash IS NOT NULL",
            )
            .bind(alias.as_str())
            .fetch_optional(&self.pool)
            .await?;
            if has.is_some() {
                with.push(alias.clone());
            }
        }
        Ok(with)
    }

    /// Replaces a client's recovery codes with `codes` (hashes) in one transaction.
    pub async fn replace_recovery_codes(
        &self,
        alias: &Alias,
        codes: &[TokenHash],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        // Proves the client exists.
        let done = sqlx::query("UPDATE clients SET alias = alias WHERE alias = $1")
            .bind(alias.as_str())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))?;
        replace_codes(&mut tx, alias, codes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses up a recovery code in one DELETE: true for exactly one caller, however many race.
    pub async fn use_recovery_code(
        &self,
        alias: &Alias,
        code: &TokenHash,
    ) -> Result<bool, StoreError> {
        let data = (alias.to_string(), code.as_str().to_owned());
        self.write(data, |conn, (alias, code)| {
            Box::pin(async move {
                let done = sqlx::query(
                    "DELETE FROM recovery_codes WHERE client_alias = $1 AND code_hash = $2",
                )
                .bind(alias)
                .bind(code)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }

    pub async fn recovery_codes_left(&self, alias: &Alias) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE client_alias = $1")
                .bind(alias.as_str())
                .fetch_one(&self.pool)
                .await?,
        )
    }
}

/// The client's recovery codes become `codes` (hashes), inside the caller's transaction.
pub(crate) async fn replace_codes(
    conn: &mut sqlx::AnyConnection,
    alias: &Alias,
    codes: &[TokenHash],
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE client_alias = $1")
        .bind(alias.as_str())
        .execute(&mut *conn)
        .await?;
    for code in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (client_alias, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(alias.as_str())
        .bind(code.as_str())
        .bind(now.millis())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
