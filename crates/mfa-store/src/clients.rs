use mfa_core::{Alias, Timestamp};
use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use mfa_secrets::TokenHash;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::revocation::bump_epoch;
use crate::rows::invalid;
use crate::rows::one_row;
use crate::{Store, StoreError};

/// An enrolled person or device. Its key and seed stay inside the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub alias: Alias,
    pub totp: TotpParams,
    pub notify: Notify,
    pub created_at: Timestamp,
    /// When the current TOTP seed was handed to the client (`mfa enroll`), or marked as for an
    /// authenticator app only; `None`: the next [`Store::deliver_client_totp`] gets it.
    pub totp_delivered_at: Option<Timestamp>,
    /// False for a client made with an enrolment link, until its page's code: no TOTP code
    /// is accepted and no `mfa enroll` receives the seed.
    pub totp_active: bool,
}

/// How a client hears of a push besides its WebSocket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Notify {
    /// The config's `notify.default`.
    #[default]
    Default,
    None,
    Webhook,
    Ntfy {
        topic: String,
    },
}

impl Notify {
    fn to_columns(&self) -> (Option<&'static str>, Option<String>) {
        match self {
            Notify::Default => (None, None),
            Notify::None => (Some("none"), None),
            Notify::Webhook => (Some("webhook"), None),
            Notify::Ntfy { topic } => (Some("ntfy"), Some(topic.clone())),
        }
    }

    fn from_columns(kind: Option<&str>, topic: Option<String>) -> Result<Self, StoreError> {
        match (kind, topic) {
            (None, _) => Ok(Notify::Default),
            (Some("none"), _) => Ok(Notify::None),
            (Some("webhook"), _) => Ok(Notify::Webhook),
            (Some("ntfy"), Some(topic)) => Ok(Notify::Ntfy { topic }),
            (Some(other), _) => Err(StoreError::Invalid(format!("client notify {other:?}"))),
        }
    }
}

pub struct NewClient<'a> {
    pub alias: &'a Alias,
    pub key_hash: &'a TokenHash,
    pub totp_secret: &'a Secret,
    pub totp: TotpParams,
    pub notify: Notify,
    pub now: Timestamp,
}

/// The public columns of a client, spliced into literal SQL (sqlx refuses run-time SQL strings).
macro_rules! client_columns {
    () => {
        "alias, totp_algorithm, totp_digits, totp_period, notify, ntfy_topic, created_at, \
         totp_delivered_at, totp_active"
    };
}

pub(crate) fn totp_aad(alias: &str) -> Vec<u8> {
    format!("client:{alias}:totp").into_bytes()
}

fn client_from_row(row: &AnyRow) -> Result<Client, StoreError> {
    let alias: String = row.try_get("alias")?;
    let notify: Option<String> = row.try_get("notify")?;
    Ok(Client {
        notify: Notify::from_columns(notify.as_deref(), row.try_get("ntfy_topic")?)?,
        alias: Alias::new(&alias).map_err(invalid("alias"))?,
        totp: totp_params_from_row(row)?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        totp_delivered_at: row
            .try_get::<Option<i64>, _>("totp_delivered_at")?
            .map(Timestamp::from_millis),
        totp_active: row.try_get::<i64, _>("totp_active")? == 1,
    })
}

fn totp_params_from_row(row: &AnyRow) -> Result<TotpParams, StoreError> {
    let algorithm: String = row.try_get("totp_algorithm")?;
    let digits: i64 = row.try_get("totp_digits")?;
    let period: i64 = row.try_get("totp_period")?;
    TotpParams::new(
        algorithm
            .parse::<Algorithm>()
            .map_err(invalid("totp_algorithm"))?,
        Digits::new(u8::try_from(digits).map_err(invalid("totp_digits"))?)
            .map_err(invalid("totp_digits"))?,
        u32::try_from(period).map_err(invalid("totp_period"))?,
    )
    .map_err(invalid("totp_period"))
}

/// Inserts a client; `totp_active` false: its TOTP is not in force (see [`Client::totp_active`]).
pub(crate) async fn insert_client(
    conn: &mut sqlx::AnyConnection,
    sealer: &mfa_secrets::Sealer,
    new: &NewClient<'_>,
    totp_active: bool,
) -> Result<(), StoreError> {
    let sealed = sealer.seal(new.totp_secret.as_bytes(), &totp_aad(new.alias.as_str()))?;
    let (notify, ntfy_topic) = new.notify.to_columns();
    sqlx::query(
        "INSERT INTO clients (alias, key_hash, totp_sealed, totp_algorithm, totp_digits, totp_period, \
         notify, ntfy_topic, created_at, totp_active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new.alias.as_str())
    .bind(new.key_hash.as_str())
    .bind(sealed)
    .bind(new.totp.algorithm.to_string())
    .bind(i64::from(new.totp.digits.get()))
    .bind(i64::from(new.totp.period))
    .bind(notify)
    .bind(ntfy_topic)
    .bind(new.now.millis())
    .bind(i64::from(totp_active))
    .execute(&mut *conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Exists(format!("client {}", new.alias))
        } else {
            e.into()
        }
    })?;
    Ok(())
}

fn not_found(alias: &Alias) -> StoreError {
    StoreError::NotFound(format!("client {alias}"))
}

impl Store {
    pub async fn add_client(&self, new: NewClient<'_>) -> Result<Client, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_client(&mut conn, &self.sealer, &new, true).await?;
        Ok(Client {
            alias: new.alias.clone(),
            totp: new.totp,
            notify: new.notify.clone(),
            created_at: new.now,
            totp_delivered_at: None,
            totp_active: true,
        })
    }

    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients ORDER BY alias"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    pub async fn client(&self, alias: &Alias) -> Result<Client, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE alias = $1"
        ))
        .bind(alias.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(alias))?;
        client_from_row(&row)
    }

    /// The client a presented key belongs to, if any.
    pub async fn client_by_key(&self, key_hash: &TokenHash) -> Result<Option<Client>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE key_hash = $1"
        ))
        .bind(key_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// Removes a client no app routes to; one that apps still name is refused, so no app is left
    /// pointing at nobody.
    pub async fn remove_client(&self, alias: &Alias) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let result = sqlx::query("DELETE FROM clients WHERE alias = $1")
            .bind(alias.as_str())
            .execute(&mut *tx)
            .await;
        match result {
            Ok(done) if done.rows_affected() == 1 => {
                bump_epoch(&mut tx, self.backend()).await?;
                tx.commit().await?;
                Ok(())
            }
            Ok(_) => Err(not_found(alias)),
            Err(e) if is_foreign_key_violation(&e) => {
                tx.rollback().await?;
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT app_id FROM app_clients WHERE client_alias = $1 ORDER BY app_id",
                )
                .bind(alias.as_str())
                .fetch_all(&self.pool)
                .await?;
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                Err(StoreError::InUse {
                    what: format!("client {alias}"),
                    by: format!("app {}", ids.join(", ")),
                })
            }
            Err(e) => Err(e.into()),
        }
    }

    pub async fn set_client_key(
        &self,
        alias: &Alias,
        key_hash: &TokenHash,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE clients SET key_hash = $1 WHERE alias = $2")
            .bind(key_hash.as_str())
            .bind(alias.as_str())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn set_client_notify(
        &self,
        alias: &Alias,
        notify: &Notify,
    ) -> Result<(), StoreError> {
        let (kind, topic) = notify.to_columns();
        let done = sqlx::query("UPDATE clients SET notify = $1, ntfy_topic = $2 WHERE alias = $3")
            .bind(kind)
            .bind(topic)
            .bind(alias.as_str())
            .execute(&self.pool)
            .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))
    }

    /// Replaces the TOTP seed and parameters; replay tracking starts afresh for the new seed,
    /// and the new seed is deliverable once ([`Store::deliver_client_totp`]).
    pub async fn reset_client_totp(
        &self,
        alias: &Alias,
        secret: &Secret,
        totp: TotpParams,
    ) -> Result<(), StoreError> {
        self.replace_client_totp(alias, secret, totp, None).await
    }

    /// [`Store::reset_client_totp`], with the new seed's delivery state set in the same
    /// statement: `Some(now)` marks it delivered (for an authenticator app only), so no
    /// client key ever fetches it, not even in a race with the reset.
    pub async fn replace_client_totp(
        &self,
        alias: &Alias,
        secret: &Secret,
        totp: TotpParams,
        delivered_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let sealed = self
            .sealer
            .seal(secret.as_bytes(), &totp_aad(alias.as_str()))?;
        let done = sqlx::query(
            "UPDATE clients SET totp_sealed = $1, totp_algorithm = $2, totp_digits = $3, \
             totp_period = $4, totp_last_step = NULL, totp_delivered_at = $5 WHERE alias = $6",
        )
        .bind(sealed)
        .bind(totp.algorithm.to_string())
        .bind(i64::from(totp.digits.get()))
        .bind(i64::from(totp.period))
        .bind(delivered_at.map(Timestamp::millis))
        .bind(alias.as_str())
        .execute(&self.pool)
        .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))
    }

    /// Hands out the client's TOTP seed if it was not delivered yet, and marks it delivered
    /// at `now`, in one conditional statement: exactly one caller gets it even when several
    /// ask at once (on one node or several). `None`: delivered before.
    ///
    /// The seed comes back from the same statement (`RETURNING`), so a reset racing with it
    /// cannot slip a new seed to this caller while marking the new one delivered.
    pub async fn deliver_client_totp(
        &self,
        alias: &Alias,
        now: Timestamp,
    ) -> Result<Option<Totp>, StoreError> {
        let row = sqlx::query(
            "UPDATE clients SET totp_delivered_at = $1 \
             WHERE alias = $2 AND totp_delivered_at IS NULL AND totp_active = 1 \
             RETURNING totp_sealed, totp_algorithm, totp_digits, totp_period",
        )
        .bind(now.millis())
        .bind(alias.as_str())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Delivered before, or no such client.
            self.client(alias).await?;
            return Ok(None);
        };
        let sealed: Vec<u8> = row.try_get("totp_sealed")?;
        let seed = self.sealer.open(&sealed, &totp_aad(alias.as_str()))?;
        Ok(Some(Totp {
            secret: Secret::from_bytes(&seed).map_err(invalid("totp seed"))?,
            params: totp_params_from_row(&row)?,
        }))
    }

    /// The client's TOTP generator (seed unsealed) and the last step it accepted; `None`:
    /// its TOTP is not in force yet ([`Client::totp_active`]).
    pub async fn client_totp(
        &self,
        alias: &Alias,
    ) -> Result<Option<(Totp, Option<u64>)>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            client_columns!(),
            ", totp_sealed, totp_last_step FROM clients WHERE alias = $1"
        ))
        .bind(alias.as_str())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(alias))?;
        let client = client_from_row(&row)?;
        if !client.totp_active {
            return Ok(None);
        }
        let sealed: Vec<u8> = row.try_get("totp_sealed")?;
        let last: Option<i64> = row.try_get("totp_last_step")?;
        let seed = self.sealer.open(&sealed, &totp_aad(alias.as_str()))?;
        let secret = Secret::from_bytes(&seed).map_err(invalid("totp seed"))?;
        let last = last
            .map(u64::try_from)
            .transpose()
            .map_err(invalid("totp_last_step"))?;
        Ok(Some((
            Totp {
                secret,
                params: client.totp,
            },
            last,
        )))
    }

    /// Burns TOTP `step` for the client in one conditional statement: true for exactly one caller
    /// even when several present the same code at once (on one node or several).
    pub async fn accept_totp_step(&self, alias: &Alias, step: u64) -> Result<bool, StoreError> {
        let step = i64::try_from(step).map_err(invalid("totp step"))?;
        self.write((alias.to_string(), step), |conn, (alias, step)| {
            Box::pin(async move {
                let done = sqlx::query(
                    "UPDATE clients SET totp_last_step = $1 \
                     WHERE alias = $2 AND totp_active = 1 \
                       AND (totp_last_step IS NULL OR totp_last_step < $1)",
                )
                .bind(*step)
                .bind(alias)
                .execute(conn)
                .await?;
                Ok(done.rows_affected() == 1)
            })
        })
        .await
    }
}
