//! The shared TOTP vault: team seeds for shared accounts, sealed at rest, handed out only as
//! current codes.

use mfa_core::Timestamp;
use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::invalid;
use crate::rows::one_row;
use crate::{Store, StoreError};

/// A vault entry, without its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultApp {
    pub id: i64,
    pub name: String,
    pub attribute: Option<String>,
    pub totp: TotpParams,
    pub created_at: Timestamp,
}

macro_rules! vault_columns {
    () => {
        "id, name, attribute, algorithm, digits, period, created_at"
    };
}

pub(crate) fn vault_aad(id: i64) -> Vec<u8> {
    format!("vault:{id}").into_bytes()
}

fn vault_from_row(row: &AnyRow) -> Result<VaultApp, StoreError> {
    let algorithm: String = row.try_get("algorithm")?;
    let digits: i64 = row.try_get("digits")?;
    let period: i64 = row.try_get("period")?;
    let digits = u8::try_from(digits).map_err(invalid("vault digits"))?;
    Ok(VaultApp {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        attribute: row.try_get("attribute")?,
        totp: TotpParams::new(
            algorithm
                .parse::<Algorithm>()
                .map_err(invalid("vault algorithm"))?,
            Digits::new(digits).map_err(invalid("vault digits"))?,
            u32::try_from(period).map_err(invalid("vault period"))?,
        )
        .map_err(invalid("vault period"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn not_found(id: i64) -> StoreError {
    StoreError::NotFound(format!("vault app {id}"))
}

impl Store {
    /// Adds a seed to the vault; the id is new (ids are never reused).
    pub async fn add_vault_app(
        &self,
        name: &str,
        attribute: Option<&str>,
        secret: &Secret,
        totp: TotpParams,
        now: Timestamp,
    ) -> Result<VaultApp, StoreError> {
        // The seal binds the seed to its id, which the insert makes: insert, then seal, in one
        // transaction.
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO vault_apps (name, attribute, secret_sealed, algorithm, digits, period, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(name.to_owned())
        .bind(attribute.map(str::to_owned))
        .bind(Vec::<u8>::new())
        .bind(totp.algorithm.to_string())
        .bind(i64::from(totp.digits.get()))
        .bind(i64::from(totp.period))
        .bind(now.millis())
        .fetch_one(&mut *tx)
        .await?;
        let sealed = self.sealer.seal(secret.as_bytes(), &vault_aad(id))?;
        sqlx::query("UPDATE vault_apps SET secret_sealed = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(VaultApp {
            id,
            name: name.to_owned(),
            attribute: attribute.map(str::to_owned),
            totp,
            created_at: now,
        })
    }

    /// Every vault app, by id.
    pub async fn vault_apps(&self) -> Result<Vec<VaultApp>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            vault_columns!(),
            " FROM vault_apps ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(vault_from_row)
        .collect()
    }

    pub async fn vault_app(&self, id: i64) -> Result<VaultApp, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            vault_columns!(),
            " FROM vault_apps WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(id))?;
        vault_from_row(&row)
    }

    /// The app and its code generator (seed unsealed).
    pub async fn vault_totp(&self, id: i64) -> Result<(VaultApp, Totp), StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            vault_columns!(),
            ", secret_sealed FROM vault_apps WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(id))?;
        let app = vault_from_row(&row)?;
        let sealed: Vec<u8> = row.try_get("secret_sealed")?;
        let seed = self.sealer.open(&sealed, &vault_aad(id))?;
        let secret = Secret::from_bytes(&seed).map_err(invalid("vault seed"))?;
        let totp = Totp::new(secret, app.totp);
        Ok((app, totp))
    }

    pub async fn remove_vault_app(&self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM vault_apps WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(done.rows_affected(), || format!("vault app {id}"))
    }
}
