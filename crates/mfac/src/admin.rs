//! `mfac admin`: admins of the web console (`/admin`). Each signs in with a password and a
//! TOTP code; `add` asks for the password (never an argument) and prints the TOTP secret once,
//! with its QR code.

use anyhow::Context as _;
use clap::Subcommand;
use mfa_otp::{OtpAuthUri, OtpKind, Secret};
use mfa_secrets::PasswordHash;
use mfa_store::Admin;
use serde::Serialize;

use crate::context::Context;
use crate::credentials::read_new_password;
use crate::output::{print_done, print_json, print_list, qr_for_terminal};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make a console admin: asks for the password (twice on a terminal, else one line on
    /// stdin) and prints the TOTP secret for an authenticator app (once).
    Add { name: String },
    /// List console admins.
    List,
    /// Remove a console admin; its sessions end at once.
    Remove { name: String },
}

#[derive(Serialize)]
struct AdminView {
    name: String,
    created_at: String,
    last_login_at: Option<String>,
}

impl From<&Admin> for AdminView {
    fn from(a: &Admin) -> Self {
        Self {
            name: a.name.to_string(),
            created_at: a.created_at.to_string(),
            last_login_at: a.last_login_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Serialize)]
struct NewAdmin {
    name: String,
    totp_secret: String,
    otpauth_uri: String,
    console_url: String,
}

pub async fn run(ctx: &Context, cmd: AdminCommand) -> anyhow::Result<()> {
    match cmd {
        AdminCommand::Add { name } => add(ctx, &name).await,
        AdminCommand::List => {
            let admins = ctx.store.admins().await?;
            let views: Vec<AdminView> = admins.iter().map(AdminView::from).collect();
            print_list(
                ctx.json,
                &views,
                &["NAME", "CREATED", "LAST SIGN-IN"],
                |v| {
                    vec![
                        v.name.clone(),
                        v.created_at.clone(),
                        v.last_login_at.clone().unwrap_or_else(|| "never".into()),
                    ]
                },
            )
        }
        AdminCommand::Remove { name } => {
            let name = parse_alias(&name)?;
            ctx.store.remove_admin(&name).await?;
            print_done(
                ctx.json,
                "name",
                name.as_str(),
                "removed",
                format_args!("Admin {name} removed; its sessions have ended."),
            )
        }
    }
}

async fn add(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let name = parse_alias(name)?;
    if ctx.store.admins().await?.iter().any(|a| a.name == name) {
        anyhow::bail!("admin {name} exists already");
    }
    let password = read_new_password(&format!("admin {name}"), &format!("mfac admin add {name}"))?;
    ctx.config
        .password
        .policy()
        .check_new(&password)
        .map_err(anyhow::Error::msg)?;
    let hash = PasswordHash::new(&password)?;
    let params = ctx.config.totp.params();
    let secret = Secret::generate_for(params.algorithm).context("cannot make a TOTP secret")?;
    ctx.store
        .add_admin(&name, &hash, &secret, ctx.now())
        .await?;
    let uri = OtpAuthUri {
        kind: OtpKind::Totp {
            period: params.period,
        },
        issuer: Some("mfa admin".to_owned()),
        account: format!("{name}@{}", ctx.config.server_name),
        secret: secret.clone(),
        algorithm: params.algorithm,
        digits: params.digits,
    }
    .to_uri();
    let view = NewAdmin {
        name: name.to_string(),
        totp_secret: secret.to_base32(),
        otpauth_uri: uri,
        console_url: format!("{}/admin", ctx.config.host_addr()),
    };
    if ctx.json {
        return print_json(&view);
    }
    println!("Admin {name} added. Its TOTP secret is shown once: add it to an authenticator app.");
    println!();
    println!("  TOTP secret:  {}", view.totp_secret);
    println!("  otpauth URI:  {}", view.otpauth_uri);
    println!();
    println!("{}", qr_for_terminal(&view.otpauth_uri)?);
    println!(
        "Sign in at {} with the password and a code from the app.",
        view.console_url
    );
    if !ctx.config.admin_enabled() {
        println!(
            "Note: the console is off (admin_enabled = false, or mfad listens beyond loopback \
             without [tls]): see the README."
        );
    }
    Ok(())
}
