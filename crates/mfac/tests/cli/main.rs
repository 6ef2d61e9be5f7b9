//! Runs the real `mfac` binary against a throwaway config and SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admins;
mod apps;
mod audit;
mod clients;
mod duo;
mod failures;
mod keys;
mod lockouts;
mod policy;
mod servers;
mod tokens;
mod vault;

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Env {
    pub fn with(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("mfad.toml");
        mfa_testkit::write_private(
            &config,
            &format!(
                "server_name = \"mfa.example.org\"\ndata_dir = \"{}\"\n{extra}",
                dir.path().join("data").display()
            ),
        );
        Self { dir, config }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The database mfac uses, opened directly (to write what only mfad writes: lockouts,
    /// audit entries). Run mfac once first, so the key file exists.
    pub async fn store(&self) -> mfa_store::Store {
        let config = mfa_config::load(Some(&self.config)).unwrap().config;
        mfa_store::Store::open_with_key_file(&config.database_url(), &config.key_file())
            .await
            .unwrap()
    }

    /// Runs mfac; returns (success, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (bool, String, String) {
        run_with_config(&self.config, args)
    }

    /// Runs mfac and insists it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(ok, "mfac {args:?} failed: {err}");
        out
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        serde_json::from_str(&self.ok(&args)).unwrap()
    }

    /// Runs mfac, insists it fails with one line on stderr, and returns that line.
    pub fn fails(&self, args: &[&str]) -> String {
        let (ok, out, err) = self.run(args);
        assert!(!ok, "mfac {args:?} should have failed; printed {out}");
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line expected: {err}"
        );
        assert!(err.starts_with("mfac: "), "{err}");
        err.trim_end().to_owned()
    }
}

pub fn run_with_config(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mfac"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MFA_DATABASE_URL")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
