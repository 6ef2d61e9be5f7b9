//! Login users' own settings (bypass), user groups and host groups: what rules name.

use std::collections::BTreeMap;

use mfa_core::{Alias, Pattern, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::invalid;
use crate::rows::one_row;
use crate::{Store, StoreError};

/// A login user with a setting of their own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Alias,
    /// An automation account: never asked for a second factor (each such login is audited).
    pub bypass: bool,
    pub created_at: Timestamp,
}

/// A named set of login users, for rules (`--group admins`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: Alias,
    pub members: Vec<Alias>,
    pub created_at: Timestamp,
}

/// A named set of host patterns, for rules (`--host-group prod`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostGroup {
    pub name: Alias,
    pub hosts: Vec<Pattern>,
    pub created_at: Timestamp,
}

fn user_from_row(row: &AnyRow) -> Result<User, StoreError> {
    let name: String = row.try_get("name")?;
    let bypass: i64 = row.try_get("bypass")?;
    Ok(User {
        name: Alias::new(&name).map_err(invalid("user name"))?,
        bypass: bypass != 0,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn host_group_from_row(row: &AnyRow) -> Result<HostGroup, StoreError> {
    let name: String = row.try_get("name")?;
    let hosts: String = row.try_get("hosts")?;
    Ok(HostGroup {
        name: Alias::new(&name).map_err(invalid("host group name"))?,
        hosts: hosts
            .split(',')
            .map(|h| Pattern::new(h).map_err(invalid("host group hosts")))
            .collect::<Result<_, _>>()?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

pub(crate) fn join_patterns(hosts: &[Pattern]) -> String {
    hosts
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn sorted(members: &[Alias]) -> Vec<Alias> {
    let mut m = members.to_vec();
    m.sort();
    m.dedup();
    m
}

impl Store {
    /// Sets a user's bypass flag (creating their row); returns the value it had before.
    pub async fn set_user_bypass(
        &self,
        user: &Alias,
        bypass: bool,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let before = self.user(user.as_str()).await?.is_some_and(|u| u.bypass);
        sqlx::query(
            "INSERT INTO users (name, bypass, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET bypass = $2",
        )
        .bind(user.as_str())
        .bind(i64::from(bypass))
        .bind(now.millis())
        .execute(&self.pool)
        .await?;
        Ok(before)
    }

    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT name, bypass, created_at FROM users WHERE name = $1")
            .bind(name.to_owned())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// Users with a row of their own (a setting), by name.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        sqlx::query("SELECT name, bypass, created_at FROM users ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    /// Adds a group and its members in one transaction.
    pub async fn add_group(
        &self,
        name: &Alias,
        members: &[Alias],
        now: Timestamp,
    ) -> Result<Group, StoreError> {
        let members = sorted(members);
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO user_groups (name, created_at) VALUES ($1, $2)")
            .bind(name.as_str())
            .bind(now.millis())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Exists(format!("group {name}"))
                } else {
                    e.into()
                }
            })?;
        for m in &members {
            sqlx::query("INSERT INTO group_members (group_name, user_name) VALUES ($1, $2)")
                .bind(name.as_str())
                .bind(m.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(Group {
            name: name.clone(),
            members,
            created_at: now,
        })
    }

    pub async fn groups(&self) -> Result<Vec<Group>, StoreError> {
        let mut members: BTreeMap<String, Vec<Alias>> = BTreeMap::new();
        for row in sqlx::query(
            "SELECT group_name, user_name FROM group_members ORDER BY group_name, user_name",
        )
        .fetch_all(&self.pool)
        .await?
        {
            let user: String = row.try_get("user_name")?;
            members
                .entry(row.try_get("group_name")?)
                .or_default()
                .push(Alias::new(&user).map_err(invalid("group member"))?);
        }
        sqlx::query("SELECT name, created_at FROM user_groups ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| {
                let name: String = row.try_get("name")?;
                Ok(Group {
                    members: members.remove(&name).unwrap_or_default(),
                    name: Alias::new(&name).map_err(invalid("group name"))?,
                    created_at: Timestamp::from_millis(row.try_get("created_at")?),
                })
            })
            .collect()
    }

    pub async fn group(&self, name: &Alias) -> Result<Group, StoreError> {
        self.groups()
            .await?
            .into_iter()
            .find(|g| &g.name == name)
            .ok_or_else(|| StoreError::NotFound(format!("group {name}")))
    }

    /// The groups `user` belongs to.
    pub async fn groups_of(&self, user: &str) -> Result<Vec<Alias>, StoreError> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT group_name FROM group_members WHERE user_name = $1 ORDER BY group_name",
        )
        .bind(user.to_owned())
        .fetch_all(&self.pool)
        .await?;
        names
            .iter()
            .map(|n| Alias::new(n).map_err(invalid("group name")))
            .collect()
    }

    /// Adds members (those already in are left alone).
    pub async fn add_group_members(
        &self,
        name: &Alias,
        members: &[Alias],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for m in sorted(members) {
            sqlx::query(
                "INSERT INTO group_members (group_name, user_name) VALUES ($1, $2) \
                 ON CONFLICT (group_name, user_name) DO NOTHING",
            )
            .bind(name.as_str())
            .bind(m.as_str())
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                if is_foreign_key_violation(&e) {
                    StoreError::NotFound(format!("group {name}"))
                } else {
                    e.into()
                }
            })?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes members; all or nothing: naming someone who is not a member is an error.
    pub async fn remove_group_members(
        &self,
        name: &Alias,
        members: &[Alias],
    ) -> Result<(), StoreError> {
        self.group(name).await?;
        let mut tx = self.begin_write().await?;
        for m in sorted(members) {
            let done =
                sqlx::query("DELETE FROM group_members WHERE group_name = $1 AND user_name = $2")
                    .bind(name.as_str())
                    .bind(m.as_str())
                    .execute(&mut *tx)
                    .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound(format!("member {m} of group {name}")));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the members.
    pub async fn set_group_members(
        &self,
        name: &Alias,
        members: &[Alias],
    ) -> Result<(), StoreError> {
        self.group(name).await?;
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM group_members WHERE group_name = $1")
            .bind(name.as_str())
            .execute(&mut *tx)
            .await?;
        for m in sorted(members) {
            sqlx::query("INSERT INTO group_members (group_name, user_name) VALUES ($1, $2)")
                .bind(name.as_str())
                .bind(m.as_str())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Removes a group no rule names; one that rules name is refused (dropping a rule silently
    /// would weaken the policy).
    pub async fn remove_group(&self, name: &Alias) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM user_groups WHERE name = $1")
            .bind(name.as_str())
            .execute(&self.pool)
            .await;
        match result {
            Ok(done) => one_row(done.rows_affected(), || format!("group {name}")),
            Err(e) if is_foreign_key_violation(&e) => Err(self
                .in_use(format!("group {name}"), "group_name", name)
                .await),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn add_host_group(
        &self,
        name: &Alias,
        hosts: &[Pattern],
        now: Timestamp,
    ) -> Result<HostGroup, StoreError> {
        if hosts.is_empty() {
            return Err(StoreError::Invalid(format!(
                "host group {name} names no host"
            )));
        }
        sqlx::query("INSERT INTO host_groups (name, hosts, created_at) VALUES ($1, $2, $3)")
            .bind(name.as_str())
            .bind(join_patterns(hosts))
            .bind(now.millis())
            .execute(&self.pool)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    StoreError::Exists(format!("host group {name}"))
                } else {
                    e.into()
                }
            })?;
        Ok(HostGroup {
            name: name.clone(),
            hosts: hosts.to_vec(),
            created_at: now,
        })
    }

    pub async fn host_groups(&self) -> Result<Vec<HostGroup>, StoreError> {
        sqlx::query("SELECT name, hosts, created_at FROM host_groups ORDER BY name")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(host_group_from_row)
            .collect()
    }

    pub async fn host_group(&self, name: &Alias) -> Result<HostGroup, StoreError> {
        let row = sqlx::query("SELECT name, hosts, created_at FROM host_groups WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("host group {name}")))?;
        host_group_from_row(&row)
    }

    pub async fn set_host_group_hosts(
        &self,
        name: &Alias,
        hosts: &[Pattern],
    ) -> Result<(), StoreError> {
        if hosts.is_empty() {
            return Err(StoreError::Invalid(format!(
                "host group {name} names no host"
            )));
        }
        let done = sqlx::query("UPDATE host_groups SET hosts = $1 WHERE name = $2")
            .bind(join_patterns(hosts))
            .bind(name.as_str())
            .execute(&self.pool)
            .await?;
        one_row(done.rows_affected(), || format!("host group {name}"))
    }

    pub async fn remove_host_group(&self, name: &Alias) -> Result<(), StoreError> {
        let result = sqlx::query("DELETE FROM host_groups WHERE name = $1")
            .bind(name.as_str())
            .execute(&self.pool)
            .await;
        match result {
            Ok(done) => one_row(done.rows_affected(), || format!("host group {name}")),
            Err(e) if is_foreign_key_violation(&e) => Err(self
                .in_use(format!("host group {name}"), "host_group", name)
                .await),
            Err(e) => Err(e.into()),
        }
    }

    /// "X is still used by rule 3, 5".
    async fn in_use(&self, what: String, column: &str, name: &Alias) -> StoreError {
        let ids: Result<Vec<i64>, _> = match column {
            "group_name" => {
                sqlx::query_scalar("SELECT id FROM policy_rules WHERE group_name = $1 ORDER BY id")
                    .bind(name.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
            _ => {
                sqlx::query_scalar("SELECT id FROM policy_rules WHERE host_group = $1 ORDER BY id")
                    .bind(name.as_str())
                    .fetch_all(&self.pool)
                    .await
            }
        };
        match ids {
            Ok(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                StoreError::InUse {
                    what,
                    by: format!("rule {}", ids.join(", ")),
                }
            }
            Err(e) => e.into(),
        }
    }
}
