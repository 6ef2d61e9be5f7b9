use anyhow::{Context as _, anyhow, bail};
use clap::Subcommand;
use mfa_core::{Alias, Scopes};
use mfa_secrets::Token;
use mfa_store::{ApiToken, NewApiToken};
use serde::Serialize;

use crate::context::Context;
use crate::output::{WithToken, print_done, print_json, print_list, print_new_token};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Add an API token: prints it (once).
    Add {
        name: String,
        /// What it may do, comma-separated: otp, vault:read, vault:write.
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Limit its vault access to these vault app ids (comma-separated; see `mfac vault list`).
        #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ID")]
        apps: Vec<String>,
    },
    /// List API tokens (never the tokens themselves).
    List,
    /// Remove an API token; it stops working at once.
    Remove { name: String },
}

/// API tokens for the OTP service and the vault look like `mfat_...`.
pub const TOKEN_PREFIX: &str = "mfat";

#[derive(Serialize)]
struct TokenView {
    name: String,
    scopes: Vec<String>,
    /// The vault apps it is limited to; `null`: all.
    vault_apps: Option<Vec<i64>>,
    created_at: String,
}

impl From<&ApiToken> for TokenView {
    fn from(t: &ApiToken) -> Self {
        Self {
            name: t.name.to_string(),
            scopes: t.scopes.iter().map(|s| s.to_string()).collect(),
            vault_apps: t.vault_apps.clone(),
            created_at: t.created_at.to_string(),
        }
    }
}

pub async fn run(ctx: &Context, cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Add { name, scope, apps } => add(ctx, &name, &scope, &apps).await,
        TokenCommand::List => list(ctx).await,
        TokenCommand::Remove { name } => remove(ctx, &name).await,
    }
}

/// Add an API token: prints it (once).
async fn add(ctx: &Context, name: &str, scope: &[String], apps: &[String]) -> anyhow::Result<()> {
    let name = parse_name(name)?;
    let scopes = Scopes::parse(scope)?;
    let apps = parse_apps(apps, &scopes)?;
    let token = Token::generate(TOKEN_PREFIX).context("cannot make an API token")?;
    let added = ctx
        .store
        .add_api_token(NewApiToken {
            name: &name,
            token_hash: &token.hash(),
            scopes: &scopes,
            vault_apps: apps.as_deref(),
            now: ctx.now(),
        })
        .await?;
    let view = TokenView::from(&added);
    if ctx.json {
        return print_json(&WithToken {
            item: view,
            api_token: token.expose(),
        });
    }
    let limit = match &added.vault_apps {
        Some(ids) => format!("; vault apps {}", join_ids(ids)),
        None => String::new(),
    };
    println!("Added API token {name}: {}{limit}.", view.scopes.join(", "));
    print_new_token(
        "The token",
        token.expose(),
        "Send it as Authorization: Bearer <token>.",
    );
    Ok(())
}

/// List API tokens (never the tokens themselves).
async fn list(ctx: &Context) -> anyhow::Result<()> {
    let views: Vec<TokenView> = ctx
        .store
        .api_tokens()
        .await?
        .iter()
        .map(Into::into)
        .collect();
    print_list(
        ctx.json,
        &views,
        &["NAME", "SCOPES", "VAULT APPS", "CREATED"],
        |v| {
            vec![
                v.name.clone(),
                v.scopes.join(","),
                v.vault_apps
                    .as_deref()
                    .map_or_else(|| "all".to_owned(), join_ids),
                v.created_at.clone(),
            ]
        },
    )
}

/// Remove an API token; it stops working at once.
async fn remove(ctx: &Context, name: &str) -> anyhow::Result<()> {
    let name = parse_name(name)?;
    ctx.store.remove_api_token(&name).await?;
    print_done(
        ctx.json,
        "name",
        name.as_str(),
        "removed",
        format_args!("API token {name} removed; it no longer works."),
    )
}

fn join_ids(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// Token names: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit (so the
/// audit log's user column, where vault code fetches name the token, can be filtered by them).
fn parse_name(s: &str) -> anyhow::Result<Alias> {
    Alias::new(s).map_err(|_| {
        anyhow!(
            "invalid token name {s:?}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    })
}

/// `--apps`: vault app ids, only with a vault scope. None: no limit.
fn parse_apps(apps: &[String], scopes: &Scopes) -> anyhow::Result<Option<Vec<i64>>> {
    let ids = apps
        .iter()
        .map(|a| a.trim())
        .filter(|a| !a.is_empty())
        .map(|a| {
            a.parse::<i64>().map_err(|_| {
                anyhow!("invalid vault app id {a:?} in --apps: use the ids `mfac vault list` shows")
            })
        })
        .collect::<anyhow::Result<Vec<i64>>>()?;
    if apps.is_empty() {
        return Ok(None);
    }
    if ids.is_empty() {
        bail!("--apps names no vault app: give ids, e.g. --apps 1,2");
    }
    if !scopes.iter().any(|s| s.is_vault()) {
        bail!("--apps limits vault access: give it with --scope vault:read or vault:write");
    }
    Ok(Some(ids))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn apps_need_numbers_and_a_vault_scope() {
        let vault: Scopes = "vault:read".parse().unwrap();
        assert_eq!(parse_apps(&[], &vault).unwrap(), None);
        assert_eq!(
            parse_apps(&strings(&["1", " 2"]), &vault).unwrap(),
            Some(vec![1, 2])
        );
        assert!(
            parse_apps(&strings(&["x"]), &vault)
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
        assert!(parse_apps(&strings(&[""]), &vault).is_err());
        let otp: Scopes = "otp".parse().unwrap();
        assert!(
            parse_apps(&strings(&["1"]), &otp)
                .unwrap_err()
                .to_string()
                .contains("vault:read")
        );
        assert!(parse_name("ci-deploy").is_ok());
        assert!(
            parse_name("a b")
                .unwrap_err()
                .to_string()
                .starts_with("invalid token name")
        );
    }
}
