use mfa_core::{Alias, Scope, Scopes, Timestamp};
use mfa_secrets::TokenHash;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::is_unique_violation;
use crate::revocation::bump_epoch;
use crate::rows::invalid;
use crate::rows::one_row;
use crate::{Store, StoreError};

/// An API token for the OTP service and the vault: a name, what it may do, and (for the vault)
/// which apps. The token itself is only ever stored as a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub name: Alias,
    pub scopes: Scopes,
    /// The vault apps it may use; `None`: all of them.
    pub vault_apps: Option<Vec<i64>>,
    pub created_at: Timestamp,
}

impl ApiToken {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Whether the token's app limit (if any) lets it use vault app `id`.
    pub fn may_use_vault_app(&self, id: i64) -> bool {
        self.vault_apps.as_ref().is_none_or(|ids| ids.contains(&id))
    }
}

pub struct NewApiToken<'a> {
    pub name: &'a Alias,
    pub token_hash: &'a TokenHash,
    pub scopes: &'a Scopes,
    pub vault_apps: Option<&'a [i64]>,
    pub now: Timestamp,
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

fn token_from_row(row: &AnyRow) -> Result<ApiToken, StoreError> {
    let name: String = row.try_get("name")?;
    let scopes: String = row.try_get("scopes")?;
    let apps: Option<String> = row.try_get("vault_apps")?;
    Ok(ApiToken {
        name: Alias::new(&name).map_err(invalid("api token name"))?,
        scopes: scopes.parse().map_err(invalid("api token scopes"))?,
        vault_apps: apps
            .map(|a| {
                a.split(',')
                    .filter(|id| !id.is_empty())
                    .map(|id| id.parse::<i64>().map_err(invalid("api token vault_apps")))
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// Adds a token. Every vault app it is limited to must exist (ids are never reused, so a limit
    /// never comes to cover an app added later).
    pub async fn add_api_token(&self, new: NewApiToken<'_>) -> Result<ApiToken, StoreError> {
        let mut apps: Option<Vec<i64>> = new.vault_apps.map(<[i64]>::to_vec);
        if let Some(ids) = apps.as_mut() {
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "api token {} is limited to no vault app",
                    new.name
                )));
            }
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, scopes, vault_apps, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new.name.as_str())
        .bind(new.token_hash.as_str())
        .bind(new.scopes.to_string())
        .bind(apps.as_deref().map(join_ids))
        .bind(new.now.millis())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(format!("api token {}", new.name))
            } else {
                e.into()
            }
        })?;
        for id in apps.iter().flatten() {
            let found: Option<i64> = sqlx::query_scalar("SELECT id FROM vault_apps WHERE id = $1")
                .bind(*id)
                .fetch_optional(&mut *tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::NotFound(format!("vault app {id}")));
            }
        }
        tx.commit().await?;
        Ok(ApiToken {
            name: new.name.clone(),
            scopes: new.scopes.clone(),
            vault_apps: apps,
            created_at: new.now,
        })
    }

    pub async fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        sqlx::query("SELECT name, scopes, vault_apps, created_at FROM api_tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    /// The token a presented bearer secret belongs to, if any.
    pub async fn api_token_by_hash(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<ApiToken>, StoreError> {
        let row = sqlx::query(
            "SELECT name, scopes, vault_apps, created_at FROM api_tokens WHERE token_hash = $1",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    /// Removes a token; it stops working at once. What it created (OTP credentials, one-time
    /// codes) stays, reachable again only by a token added under the same name.
    pub async fn remove_api_token(&self, name: &Alias) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        one_row(done.rows_affected(), || format!("api token {name}"))?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(())
    }
}
