//! `mfac import`: moving people in from another system with what they already hold.
//! `import google-authenticator` reads `~/.google_authenticator` files
//! ([`google_file`]): the secret is kept, so the person's authenticator app keeps working, the
//! scratch codes become recovery codes, and what cannot be carried over is said.
//! `import pskc` reads RFC 6030 containers of hardware and HOTP/TOTP tokens ([`pskc`]), plain
//! or encrypted with a pre-shared key, into OTP-service credentials or a client's seed.

mod google_file;
mod pskc;
mod pskc_import;

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args as ClapArgs, Subcommand};
use mfa_core::Alias;
use mfa_otp::{Algorithm, Digits, TotpParams};
use mfa_secrets::{Token, scratch_hash};
use mfa_store::{CLIENT_KEY_PREFIX, NewClient, Notify, StoreError};
use serde::Serialize;

use crate::context::Context;
use crate::output::print_json;
use google_file::{Counting, GoogleFile};

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// pam_google_authenticator's ~/.google_authenticator files: keeps the secret (the
    /// person's authenticator app keeps working), turns scratch codes into recovery codes, and
    /// says what it could not carry over
    #[command(name = "google-authenticator")]
    GoogleAuthenticator(GoogleArgs),
    /// An RFC 6030 (PSKC) key container of hardware or software tokens: each key becomes an
    /// OTP-service credential (or, with --client, one TOTP key becomes that client's seed)
    Pskc(PskcArgs),
}

#[derive(Debug, ClapArgs)]
pub struct PskcArgs {
    /// The container (a .pskcxml / .xml file)
    pub file: PathBuf,
    /// The pre-shared key the secrets are encrypted with, in hex (16, 24 or 32 bytes)
    #[arg(long, value_name = "HEX")]
    pub key: Option<String>,
    /// The API token (with scope otp) that will verify the credentials; default: the only
    /// such token
    #[arg(long, value_name = "TOKEN", conflicts_with = "client")]
    pub owner: Option<String>,
    /// Make the file's one TOTP key this client's seed instead (created if new)
    #[arg(long, value_name = "ALIAS")]
    pub client: Option<String>,
}

#[derive(Debug, ClapArgs)]
pub struct GoogleArgs {
    /// The login user the file belongs to (the client of that name is created or updated)
    #[arg(long, requires = "file", conflicts_with = "users_from_home")]
    pub user: Option<String>,
    /// The file (e.g. /home/tux/.google_authenticator)
    pub file: Option<PathBuf>,
    /// Every DIR/<user>/.google_authenticator: one client per home directory that has one
    #[arg(long, value_name = "DIR", required_unless_present = "user")]
    pub users_from_home: Option<PathBuf>,
}

/// What one file became.
#[derive(Debug, Serialize)]
struct Imported {
    user: String,
    file: String,
    /// Whether the client was made by this import (else its seed was replaced).
    created: bool,
    /// A new client's key, shown once (for `mfa enroll` and push).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key: Option<String>,
    recovery_codes: usize,
    carried: Vec<String>,
    not_carried: Vec<String>,
}

/// A file that could not be imported (in a bulk import, the others go on).
#[derive(Debug, Serialize)]
struct Failed {
    user: String,
    file: String,
    error: String,
}

pub async fn run(ctx: &Context, cmd: ImportCommand) -> anyhow::Result<()> {
    let args = match cmd {
        ImportCommand::GoogleAuthenticator(args) => args,
        ImportCommand::Pskc(args) => return pskc_import::run(ctx, args).await,
    };
    match (args.user, args.file, args.users_from_home) {
        (Some(user), Some(file), None) => {
            let imported = import_file(ctx, &user, &file).await?;
            if ctx.json {
                return print_json(&imported);
            }
            print_imported(&imported);
            Ok(())
        }
        (None, None, Some(home)) => import_homes(ctx, &home).await,
        _ => bail!("give --user USER FILE, or --users-from-home DIR"),
    }
}

async fn import_homes(ctx: &Context, home: &Path) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(home)
        .with_context(|| format!("cannot read {}", home.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|dir| dir.join(".google_authenticator").is_file())
        .collect();
    entries.sort();
    let (mut done, mut failed) = (Vec::new(), Vec::new());
    for dir in entries {
        let user = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = dir.join(".google_authenticator");
        match import_file(ctx, &user, &file).await {
            Ok(imported) => done.push(imported),
            Err(e) => failed.push(Failed {
                user,
                file: file.display().to_string(),
                error: format!("{e:#}"),
            }),
        }
    }
    if ctx.json {
        print_json(&serde_json::json!({ "imported": done, "failed": failed }))?;
    } else {
        done.iter().for_each(print_imported);
        for f in &failed {
            println!("Not imported {} ({}): {}", f.user, f.file, f.error);
        }
        println!("{} imported, {} not.", done.len(), failed.len());
    }
    if !failed.is_empty() {
        bail!(
            "{} of the files could not be imported (see above)",
            failed.len()
        );
    }
    Ok(())
}

async fn import_file(ctx: &Context, user: &str, path: &Path) -> anyhow::Result<Imported> {
    let alias = Alias::new(user)?;
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = google_file::parse(&text).with_context(|| path.display().to_string())?;
    let Counting::Totp { step } = file.counting else {
        bail!(
            "{}: counter-based (HOTP_COUNTER): mfa's clients use time-based codes, so the \
             person's authenticator would stop working; enrol them afresh (mfac client add {alias})",
            path.display()
        );
    };
    let totp = TotpParams {
        algorithm: Algorithm::Sha1,
        digits: Digits::default(), // 6, as google-authenticator's
        period: step,
    };
    let now = ctx.now();
    let client_key = set_client_seed(ctx, &alias, &file.secret, totp).await?;
    let codes: Vec<_> = file
        .scratch_codes
        .iter()
        .filter_map(|c| scratch_hash(c))
        .collect();
    if !codes.is_empty() {
        ctx.store
            .replace_recovery_codes(&alias, &codes, now)
            .await?;
    }
    let (carried, not_carried) = report(ctx, &file, step, codes.len());
    Ok(Imported {
        user: alias.to_string(),
        file: path.display().to_string(),
        created: client_key.is_some(),
        client_key: client_key.map(|k| k.expose().to_owned()),
        recovery_codes: codes.len(),
        carried,
        not_carried,
    })
}

/// Makes `secret` the client's seed: replaces an existing client's, or makes the client. The
/// seed is already in the person's authenticator, so it counts as delivered (no client key
/// fetches it). A new client's key comes back, to be shown once (for `mfa enroll` and push).
async fn set_client_seed(
    ctx: &Context,
    alias: &Alias,
    secret: &mfa_otp::Secret,
    totp: TotpParams,
) -> anyhow::Result<Option<Token>> {
    match ctx.store.client(alias).await {
        Ok(_) => {
            ctx.store
                .replace_client_totp(alias, secret, totp, Some(ctx.now()))
                .await?;
            Ok(None)
        }
        Err(StoreError::NotFound(_)) => Ok(Some(add_client(ctx, alias, secret, totp).await?)),
        Err(e) => Err(e.into()),
    }
}

async fn add_client(
    ctx: &Context,
    alias: &Alias,
    secret: &mfa_otp::Secret,
    totp: TotpParams,
) -> anyhow::Result<Token> {
    let key = Token::generate(CLIENT_KEY_PREFIX)?;
    ctx.store
        .add_client(NewClient {
            alias,
            key_hash: &key.hash(),
            totp_secret: secret,
            totp,
            notify: Notify::Default,
            now: ctx.now(),
        })
        .await?;
    ctx.store.deliver_client_totp(alias, ctx.now()).await?;
    Ok(key)
}

/// What was carried over, and what was not (and what applies instead).
fn report(ctx: &Context, file: &GoogleFile, step: u32, codes: usize) -> (Vec<String>, Vec<String>) {
    let mut carried = vec![
        "the secret (the authenticator app keeps working)".to_owned(),
        format!("time-based codes, {step} s steps"),
    ];
    let mut not = Vec::new();
    if codes > 0 {
        carried.push(format!(
            "{codes} scratch codes, as recovery codes (each works once, wherever a code is asked)"
        ));
    }
    if file.disallow_reuse {
        carried.push("DISALLOW_REUSE (mfa never accepts a code twice)".into());
    } else {
        not.push("codes could be reused: mfa never accepts a code twice".into());
    }
    let skew = ctx.config.totp.skew;
    let accepted = 2 * skew + 1;
    if let Some(w) = file.window.filter(|w| *w > accepted) {
        not.push(format!(
            "WINDOW_SIZE {w}: mfa accepts {accepted} codes around now ([totp] skew = {skew})"
        ));
    }
    if let Some((n, m)) = file.rate_limit {
        not.push(format!(
            "RATE_LIMIT {n} {m}: mfa's lockouts apply instead ({} failures within {} s)",
            ctx.config.max_failed_attempts, ctx.config.block_duration
        ));
    }
    for option in &file.unknown {
        not.push(format!("{option}: not known to this import"));
    }
    (carried, not)
}

fn print_imported(i: &Imported) {
    let how = if i.created {
        "new client"
    } else {
        "existing client, seed replaced"
    };
    println!("Imported {} from {} ({how}):", i.user, i.file);
    for c in &i.carried {
        println!("  carried over: {c}");
    }
    for n in &i.not_carried {
        println!("  not carried over: {n}");
    }
    if let Some(key) = &i.client_key {
        println!("  client key (shown once; for `mfa enroll` and push): {key}");
    }
}
