//! `mfac user`: login users' own settings (bypass for automation accounts) and what applies
//! to them.

use std::collections::BTreeSet;

use anyhow::bail;
use clap::Subcommand;
use mfa_core::policy::Subject;
use mfa_store::AuditEntry;
use serde::Serialize;

use crate::context::Context;
use crate::output::{list_or_none, print_item, print_json, print_list};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List login users mfa knows: from apps, groups and their own settings.
    List,
    /// Show a user: bypass, groups, apps, the rules that name them, elevated sessions.
    Show { name: String },
    /// Change a user's settings (recorded in the audit log).
    Modify {
        name: String,
        /// An automation account: never asked for a second factor (each login is audited).
        #[arg(long, conflicts_with = "no_bypass")]
        bypass: bool,
        /// Ask the user for MFA again as the policy says.
        #[arg(long)]
        no_bypass: bool,
    },
}

#[derive(Serialize)]
struct UserView {
    name: String,
    bypass: bool,
    groups: Vec<String>,
    apps: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sessions: Option<Vec<String>>,
}

async fn view(ctx: &Context, name: &str, details: bool) -> anyhow::Result<UserView> {
    let bypass = ctx.store.user(name).await?.is_some_and(|u| u.bypass);
    let groups = ctx.store.groups_of(name).await?;
    let apps = ctx.store.apps_for_user(name).await?;
    let (rules, sessions) = if details {
        let rules = ctx
            .store
            .rules()
            .await?
            .into_iter()
            .filter(|r| match &r.subject {
                Subject::User(u) => u.as_str() == name,
                Subject::Group(g) => groups.contains(g),
                Subject::Everyone => true,
            })
            .map(|r| r.to_string())
            .collect();
        let sessions = ctx
            .store
            .sessions(Some(name), ctx.now())
            .await?
            .into_iter()
            .map(|s| format!("{} {} until {}", s.id, s.scope, s.expires_at))
            .collect();
        (Some(rules), Some(sessions))
    } else {
        (None, None)
    };
    Ok(UserView {
        name: name.to_owned(),
        bypass,
        groups: groups.iter().map(ToString::to_string).collect(),
        apps: apps.iter().map(|a| a.id).collect(),
        rules,
        sessions,
    })
}

pub async fn run(ctx: &Context, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::List => list(ctx).await,
        UserCommand::Show { name } => show(ctx, &name).await,
        UserCommand::Modify {
            name,
            bypass,
            no_bypass,
        } => modify(ctx, &name, bypass, no_bypass).await,
    }
}

/// List login users mfa knows: from apps, groups and their own settings.
async fn list(ctx: &Context) -> anyhow::Result<()> {
    let mut names = BTreeSet::new();
    names.extend(
        ctx.store
            .apps()
            .await?
            .into_iter()
            .map(|a| a.user.to_string()),
    );
    for g in ctx.store.groups().await? {
        names.extend(g.members.iter().map(ToString::to_string));
    }
    names.extend(
        ctx.store
            .users()
            .await?
            .into_iter()
            .map(|u| u.name.to_string()),
    );
    let mut views = Vec::new();
    for name in &names {
        views.push(view(ctx, name, false).await?);
    }
    print_list(
        ctx.json,
        &views,
        &["USER", "BYPASS", "GROUPS", "APPS"],
        |v| {
            let apps: Vec<String> = v.apps.iter().map(i64::to_string).collect();
            vec![
                v.name.clone(),
                if v.bypass { "yes" } else { "no" }.to_owned(),
                list_or_none(&v.groups),
                list_or_none(&apps),
            ]
        },
    )
}

/// Show a user: bypass, groups, apps, the rules that name them, elevated sessions.
async fn show(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    let v = view(ctx, name.as_str(), true).await?;
    let apps: Vec<String> = v.apps.iter().map(i64::to_string).collect();
    let bypass = if v.bypass {
        "yes (an automation account: never asked for MFA)"
    } else {
        "no"
    };
    print_item(
        ctx.json,
        &v,
        &[
            ("user", v.name.clone()),
            ("bypass", bypass.to_owned()),
            ("groups", list_or_none(&v.groups)),
            ("apps", list_or_none(&apps)),
            (
                "rules",
                list_or_none(v.rules.as_deref().unwrap_or_default()),
            ),
            (
                "sessions",
                list_or_none(v.sessions.as_deref().unwrap_or_default()),
            ),
        ],
    )
}

/// Change a user's settings (recorded in the audit log).
async fn modify(ctx: &Context, name: &str, bypass: bool, no_bypass: bool) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    if !bypass && !no_bypass {
        bail!("nothing to change: give --bypass or --no-bypass");
    }
    let now = ctx.now();
    let before = ctx.store.set_user_bypass(&name, bypass, now).await?;
    if before != bypass {
        ctx.store
            .audit(
                &AuditEntry {
                    user: name.to_string(),
                    method: Some("mfac".into()),
                    result: if bypass { "bypass-on" } else { "bypass-off" }.into(),
                    reason: Some(format!(
                        "mfac user modify {name} {}",
                        if bypass { "--bypass" } else { "--no-bypass" }
                    )),
                    ..AuditEntry::default()
                },
                now,
            )
            .await?;
    }
    if ctx.json {
        return print_json(&serde_json::json!({
            "name": name.as_str(),
            "bypass": bypass,
            "changed": before != bypass,
        }));
    }
    match (bypass, before == bypass) {
        (true, false) => println!(
            "User {name} is now an automation account: never asked for MFA (each login is audited as bypass)."
        ),
        (false, false) => {
            println!("User {name} is asked for MFA again as the policy says.")
        }
        (true, true) => println!("User {name} was already an automation account."),
        (false, true) => println!("User {name} had no bypass; nothing changed."),
    }
    Ok(())
}
