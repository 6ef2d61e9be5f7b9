//! `mfac key rotate` around a real mfad: refused while mfad serves; afterwards a TOTP client
//! enrolled before still logs in; and killed (SIGKILL) before its commit or after it, before
//! the key file is renamed, the database stays readable — mfad starts and the client logs in
//! — and a re-run completes.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mfa_core::{Clock, SystemClock};
use mfa_otp::{Secret, Totp, TotpParams};
use mfa_testkit::Install;
use mfa_testkit::postgres::{PgSchema, psql_value};
use serde_json::json;

/// An install with clients tux and alice (each the only client of its user's app) and a
/// server token; each client gets its own login, so that two logins in one TOTP step do not
/// meet the one-use rule.
struct Setup {
    install: Install,
    /// PostgreSQL's schema for this install (dropped after it), or none for SQLite.
    schema: Option<PgSchema>,
    secrets: Vec<(&'static str, Secret)>,
    token: String,
}

/// PostgreSQL ends a killed client's session (and its advisory lock) once it reads the closed
/// socket: a moment after the kill, not at once.
fn wait_until_unlocked(schema: &PgSchema) {
    // mfa-store's lock key: ("mfa!", the schema's hash).
    let sql = format!(
        "SELECT pg_try_advisory_lock(1835426081, hashtext('{}'))",
        schema.name
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while psql_value(&schema.server, &sql) != "t" {
        assert!(
            Instant::now() < deadline,
            "the killed rotation's lock stayed"
        );
        #[allow(clippy::disallowed_methods)] // a test's poll
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SQLite, and PostgreSQL when `MFA_TEST_POSTGRES_URL` names a server.
fn setups() -> Vec<(&'static str, Setup)> {
    let mut setups = vec![("sqlite", Setup::new(None))];
    if let Some(schema) = PgSchema::from_env("keyrotate") {
        setups.push(("postgres", Setup::new(Some(schema))));
    }
    setups
}

impl Setup {
    fn new(schema: Option<PgSchema>) -> Self {
        let extra = match &schema {
            None => String::new(),
            Some(s) => format!("database_url = \"{}\"\n", s.url()),
        };
        let install = Install::new(&extra);
        let mut secrets = Vec::new();
        for user in ["tux", "alice"] {
            let enrolled = install.mfac_json(&["client", "add", user, "--notify", "none"]);
            let secret = Secret::from_base32(enrolled["totp_secret"].as_str().unwrap()).unwrap();
            secrets.push((user, secret));
            install.mfac(&[
                "app",
                "add",
                "--user",
                user,
                "--host",
                "h.example.org",
                "--service",
                "sshd",
                "--client",
                user,
                "--methods",
                "totp",
            ]);
        }
        install.mfac(&["vault", "add", "AWS", "--secret", "JBSWY3DPEHPK3PXP"]);
        let token = install.mfac_field(&["server", "add", "ssh-1", "--hosts", "*"], "api_token");
        Self {
            install,
            schema,
            secrets,
            token,
        }
    }

    fn key_file(&self) -> PathBuf {
        self.install.dir.path().join("data/mfa.key")
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        self.install
            .dir
            .path()
            .join(format!("data/mfa.key.{suffix}"))
    }

    fn key(&self) -> String {
        std::fs::read_to_string(self.key_file()).unwrap()
    }

    /// Starts mfad and logs `user` in with its current TOTP code.
    async fn log_in(&self, user: &str) {
        let daemon = self.install.start();
        let secret = &self.secrets.iter().find(|(u, _)| *u == user).unwrap().1;
        let now = SystemClock.now().unix_secs();
        let code = Totp::new(secret.clone(), TotpParams::default()).code_at(now);
        let answer = crate::totp_login(&daemon.base, &self.token, user, &code).await;
        assert_eq!(answer["result"], "allow", "{user}: {answer}");
        daemon.stop();
    }

    /// Runs `mfac key rotate` until it reports it paused at `point`, then kills it (SIGKILL).
    fn rotate_and_kill_at(&self, point: &str) {
        let mut child = Command::new(mfa_testkit::artefact("mfac"))
            .arg("--config")
            .arg(&self.install.config)
            .args(["key", "rotate"])
            .env_remove("MFA_DATABASE_URL")
            .env("MFAC_TEST_KEY_ROTATE_PAUSE", point)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let marker = format!("mfac: paused at {point}");
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => assert_eq!(line, marker, "mfac key rotate said something else first"),
            Err(e) => {
                let _ = child.kill();
                panic!("mfac key rotate did not pause at {point}: {e}");
            }
        }
        // While it holds the lock, mfad must refuse to start rather than serve with a key
        // that is about to change.
        let refused = mfad_refuses_to_start(&self.install.config);
        assert!(refused.contains("mfac key rotate"), "{refused}");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        if let Some(schema) = &self.schema {
            wait_until_unlocked(schema);
        }
    }
}

/// Runs `mfad serve` and insists it exits with an error within 20 s; returns its stderr.
fn mfad_refuses_to_start(config: &Path) -> String {
    let mut child = crate::mfad()
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove("MFA_DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success());
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            return err;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("mfad started while mfac key rotate held the database");
        }
        #[allow(clippy::disallowed_methods)] // a test's poll
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn key_rotate_is_refused_while_mfad_serves_and_then_clients_still_log_in() {
    for (backend, setup) in setups() {
        eprintln!("{backend}");
        refused_while_mfad_serves_then_clients_log_in(setup).await;
    }
}

async fn refused_while_mfad_serves_then_clients_log_in(setup: Setup) {
    let install = &setup.install;
    let before = setup.key();

    let daemon = install.start();
    let out = install.mfac_output(&["key", "rotate"]);
    assert!(!out.status.success(), "rotated under a running mfad");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("mfac: ") && err.contains("mfad"), "{err}");
    assert!(err.contains("stop"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert_eq!(setup.key(), before, "nothing changed");
    assert!(!setup.sibling("old").exists() && !setup.sibling("new").exists());
    daemon.stop();

    let answer = install.mfac_json(&["key", "rotate"]);
    let key_file = setup.key_file();
    assert_eq!(answer["key_file"], key_file.to_str().unwrap());
    assert_ne!(answer["old_key_id"], answer["new_key_id"]);
    assert_eq!(
        answer["resealed"],
        json!({"client_totp_seeds": 2, "otp_credentials": 0, "vault_seeds": 1, "duo_skeys": 0, "enrol_links": 0, "admin_totp_seeds": 0}),
        "{answer}"
    );
    assert_eq!(answer["invalidated_one_time_codes"], 0);
    assert_eq!(answer["recovered"], json!([]));
    assert_ne!(setup.key(), before);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !setup.sibling("old").exists(),
        "mfa.key.old is gone at the end"
    );
    assert!(!setup.sibling("new").exists());

    setup.log_in("tux").await;
    let vault = install.mfac_json(&["vault", "code", "1"]);
    assert!(vault["code"].is_string(), "the vault seed opens: {vault}");

    // Text output names the key file and what was re-sealed.
    let text = install.mfac(&["key", "rotate"]);
    assert!(text.contains(key_file.to_str().unwrap()), "{text}");
    assert!(text.contains("Re-sealed 2 client TOTP seeds"), "{text}");
    setup.log_in("alice").await;
}

#[tokio::test]
async fn key_rotate_killed_before_its_commit_leaves_the_old_key_and_a_rerun_completes() {
    for (backend, setup) in setups() {
        eprintln!("{backend}");
        killed_before_commit(setup).await;
    }
}

async fn killed_before_commit(setup: Setup) {
    let before = setup.key();
    setup.rotate_and_kill_at("resealed");
    assert_eq!(setup.key(), before, "mfa.key untouched before the commit");
    assert!(setup.sibling("new").exists(), "the unused new key is left");

    setup.log_in("tux").await;
    let answer = setup.install.mfac_json(&["key", "rotate"]);
    let recovered = answer["recovered"].as_array().unwrap();
    assert!(!recovered.is_empty(), "{answer}");
    assert_eq!(answer["resealed"]["client_totp_seeds"], 2, "{answer}");
    assert_ne!(setup.key(), before);
    assert!(!setup.sibling("old").exists() && !setup.sibling("new").exists());
    setup.log_in("alice").await;
}

#[tokio::test]
async fn key_rotate_killed_after_its_commit_is_finished_by_the_next_start_and_a_rerun_completes() {
    for (backend, setup) in setups() {
        eprintln!("{backend}");
        killed_after_commit_finished_by_mfad(setup).await;
    }
}

async fn killed_after_commit_finished_by_mfad(setup: Setup) {
    let before = setup.key();
    setup.rotate_and_kill_at("committed");
    assert_eq!(setup.key(), before, "killed before the rename");
    let new = std::fs::read_to_string(setup.sibling("new")).unwrap();
    assert!(setup.sibling("old").exists());

    // mfad's start sees the database sealed with the key in mfa.key.new and finishes.
    setup.log_in("tux").await;
    assert_eq!(setup.key(), new, "the new key moved into place");
    assert!(!setup.sibling("old").exists() && !setup.sibling("new").exists());
    setup.install.mfac(&["client", "list"]);

    let answer = setup.install.mfac_json(&["key", "rotate"]);
    assert_eq!(answer["resealed"]["client_totp_seeds"], 2, "{answer}");
    assert!(!setup.sibling("old").exists() && !setup.sibling("new").exists());
    setup.log_in("alice").await;
}

/// A crash after the commit, then an mfac command (not mfad) first: it finishes the same way.
#[tokio::test]
async fn key_rotate_killed_after_its_commit_is_finished_by_the_next_mfac_command() {
    let setup = Setup::new(None);
    setup.rotate_and_kill_at("committed");
    let new = std::fs::read_to_string(setup.sibling("new")).unwrap();
    let clients = setup.install.mfac_json(&["client", "list"]);
    assert_eq!(clients.as_array().unwrap().len(), 2);
    assert_eq!(setup.key(), new);
    setup.log_in("tux").await;
}
