//! `mfac key rotate`: a new sealing key, every sealed secret re-sealed under it in one
//! transaction (see mfa_store's `rotate` module for the crash-safety steps). It opens the
//! database itself, with the exclusive use lock, instead of the shared open every other
//! command makes: it refuses while mfad (or another mfac) has the database open.

use std::path::Path;

use anyhow::Context as _;
use clap::Subcommand;
use mfa_core::{Clock, SystemClock};
use mfa_store::{KeyRotation, RotatePoint, Store};
use serde::Serialize;

use crate::output::print_json;

/// Test-only: `resealed` or `committed` makes `mfac key rotate` stop there (printing
/// `mfac: paused at POINT` on stderr) until it is killed, so a test can kill it midway.
const PAUSE_VAR: &str = "MFAC_TEST_KEY_ROTATE_PAUSE";

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// A new sealing key: re-seals every TOTP, OTP and vault seed under it (stop mfad first).
    Rotate,
}

#[derive(Serialize)]
struct RotationView {
    key_file: String,
    old_key_id: String,
    new_key_id: String,
    resealed: ResealedView,
    invalidated_one_time_codes: u64,
    recovered: Vec<String>,
}

#[derive(Serialize)]
struct ResealedView {
    client_totp_seeds: u64,
    otp_credentials: u64,
    vault_seeds: u64,
    duo_skeys: u64,
    enrol_links: u64,
    admin_totp_seeds: u64,
}

impl From<KeyRotation> for RotationView {
    fn from(r: KeyRotation) -> Self {
        Self {
            key_file: r.key_file.display().to_string(),
            old_key_id: r.old_key_id,
            new_key_id: r.new_key_id,
            resealed: ResealedView {
                client_totp_seeds: r.resealed.client_totp_seeds,
                otp_credentials: r.resealed.otp_credentials,
                vault_seeds: r.resealed.vault_seeds,
                duo_skeys: r.resealed.duo_skeys,
                enrol_links: r.resealed.enrol_links,
                admin_totp_seeds: r.resealed.admin_totp_seeds,
            },
            invalidated_one_time_codes: r.invalidated_one_time_codes,
            recovered: r.recovered,
        }
    }
}

pub async fn run(config: Option<&Path>, json: bool, cmd: KeyCommand) -> anyhow::Result<()> {
    match cmd {
        KeyCommand::Rotate => rotate(config, json).await,
    }
}

async fn rotate(config: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let config = mfa_config::load(config)?.config;
    crate::owner::check(&config)?;
    let pause = std::env::var(PAUSE_VAR).ok();
    let rotation = Store::rotate_key_file(
        &config.database_url(),
        &config.key_file(),
        SystemClock.now(),
        |point| pause_if_asked(pause.as_deref(), point),
    )
    .await
    .context("the sealing key was not rotated")?;
    let view = RotationView::from(rotation);
    if json {
        return print_json(&view);
    }
    for line in &view.recovered {
        println!("Recovered: {line}.");
    }
    println!(
        "Rotated the sealing key: {} now holds key {} (was {}).",
        view.key_file, view.new_key_id, view.old_key_id
    );
    let r = &view.resealed;
    println!(
        "Re-sealed {} client TOTP {}, {} OTP {}, {} vault {}, {} Duo {}, {} enrolment {} and {} admin TOTP {}.",
        r.client_totp_seeds,
        plural(r.client_totp_seeds, "seed", "seeds"),
        r.otp_credentials,
        plural(r.otp_credentials, "credential", "credentials"),
        r.vault_seeds,
        plural(r.vault_seeds, "seed", "seeds"),
        r.duo_skeys,
        plural(r.duo_skeys, "skey", "skeys"),
        r.enrol_links,
        plural(r.enrol_links, "link", "links"),
        r.admin_totp_seeds,
        plural(r.admin_totp_seeds, "seed", "seeds"),
    );
    if view.invalidated_one_time_codes > 0 {
        println!(
            "Invalidated {} pending one-time {} (stored as hashes under the old key): their \
             senders must send new ones.",
            view.invalidated_one_time_codes,
            plural(view.invalidated_one_time_codes, "code", "codes")
        );
    }
    println!(
        "Backups of the database taken before now need the old key ({}), which is no longer in \
         {}: keep the copy of it you made before rotating with them. Start mfad again.",
        view.old_key_id, view.key_file
    );
    Ok(())
}

fn plural(n: u64, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// For the crash tests: stops at `point` for good if [`PAUSE_VAR`] names it. Blocking the
/// runtime is the point: nothing of the rotation may move on until the test kills mfac.
fn pause_if_asked(pause: Option<&str>, point: RotatePoint) {
    let name = match point {
        RotatePoint::Resealed => "resealed",
        RotatePoint::Committed => "committed",
    };
    if pause != Some(name) {
        return;
    }
    eprintln!("mfac: paused at {name}");
    loop {
        std::thread::park();
    }
}
