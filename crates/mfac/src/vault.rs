use anyhow::{anyhow, bail};
use clap::{Args, Subcommand};
use mfa_store::{AuditEntry, VaultApp, VaultSeedInput};
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_json, print_list};

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Add a seed: NAME (--secret BASE32 | --uri otpauth://totp/...) [--attribute A].
    Add(VaultAdd),
    /// List vault apps (never their seeds).
    List,
    /// Print an app's current code and how long it stays valid (audited).
    Code {
        /// The app's id, or its name if no other app has it.
        app: String,
    },
    /// Remove an app from the vault.
    Remove {
        /// The app's id, or its name if no other app has it.
        app: String,
    },
}

#[derive(Debug, Args)]
pub struct VaultAdd {
    /// What the seed is for, e.g. "AWS root".
    pub name: String,
    /// The seed in base32 (spaces and dashes allowed).
    #[arg(
        long,
        value_name = "BASE32",
        required_unless_present = "uri",
        conflicts_with = "uri"
    )]
    pub secret: Option<String>,
    /// A whole otpauth://totp/... URI (as in a QR code); it carries its own parameters.
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// Free text shown beside the name, e.g. the account.
    #[arg(long)]
    pub attribute: Option<String>,
    /// With --secret: SHA1 (default), SHA256 or SHA512.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// With --secret: 6 (default), 7 or 8.
    #[arg(long)]
    pub digits: Option<String>,
    /// With --secret: seconds per code, 15..=120 (default 30).
    #[arg(long)]
    pub period: Option<String>,
}

/// A vault app as listed: never its seed (the same shape as `GET /v1/vault/apps`).
#[derive(Serialize)]
struct VaultView {
    id: i64,
    name: String,
    attribute: Option<String>,
    algorithm: String,
    digits: u8,
    period: u32,
    created_at: String,
}

impl From<&VaultApp> for VaultView {
    fn from(a: &VaultApp) -> Self {
        Self {
            id: a.id,
            name: a.name.clone(),
            attribute: a.attribute.clone(),
            algorithm: a.totp.algorithm.to_string(),
            digits: a.totp.digits.get(),
            period: a.totp.period,
            created_at: a.created_at.to_string(),
        }
    }
}

#[derive(Serialize)]
struct CodeView {
    id: i64,
    name: String,
    code: String,
    valid_for_seconds: u64,
}

pub async fn run(ctx: &Context, cmd: VaultCommand) -> anyhow::Result<()> {
    match cmd {
        VaultCommand::Add(add_args) => add(ctx, add_args).await,
        VaultCommand::List => list(ctx).await,
        VaultCommand::Code { app } => code(ctx, &app).await,
        VaultCommand::Remove { app } => remove(ctx, &app).await,
    }
}

/// Add a seed: NAME (--secret BASE32 | --uri otpauth://totp/...) [--attribute A].
async fn add(ctx: &Context, add: VaultAdd) -> anyhow::Result<()> {
    let app = add_app(ctx, add).await?;
    if ctx.json {
        return print_json(&VaultView::from(&app));
    }
    let attribute = app
        .attribute
        .as_deref()
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    println!(
        "Added vault app {}: {}{attribute}, {} {} digits every {} s.",
        app.id, app.name, app.totp.algorithm, app.totp.digits, app.totp.period
    );
    Ok(())
}

/// List vault apps (never their seeds).
async fn list(ctx: &Context) -> anyhow::Result<()> {
    let views: Vec<VaultView> = ctx
        .store
        .vault_apps()
        .await?
        .iter()
        .map(Into::into)
        .collect();
    print_list(
        ctx.json,
        &views,
        &["ID", "NAME", "ATTRIBUTE", "ALGORITHM", "DIGITS", "PERIOD"],
        |v| {
            vec![
                v.id.to_string(),
                v.name.clone(),
                v.attribute.clone().unwrap_or_else(|| "-".to_owned()),
                v.algorithm.clone(),
                v.digits.to_string(),
                v.period.to_string(),
            ]
        },
    )
}

/// Print an app's current code and how long it stays valid (audited).
async fn code(ctx: &Context, app: &str) -> anyhow::Result<()> {
    let id = resolve(ctx, app).await?;
    let (app, totp) = ctx.store.vault_totp(id).await?;
    let now = ctx.now();
    ctx.store
        .audit(
            &AuditEntry {
                user: "mfac".into(),
                method: Some("vault".into()),
                result: "code".into(),
                reason: Some(match std::env::var("USER") {
                    Ok(os_user) if !os_user.is_empty() => {
                        format!("vault app {} ({}), by OS user {os_user}", app.id, app.name)
                    }
                    _ => format!("vault app {} ({})", app.id, app.name),
                }),
                ..AuditEntry::default()
            },
            now,
        )
        .await?;
    let unix = now.unix_secs();
    let view = CodeView {
        id: app.id,
        name: app.name,
        code: totp.code_at(unix),
        valid_for_seconds: totp.remaining(unix),
    };
    if ctx.json {
        return print_json(&view);
    }
    println!(
        "{}  (valid for {} more seconds)",
        view.code, view.valid_for_seconds
    );
    Ok(())
}

/// Remove an app from the vault.
async fn remove(ctx: &Context, app: &str) -> anyhow::Result<()> {
    let id = resolve(ctx, app).await?;
    let app = ctx.store.vault_app(id).await?;
    ctx.store.remove_vault_app(id).await?;
    if ctx.json {
        return print_json(&serde_json::json!({ "id": id, "name": app.name, "result": "removed" }));
    }
    println!("Vault app {id} ({}) removed.", app.name);
    Ok(())
}

async fn add_app(ctx: &Context, add: VaultAdd) -> anyhow::Result<VaultApp> {
    let name = mfa_store::check_text("name", Some(&add.name))
        .map_err(|e| anyhow!(e))?
        .ok_or_else(|| anyhow!("name must not be empty"))?;
    let attribute =
        mfa_store::check_text("--attribute", add.attribute.as_deref()).map_err(|e| anyhow!(e))?;
    let number = |flag: &str, v: Option<&str>| -> anyhow::Result<Option<u64>> {
        v.map(|s| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| anyhow!("{flag} must be a whole number (got {s:?})"))
        })
        .transpose()
    };
    let (secret, params) = mfa_store::parse_vault_seed(VaultSeedInput {
        secret: add.secret.as_deref(),
        uri: add.uri.as_deref(),
        algorithm: add.algorithm.as_deref(),
        digits: number("--digits", add.digits.as_deref())?,
        period: number("--period", add.period.as_deref())?,
    })
    .map_err(|e| anyhow!("{}", flags(&e)))?;
    Ok(ctx
        .store
        .add_vault_app(&name, attribute.as_deref(), &secret, params, ctx.now())
        .await?)
}

/// The shared messages name JSON fields; on the command line they are flags.
fn flags(message: &str) -> String {
    let mut m = message.to_owned();
    for field in ["secret", "uri", "algorithm", "digits", "period"] {
        if let Some(rest) = m.strip_prefix(&format!("{field}:")) {
            m = format!("--{field}:{rest}");
        } else if let Some(rest) = m.strip_prefix(&format!("{field} ")) {
            m = format!("--{field} {rest}");
        }
    }
    m.replace(
        "as secret (base32) or as uri (otpauth://...)",
        "with --secret or --uri",
    )
    .replace(
        "give secret (base32) or uri (otpauth://totp/...)",
        "give --secret or --uri",
    )
    .replace("come from the uri", "come from --uri")
}

/// An app by id, or by name when exactly one app has it.
async fn resolve(ctx: &Context, app: &str) -> anyhow::Result<i64> {
    if let Ok(id) = app.trim().parse::<i64>() {
        return Ok(id);
    }
    let ids: Vec<i64> = ctx
        .store
        .vault_apps()
        .await?
        .iter()
        .filter(|a| a.name == app.trim())
        .map(|a| a.id)
        .collect();
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => bail!("vault app {app:?} does not exist (see mfac vault list)"),
        several => bail!(
            "several vault apps are called {app:?} (ids {}): give the id",
            several
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_flags() {
        assert_eq!(
            flags("digits must be 6, 7 or 8 (got 9)"),
            "--digits must be 6, 7 or 8 (got 9)"
        );
        assert_eq!(
            flags("secret: invalid base32 character '1' at position 3"),
            "--secret: invalid base32 character '1' at position 3"
        );
        assert_eq!(
            flags("algorithm, digits and period come from the uri: leave them out"),
            "algorithm, digits and period come from --uri: leave them out"
        );
    }
}
