//! Runs the real `mfad` and `mfac` binaries for tests of the parts around them (the `mfa`
//! client, the PAM module, the pam_exec script): a temp dir with an `mfad.toml`, mfad on a
//! free port of 127.0.0.1, mfac on the same config.
//!
//! The binaries must be built: `cargo nextest run --workspace` (what scripts/test.sh runs) and
//! `cargo build --workspace` build them first.
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)] // test support: fail loudly

#[cfg(feature = "browser")]
pub mod browser;
pub mod postgres;
mod proxy;
pub mod tls;
pub use proxy::Proxy;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// `target/debug` (or release): where cargo put this test and the workspace's binaries.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/test-hash -> target/debug
    exe.ancestors()
        .find(|p| {
            p.join("mfad").exists()
                || p.file_name()
                    .is_some_and(|n| n == "debug" || n == "release")
        })
        .map(Path::to_path_buf)
        .expect("cannot find cargo's target directory")
}

/// A built artefact of the workspace (`mfad`, `mfac`, `mfa`, `libpam_mfa.so`).
pub fn artefact(name: &str) -> PathBuf {
    let path = target_dir().join(name);
    assert!(
        path.exists(),
        "{} is missing: build the workspace first (cargo build --workspace, or scripts/test.sh)",
        path.display()
    );
    path
}

/// Writes a config file as an admin must: mode 0600 (mfad and mfac refuse a config file that
/// group or others may read, since it may hold secrets).
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// A throwaway mfa installation: `mfad.toml` and its data directory in a temp dir.
pub struct Install {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl Install {
    /// `extra` is appended to a config with `listen = 127.0.0.1:0` and a private data_dir.
    pub fn new(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("mfad.toml");
        let has_listen = extra.lines().any(|l| l.trim_start().starts_with("listen"));
        let listen = if has_listen {
            ""
        } else {
            "listen = \"127.0.0.1:0\"\n"
        };
        let text = format!(
            "server_name = \"mfa.test\"\n{listen}data_dir = \"{}\"\n{extra}",
            dir.path().join("data").display()
        );
        write_private(&config, &text);
        Self { dir, config }
    }

    /// Runs mfac on this install and insists it succeeds; returns stdout.
    pub fn mfac(&self, args: &[&str]) -> String {
        let out = self.mfac_output(args);
        assert!(
            out.status.success(),
            "mfac {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn mfac_output(&self, args: &[&str]) -> Output {
        Command::new(artefact("mfac"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env_remove("MFA_DATABASE_URL")
            .output()
            .expect("run mfac")
    }

    /// Runs `mfac --json ...` and returns its answer.
    pub fn mfac_json(&self, args: &[&str]) -> serde_json::Value {
        let mut args = args.to_vec();
        args.push("--json");
        let out = self.mfac(&args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("mfac {args:?}: not JSON ({e}): {out}"))
    }

    /// Runs `mfac --json ...` and returns the string `field` of its answer.
    pub fn mfac_field(&self, args: &[&str], field: &str) -> String {
        let answer = self.mfac_json(args);
        answer[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in mfac's answer: {answer}"))
            .to_owned()
    }

    /// Starts mfad on this install and waits until it serves.
    pub fn start(&self) -> Daemon {
        Daemon::start(&self.config)
    }
}

/// A running mfad, killed (and reaped) on drop.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://` when it serves `[tls]`.
    pub base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    pub fn start(config: &Path) -> Self {
        let mut command = Command::new(artefact("mfad"));
        command.arg("--config").arg(config).arg("serve");
        Self::start_command(command)
    }

    /// Starts mfad as `command` runs it (say, through `sh -c 'ulimit -n 256; exec mfad ...'`;
    /// the shell must `exec` so the child is mfad itself) and waits until it serves.
    pub fn start_command(mut command: Command) -> Self {
        let mut child = command
            .env_remove("MFA_DATABASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mfad");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = mpsc::channel();
        let log = Arc::new(Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            // Keep draining after start-up: a full pipe would block mfad's logging.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                kept.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(base) = ready_base(&line) {
                        return Self { child, base, log };
                    }
                }
                Err(_) => {
                    if let Ok(Some(status)) = child.try_wait() {
                        panic!("mfad exited early with {status}");
                    }
                }
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("mfad did not report ready within 30 s");
    }

    /// mfad's process id (for /proc/PID/...).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether mfad is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `within` for mfad to exit by itself; its status if it did.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            #[allow(clippy::disallowed_methods)] // test support: a blocking poll is the point
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Every line mfad has written to stderr so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Stops mfad now (as a crash would).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The address on mfad's "mfad ready" line, in either log format: text
/// (`... mfad ready listen=127.0.0.1:PORT backend=Sqlite`) or JSON (`log_format = "json"`:
/// `{"message":"mfad ready","listen":"127.0.0.1:PORT",...}`).
pub fn ready_address(line: &str) -> Option<String> {
    ready_fields(line).map(|(listen, _)| listen)
}

/// `http://ADDRESS` from the "mfad ready" line, or `https://` when it says `tls=true`.
pub fn ready_base(line: &str) -> Option<String> {
    let (listen, tls) = ready_fields(line)?;
    let scheme = if tls { "https" } else { "http" };
    Some(format!("{scheme}://{listen}"))
}

/// The ready line's `listen` and `tls` fields.
fn ready_fields(line: &str) -> Option<(String, bool)> {
    if line.starts_with('{') {
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        let fields = event.get("fields").unwrap_or(&event);
        if fields.get("message")?.as_str()? != "mfad ready" {
            return None;
        }
        let tls = fields.get("tls").and_then(serde_json::Value::as_bool) == Some(true);
        return Some((fields.get("listen")?.as_str()?.to_owned(), tls));
    }
    if !line.contains("mfad ready") {
        return None;
    }
    let rest = line.split("listen=").nth(1)?;
    let listen = rest.split_whitespace().next()?.to_owned();
    Some((listen, line.contains(" tls=true")))
}

#[cfg(test)]
mod tests {
    use super::{ready_address, ready_base};

    #[test]
    fn the_ready_line_is_found_in_both_formats() {
        let text = "2026-12-03T06:00:00.000000Z  INFO mfad: mfad ready listen=127.0.0.1:4242 backend=Sqlite";
        assert_eq!(ready_address(text).as_deref(), Some("127.0.0.1:4242"));
        let json = r#"{"timestamp":"2026-12-03T06:00:00.000000Z","level":"INFO","message":"mfad ready","listen":"127.0.0.1:4242","backend":"Sqlite","target":"mfad"}"#;
        assert_eq!(ready_address(json).as_deref(), Some("127.0.0.1:4242"));
        assert_eq!(ready_base(text).as_deref(), Some("http://127.0.0.1:4242"));
        let tls = r#"{"message":"mfad ready","listen":"127.0.0.1:4242","tls":true}"#;
        assert_eq!(ready_base(tls).as_deref(), Some("https://127.0.0.1:4242"));
        let tls = format!("{text} tls=true");
        assert_eq!(ready_base(&tls).as_deref(), Some("https://127.0.0.1:4242"));
        let nested = r#"{"level":"INFO","fields":{"message":"mfad ready","listen":"[::1]:1"}}"#;
        assert_eq!(ready_address(nested).as_deref(), Some("[::1]:1"));
        assert_eq!(
            ready_address(r#"{"message":"push sent","listen":"x"}"#),
            None
        );
        assert_eq!(ready_address("INFO something else"), None);
    }
}
