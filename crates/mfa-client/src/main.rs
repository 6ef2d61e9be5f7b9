//! `mfa`, the end-user client of an mfa server: `mfa enroll` saves the server URL and client
//! key, `mfa listen` shows login requests as they come and sends the answers, `mfa code`
//! prints the current TOTP code.

mod api;
mod cli;
mod config;
mod endpoint;
mod listen;
mod net;

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Parser as _;
use mfa_wire::{CodeResponse, PendingRequest};

use crate::api::{Api, ApiError};
use crate::cli::{Args, Command};
use crate::config::ClientConfig;
use crate::endpoint::Endpoint;

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mfa: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context and its causes.
            eprintln!("mfa: {}", one_line(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn run(args: Args) -> anyhow::Result<()> {
    let path = config::resolve_path(args.config)?;
    match args.command {
        Command::Enroll {
            server,
            key,
            no_check,
        } => enroll(&path, &server, key, no_check).await,
        Command::Listen => listen::run(open(&path)?).await,
        Command::Code { json } => code(&open(&path)?, json).await,
    }
}

/// The API, from the saved config.
fn open(path: &Path) -> anyhow::Result<Api> {
    let config = config::load(path)?;
    let endpoint = config.validate()?;
    Ok(Api::new(endpoint, &config.key))
}

async fn enroll(
    path: &Path,
    server: &str,
    key: Option<String>,
    no_check: bool,
) -> anyhow::Result<()> {
    let endpoint = Endpoint::parse(server)?;
    let key = match key {
        Some(k) => k,
        None => read_key()?,
    };
    let key = key.trim().to_owned();
    config::check_key(&key)?;
    let config = ClientConfig {
        server: endpoint.display(),
        key,
    };
    let api = Api::new(endpoint, &config.key);
    if !no_check {
        // Any call with the key tells whether it works; this one changes nothing.
        match api.get::<Vec<PendingRequest>>("/v1/client/requests").await {
            Ok(_) => {}
            Err(e @ ApiError::Unreachable { .. }) => {
                bail!("{e} (check the URL; --no-check saves the config without asking the server)")
            }
            Err(e) => return Err(e.into()),
        }
    }
    config::save(path, &config)?;
    if no_check {
        println!(
            "Saved {} (mode 0600); the key was not checked.",
            path.display()
        );
    } else {
        println!(
            "Enrolled: {} accepts this key. Saved {} (mode 0600).",
            config.server,
            path.display()
        );
    }
    println!("Next: `mfa listen` to approve logins here, `mfa code` for a one-time code.");
    Ok(())
}

/// The key from stdin: one line (prompted for when stdin is a terminal).
fn read_key() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Client key (from `mfac client add`): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the client key from stdin")?;
    if line.trim().is_empty() {
        bail!("no client key given: pass --key KEY, or type it on stdin");
    }
    Ok(line)
}

async fn code(api: &Api, json: bool) -> anyhow::Result<()> {
    let code: CodeResponse = api.get("/v1/client/totp").await?;
    if json {
        println!("{}", serde_json::to_string(&code)?);
    } else {
        println!("{} (valid for {} s)", code.code, code.valid_for_seconds);
    }
    Ok(())
}
