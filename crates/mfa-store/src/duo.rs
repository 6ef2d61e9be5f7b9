//! Duo integrations (issue 14): what lets Duo's unmodified Unix clients (pam_duo, login_duo,
//! duo_client) talk to mfa. Each has a public `ikey` and a secret `skey` the clients sign
//! their requests with (HMAC). The server must compute that HMAC itself, so the skey cannot be
//! hashed like a server token: it is sealed with the store's key, bound to its row by
//! `duo:<ikey>:skey`, and re-sealed by a key rotation. Like a server token, an integration may
//! speak only for the hosts it names.

use mfa_core::{Alias, Pattern, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use mfa_duo::credentials::{IKEY_LEN, IKEY_PREFIX, SKEY_LEN};
use mfa_duo::{Ikey, Skey};

use crate::revocation::bump_epoch;
use crate::rows::{invalid, one_row};
use crate::servers::{join_hosts, split_hosts};
use crate::{Store, StoreError};

/// A Duo integration, without its skey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuoIntegration {
    pub name: Alias,
    /// The public identifier the clients send (`Authorization: Basic ikey:signature`).
    pub ikey: String,
    /// The hosts it may ask about (as a server token's).
    pub hosts: Vec<Pattern>,
    /// Whether it may also use the old `/rest/v1/*.bson` dialect (no date: replayable).
    pub legacy: bool,
    pub created_at: Timestamp,
    /// When its skey was last replaced ([`Store::rotate_duo_skey`]); `None`: never.
    pub skey_rotated_at: Option<Timestamp>,
}

impl DuoIntegration {
    /// Whether this integration may ask about logins on `host`.
    pub fn covers(&self, host: &str) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }
}

/// Whether `ikey` has the form of one the store keeps: Duo's ([`Ikey::parse`]), starting
/// with `DI`.
pub fn is_duo_ikey(ikey: &str) -> bool {
    ikey.starts_with(IKEY_PREFIX) && Ikey::parse(ikey).is_some()
}

fn random_failed(e: getrandom::Error) -> StoreError {
    StoreError::Secrets(mfa_secrets::SecretsError::Random(e.to_string()))
}

pub struct NewDuoIntegration<'a> {
    pub name: &'a Alias,
    pub hosts: &'a [Pattern],
    pub legacy: bool,
    pub now: Timestamp,
}

/// What binds a sealed skey to its row: a blob copied onto another integration does not open.
pub(crate) fn skey_aad(ikey: &str) -> Vec<u8> {
    format!("duo:{ikey}:skey").into_bytes()
}

macro_rules! duo_columns {
    () => {
        "name, ikey, hosts, legacy, created_at, skey_rotated_at"
    };
}

fn duo_from_row(row: &AnyRow) -> Result<DuoIntegration, StoreError> {
    let name: String = row.try_get("name")?;
    let legacy: i64 = row.try_get("legacy")?;
    Ok(DuoIntegration {
        name: Alias::new(&name).map_err(invalid("duo integration name"))?,
        ikey: row.try_get("ikey")?,
        hosts: split_hosts(&row.try_get::<String, _>("hosts")?, "duo integration hosts")?,
        legacy: legacy != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        skey_rotated_at: row
            .try_get::<Option<i64>, _>("skey_rotated_at")?
            .map(Timestamp::from_millis),
    })
}

fn not_found(name: &Alias) -> StoreError {
    StoreError::NotFound(format!("duo integration {name}"))
}

impl Store {
    /// Adds an integration with a new random ikey and skey; the skey is returned this once
    /// (to print), and stored only sealed.
    pub async fn add_duo_integration(
        &self,
        new: NewDuoIntegration<'_>,
    ) -> Result<(DuoIntegration, Skey), StoreError> {
        let skey = Skey::generate().map_err(random_failed)?;
        let ikey = Ikey::generate().map_err(random_failed)?;
        let added = self
            .add_duo_integration_with_keys(new, ikey.as_str(), &skey)
            .await?;
        Ok((added, skey))
    }

    /// Adds an integration with the keys given (an integration moved from elsewhere, tests).
    /// Refuses a name or an ikey that exists already ([`StoreError::Exists`], saying which).
    pub async fn add_duo_integration_with_keys(
        &self,
        new: NewDuoIntegration<'_>,
        ikey: &str,
        skey: &Skey,
    ) -> Result<DuoIntegration, StoreError> {
        let name = new.name;
        if !is_duo_ikey(ikey) {
            return Err(StoreError::Invalid(format!(
                "Duo ikey {ikey:?}: use {IKEY_LEN} capital letters or digits, starting with \
                 {IKEY_PREFIX}"
            )));
        }
        let mut hosts: Vec<Pattern> = Vec::new();
        for h in new.hosts {
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
        if hosts.is_empty() {
            return Err(StoreError::Invalid(format!(
                "duo integration {name} names no host"
            )));
        }
        let sealed = self
            .sealer
            .seal(skey.expose().as_bytes(), &skey_aad(ikey))?;
        let mut tx = self.begin_write().await?;
        // ON CONFLICT DO NOTHING, then a look at which key is taken: a clear error for a
        // repeated name or ikey on both backends, without parsing driver messages.
        let done = sqlx::query(
            "INSERT INTO duo_integrations (name, ikey, skey_sealed, hosts, legacy, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        )
        .bind(name.as_str())
        .bind(ikey.to_owned())
        .bind(sealed)
        .bind(join_hosts(&hosts))
        .bind(i64::from(new.legacy))
        .bind(new.now.millis())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            let named: Option<i64> =
                sqlx::query_scalar("SELECT 1 FROM duo_integrations WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(StoreError::Exists(if named.is_some() {
                format!("duo integration {name}")
            } else {
                format!("a duo integration with ikey {ikey}")
            }));
        }
        tx.commit().await?;
        Ok(DuoIntegration {
            name: name.clone(),
            ikey: ikey.to_owned(),
            hosts,
            legacy: new.legacy,
            created_at: new.now,
            skey_rotated_at: None,
        })
    }

    /// Every integration, by name; never their skeys.
    pub async fn duo_integrations(&self) -> Result<Vec<DuoIntegration>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            duo_columns!(),
            " FROM duo_integrations ORDER BY name"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(duo_from_row)
        .collect()
    }

    /// One integration by name, without its skey.
    pub async fn duo_integration(&self, name: &Alias) -> Result<DuoIntegration, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            duo_columns!(),
            " FROM duo_integrations WHERE name = $1"
        ))
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(name))?;
        duo_from_row(&row)
    }

    /// For a request's `Authorization: Basic ikey:...`: the integration and its skey
    /// (unsealed), if the ikey is one.
    pub async fn duo_integration_by_ikey(
        &self,
        ikey: &str,
    ) -> Result<Option<(DuoIntegration, Skey)>, StoreError> {
        let Some(row) = sqlx::query(concat!(
            "SELECT ",
            duo_columns!(),
            ", skey_sealed FROM duo_integrations WHERE ikey = $1"
        ))
        .bind(ikey.to_owned())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        let integration = duo_from_row(&row)?;
        let sealed: Vec<u8> = row.try_get("skey_sealed")?;
        let plain = self.sealer.open(&sealed, &skey_aad(&integration.ikey))?;
        let skey = std::str::from_utf8(&plain)
            .ok()
            .and_then(Skey::parse)
            .ok_or_else(|| {
                StoreError::Invalid(format!("a Duo skey is {SKEY_LEN} letters or digits"))
            })?;
        Ok(Some((integration, skey)))
    }

    /// Removes an integration; its ikey stops working at once.
    pub async fn remove_duo_integration(&self, name: &Alias) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM duo_integrations WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("duo integration {name}"))?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives an integration a new random skey (returned this once); the old one stops working.
    /// The ikey stays.
    pub async fn rotate_duo_skey(&self, name: &Alias, now: Timestamp) -> Result<Skey, StoreError> {
        let skey = Skey::generate().map_err(random_failed)?;
        let mut tx = self.begin_write().await?;
        let ikey: String = sqlx::query_scalar("SELECT ikey FROM duo_integrations WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| not_found(name))?;
        let sealed = self
            .sealer
            .seal(skey.expose().as_bytes(), &skey_aad(&ikey))?;
        let done = sqlx::query(
            "UPDATE duo_integrations SET skey_sealed = $1, skey_rotated_at = $2 \
             WHERE name = $3 AND ikey = $4",
        )
        .bind(sealed)
        .bind(now.millis())
        .bind(name.as_str())
        .bind(ikey)
        .execute(&mut *tx)
        .await?;
        one_row(done.rows_affected(), || format!("duo integration {name}"))?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(skey)
    }
}

/// Who a Duo login is, as its integration's calls describe it: the key under which a preauth
/// keeps the number it put in the prompt for the auth that follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuoLogin<'a> {
    pub integration: &'a Alias,
    pub user: &'a str,
    /// The client's `ipaddr`; `None` when it sent none.
    pub client_ip: Option<&'a str>,
}

impl Store {
    /// Keeps `number` for `login` until `expires_at`, replacing one an earlier preauth kept.
    pub async fn reserve_duo_number(
        &self,
        login: &DuoLogin<'_>,
        number: u8,
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO duo_numbers (integration, user_name, client_ip, number, expires_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (integration, user_name, client_ip) \
             DO UPDATE SET number = excluded.number, expires_at = excluded.expires_at",
        )
        .bind(login.integration.as_str())
        .bind(login.user.to_owned())
        .bind(login.client_ip.unwrap_or_default().to_owned())
        .bind(i64::from(number))
        .bind(expires_at.millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Takes (and forgets) the number kept for `login`, if one is kept and not expired: each
    /// reservation serves one auth.
    pub async fn take_duo_number(
        &self,
        login: &DuoLogin<'_>,
        now: Timestamp,
    ) -> Result<Option<u8>, StoreError> {
        let mut tx = self.begin_write().await?;
        let number: Option<(i64, i64)> = sqlx::query_as(
            "DELETE FROM duo_numbers WHERE integration = $1 AND user_name = $2 AND client_ip = $3 \
             RETURNING number, expires_at",
        )
        .bind(login.integration.as_str())
        .bind(login.user.to_owned())
        .bind(login.client_ip.unwrap_or_default().to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(number
            .filter(|(_, expires_at)| *expires_at > now.millis())
            .and_then(|(n, _)| u8::try_from(n).ok()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn generated_ikeys_have_the_stored_form_and_others_do_not() {
        let ikey = Ikey::generate().unwrap();
        assert!(is_duo_ikey(ikey.as_str()), "{ikey}");
        for bad in [
            "",
            "DIabcdefghijklmnopqr",
            "XI0123456789ABCDEFGH",
            "DI0123456789ABCDEFG",
        ] {
            assert!(!is_duo_ikey(bad), "{bad}");
        }
    }
}
