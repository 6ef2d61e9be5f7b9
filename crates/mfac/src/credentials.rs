//! `mfac client password` and `mfac client recovery-codes`: a client's other factors.

use std::io::{BufRead, IsTerminal};

use anyhow::{Context as _, bail};
use mfa_core::Alias;
use mfa_core::policy::PasswordState;
use mfa_secrets::{PasswordHash, RECOVERY_CODES, RecoveryCode};
use serde::Serialize;

use crate::context::Context;
use crate::output::print_json;

/// The new password: asked twice on a terminal, else one line from stdin. Never from argv
/// (where other users' `ps` would see it).
/// `who` names whose it is ("client tux"); `command` is the one to pipe it into.
pub fn read_new_password(who: &str, command: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(format!("New password for {who}: "))
            .context("cannot read the password from the terminal")?;
        let again = rpassword::prompt_password("Retype it: ")
            .context("cannot read the password from the terminal")?;
        if first != again {
            bail!("the passwords do not match; nothing was changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from stdin")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!(
            "no password on stdin: pipe it as one line (printf '%s\\n' \"$PW\" | {command}), or run mfac on a terminal to be asked"
        );
    }
    Ok(password.to_owned())
}

#[derive(Serialize)]
struct PasswordSet {
    alias: String,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    changed_at: Option<String>,
    /// `null`: it never expires (`[password] max_days = 0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Option<String>>,
}

pub async fn password(ctx: &Context, alias: &Alias, remove: bool) -> anyhow::Result<()> {
    if remove {
        let had = ctx.store.remove_client_password(alias).await?;
        if !had {
            bail!("client {alias} has no password to remove");
        }
        if ctx.json {
            return print_json(&PasswordSet {
                alias: alias.to_string(),
                result: "removed",
                changed_at: None,
                expires_at: None,
            });
        }
        println!("Removed the password of client {alias}.");
        return Ok(());
    }
    ctx.store.client(alias).await?;
    let policy = ctx.config.password.policy();
    let password = read_new_password(
        &format!("client {alias}"),
        &format!("mfac client password {alias}"),
    )?;
    policy.check_new(&password).map_err(anyhow::Error::msg)?;
    let hash = PasswordHash::new(&password)?;
    let now = ctx.now();
    ctx.store.set_client_password(alias, &hash, now).await?;
    let expires = policy.expires_at(now);
    if ctx.json {
        return print_json(&PasswordSet {
            alias: alias.to_string(),
            result: "set",
            changed_at: Some(now.to_string()),
            expires_at: Some(expires.map(|t| t.to_string())),
        });
    }
    match expires {
        Some(t) => {
            println!("Password set for client {alias}; it expires on {t} ([password] max_days).")
        }
        None => println!("Password set for client {alias}; it does not expire."),
    }
    Ok(())
}

/// How `client show` describes a password.
pub async fn describe_password(ctx: &Context, alias: &Alias) -> anyhow::Result<String> {
    let Some(stored) = ctx.store.client_password(alias).await? else {
        return Ok("none".into());
    };
    let policy = ctx.config.password.policy();
    let state = match policy.state(stored.changed_at, ctx.now()) {
        PasswordState::Valid => match policy.expires_at(stored.changed_at) {
            Some(t) => format!("valid until {t}"),
            None => "valid, never expires".into(),
        },
        PasswordState::ExpiresSoon { expires_at } => format!("expires soon, on {expires_at}"),
        PasswordState::Expired { usable_until, .. } => {
            format!("expired: usable only to change it until {usable_until}")
        }
        PasswordState::Inactive { expired_at } => {
            format!("expired on {expired_at} and refused: set a new one")
        }
    };
    Ok(format!("set {} ({state})", stored.changed_at))
}

pub async fn recovery_codes(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let codes = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect::<Result<Vec<_>, _>>()?;
    let hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
    ctx.store
        .replace_recovery_codes(alias, &hashes, ctx.now())
        .await?;
    let shown: Vec<&str> = codes.iter().map(RecoveryCode::expose).collect();
    if ctx.json {
        return print_json(&serde_json::json!({
            "alias": alias.as_str(),
            "recovery_codes": shown,
        }));
    }
    println!(
        "Recovery codes for client {alias}. Shown once: keep them somewhere safe, apart from the device."
    );
    println!(
        "Each works once, typed where a verification code is asked; the client's earlier codes no longer work."
    );
    println!();
    for code in shown {
        println!("  {code}");
    }
    Ok(())
}
