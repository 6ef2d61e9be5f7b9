use clap::{Args, Subcommand};
use mfa_core::{Methods, Pattern};
use mfa_store::{App, NewApp};
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_done, print_item, print_json, print_list};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Route a user's logins on a host and service to clients.
    Add(AppAdd),
    /// List apps.
    List {
        /// Only this user's apps.
        #[arg(long)]
        user: Option<String>,
    },
    /// Show one app.
    Show { id: i64 },
    /// Remove an app.
    Remove { id: i64 },
}

#[derive(Debug, Args)]
pub struct AppAdd {
    /// The login user name.
    #[arg(long)]
    pub user: String,
    /// Host name, `*.domain` or `*`.
    #[arg(long)]
    pub host: String,
    /// PAM service (sshd, sudo, ...) or `*`.
    #[arg(long)]
    pub service: String,
    /// Client alias(es), comma-separated: each gets the push.
    #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
    pub client: Vec<String>,
    /// Allowed methods: push, totp, password, passkey (comma- or space-separated).
    #[arg(long, num_args = 1.., required = true)]
    pub methods: Vec<String>,
}

#[derive(Serialize)]
struct AppView {
    id: i64,
    user: String,
    host: String,
    service: String,
    methods: Vec<String>,
    clients: Vec<String>,
    created_at: String,
}

impl From<&App> for AppView {
    fn from(a: &App) -> Self {
        Self {
            id: a.id,
            user: a.user.to_string(),
            host: a.host.to_string(),
            service: a.service.to_string(),
            methods: a.methods.iter().map(|m| m.to_string()).collect(),
            clients: a.clients.iter().map(|c| c.to_string()).collect(),
            created_at: a.created_at.to_string(),
        }
    }
}

pub async fn run(ctx: &Context, cmd: AppCommand) -> anyhow::Result<()> {
    match cmd {
        AppCommand::Add(args) => add(ctx, args).await,
        AppCommand::List { user } => list(ctx, user.as_deref()).await,
        AppCommand::Show { id } => show(ctx, id).await,
        AppCommand::Remove { id } => remove(ctx, id).await,
    }
}

/// Route a user's logins on a host and service to clients.
async fn add(ctx: &Context, add: AppAdd) -> anyhow::Result<()> {
    let app = ctx.store.add_app(&parse_new_app(add)?, ctx.now()).await?;
    if ctx.json {
        return print_json(&AppView::from(&app));
    }
    println!(
        "Added app {}: user {} on {} service {} -> {} ({}).",
        app.id,
        app.user,
        app.host,
        app.service,
        join(&AppView::from(&app).clients),
        app.methods
    );
    Ok(())
}

/// List apps.
async fn list(ctx: &Context, user: Option<&str>) -> anyhow::Result<()> {
    let apps = match user {
        Some(user) => ctx.store.apps_for_user(parse_alias(user)?.as_str()).await?,
        None => ctx.store.apps().await?,
    };
    let views: Vec<AppView> = apps.iter().map(AppView::from).collect();
    print_list(
        ctx.json,
        &views,
        &["ID", "USER", "HOST", "SERVICE", "METHODS", "CLIENTS"],
        |v| {
            vec![
                v.id.to_string(),
                v.user.clone(),
                v.host.clone(),
                v.service.clone(),
                join(&v.methods),
                join(&v.clients),
            ]
        },
    )
}

/// Show one app.
async fn show(ctx: &Context, id: i64) -> anyhow::Result<()> {
    let v = AppView::from(&ctx.store.app(id).await?);
    print_item(
        ctx.json,
        &v,
        &[
            ("id", v.id.to_string()),
            ("user", v.user.clone()),
            ("host", v.host.clone()),
            ("service", v.service.clone()),
            ("methods", join(&v.methods)),
            ("clients", join(&v.clients)),
            ("created", v.created_at.clone()),
        ],
    )
}

/// Remove an app.
async fn remove(ctx: &Context, id: i64) -> anyhow::Result<()> {
    ctx.store.remove_app(id).await?;
    print_done(
        ctx.json,
        "id",
        id,
        "removed",
        format_args!("App {id} removed."),
    )
}

fn join(items: &[String]) -> String {
    items.join(",")
}

fn parse_new_app(add: AppAdd) -> anyhow::Result<NewApp> {
    Ok(NewApp {
        user: parse_alias(&add.user)?,
        host: Pattern::new(&add.host)?,
        service: Pattern::new(&add.service)?,
        methods: Methods::parse(&add.methods)?,
        clients: add
            .client
            .iter()
            .map(|c| parse_alias(c))
            .collect::<anyhow::Result<_>>()?,
    })
}
