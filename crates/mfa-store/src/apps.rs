use std::collections::BTreeMap;

use mfa_core::{Alias, Methods, Pattern, Route, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::invalid;
use crate::{Store, StoreError};

/// A (user, host, service) login routed to one or more clients, with the methods it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub id: i64,
    pub user: Alias,
    pub host: Pattern,
    pub service: Pattern,
    pub methods: Methods,
    pub clients: Vec<Alias>,
    pub created_at: Timestamp,
}

impl Route for App {
    fn user(&self) -> &str {
        self.user.as_str()
    }
    fn host(&self) -> &Pattern {
        &self.host
    }
    fn service(&self) -> &Pattern {
        &self.service
    }
}

#[derive(Debug, Clone)]
pub struct NewApp {
    pub user: Alias,
    pub host: Pattern,
    pub service: Pattern,
    pub methods: Methods,
    pub clients: Vec<Alias>,
}

fn app_from_row(row: &AnyRow, clients: Vec<Alias>) -> Result<App, StoreError> {
    let user: String = row.try_get("user_name")?;
    let host: String = row.try_get("host")?;
    let service: String = row.try_get("service")?;
    let methods: String = row.try_get("methods")?;
    Ok(App {
        id: row.try_get("id")?,
        user: Alias::new(&user).map_err(invalid("user_name"))?,
        host: Pattern::new(&host).map_err(invalid("host"))?,
        service: Pattern::new(&service).map_err(invalid("service"))?,
        methods: methods.parse().map_err(invalid("methods"))?,
        clients,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

impl Store {
    /// Adds an app and its client links in one transaction: all of it or nothing.
    pub async fn add_app(&self, new: &NewApp, now: Timestamp) -> Result<App, StoreError> {
        let what = || {
            format!(
                "app for user {} on host {} service {}",
                new.user, new.host, new.service
            )
        };
        if new.clients.is_empty() {
            return Err(StoreError::Invalid(format!("{} names no client", what())));
        }
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO apps (user_name, host, service, methods, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(new.user.as_str())
        .bind(new.host.to_string())
        .bind(new.service.to_string())
        .bind(new.methods.to_string())
        .bind(now.millis())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Exists(what())
            } else {
                e.into()
            }
        })?;
        let mut clients = new.clients.clone();
        clients.sort();
        clients.dedup();
        for client in &clients {
            sqlx::query("INSERT INTO app_clients (app_id, client_alias) VALUES ($1, $2)")
                .bind(id)
                .bind(client.as_str())
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    if is_foreign_key_violation(&e) {
                        StoreError::NotFound(format!("client {client}"))
                    } else {
                        e.into()
                    }
                })?;
        }
        tx.commit().await?;
        Ok(App {
            id,
            user: new.user.clone(),
            host: new.host.clone(),
            service: new.service.clone(),
            methods: new.methods.clone(),
            clients,
            created_at: now,
        })
    }

    pub async fn apps(&self) -> Result<Vec<App>, StoreError> {
        let links = sqlx::query(
            "SELECT app_id, client_alias FROM app_clients ORDER BY app_id, client_alias",
        );
        let apps = sqlx::query(
            "SELECT id, user_name, host, service, methods, created_at FROM apps ORDER BY id",
        );
        self.collect_apps(links, apps).await
    }

    /// The apps of one login user: the candidates for routing.
    pub async fn apps_for_user(&self, user: &str) -> Result<Vec<App>, StoreError> {
        let links = sqlx::query(
            "SELECT ac.app_id, ac.client_alias FROM app_clients ac JOIN apps a ON a.id = ac.app_id \
             WHERE a.user_name = $1 ORDER BY ac.app_id, ac.client_alias",
        )
        .bind(user.to_owned());
        let apps = sqlx::query(
            "SELECT id, user_name, host, service, methods, created_at FROM apps \
             WHERE user_name = $1 ORDER BY id",
        )
        .bind(user.to_owned());
        self.collect_apps(links, apps).await
    }

    pub async fn app(&self, id: i64) -> Result<App, StoreError> {
        let row = sqlx::query(
            "SELECT id, user_name, host, service, methods, created_at FROM apps WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("app {id}")))?;
        let clients: Vec<String> = sqlx::query_scalar(
            "SELECT client_alias FROM app_clients WHERE app_id = $1 ORDER BY client_alias",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let clients = clients
            .iter()
            .map(|c| Alias::new(c).map_err(invalid("client_alias")))
            .collect::<Result<_, _>>()?;
        app_from_row(&row, clients)
    }

    pub async fn remove_app(&self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM apps WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        crate::rows::one_row(done.rows_affected(), || format!("app {id}"))
    }

    /// Joins app rows with their client links (two queries rather than one row per link).
    async fn collect_apps(
        &self,
        links: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
        apps: sqlx::query::Query<'_, sqlx::Any, sqlx::any::AnyArguments>,
    ) -> Result<Vec<App>, StoreError> {
        let mut clients_of: BTreeMap<i64, Vec<Alias>> = BTreeMap::new();
        for row in links.fetch_all(&self.pool).await? {
            let alias: String = row.try_get("client_alias")?;
            clients_of
                .entry(row.try_get("app_id")?)
                .or_default()
                .push(Alias::new(&alias).map_err(invalid("client_alias"))?);
        }
        apps.fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let id: i64 = row.try_get("id")?;
                app_from_row(row, clients_of.remove(&id).unwrap_or_default())
            })
            .collect()
    }
}
