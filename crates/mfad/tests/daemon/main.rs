//! Runs the real `mfad` binary on 127.0.0.1 with a throwaway config.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod backup;
mod check_config;
mod flood;
mod key_rotate;
mod openapi;
mod ops;
mod pskc;
mod serve;
mod systemd;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn mfad() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mfad"))
}

/// A temp dir with an mfad.toml whose data lives in it, listening on a free port.
pub fn config_dir(extra: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mfad.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\n{extra}",
        dir.path().join("data").display()
    );
    mfa_testkit::write_private(&path, &text);
    (dir, path)
}

/// `POST /v1/auth` for `user` on h.example.org (sshd) with a TOTP `code`: mfad's answer.
pub async fn totp_login(base: &str, token: &str, user: &str, code: &str) -> serde_json::Value {
    let body = serde_json::json!({"user": user, "host": "h.example.org", "service": "sshd",
        "method": "totp", "passcode": code});
    reqwest::Client::new()
        .post(format!("{base}/v1/auth"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Starts mfad and waits until it serves.
pub fn start(config: &Path) -> mfa_testkit::Daemon {
    mfa_testkit::Daemon::start(config)
}
