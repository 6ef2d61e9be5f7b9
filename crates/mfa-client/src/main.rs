//! `mfa`, the end-user client of an mfa server: `mfa enroll` saves the server URL, the client
//! key and the TOTP seed (which the server hands out once), `mfa listen` shows login requests
//! as they come and sends the answers, `mfa code` prints the current TOTP code, computed here.

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
use mfa_wire::EnrollResponse;
use serde::Serialize;

use crate::api::{Api, ApiError};
use crate::cli::{Args, Command};
use crate::config::{ClientConfig, TotpSeed};
use crate::endpoint::Endpoint;

fn main() -> ExitCode {
    // `--generate-docs OUTDIR` (hidden): man pages and completions (scripts/gen-docs.sh).
    if let Some(code) = mfa_docgen::intercept::<Args>("1") {
        return code;
    }
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
        Command::Code { json } => code(&path, json),
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
    let server = endpoint.display();
    // Enrolling again (a new key, after `mfac client rotate-key`) keeps the seed saved for
    // this server: the server hands each seed out only once.
    let saved = config::load(path)
        .ok()
        .filter(|c| c.server == server)
        .and_then(|c| c.totp);
    let api = Api::new(endpoint, &key);
    let seed = if no_check {
        Seed::Unchecked(saved)
    } else {
        // Fail before the seed is handed out, not after, if it cannot be saved.
        config::check_writable(path)?;
        fetch_seed(&api, saved).await?
    };
    let config = ClientConfig {
        server,
        key,
        totp: seed.totp().cloned(),
    };
    config::save(path, &config)?;
    report_enrolment(path, &config.server, &seed);
    Ok(())
}

/// Where the TOTP seed of an enrolment came from.
enum Seed {
    /// `--no-check`: whatever was saved before for this server.
    Unchecked(Option<TotpSeed>),
    /// Handed out by the server just now.
    Fetched(TotpSeed),
    /// Delivered before; the one saved here for this server.
    Kept(TotpSeed),
    /// Delivered before, and not here: the server's message says what to do.
    Missing(String),
}

impl Seed {
    fn totp(&self) -> Option<&TotpSeed> {
        match self {
            Seed::Unchecked(t) => t.as_ref(),
            Seed::Fetched(t) | Seed::Kept(t) => Some(t),
            Seed::Missing(_) => None,
        }
    }
}

/// `POST /v1/client/enroll`: checks the key and fetches the seed (once per seed).
async fn fetch_seed(api: &Api, saved: Option<TotpSeed>) -> anyhow::Result<Seed> {
    match api.post::<EnrollResponse>("/v1/client/enroll").await {
        Ok(answer) => Ok(Seed::Fetched(answer.into())),
        Err(ApiError::Status {
            status: 410,
            message,
            ..
        }) => Ok(match saved {
            Some(seed) => Seed::Kept(seed),
            None => Seed::Missing(message),
        }),
        Err(e @ ApiError::Unreachable { .. }) => {
            bail!("{e} (check the URL; --no-check saves the config without asking the server)")
        }
        Err(e) => Err(e.into()),
    }
}

fn report_enrolment(path: &Path, server: &str, seed: &Seed) {
    let saved = format!("Saved {} (mode 0600)", path.display());
    match seed {
        Seed::Unchecked(_) => println!("{saved}; the key was not checked."),
        Seed::Fetched(_) => {
            println!("Enrolled: {server} accepts this key. {saved} with this client's TOTP secret.")
        }
        Seed::Kept(_) => println!(
            "Enrolled: {server} accepts this key. {saved}. Kept the TOTP secret already saved there."
        ),
        Seed::Missing(why) => {
            println!("Enrolled: {server} accepts this key. {saved}, without a TOTP secret.");
            eprintln!(
                "mfa: warning: no TOTP secret, so `mfa code` will not work here: {why} (if no \
                 other device of yours enrolled with this key, someone else may hold it: tell \
                 the admin)"
            );
        }
    }
    match seed.totp() {
        Some(_) => {
            println!("Next: `mfa listen` to approve logins here, `mfa code` for a one-time code.")
        }
        None => println!("Next: `mfa listen` to approve logins here."),
    }
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

/// What `mfa code --json` prints.
#[derive(Serialize)]
struct CodeOutput {
    code: String,
    /// Seconds the code stays valid, counting this one.
    valid_for_seconds: u64,
}

/// The current code, computed from the saved seed: no network.
fn code(path: &Path, json: bool) -> anyhow::Result<()> {
    let config = config::load(path)?;
    let Some(seed) = &config.totp else {
        bail!(
            "{} holds no TOTP secret: run `mfa enroll` again to fetch it (without --no-check); \
             mfad hands it out once, so if it says it was delivered before, ask an admin for \
             `mfac client reset-totp ALIAS`",
            path.display()
        );
    };
    let totp = seed
        .totp()
        .with_context(|| format!("{}: [totp]", path.display()))?;
    // The one place the client reads the wall clock: a binary's edge, not a library.
    let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0);
    let out = CodeOutput {
        code: totp.code_at(now),
        valid_for_seconds: totp.remaining(now),
    };
    if json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        println!("{} (valid for {} s)", out.code, out.valid_for_seconds);
    }
    Ok(())
}
