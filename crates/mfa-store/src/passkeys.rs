//! Passkeys (WebAuthn, issue 15): the public keys a client registered, the single-use links
//! that register them, and the ceremonies between their two requests. The store keeps what
//! webauthn-rs serialises as opaque JSON; checking signatures is the server's.

use mfa_core::{Alias, Timestamp};
use mfa_secrets::TokenHash;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::is_unique_violation;
use crate::rows::{invalid, one_row};
use crate::{Store, StoreError};

/// Passkey link tokens look like `mfap_...`.
pub const PASSKEY_TOKEN_PREFIX: &str = "mfap";

/// A registered passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub name: String,
    /// webauthn-rs's `Passkey`, as JSON.
    pub passkey: String,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
}

/// A link that registers a passkey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyLink {
    pub client: Alias,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
}

impl PasskeyLink {
    /// Whether the link can still register a passkey at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.used_at.is_none() && now < self.expires_at
    }
}

/// A ceremony's state, taken back by its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    pub client: Alias,
    pub purpose: String,
    /// webauthn-rs's state, as JSON.
    pub state: String,
}

/// A passkey to register through a link.
pub struct NewPasskey<'a> {
    pub link: &'a TokenHash,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub passkey: &'a str,
    pub now: Timestamp,
}

fn alias_of(row: &AnyRow) -> Result<Alias, StoreError> {
    let alias: String = row.try_get("client_alias")?;
    Alias::new(&alias).map_err(invalid("alias"))
}

impl Store {
    pub async fn add_passkey_link(
        &self,
        alias: &Alias,
        token_hash: &TokenHash,
        now: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "INSERT INTO passkey_links (token_hash, client_alias, created_at, expires_at) \
             SELECT $1, alias, $2, $3 FROM clients WHERE alias = $4",
        )
        .bind(token_hash.as_str())
        .bind(now.millis())
        .bind(expires_at.millis())
        .bind(alias.as_str())
        .execute(&self.pool)
        .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))
    }

    pub async fn passkey_link(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<PasskeyLink>, StoreError> {
        let row = sqlx::query(
            "SELECT client_alias, expires_at, used_at FROM passkey_links WHERE token_hash = $1",
        )
        .bind(token_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(PasskeyLink {
                client: alias_of(&row)?,
                expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
                used_at: row
                    .try_get::<Option<i64>, _>("used_at")?
                    .map(Timestamp::from_millis),
            })
        })
        .transpose()
    }

    /// The client's WebAuthn user handle, made (random) at its first use.
    pub async fn webauthn_user(&self, alias: &Alias, fresh: &str) -> Result<String, StoreError> {
        sqlx::query(
            "UPDATE clients SET webauthn_user = $1 WHERE alias = $2 AND webauthn_user IS NULL",
        )
        .bind(fresh)
        .bind(alias.as_str())
        .execute(&self.pool)
        .await?;
        let user: Option<Option<String>> =
            sqlx::query_scalar("SELECT webauthn_user FROM clients WHERE alias = $1")
                .bind(alias.as_str())
                .fetch_optional(&self.pool)
                .await?;
        user.flatten()
            .ok_or_else(|| StoreError::NotFound(format!("client {alias}")))
    }

    /// The client's passkeys, oldest first.
    /// Whether any of `aliases` has a passkey (the policy asks before it requires one).
    pub async fn any_has_passkey(&self, aliases: &[Alias]) -> Result<bool, StoreError> {
        for alias in aliases {
            let has: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM passkeys WHERE client_alias = $1 LIMIT 1")
                    .bind(alias.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
            if has.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    pub async fn passkeys(&self, alias: &Alias) -> Result<Vec<StoredPasskey>, StoreError> {
        let rows = sqlx::query(
            "SELECT credential_id, name, passkey, created_at, last_used_at FROM passkeys \
             WHERE client_alias = $1 ORDER BY created_at, credential_id",
        )
        .bind(alias.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StoredPasskey {
                    credential_id: row.try_get("credential_id")?,
                    name: row.try_get("name")?,
                    passkey: row.try_get("passkey")?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                    last_used_at: row
                        .try_get::<Option<i64>, _>("last_used_at")?
                        .map(Timestamp::from_millis),
                })
            })
            .collect()
    }

    pub async fn start_ceremony(
        &self,
        id: &str,
        ceremony: &Ceremony,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO passkey_ceremonies (id, client_alias, purpose, state, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(ceremony.client.as_str())
        .bind(&ceremony.purpose)
        .bind(&ceremony.state)
        .bind(expires_at.millis())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes a ceremony back (once: it is deleted); `None`: unknown, taken or expired.
    pub async fn take_ceremony(
        &self,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM passkey_ceremonies WHERE id = $1 \
             RETURNING client_alias, purpose, state, expires_at",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        if now.millis() >= row.try_get::<i64, _>("expires_at")? {
            return Ok(None);
        }
        Ok(Some(Ceremony {
            client: alias_of(&row)?,
            purpose: row.try_get("purpose")?,
            state: row.try_get("state")?,
        }))
    }

    /// Removes the client's passkeys called `name` (a lost device); how many went.
    pub async fn remove_passkey(&self, alias: &Alias, name: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM passkeys WHERE client_alias = $1 AND name = $2")
            .bind(alias.as_str())
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Records a use of a passkey: its state after the assertion (the signature counter) and
    /// the time.
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        passkey: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE credential_id = $3",
        )
        .bind(passkey)
        .bind(now.millis())
        .bind(credential_id)
        .execute(&self.pool)
        .await?;
        one_row(done.rows_affected(), || "passkey".to_owned())
    }

    /// Stores the passkey and uses its link up, in one transaction. False: the link was used
    /// or expired first (nothing stored). A credential id registered already is refused.
    pub async fn register_passkey(&self, new: NewPasskey<'_>) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE passkey_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING client_alias",
        )
        .bind(new.now.millis())
        .bind(new.link.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let alias = alias_of(&row)?;
        sqlx::query(
            "INSERT INTO passkeys (credential_id, client_alias, name, passkey, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new.credential_id)
        .bind(alias.as_str())
        .bind(new.name)
        .bind(new.passkey)
        .bind(new.now.millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists("this passkey is registered already".into())
            } else {
                e.into()
            }
        })?;
        tx.commit().await?;
        Ok(true)
    }
}
