//! `examples/request-mfa.sh` through the real PAM stack: pamtester -> libpam -> pam_exec.so ->
//! the script -> curl -> the real `mfad`, set up with the real `mfac`.
//!
//! Needs root (each test writes `/etc/pam.d/mfa-test-<random>` and the script insists on a
//! root-owned configuration file), pamtester, curl and stdbuf (coreutils); scripts/test.sh
//! installs them. Run as another user, the tests say SKIPPED and pass. mfad and mfac are the
//! built binaries in cargo's target directory (mfa-testkit finds them next to this test);
//! `cargo nextest run --workspace` builds them first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// These tests drive real processes in real time: polling them needs a sleep.
#![allow(clippy::disallowed_methods)]

mod script;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use mfa_testkit::{Daemon, Install};

/// The user the test apps are for. It needs no account: pam_exec does not look users up.
pub const USER: &str = "tux";
/// The host the script names (its `host=`), and the one the test server may speak for.
pub const HOST: &str = "linux.example.org";
/// PAM_RHOST, as sshd would set it.
pub const RHOST: &str = "192.0.2.7";

/// False (with a note) when the PAM tests cannot run here; panics when they should but a tool
/// is missing.
pub fn can_run() -> bool {
    if !is_root() {
        eprintln!(
            "SKIPPED: the request-mfa.sh PAM tests need root (they write /etc/pam.d/mfa-test-*)"
        );
        return false;
    }
    for tool in ["pamtester", "curl", "stdbuf"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(
            found,
            "{tool} is missing: install pamtester, curl and coreutils (scripts/test.sh does)"
        );
    }
    true
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/request-mfa.sh")
        .canonicalize()
        .unwrap()
}

/// Every line `from` writes, as it comes.
fn lines_of(from: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A PAM service file `/etc/pam.d/mfa-test-<random>`, removed on drop.
pub struct PamService {
    pub name: String,
    path: PathBuf,
}

impl PamService {
    pub fn new(text: &str) -> Self {
        let name = format!("mfa-test-{}", mfa_secrets::random_id(5).unwrap());
        let path = Path::new("/etc/pam.d").join(&name);
        std::fs::write(&path, text).unwrap();
        Self { name, path }
    }
}

impl Drop for PamService {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// mfad (the real binary, via mfa-testkit) with a client `tux`, an app routing tux's logins on
/// HOST (any service) to it with push, a server allowed to ask about HOST — all made with the
/// real mfac — the script's configuration file and a PAM service running the script in its
/// auth stack.
pub struct Setup {
    pub install: Install,
    pub daemon: Option<Daemon>,
    pub base: String,
    pub client_key: String,
    pub token: String,
    pub conf: PathBuf,
    pub pam: PamService,
}

impl Setup {
    /// `mfad_extra` goes into mfad.toml; `timeout` is the script's.
    pub fn new(mfad_extra: &str, timeout: u32) -> Self {
        let install = Install::new(mfad_extra);
        let client_key =
            install.mfac_field(&["client", "add", USER, "--notify", "none"], "client_key");
        let token = install.mfac_field(
            &["server", "add", "test-host", "--hosts", HOST],
            "api_token",
        );
        install.mfac(&[
            "app",
            "add",
            "--user",
            USER,
            "--host",
            HOST,
            "--service",
            "*",
            "--client",
            USER,
            "--methods",
            "push",
        ]);
        let daemon = install.start();
        let base = daemon.base.clone();
        let conf = install.dir.path().join("request-mfa.conf");
        std::fs::write(
            &conf,
            format!(
                "# written by the PAM test\nurl = {base}/\ntoken={token}\nhost={HOST}\n\
                 timeout={timeout}\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
        let script = script();
        for path in [&script, &conf] {
            // pam_exec splits its arguments at blanks.
            assert!(!path.display().to_string().contains(' '), "{path:?}");
        }
        let pam = PamService::new(&format!(
            "auth required pam_exec.so stdout quiet {} {}\n\
             auth optional pam_permit.so\n\
             account required pam_permit.so\n",
            script.display(),
            conf.display()
        ));
        Self {
            install,
            daemon: Some(daemon),
            base,
            client_key,
            token,
            conf,
            pam,
        }
    }

    /// Runs mfac on this install: `--json`, insists it succeeds.
    pub fn mfac(&self, args: &[&str]) -> serde_json::Value {
        self.install.mfac_json(args)
    }

    /// Starts `pamtester -v SERVICE USER authenticate setcred` (setcred as sshd calls it after
    /// a successful authentication), from RHOST.
    pub fn login(&self, user: &str) -> Login {
        Login::start(&self.pam.name, user, &["authenticate", "setcred"])
    }

    /// The pushes waiting for tux, as tux's device sees them.
    pub fn pending(&self) -> Vec<serde_json::Value> {
        let (status, body) = curl(&[
            "-H",
            &format!("Authorization: Bearer {}", self.client_key),
            &format!("{}/v1/client/requests", self.base),
        ]);
        assert_eq!(status, 200, "{body}");
        body.as_array().unwrap().clone()
    }

    /// Waits for the one push for tux and returns its txid.
    pub fn the_push(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pending = self.pending();
            if let [one] = pending.as_slice() {
                return one["txid"].as_str().unwrap().to_owned();
            }
            assert!(pending.is_empty(), "one push expected: {pending:?}");
            assert!(Instant::now() < deadline, "no push reached tux");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Answers a push as tux's device: `{"decision": ..., "number": ...}`.
    pub fn decide(&self, txid: &str, decision: serde_json::Value) -> serde_json::Value {
        let (status, body) = curl(&[
            "-H",
            &format!("Authorization: Bearer {}", self.client_key),
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &decision.to_string(),
            &format!("{}/v1/client/requests/{txid}", self.base),
        ]);
        assert_eq!(status, 200, "{body}");
        body
    }

    /// tux's audit entries, oldest first.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        self.mfac(&["audit"]).as_array().unwrap().clone()
    }
}

/// curl ARGS: the HTTP status and the JSON body.
fn curl(args: &[&str]) -> (u16, serde_json::Value) {
    let out = Command::new("curl")
        .args(["-q", "-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (
        status.parse().unwrap(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// A running pamtester, its output read as it comes.
pub struct Login {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    seen: Vec<String>,
    started: Instant,
}

/// How a login ended.
#[derive(Debug)]
pub struct Outcome {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Login {
    pub fn start(service: &str, user: &str, ops: &[&str]) -> Self {
        Self::start_from(service, user, RHOST, ops)
    }

    /// As `start`, with PAM_RHOST `rhost`.
    pub fn start_from(service: &str, user: &str, rhost: &str, ops: &[&str]) -> Self {
        let started = Instant::now();
        // pamtester prints PAM_TEXT_INFO with stdio; line-buffer it so the number shows as soon
        // as the script prints it, as on a terminal.
        let mut child = Command::new("stdbuf")
            .args(["-oL", "pamtester", "-v", "-I"])
            .arg(format!("rhost={rhost}"))
            .args([service, user])
            .args(ops)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        Self {
            stdout: lines_of(child.stdout.take().unwrap()),
            stderr: lines_of(child.stderr.take().unwrap()),
            child,
            seen: Vec::new(),
            started,
        }
    }

    /// Waits for the line telling the user the number to match; returns the number.
    pub fn number(&mut self) -> u8 {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let Ok(line) = self.stdout.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            self.seen.push(line.clone());
            if let Some(rest) = line.split("with the number ").nth(1) {
                return rest.trim_end_matches('.').parse().unwrap();
            }
        }
        panic!("no number shown; stdout so far: {:?}", self.seen);
    }

    pub fn finish(mut self) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("pamtester still running after 90 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let took = self.started.elapsed();
        let mut stdout = self.seen;
        stdout.extend(self.stdout.iter());
        Outcome {
            status,
            stdout: stdout.join("\n"),
            stderr: self.stderr.iter().collect::<Vec<_>>().join("\n"),
            took,
        }
    }
}
