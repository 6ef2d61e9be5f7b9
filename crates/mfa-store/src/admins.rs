//! Admins of the web console (`/admin`, issue 15): a name, an argon2id password hash and a
//! TOTP seed (sealed, bound to the name). A sign-in needs both; it opens a session whose
//! random token (the cookie) is stored as a SHA-256 hash. Sessions end at their expiry, on
//! sign-out, and with their admin.

use mfa_core::{Alias, Timestamp};
use mfa_otp::{Secret, Totp, TotpParams};
use mfa_secrets::{PasswordHash, TokenHash};
use sqlx::Row;

use crate::error::is_unique_violation;
use crate::rows::{invalid, one_row};
use crate::{Store, StoreError};

/// An admin, without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin {
    pub name: Alias,
    pub created_at: Timestamp,
    pub last_login_at: Option<Timestamp>,
}

/// What checking a sign-in needs.
pub struct AdminCredentials {
    pub password: PasswordHash,
    pub totp: Totp,
    pub last_step: Option<u64>,
}

/// An open console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub admin: Alias,
    pub client_ip: String,
    pub expires_at: Timestamp,
}

pub(crate) fn admin_totp_aad(name: &str) -> Vec<u8> {
    format!("admin:{name}:totp").into_bytes()
}

fn admin_from_row(row: &sqlx::any::AnyRow) -> Result<Admin, StoreError> {
    let name: String = row.try_get("name")?;
    Ok(Admin {
        name: Alias::new(&name).map_err(invalid("admin name"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        last_login_at: row
            .try_get::<Option<i64>, _>("last_login_at")?
            .map(Timestamp::from_millis),
    })
}

impl Store {
    pub async fn add_admin(
        &self,
        name: &Alias,
        password: &PasswordHash,
        totp_secret: &Secret,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let sealed = self
            .sealer
            .seal(totp_secret.as_bytes(), &admin_totp_aad(name.as_str()))?;
        sqlx::query(
            "INSERT INTO admins (name, password_hash, totp_sealed, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(name.as_str())
        .bind(password.as_str())
        .bind(sealed)
        .bind(now.millis())
        .execute(&self.pool)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("admin {name}"))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    pub async fn admins(&self) -> Result<Vec<Admin>, StoreError> {
        let rows = sqlx::query("SELECT name, created_at, last_login_at FROM admins ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(admin_from_row).collect()
    }

    /// Removes an admin and ends its sessions.
    pub async fn remove_admin(&self, name: &Alias) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM admin_sessions WHERE admin_name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query("DELETE FROM admins WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("admin {name}"))?;
        tx.commit().await?;
        Ok(())
    }

    /// The admin's password hash and TOTP generator; `None`: no such admin.
    pub async fn admin_credentials(
        &self,
        name: &str,
        totp: TotpParams,
    ) -> Result<Option<AdminCredentials>, StoreError> {
        let row = sqlx::query(
            "SELECT password_hash, totp_sealed, totp_last_step FROM admins WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        let sealed: Vec<u8> = row.try_get("totp_sealed")?;
        let seed = self.sealer.open(&sealed, &admin_totp_aad(name))?;
        let last: Option<i64> = row.try_get("totp_last_step")?;
        Ok(Some(AdminCredentials {
            password: PasswordHash::from_stored(hash),
            totp: Totp {
                secret: Secret::from_bytes(&seed).map_err(invalid("admin totp seed"))?,
                params: totp,
            },
            last_step: last
                .map(u64::try_from)
                .transpose()
                .map_err(invalid("totp_last_step"))?,
        }))
    }

    /// Burns the admin's TOTP `step` and opens the session, in one transaction: false (and no
    /// session) when the step was used already, however many sign-ins race.
    pub async fn open_admin_session(
        &self,
        name: &Alias,
        step: u64,
        token_hash: &TokenHash,
        session: &AdminSession,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let step = i64::try_from(step).map_err(invalid("totp step"))?;
        let mut tx = self.begin_write().await?;
        let burned = sqlx::query(
            "UPDATE admins SET totp_last_step = $1, last_login_at = $2 \
             WHERE name = $3 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(now.millis())
        .bind(name.as_str())
        .execute(&mut *tx)
        .await?;
        if burned.rows_affected() != 1 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO admin_sessions (token_hash, admin_name, client_ip, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash.as_str())
        .bind(name.as_str())
        .bind(&session.client_ip)
        .bind(now.millis())
        .bind(session.expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The session a cookie's token opens, while it lasts.
    pub async fn admin_session(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<AdminSession>, StoreError> {
        let row = sqlx::query(
            "SELECT admin_name, client_ip, expires_at FROM admin_sessions \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(token_hash.as_str())
        .bind(now.millis())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let name: String = row.try_get("admin_name")?;
            Ok(AdminSession {
                admin: Alias::new(&name).map_err(invalid("admin name"))?,
                client_ip: row.try_get("client_ip")?,
                expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
            })
        })
        .transpose()
    }

    /// Ends a session (sign-out); ending one that is gone is not an error.
    pub async fn end_admin_session(&self, token_hash: &TokenHash) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM admin_sessions WHERE token_hash = $1")
            .bind(token_hash.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
