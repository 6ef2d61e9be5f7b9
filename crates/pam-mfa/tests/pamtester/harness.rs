use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use mfa_testkit::{Daemon, Install, artefact};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Tests poll processes and servers; this is the one place they sleep.
#[allow(clippy::disallowed_methods)]
pub fn nap(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// An mfa install with tux enrolled (push + totp on every host) and a server token for the module.
pub struct Setup {
    pub install: Install,
    pub daemon: Option<Daemon>,
    pub client_key: String,
    pub totp_secret: String,
    pub token: String,
    /// The agent the client-API helpers (`answer_push`, `pending_pushes`) use: the default
    /// roots, or a test CA after `trust_ca` (mfad serving `[tls]`).
    pub agent: ureq::Agent,
}

impl Setup {
    pub fn new(mfad_extra: &str, methods: &str) -> Self {
        let install = Install::new(mfad_extra);
        let tux = install.mfac_json(&["client", "add", "tux"]);
        let field = |name: &str| tux[name].as_str().unwrap().to_owned();
        install.mfac(&[
            "app",
            "add",
            "--user",
            "tux",
            "--host",
            "*",
            "--service",
            "*",
            "--client",
            "tux",
            "--methods",
            methods,
        ]);
        let token = install.mfac_field(&["server", "add", "pam-host", "--hosts", "*"], "api_token");
        let daemon = Some(install.start());
        Self {
            client_key: field("client_key"),
            totp_secret: field("totp_secret"),
            install,
            daemon,
            token,
            agent: ureq::Agent::new_with_defaults(),
        }
    }

    /// Makes the client-API helpers trust the CA certificate in `pem` (a test CA).
    pub fn trust_ca(&mut self, pem: &Path) {
        let bytes = std::fs::read(pem).unwrap();
        let certs: Vec<_> = ureq::tls::parse_pem(&bytes)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
                _ => None,
            })
            .collect();
        assert!(!certs.is_empty(), "no certificate in {}", pem.display());
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(certs)))
            .build();
        self.agent = ureq::Agent::config_builder().tls_config(tls).build().into();
    }

    pub fn base(&self) -> String {
        self.daemon
            .as_ref()
            .map(|d| d.base.clone())
            .unwrap_or_else(|| "http://127.0.0.1:1".into())
    }

    /// Writes the module's config (mode 0600) and returns its path.
    pub fn pam_config(&self, extra: &str) -> PathBuf {
        self.pam_config_for(&self.base(), extra)
    }

    /// The module's config for mfad at `url` (e.g. behind a TLS proxy).
    pub fn pam_config_for(&self, url: &str, extra: &str) -> PathBuf {
        let path = self
            .install
            .dir
            .path()
            .join(format!("pam-{}.toml", NEXT.fetch_add(1, Ordering::SeqCst)));
        // 10 s unless `extra` says otherwise.
        let timeout = if extra.lines().any(|l| l.starts_with("timeout")) {
            ""
        } else {
            "timeout = 10\n"
        };
        std::fs::write(
            &path,
            format!(
                "url = \"{url}\"\ntoken = \"{}\"\n{timeout}{extra}",
                self.token
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    pub fn totp_code(&self) -> String {
        let secret = mfa_otp::Secret::from_base32(&self.totp_secret).unwrap();
        let totp = mfa_otp::Totp::new(secret, mfa_otp::TotpParams::default());
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        totp.code_at(now)
    }

    /// How many pushes wait for tux's client.
    pub fn pending_pushes(&self) -> usize {
        self.pending_requests().len()
    }

    /// The pushes waiting for tux's client, as `GET /v1/client/requests` lists them.
    pub fn pending_requests(&self) -> Vec<serde_json::Value> {
        self.agent
            .get(format!("{}/v1/client/requests", self.base()))
            .header("Authorization", &format!("Bearer {}", self.client_key))
            .call()
            .unwrap()
            .body_mut()
            .read_json()
            .unwrap()
    }

    /// Approves (or otherwise answers) tux's one pending push through the client API.
    pub fn answer_push(&self, decision: &str, number: Option<u8>) {
        let agent = &self.agent;
        let mut listed = agent
            .get(format!("{}/v1/client/requests", self.base()))
            .header("Authorization", &format!("Bearer {}", self.client_key))
            .call()
            .unwrap();
        let pending: Vec<serde_json::Value> = listed.body_mut().read_json().unwrap();
        let txid = pending[0]["txid"].as_str().unwrap().to_owned();
        let mut body = serde_json::json!({"decision": decision});
        if let Some(n) = number {
            body["number"] = n.into();
        }
        agent
            .post(format!("{}/v1/client/requests/{txid}", self.base()))
            .header("Authorization", &format!("Bearer {}", self.client_key))
            .send_json(&body)
            .unwrap();
    }
}

/// A PAM service file naming the built module by absolute path; removed on drop.
pub struct Service {
    pub name: String,
    path: PathBuf,
}

impl Service {
    pub fn new(module_args: &str) -> Self {
        let module = artefact("libpam_mfa.so");
        Self::with_auth(&format!(
            "auth requisite {} {module_args} debug",
            module.display()
        ))
    }

    /// A service whose only auth line is `auth_line` (another module: Debian's pam_duo).
    pub fn with_auth(auth_line: &str) -> Self {
        let name = format!(
            "mfa-pam-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let path = PathBuf::from("/etc/pam.d").join(&name);
        std::fs::write(
            &path,
            format!("{auth_line}\naccount required pam_permit.so\n"),
        )
        .unwrap_or_else(|e| panic!("cannot write {} (tests run as root): {e}", path.display()));
        Self { name, path }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// pamtester running `authenticate` for a user, with its prompts readable as they come.
pub struct Pamtester {
    child: Child,
    stdin: Option<ChildStdin>,
    output: mpsc::Receiver<String>,
    pub seen: String,
}

pub fn pamtester_path() -> &'static str {
    if std::path::Path::new("/usr/bin/pamtester").exists() {
        "/usr/bin/pamtester"
    } else {
        panic!(
            "pamtester not found: run scripts/test.sh (it installs it) or apt-get install pamtester"
        )
    }
}

impl Pamtester {
    pub fn start(service: &Service, user: &str, rhost: &str) -> Self {
        let mut command = Command::new(pamtester_path());
        command.args([
            "-v",
            "-I",
            &format!("rhost={rhost}"),
            &service.name,
            user,
            "authenticate",
        ]);
        Self::spawn(command)
    }

    /// Any program driven the same way (pamtester on another service file, login_duo): its
    /// stdin a pipe, its stdout and stderr read as they come.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                // Prompts end without a newline: forward whatever arrives.
                loop {
                    match reader.fill_buf() {
                        Ok([]) | Err(_) => break,
                        Ok(bytes) => {
                            let n = bytes.len();
                            let _ = tx.send(String::from_utf8_lossy(bytes).into_owned());
                            reader.consume(n);
                        }
                    }
                }
            });
        }
        Self {
            stdin: child.stdin.take(),
            child,
            output: rx,
            seen: String::new(),
        }
    }

    /// Waits (at most 15 s) until the output contains `needle`.
    pub fn expect(&mut self, needle: &str) -> &str {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!(
                    "pamtester never printed {needle:?}; it printed:\n{}",
                    self.seen
                ),
            }
        }
        &self.seen
    }

    /// Waits (at most 15 s) until the output contains `needle` at least `n` times.
    pub fn expect_nth(&mut self, needle: &str, n: usize) -> &str {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.seen.matches(needle).count() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&chunk),
                Err(_) => panic!(
                    "the program never printed {needle:?} {n} times; it printed:\n{}",
                    self.seen
                ),
            }
        }
        &self.seen
    }

    pub fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits (at most 30 s) for pamtester to end; true when authentication succeeded.
    pub fn finish(mut self) -> (bool, String) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            while let Ok(chunk) = self.output.try_recv() {
                self.seen.push_str(&chunk);
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                nap(50);
                while let Ok(chunk) = self.output.try_recv() {
                    self.seen.push_str(&chunk);
                }
                return (status.success(), std::mem::take(&mut self.seen));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("pamtester did not finish within 30 s:\n{}", self.seen);
            }
            nap(20);
        }
    }

    /// The number in the push prompt.
    pub fn number(&mut self) -> u8 {
        let seen = self.expect("(number ").to_owned();
        let start = seen.find("(number ").unwrap() + "(number ".len();
        seen[start..start + 2].parse().unwrap()
    }
}

impl Drop for Pamtester {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A syslog daemon for one test: a datagram socket the module is pointed at with
/// `syslog_socket=PATH` (there is no /dev/log here).
pub struct SyslogListener {
    pub path: PathBuf,
    socket: UnixDatagram,
}

impl SyslogListener {
    pub fn new(dir: &Path) -> Self {
        let path = dir.join(format!("syslog-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_nonblocking(true).unwrap();
        Self { path, socket }
    }

    /// The lines received so far (each datagram is one syslog line).
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = self.socket.recv(&mut buf) {
            lines.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        lines
    }
}
