use anyhow::Context as _;
use mfa_core::Alias;
use mfa_otp::{OtpAuthUri, OtpKind, Secret, TotpParams};
use mfa_secrets::Token;
use mfa_store::{Client, NewClient};
use serde::Serialize;

use crate::cli::ClientCommand;
use crate::context::Context;
use crate::output::{print_json, print_table, qr_for_terminal};

/// Client keys look like `mfak_...` so a leaked one is recognisable.
pub const CLIENT_KEY_PREFIX: &str = "mfak";

#[derive(Serialize)]
struct ClientView {
    alias: String,
    algorithm: String,
    digits: u8,
    period: u32,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    apps: Option<Vec<i64>>,
}

impl ClientView {
    fn new(c: &Client, apps: Option<Vec<i64>>) -> Self {
        Self {
            alias: c.alias.to_string(),
            algorithm: c.totp.algorithm.to_string(),
            digits: c.totp.digits.get(),
            period: c.totp.period,
            created_at: c.created_at.to_string(),
            apps,
        }
    }
}

/// What enrolment hands out, once.
#[derive(Serialize)]
struct Enrolment {
    alias: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key: Option<String>,
    totp_secret: String,
    otpauth_uri: String,
    algorithm: String,
    digits: u8,
    period: u32,
}

pub async fn run(ctx: &Context, cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Add { alias } => add(ctx, &parse_alias(&alias)?).await,
        ClientCommand::List => list(ctx).await,
        ClientCommand::Show { alias } => show(ctx, &parse_alias(&alias)?).await,
        ClientCommand::Remove { alias } => {
            let alias = parse_alias(&alias)?;
            ctx.store.remove_client(&alias).await?;
            done(ctx, &alias, "removed")
        }
        ClientCommand::ResetTotp { alias } => reset_totp(ctx, &parse_alias(&alias)?).await,
        ClientCommand::RotateKey { alias } => rotate_key(ctx, &parse_alias(&alias)?).await,
    }
}

pub fn parse_alias(s: &str) -> anyhow::Result<Alias> {
    Ok(Alias::new(s)?)
}

fn done(ctx: &Context, alias: &Alias, what: &str) -> anyhow::Result<()> {
    if ctx.json {
        print_json(&serde_json::json!({ "alias": alias.as_str(), "result": what }))
    } else {
        println!("Client {alias} {what}.");
        Ok(())
    }
}

fn new_totp(ctx: &Context) -> anyhow::Result<(Secret, TotpParams)> {
    let params = ctx.config.totp.params();
    let secret = Secret::generate_for(params.algorithm).context("cannot make a TOTP secret")?;
    Ok((secret, params))
}

async fn add(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let key = Token::generate(CLIENT_KEY_PREFIX)?;
    let (secret, totp) = new_totp(ctx)?;
    ctx.store
        .add_client(NewClient {
            alias,
            key_hash: &key.hash(),
            totp_secret: &secret,
            totp,
            notify: Default::default(),
            now: ctx.now(),
        })
        .await?;
    print_enrolment(ctx, alias, Some(&key), &secret, totp)
}

async fn reset_totp(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let (secret, totp) = new_totp(ctx)?;
    ctx.store.reset_client_totp(alias, &secret, totp).await?;
    print_enrolment(ctx, alias, None, &secret, totp)
}

async fn rotate_key(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let key = Token::generate(CLIENT_KEY_PREFIX)?;
    ctx.store.set_client_key(alias, &key.hash()).await?;
    if ctx.json {
        return print_json(
            &serde_json::json!({ "alias": alias.as_str(), "client_key": key.expose() }),
        );
    }
    println!("New key for client {alias} (shown once; the old key no longer works):");
    println!();
    println!("  client key:  {}", key.expose());
    println!();
    println!("{}", enroll_hint(ctx, &key));
    Ok(())
}

fn enroll_hint(ctx: &Context, key: &Token) -> String {
    format!(
        "On the client's device: mfa enroll --server http://{} --key {}",
        ctx.config.listen,
        key.expose()
    )
}

fn print_enrolment(
    ctx: &Context,
    alias: &Alias,
    key: Option<&Token>,
    secret: &Secret,
    totp: TotpParams,
) -> anyhow::Result<()> {
    let uri = OtpAuthUri {
        kind: OtpKind::Totp {
            period: totp.period,
        },
        issuer: Some("mfa".to_owned()),
        account: format!("{alias}@{}", ctx.config.server_name),
        secret: secret.clone(),
        algorithm: totp.algorithm,
        digits: totp.digits,
    }
    .to_uri();
    let enrolment = Enrolment {
        alias: alias.to_string(),
        client_key: key.map(|k| k.expose().to_owned()),
        totp_secret: secret.to_base32(),
        otpauth_uri: uri,
        algorithm: totp.algorithm.to_string(),
        digits: totp.digits.get(),
        period: totp.period,
    };
    if ctx.json {
        return print_json(&enrolment);
    }
    match key {
        Some(_) => println!("Enrolled client {alias}. Keep what follows secret: it is shown once."),
        None => println!("New TOTP secret for client {alias} (the old one no longer works):"),
    }
    println!();
    if let Some(key) = &enrolment.client_key {
        println!("  client key:   {key}");
    }
    println!("  TOTP secret:  {}", enrolment.totp_secret);
    println!(
        "  parameters:   {} {} digits every {}s",
        enrolment.algorithm, enrolment.digits, enrolment.period
    );
    println!("  otpauth URI:  {}", enrolment.otpauth_uri);
    println!();
    println!("Scan with an authenticator app:");
    println!("{}", qr_for_terminal(&enrolment.otpauth_uri)?);
    if let Some(key) = key {
        println!("{}", enroll_hint(ctx, key));
    }
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let clients = ctx.store.clients().await?;
    if ctx.json {
        let views: Vec<ClientView> = clients.iter().map(|c| ClientView::new(c, None)).collect();
        return print_json(&views);
    }
    let rows: Vec<Vec<String>> = clients
        .iter()
        .map(|c| {
            let v = ClientView::new(c, None);
            vec![
                v.alias,
                format!("{}/{}/{}s", v.algorithm, v.digits, v.period),
                v.created_at,
            ]
        })
        .collect();
    print_table(&["ALIAS", "TOTP", "CREATED"], &rows);
    Ok(())
}

async fn show(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let client = ctx.store.client(alias).await?;
    let apps: Vec<i64> = ctx
        .store
        .apps()
        .await?
        .iter()
        .filter(|a| a.clients.contains(alias))
        .map(|a| a.id)
        .collect();
    let view = ClientView::new(&client, Some(apps.clone()));
    if ctx.json {
        return print_json(&view);
    }
    println!("alias:    {}", view.alias);
    println!(
        "totp:     {} {} digits every {}s",
        view.algorithm, view.digits, view.period
    );
    println!("created:  {}", view.created_at);
    let apps: Vec<String> = apps.iter().map(i64::to_string).collect();
    println!(
        "apps:     {}",
        if apps.is_empty() {
            "none".to_owned()
        } else {
            apps.join(", ")
        }
    );
    Ok(())
}
