//! Policy rules: who (everyone, a group, a user) needs what (a requirement) where (a host or
//! host group, a service or an action). One rule per combination.

use std::fmt;

use mfa_core::policy::{HostMatch, Requirement, Rule, Subject, Target};
use mfa_core::{Alias, Pattern, Timestamp};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::error::{is_foreign_key_violation, is_unique_violation};
use crate::rows::invalid;
use crate::rows::one_row;
use crate::{Store, StoreError};

/// Where a stored rule applies: a host group is named here and resolved when rules are used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleHost {
    Any,
    Pattern(Pattern),
    Group(Alias),
}

/// A rule as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyRule {
    pub id: i64,
    pub subject: Subject,
    pub host: RuleHost,
    pub target: Target,
    pub require: Requirement,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRule {
    pub subject: Subject,
    pub host: RuleHost,
    pub target: Target,
    pub require: Requirement,
}

/// The columns a rule is stored in: `(user, group, host, host group, service, action)`,
/// `None` meaning "any".
type Columns = [Option<String>; 6];

fn columns(subject: &Subject, host: &RuleHost, target: &Target) -> Columns {
    let pattern = |p: &Pattern| (*p != Pattern::Any).then(|| p.to_string());
    [
        match subject {
            Subject::User(u) => Some(u.to_string()),
            _ => None,
        },
        match subject {
            Subject::Group(g) => Some(g.to_string()),
            _ => None,
        },
        match host {
            RuleHost::Pattern(p) => pattern(p),
            _ => None,
        },
        match host {
            RuleHost::Group(g) => Some(g.to_string()),
            _ => None,
        },
        match target {
            Target::Service(p) => pattern(p),
            _ => None,
        },
        match target {
            Target::Action(p) => pattern(p),
            _ => None,
        },
    ]
}

/// One rule per combination of match fields: this key is unique.
fn rule_key(c: &Columns) -> String {
    let names = ["user", "group", "host", "host_group", "service", "action"];
    names
        .iter()
        .zip(c)
        .map(|(n, v)| format!("{n}={}", v.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join(";")
}

fn rule_from_row(row: &AnyRow) -> Result<PolicyRule, StoreError> {
    let get = |name: &str| -> Result<Option<String>, StoreError> { Ok(row.try_get(name)?) };
    let alias = |v: String, what: &'static str| Alias::new(&v).map_err(invalid(what));
    let pattern = |v: String, what: &'static str| Pattern::new(&v).map_err(invalid(what));
    let subject = match (get("user_name")?, get("group_name")?) {
        (Some(u), _) => Subject::User(alias(u, "rule user")?),
        (None, Some(g)) => Subject::Group(alias(g, "rule group")?),
        (None, None) => Subject::Everyone,
    };
    let host = match (get("host")?, get("host_group")?) {
        (Some(h), _) => RuleHost::Pattern(pattern(h, "rule host")?),
        (None, Some(g)) => RuleHost::Group(alias(g, "rule host group")?),
        (None, None) => RuleHost::Any,
    };
    let target = match (get("service")?, get("action")?) {
        (Some(s), _) => Target::Service(pattern(s, "rule service")?),
        (None, Some(a)) => Target::Action(pattern(a, "rule action")?),
        (None, None) => Target::Any,
    };
    let require: String = row.try_get("requirement")?;
    Ok(PolicyRule {
        id: row.try_get("id")?,
        subject,
        host,
        target,
        require: require.parse().map_err(invalid("rule requirement"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

macro_rules! rule_columns {
    () => {
        "id, user_name, group_name, host, host_group, service, action, requirement, created_at"
    };
}

/// "user tux, host group prod, service sshd" (what a rule matches), for messages.
pub fn describe_match(subject: &Subject, host: &RuleHost, target: &Target) -> String {
    let who = match subject {
        Subject::Everyone => "everyone".to_owned(),
        Subject::Group(g) => format!("group {g}"),
        Subject::User(u) => format!("user {u}"),
    };
    let place = match host {
        RuleHost::Any => "any host".to_owned(),
        RuleHost::Pattern(p) => format!("host {p}"),
        RuleHost::Group(g) => format!("host group {g}"),
    };
    let what = match target {
        Target::Any => "any service or action".to_owned(),
        Target::Service(p) => format!("service {p}"),
        Target::Action(p) => format!("action {p}"),
    };
    format!("{who}, {place}, {what}")
}

impl fmt::Display for PolicyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "rule {} ({}): {}",
            self.id,
            describe_match(&self.subject, &self.host, &self.target),
            self.require
        )
    }
}

impl Store {
    pub async fn add_rule(&self, new: &NewRule, now: Timestamp) -> Result<PolicyRule, StoreError> {
        let c = columns(&new.subject, &new.host, &new.target);
        let key = rule_key(&c);
        let [user, group, host, host_group, service, action] = c;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO policy_rules (rule_key, user_name, group_name, host, host_group, service, \
             action, requirement, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(key.clone())
        .bind(user)
        .bind(group.clone())
        .bind(host)
        .bind(host_group.clone())
        .bind(service)
        .bind(action)
        .bind(new.require.to_string())
        .bind(now.millis())
        .fetch_one(&self.pool)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if is_unique_violation(&e) => {
                let existing: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM policy_rules WHERE rule_key = $1")
                        .bind(key)
                        .fetch_optional(&self.pool)
                        .await?;
                return Err(StoreError::Exists(format!(
                    "a rule for {} (rule {})",
                    describe_match(&new.subject, &new.host, &new.target),
                    existing.map_or_else(|| "?".to_owned(), |id| id.to_string())
                )));
            }
            Err(e) if is_foreign_key_violation(&e) => {
                return Err(StoreError::NotFound(match (group, host_group) {
                    (Some(g), _) if self.groups_have(&g).await? == 0 => format!("group {g}"),
                    (_, Some(h)) => format!("host group {h}"),
                    (Some(g), None) => format!("group {g}"),
                    (None, None) => "group or host group".to_owned(),
                }));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(PolicyRule {
            id,
            subject: new.subject.clone(),
            host: new.host.clone(),
            target: new.target.clone(),
            require: new.require.clone(),
            created_at: now,
        })
    }

    async fn groups_have(&self, name: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM user_groups WHERE name = $1")
                .bind(name.to_owned())
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub async fn rules(&self) -> Result<Vec<PolicyRule>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            rule_columns!(),
            " FROM policy_rules ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(rule_from_row)
        .collect()
    }

    pub async fn rule(&self, id: i64) -> Result<PolicyRule, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            rule_columns!(),
            " FROM policy_rules WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("rule {id}")))?;
        rule_from_row(&row)
    }

    /// Changes what a rule requires (the match fields stay: remove and add for others).
    pub async fn set_rule_requirement(
        &self,
        id: i64,
        require: &Requirement,
    ) -> Result<(), StoreError> {
        let done = sqlx::query("UPDATE policy_rules SET requirement = $1 WHERE id = $2")
            .bind(require.to_string())
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(done.rows_affected(), || format!("rule {id}"))
    }

    pub async fn remove_rule(&self, id: i64) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM policy_rules WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        one_row(done.rows_affected(), || format!("rule {id}"))
    }

    /// The rules as the decision uses them: host groups replaced by their patterns.
    pub async fn policy_rules(&self) -> Result<Vec<Rule>, StoreError> {
        let rules = self.rules().await?;
        if rules.is_empty() {
            return Ok(vec![]);
        }
        let host_groups = self.host_groups().await?;
        rules
            .into_iter()
            .map(|r| {
                let host = match r.host {
                    RuleHost::Any => HostMatch::Any,
                    RuleHost::Pattern(p) => HostMatch::Pattern(p),
                    RuleHost::Group(name) => {
                        let group = host_groups
                            .iter()
                            .find(|g| g.name == name)
                            .ok_or_else(|| StoreError::NotFound(format!("host group {name}")))?;
                        HostMatch::Group {
                            name,
                            hosts: group.hosts.clone(),
                        }
                    }
                };
                Ok(Rule {
                    id: r.id,
                    subject: r.subject,
                    host,
                    target: r.target,
                    require: r.require,
                })
            })
            .collect()
    }
}
