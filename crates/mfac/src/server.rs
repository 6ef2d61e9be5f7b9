use anyhow::{Context as _, bail};
use clap::Subcommand;
use mfa_secrets::Token;
use mfa_store::Server;
use serde::Serialize;

use crate::context::Context;
use crate::output::{WithToken, print_done, print_json, print_list, print_new_token};
use crate::shared::parse_hosts;

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Allow a server to ask for MFA for some hosts: prints its API token (once).
    Add {
        name: String,
        /// Hosts it may ask about, comma-separated: exact names, `*.domain` or `*`.
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        hosts: Vec<String>,
    },
    /// List servers.
    List,
    /// Remove a server; its token stops working.
    Remove { name: String },
    /// Give a server a new API token (printed once); the old one stops working.
    RotateToken { name: String },
}

/// API tokens look like `mfas_...` so a leaked one is recognisable.
pub const API_TOKEN_PREFIX: &str = "mfas";

#[derive(Serialize)]
struct ServerView {
    name: String,
    hosts: Vec<String>,
    created_at: String,
}

impl From<&Server> for ServerView {
    fn from(s: &Server) -> Self {
        Self {
            name: s.name.clone(),
            hosts: s.hosts.iter().map(ToString::to_string).collect(),
            created_at: s.created_at.to_string(),
        }
    }
}

pub async fn run(ctx: &Context, cmd: ServerCommand) -> anyhow::Result<()> {
    match cmd {
        ServerCommand::Add { name, hosts } => {
            let name = parse_name(&name)?;
            let hosts = parse_hosts(&hosts)?;
            let token = new_token()?;
            let server = ctx
                .store
                .add_server(&name, &token.hash(), &hosts, ctx.now())
                .await?;
            let view = ServerView::from(&server);
            if ctx.json {
                return print_json(&WithToken {
                    item: view,
                    api_token: token.expose(),
                });
            }
            println!(
                "Added server {name}: it may ask for MFA for {}.",
                view.hosts.join(", ")
            );
            print_token(&name, &token, "the");
            Ok(())
        }
        ServerCommand::List => {
            let views: Vec<ServerView> =
                ctx.store.servers().await?.iter().map(Into::into).collect();
            print_list(ctx.json, &views, &["NAME", "HOSTS", "CREATED"], |v| {
                vec![v.name.clone(), v.hosts.join(","), v.created_at.clone()]
            })
        }
        ServerCommand::Remove { name } => {
            let name = parse_name(&name)?;
            ctx.store.remove_server(&name).await?;
            print_done(
                ctx.json,
                "name",
                &name,
                "removed",
                format_args!("Server {name} removed; its API token no longer works."),
            )
        }
        ServerCommand::RotateToken { name } => {
            let name = parse_name(&name)?;
            let token = new_token()?;
            ctx.store.set_server_token(&name, &token.hash()).await?;
            if ctx.json {
                return print_json(&serde_json::json!({
                    "name": name,
                    "api_token": token.expose(),
                }));
            }
            println!("New API token for server {name}; the old one no longer works.");
            print_token(&name, &token, "the new");
            Ok(())
        }
    }
}

fn new_token() -> anyhow::Result<Token> {
    Token::generate(API_TOKEN_PREFIX).context("cannot make an API token")
}

fn print_token(name: &str, token: &Token, which: &str) {
    print_new_token(
        "Its API token",
        token.expose(),
        format_args!(
            "On {name}, put {which} token in /etc/mfa/request-mfa.conf (token=...), readable by root only."
        ),
    );
}

/// Server names: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.
pub fn parse_name(s: &str) -> anyhow::Result<String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let starts_well = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    if starts_well && s.len() <= 64 && s.chars().all(valid_char) {
        Ok(s.to_owned())
    } else {
        bail!(
            "invalid server name {s:?}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names() {
        for ok in ["ssh-1", "mail.example.org", "a_b", "9"] {
            assert_eq!(parse_name(ok).unwrap(), ok);
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "a,b", "ä", &"x".repeat(65)] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
    }
}
