//! The rig: a data directory, mfad started and stopped on demand, mfac for set-up, `mfa`
//! itself, an HTTP client playing the PAM side, and tmux as the person's terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use mfa_testkit::{Daemon, Install};
use serde_json::{Value, json};

/// The longest any wait for the screen or the server may take.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// Sleeps between polls (the one place tests sleep).
#[allow(clippy::disallowed_methods)]
pub fn nap() {
    std::thread::sleep(Duration::from_millis(50));
}

pub fn mfa_bin() -> &'static str {
    env!("CARGO_BIN_EXE_mfa")
}

/// `mfa ARGS` with the given client config; (success, stdout, stderr).
pub fn mfa(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(mfa_bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("MFA_CLIENT_CONFIG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    outcome(out)
}

pub fn outcome(out: Output) -> (bool, String, String) {
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts a failure reported as exactly one `mfa: ` line on stderr; returns it.
pub fn one_error_line((ok, out, err): (bool, String, String)) -> String {
    assert!(!ok, "should have failed; printed {out}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(err.starts_with("mfa: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err.trim_end().to_owned()
}

/// A free TCP port on 127.0.0.1 (free when asked; good enough for one test).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One test's server side: mfad.toml and its data in a temp dir, an API token for a trusted
/// server, and a runtime for the HTTP calls a PAM module would make.
pub struct Rig {
    pub install: Install,
    pub token: String,
    pub rt: tokio::runtime::Runtime,
    pub http: reqwest::Client,
}

impl Rig {
    /// A data dir with `extra` lines in mfad.toml (`listen` defaults to 127.0.0.1:0).
    pub fn new(extra: &str) -> Self {
        let install = Install::new(extra);
        let token = install.mfac_field(&["server", "add", "pam-host", "--hosts", "*"], "api_token");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        Self {
            install,
            token,
            rt,
            http: reqwest::Client::new(),
        }
    }

    /// The test's private directory.
    pub fn dir(&self) -> &Path {
        self.install.dir.path()
    }

    /// `mfac --json ARGS`, which must succeed.
    pub fn mfac(&self, args: &[&str]) -> Value {
        self.install.mfac_json(args)
    }

    /// Enrols a client; its key.
    pub fn client(&self, alias: &str) -> String {
        self.install
            .mfac_field(&["client", "add", alias], "client_key")
    }

    /// Routes tux's sshd logins on linux.example.org to `clients` (comma-separated).
    pub fn app(&self, clients: &str) {
        self.mfac(&[
            "app",
            "add",
            "--user",
            "tux",
            "--host",
            "linux.example.org",
            "--service",
            "sshd",
            "--client",
            clients,
            "--methods",
            "push,totp",
        ]);
    }

    /// Starts mfad on this rig's config.
    pub fn start(&self) -> Daemon {
        self.install.start()
    }

    /// `mfa enroll` for `key` against `base`; the client config's path.
    pub fn enroll(&self, name: &str, base: &str, key: &str) -> PathBuf {
        let path = self.dir().join(format!("{name}/client.toml"));
        let (ok, out, err) = mfa(&path, &["enroll", "--server", base, "--key", key]);
        assert!(ok, "mfa enroll failed: {err}{out}");
        path
    }

    /// `POST /v1/auth` for a push to tux: (txid, number).
    pub fn push(&self, base: &str, client_ip: &str) -> (String, u8) {
        let v = self.post(
            base,
            "/v1/auth",
            json!({"user": "tux", "host": "linux.example.org", "service": "sshd",
                   "client_ip": client_ip, "method": "push"}),
        );
        assert_eq!(v["result"], "pending", "{v}");
        (
            v["txid"].as_str().unwrap().to_owned(),
            u8::try_from(v["number"].as_u64().unwrap()).unwrap(),
        )
    }

    /// A POST with the API token.
    pub fn post(&self, base: &str, path: &str, body: Value) -> Value {
        self.rt
            .block_on(post(&self.http, base, path, &self.token, body))
    }

    /// Starts a long poll `GET /v1/auth/{txid}?wait=N`; the handle yields the answer and when
    /// it arrived.
    pub fn long_poll(&self, base: &str, txid: &str) -> tokio::task::JoinHandle<(Value, Instant)> {
        let url = format!("{base}/v1/auth/{txid}?wait=10");
        let request = self.http.get(url).bearer_auth(&self.token).send();
        self.rt.spawn(async move {
            let response = request.await.unwrap();
            let at = Instant::now();
            (response.json::<Value>().await.unwrap(), at)
        })
    }

    pub fn join<T>(&self, handle: tokio::task::JoinHandle<T>) -> T {
        self.rt.block_on(handle).unwrap()
    }
}

/// An API call over HTTPS by curl, trusting only `ca`: the answer's JSON.
pub fn curl(ca: &Path, token: &str, url: &str, body: Option<&Value>) -> Value {
    let mut cmd = Command::new("curl");
    cmd.args(["--silent", "--show-error", "--cacert"])
        .arg(ca)
        .args(["-H", &format!("Authorization: Bearer {token}")]);
    if let Some(body) = body {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "--data",
            &body.to_string(),
        ]);
    }
    let (ok, stdout, stderr) = outcome(
        cmd.arg(url)
            .output()
            .expect("curl (scripts/test.sh installs it)"),
    );
    assert!(ok, "curl {url}: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("curl {url}: {e}: {stdout}"))
}

pub async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    bearer: &str,
    body: Value,
) -> Value {
    http.post(format!("{base}{path}"))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

static SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// A program in a tmux terminal of its own (its own tmux server, so tests never see each
/// other's or a person's sessions); the server is killed on drop, pass or fail.
pub struct Terminal {
    socket: String,
    name: String,
}

impl Terminal {
    /// Runs `mfa --config CONFIG listen` in a 200x50 terminal. When mfa exits, the shell
    /// prints `mfa-exit=CODE` and keeps the pane open.
    pub fn listen(config: &Path) -> Self {
        Self::listen_with(config, "")
    }

    /// [`Terminal::listen`] trusting only the CA in `ca` (`SSL_CERT_FILE`).
    pub fn listen_trusting(config: &Path, ca: &Path) -> Self {
        Self::listen_with(config, &format!("SSL_CERT_FILE='{}' ", ca.display()))
    }

    fn listen_with(config: &Path, env: &str) -> Self {
        let n = SESSIONS.fetch_add(1, Ordering::SeqCst);
        let socket = format!("mfa-client-test-{}-{n}", std::process::id());
        let name = "mfa".to_owned();
        let command = format!(
            "{env}'{}' --config '{}' listen; echo mfa-exit=$?; sleep 600",
            mfa_bin(),
            config.display()
        );
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f", "/dev/null", "new-session", "-d"])
            .args(["-s", &name, "-x", "200", "-y", "50"])
            .arg(command)
            .env_remove("MFA_CLIENT_CONFIG")
            .env_remove("TMUX")
            .status()
            .unwrap_or_else(|e| panic!("cannot run tmux (apt-get install tmux): {e}"));
        assert!(status.success(), "tmux new-session failed");
        Self { socket, name }
    }

    /// Everything the terminal shows, scrollback included, wrapped lines joined.
    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-S", "-"])
            .args(["-t", &self.name])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits (at most PATIENCE) until the screen satisfies `ok`; the screen then.
    pub fn wait_until(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!(
                    "waited {} s for {what}; the terminal shows:\n{screen}",
                    PATIENCE.as_secs()
                );
            }
            nap();
        }
    }

    /// Waits until `text` is on screen `count` times.
    pub fn wait_for_n(&self, text: &str, count: usize) -> String {
        self.wait_until(&format!("{count} x {text:?}"), |s| {
            s.matches(text).count() >= count
        })
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait_for_n(text, 1)
    }

    /// Types `keys` (tmux key names) and presses Enter.
    pub fn type_line(&self, keys: &str) {
        self.send(&[keys, "Enter"]);
    }

    pub fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", &self.name])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success(), "tmux send-keys failed");
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .stderr(Stdio::null())
            .status();
    }
}

/// Waits (at most PATIENCE) for a child started with piped stdout/stderr to exit; kills it
/// and fails the test if it does not.
pub fn finish(mut child: std::process::Child) -> Output {
    let deadline = Instant::now() + PATIENCE;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "still running after {} s; printed:\n{}{}",
                PATIENCE.as_secs(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        nap();
    }
    child.wait_with_output().unwrap()
}
