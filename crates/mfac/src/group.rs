//! `mfac group` (login users) and `mfac host-group` (hosts): the sets rules name.

use anyhow::bail;
use clap::Subcommand;
use mfa_core::policy::Subject;
use mfa_core::{Alias, Pattern};
use mfa_store::{Group, HostGroup, RuleHost};
use serde::Serialize;

use crate::context::Context;
use crate::output::{list_or_none, print_done, print_item, print_json, print_list};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a group of login users.
    Add {
        name: String,
        /// Its members, comma-separated.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        members: Vec<String>,
    },
    /// List groups and their members.
    List,
    /// Show a group: members and the rules that name it.
    Show { name: String },
    /// Change a group's members.
    Modify {
        name: String,
        /// Replace the members with these.
        #[arg(long, num_args = 1.., value_delimiter = ',', conflicts_with_all = ["add_members", "remove_members"])]
        members: Option<Vec<String>>,
        /// Add these members.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        add_members: Vec<String>,
        /// Remove these members.
        #[arg(long, num_args = 1.., value_delimiter = ',')]
        remove_members: Vec<String>,
    },
    /// Remove a group (refused while rules name it).
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum HostGroupCommand {
    /// Add a named set of hosts.
    Add {
        name: String,
        /// Host patterns, comma-separated: exact names, `*.domain` or `*`.
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        hosts: Vec<String>,
    },
    /// List host groups.
    List,
    /// Show a host group: hosts and the rules that name it.
    Show { name: String },
    /// Replace a host group's hosts.
    Modify {
        name: String,
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        hosts: Vec<String>,
    },
    /// Remove a host group (refused while rules name it).
    Remove { name: String },
}

fn aliases(names: &[String]) -> anyhow::Result<Vec<Alias>> {
    names.iter().map(|n| parse_alias(n)).collect()
}

pub fn patterns(hosts: &[String]) -> anyhow::Result<Vec<Pattern>> {
    Ok(hosts
        .iter()
        .map(|h| Pattern::new(h))
        .collect::<Result<Vec<_>, _>>()?)
}

#[derive(Serialize)]
struct GroupView {
    name: String,
    members: Vec<String>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<String>>,
}

impl GroupView {
    fn new(g: &Group, rules: Option<Vec<String>>) -> Self {
        Self {
            name: g.name.to_string(),
            members: g.members.iter().map(ToString::to_string).collect(),
            created_at: g.created_at.to_string(),
            rules,
        }
    }
}

#[derive(Serialize)]
struct HostGroupView {
    name: String,
    hosts: Vec<String>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    rules: Option<Vec<String>>,
}

impl HostGroupView {
    fn new(g: &HostGroup, rules: Option<Vec<String>>) -> Self {
        Self {
            name: g.name.to_string(),
            hosts: g.hosts.iter().map(ToString::to_string).collect(),
            created_at: g.created_at.to_string(),
            rules,
        }
    }
}

pub async fn run_groups(ctx: &Context, cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Add { name, members } => add_group(ctx, &name, &members).await,
        GroupCommand::List => list_groups(ctx).await,
        GroupCommand::Show { name } => show_group(ctx, &name).await,
        GroupCommand::Modify {
            name,
            members,
            add_members,
            remove_members,
        } => modify_group(ctx, &name, members, add_members, remove_members).await,
        GroupCommand::Remove { name } => remove_group(ctx, &name).await,
    }
}

/// Add a group of login users.
async fn add_group(ctx: &Context, name: &str, members: &[String]) -> anyhow::Result<()> {
    let g = ctx
        .store
        .add_group(&parse_alias(name)?, &aliases(members)?, ctx.now())
        .await?;
    let v = GroupView::new(&g, None);
    if ctx.json {
        return print_json(&v);
    }
    println!("Added group {}: {}.", v.name, list_or_none(&v.members));
    Ok(())
}

/// List groups and their members.
async fn list_groups(ctx: &Context) -> anyhow::Result<()> {
    let views: Vec<GroupView> = ctx
        .store
        .groups()
        .await?
        .iter()
        .map(|g| GroupView::new(g, None))
        .collect();
    print_list(ctx.json, &views, &["GROUP", "MEMBERS"], |v| {
        vec![v.name.clone(), list_or_none(&v.members)]
    })
}

/// Show a group: members and the rules that name it.
async fn show_group(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let g = ctx.store.group(&parse_alias(name)?).await?;
    let rules = ctx
        .store
        .rules()
        .await?
        .into_iter()
        .filter(|r| r.subject == Subject::Group(g.name.clone()))
        .map(|r| r.to_string())
        .collect();
    let v = GroupView::new(&g, Some(rules));
    print_item(
        ctx.json,
        &v,
        &[
            ("group", v.name.clone()),
            ("members", list_or_none(&v.members)),
            (
                "rules",
                list_or_none(v.rules.as_deref().unwrap_or_default()),
            ),
            ("created", v.created_at.clone()),
        ],
    )
}

/// Change a group's members.
async fn modify_group(
    ctx: &Context,
    name: &str,
    members: Option<Vec<String>>,
    add_members: Vec<String>,
    remove_members: Vec<String>,
) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    match members {
        Some(m) => ctx.store.set_group_members(&name, &aliases(&m)?).await?,
        None if add_members.is_empty() && remove_members.is_empty() => {
            bail!("nothing to change: give --members, --add-members or --remove-members")
        }
        None => {
            if !remove_members.is_empty() {
                ctx.store
                    .remove_group_members(&name, &aliases(&remove_members)?)
                    .await?;
            }
            if !add_members.is_empty() {
                ctx.store
                    .add_group_members(&name, &aliases(&add_members)?)
                    .await?;
            }
        }
    }
    let v = GroupView::new(&ctx.store.group(&name).await?, None);
    if ctx.json {
        return print_json(&v);
    }
    println!("Group {} now has: {}.", v.name, list_or_none(&v.members));
    Ok(())
}

/// Remove a group (refused while rules name it).
async fn remove_group(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    ctx.store.remove_group(&name).await?;
    print_done(
        ctx.json,
        "name",
        name.as_str(),
        "removed",
        format_args!("Group {name} removed."),
    )
}

pub async fn run_host_groups(ctx: &Context, cmd: HostGroupCommand) -> anyhow::Result<()> {
    match cmd {
        HostGroupCommand::Add { name, hosts } => add_host_group(ctx, &name, &hosts).await,
        HostGroupCommand::List => list_host_groups(ctx).await,
        HostGroupCommand::Show { name } => show_host_group(ctx, &name).await,
        HostGroupCommand::Modify { name, hosts } => modify_host_group(ctx, &name, &hosts).await,
        HostGroupCommand::Remove { name } => remove_host_group(ctx, &name).await,
    }
}

/// Add a named set of hosts.
async fn add_host_group(ctx: &Context, name: &str, hosts: &[String]) -> anyhow::Result<()> {
    let g = ctx
        .store
        .add_host_group(&parse_alias(name)?, &patterns(hosts)?, ctx.now())
        .await?;
    let v = HostGroupView::new(&g, None);
    if ctx.json {
        return print_json(&v);
    }
    println!("Added host group {}: {}.", v.name, list_or_none(&v.hosts));
    Ok(())
}

/// List host groups.
async fn list_host_groups(ctx: &Context) -> anyhow::Result<()> {
    let views: Vec<HostGroupView> = ctx
        .store
        .host_groups()
        .await?
        .iter()
        .map(|g| HostGroupView::new(g, None))
        .collect();
    print_list(ctx.json, &views, &["HOST GROUP", "HOSTS"], |v| {
        vec![v.name.clone(), list_or_none(&v.hosts)]
    })
}

/// Show a host group: hosts and the rules that name it.
async fn show_host_group(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let g = ctx.store.host_group(&parse_alias(name)?).await?;
    let rules = ctx
        .store
        .rules()
        .await?
        .into_iter()
        .filter(|r| r.host == RuleHost::Group(g.name.clone()))
        .map(|r| r.to_string())
        .collect();
    let v = HostGroupView::new(&g, Some(rules));
    print_item(
        ctx.json,
        &v,
        &[
            ("host group", v.name.clone()),
            ("hosts", list_or_none(&v.hosts)),
            (
                "rules",
                list_or_none(v.rules.as_deref().unwrap_or_default()),
            ),
            ("created", v.created_at.clone()),
        ],
    )
}

/// Replace a host group's hosts.
async fn modify_host_group(ctx: &Context, name: &str, hosts: &[String]) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    ctx.store
        .set_host_group_hosts(&name, &patterns(hosts)?)
        .await?;
    let v = HostGroupView::new(&ctx.store.host_group(&name).await?, None);
    if ctx.json {
        return print_json(&v);
    }
    println!("Host group {} now has: {}.", v.name, list_or_none(&v.hosts));
    Ok(())
}

/// Remove a host group (refused while rules name it).
async fn remove_host_group(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    ctx.store.remove_host_group(&name).await?;
    print_done(
        ctx.json,
        "name",
        name.as_str(),
        "removed",
        format_args!("Host group {name} removed."),
    )
}
