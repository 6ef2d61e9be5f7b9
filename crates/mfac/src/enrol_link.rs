//! Enrolment links (`mfac client add ALIAS --link`, `mfac client enrol-link ALIAS`): a
//! single-use link that expires, whose page (mfad's `/enrol/{token}`) shows a new TOTP seed
//! as a QR code and makes it the client's once the person types a current code from it; then
//! it shows the client's new key (for `mfa enroll`) and recovery codes, once.

use anyhow::{Context as _, bail};
use mfa_core::{Alias, Timestamp};
use mfa_otp::Secret;
use mfa_secrets::Token;
use mfa_store::{ENROL_TOKEN_PREFIX, NewClient, NewEnrolLink, Notify, PASSKEY_TOKEN_PREFIX};
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_done, print_json, print_list};
use crate::shared::{CLIENT_KEY_PREFIX, parse_duration_secs};

/// `--expires` when not given.
pub const DEFAULT_EXPIRES: &str = "24h";
/// The longest `--expires` taken: a link is a credential until it is used.
const MAX_EXPIRES_SECS: i64 = 30 * 86_400;

#[derive(Serialize)]
struct LinkView {
    alias: String,
    enrol_url: String,
    expires_at: String,
}

/// `--expires`, checked: a duration from a minute to 30 days.
pub fn parse_expires(s: &str) -> anyhow::Result<i64> {
    match parse_duration_secs(s) {
        Some(secs) if (60..=MAX_EXPIRES_SECS).contains(&secs) => Ok(secs),
        Some(_) => bail!("invalid --expires {s:?}: a link lives from 1m to 30d"),
        None => bail!("invalid --expires {s:?}: use a duration such as 30m, 24h or 7d"),
    }
}

/// A new client whose TOTP comes into force through the link's page.
pub async fn add_with_link(
    ctx: &Context,
    alias: &Alias,
    notify: Notify,
    expires_secs: i64,
) -> anyhow::Result<()> {
    // Placeholders nobody ever sees: the link's page replaces both.
    let unknown_key = Token::generate(CLIENT_KEY_PREFIX)?;
    let params = ctx.config.totp.params();
    let unknown_seed = new_secret(ctx)?;
    let (token, link) = (Token::generate(ENROL_TOKEN_PREFIX)?, new_secret(ctx)?);
    let now = ctx.now();
    let expires_at = now.plus_secs(expires_secs);
    ctx.store
        .add_client_with_link(
            NewClient {
                alias,
                key_hash: &unknown_key.hash(),
                totp_secret: &unknown_seed,
                totp: params,
                notify,
                now,
            },
            NewEnrolLink {
                token_hash: &token.hash(),
                totp_secret: &link,
                now,
                expires_at,
            },
        )
        .await?;
    print_link(ctx, alias, &token, expires_at, true)
}

/// A new link for an existing client (a new phone, a lost one).
pub async fn add_link(ctx: &Context, alias: &Alias, expires_secs: i64) -> anyhow::Result<()> {
    let token = Token::generate(ENROL_TOKEN_PREFIX)?;
    let now = ctx.now();
    let expires_at = now.plus_secs(expires_secs);
    ctx.store
        .add_enrol_link(
            alias,
            NewEnrolLink {
                token_hash: &token.hash(),
                totp_secret: &new_secret(ctx)?,
                now,
                expires_at,
            },
        )
        .await?;
    print_link(ctx, alias, &token, expires_at, false)
}

#[derive(Serialize)]
struct PasskeyLinkView {
    alias: String,
    passkey_url: String,
    expires_at: String,
}

/// A link whose page registers a passkey for the client. Passkeys belong to a DNS name, so
/// `host_addr` must name one.
pub async fn add_passkey_link(
    ctx: &Context,
    alias: &Alias,
    expires_secs: i64,
) -> anyhow::Result<()> {
    let host_addr = ctx.config.host_addr();
    let has_name = url::Url::parse(&host_addr)
        .ok()
        .is_some_and(|u| u.domain().is_some());
    if !has_name {
        bail!(
            "passkeys need host_addr with a DNS name (e.g. https://mfa.example.org), not \
             {host_addr}: a passkey belongs to a site's name, never to an IP address"
        );
    }
    let token = Token::generate(PASSKEY_TOKEN_PREFIX)?;
    let now = ctx.now();
    let expires_at = now.plus_secs(expires_secs);
    ctx.store
        .add_passkey_link(alias, &token.hash(), now, expires_at)
        .await?;
    let view = PasskeyLinkView {
        alias: alias.to_string(),
        passkey_url: format!("{host_addr}/passkey/{}", token.expose()),
        expires_at: expires_at.to_string(),
    };
    if ctx.json {
        return print_json(&view);
    }
    println!(
        "Passkey link for {alias} (works once, until {}):",
        view.expires_at
    );
    println!();
    println!("  {}", view.passkey_url);
    println!();
    println!("Open it on the device that holds (or will hold) the passkey; send it privately.");
    Ok(())
}

#[derive(Serialize)]
struct PasskeyView {
    name: String,
    created_at: String,
    last_used_at: Option<String>,
}

pub async fn list_passkeys(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    ctx.store.client(alias).await?;
    let keys = ctx.store.passkeys(alias).await?;
    let views: Vec<PasskeyView> = keys
        .iter()
        .map(|k| PasskeyView {
            name: k.name.clone(),
            created_at: k.created_at.to_string(),
            last_used_at: k.last_used_at.map(|t| t.to_string()),
        })
        .collect();
    print_list(
        ctx.json,
        &views,
        &["NAME", "REGISTERED", "LAST USED"],
        |v| {
            vec![
                v.name.clone(),
                v.created_at.clone(),
                v.last_used_at.clone().unwrap_or_else(|| "never".into()),
            ]
        },
    )
}

pub async fn remove_passkey(ctx: &Context, alias: &Alias, name: &str) -> anyhow::Result<()> {
    ctx.store.client(alias).await?;
    let removed = ctx.store.remove_passkey(alias, name).await?;
    if removed == 0 {
        bail!("client {alias} has no passkey called {name:?} (see mfac client passkeys {alias})");
    }
    print_done(
        ctx.json,
        "name",
        name,
        "removed",
        format_args!("Removed passkey {name:?} of client {alias}."),
    )
}

fn new_secret(ctx: &Context) -> anyhow::Result<Secret> {
    Secret::generate_for(ctx.config.totp.params().algorithm).context("cannot make a TOTP secret")
}

fn print_link(
    ctx: &Context,
    alias: &Alias,
    token: &Token,
    expires_at: Timestamp,
    new_client: bool,
) -> anyhow::Result<()> {
    let view = LinkView {
        alias: alias.to_string(),
        enrol_url: format!("{}/enrol/{}", ctx.config.host_addr(), token.expose()),
        expires_at: expires_at.to_string(),
    };
    if ctx.json {
        return print_json(&view);
    }
    if new_client {
        println!(
            "Added client {alias}. Its TOTP comes into force when the person confirms a code on \
             the enrolment page."
        );
    }
    println!(
        "Enrolment link for {alias} (works once, until {}):",
        view.expires_at
    );
    println!();
    println!("  {}", view.enrol_url);
    println!();
    println!(
        "Send it to the person privately: whoever opens it first can enrol. The page shows a QR \
         code for an authenticator app, then the client's new key and recovery codes, once."
    );
    if !new_client {
        println!(
            "The client's current TOTP secret, key and recovery codes keep working until the code \
             on the page is confirmed; then they are replaced."
        );
    }
    Ok(())
}
