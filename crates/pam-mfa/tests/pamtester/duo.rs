//! Duo's unmodified clients against the real mfad (issue 14), over TLS on 127.0.0.1 with a test
//! CA as `cafile` and a certificate for `DNS:localhost` (`host = localhost:PORT`):
//!
//! - Debian's `libpam-duo` (pam_duo.so, duo_unix 1.11.3, the legacy `/rest/v1/*.bson` dialect)
//!   through pamtester, and Debian's `login_duo`: unpacked under target/duo-peers by
//!   scripts/test.sh; they need root (/etc/pam.d, login_duo's privilege handling).
//! - `duo_client` from PyPI (target/duo-venv) through tests/duo_client_driver.py, with signature
//!   versions 2 and 5.
//! - The requests current duo_unix 2.x sends (lib/duo.c, lib/https.c), built and signed here
//!   (HMAC-SHA512 with `X-Duo-Date`), and hand-built legacy status polls (HMAC-SHA1, no date).
//!
//! Every test skips (prints SKIPPED and why) when the client it drives is not there.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hmac::{Hmac, KeyInit, Mac};
use mfa_testkit::tls::TestCa;
use serde_json::Value;

use crate::harness::{Pamtester, Service, Setup, nap};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The address the logins come from (`ipaddr`).
const CLIENT_IP: &str = "192.0.2.7";

fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Debian's login_duo, pam_duo.so and libduo3, as scripts/test.sh unpacks them.
struct Peers {
    login_duo: PathBuf,
    pam_duo: PathBuf,
    lib: PathBuf,
}

/// The Debian clients, or None (the test prints SKIPPED) when they, root, pamtester or
/// `script` (login_duo's terminal) are missing.
fn debian_peers() -> Option<Peers> {
    let root = workspace_target().join("duo-peers/root");
    let peers = Peers {
        login_duo: root.join("usr/sbin/login_duo"),
        pam_duo: root.join("lib/x86_64-linux-gnu/security/pam_duo.so"),
        lib: root.join("usr/lib/x86_64-linux-gnu"),
    };
    if !peers.login_duo.exists()
        || !peers.pam_duo.exists()
        || !peers.lib.join("libduo.so.3").exists()
    {
        eprintln!(
            "SKIPPED: Debian's login_duo/pam_duo are not under {} because scripts/test.sh has not \
             fetched them (apt-get download login-duo libduo3 libpam-duo; dpkg-deb -x)",
            root.display()
        );
        return None;
    }
    if !is_root() {
        eprintln!(
            "SKIPPED: Debian's pam_duo/login_duo tests need root because they write /etc/pam.d \
             and login_duo drops privileges otherwise"
        );
        return None;
    }
    for tool in ["/usr/bin/pamtester", "/usr/bin/script"] {
        if !Path::new(tool).exists() {
            eprintln!("SKIPPED: Debian's pam_duo/login_duo tests because {tool} is missing");
            return None;
        }
    }
    Some(peers)
}

/// mfad over TLS with tux enrolled, a Duo integration, and a second mfa user `root` routed to
/// tux's client (pam_duo looks its PAM user up with getpwnam, so it logs in root).
struct Duo {
    setup: Setup,
    ca: TestCa,
    _ca_dir: tempfile::TempDir,
    port: u16,
    ikey: String,
    skey: String,
}

impl Duo {
    /// `mfad_extra`: top-level mfad settings (before `[tls]`); `legacy`: `mfac duo add --legacy`.
    fn new(mfad_extra: &str, legacy: bool) -> Self {
        let ca_dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new(ca_dir.path());
        // DNS:localhost for Duo's clients, IP:127.0.0.1 for the client-API helpers.
        let tls = ca
            .issue_for("mfad", &["DNS:localhost", "IP:127.0.0.1"])
            .config();
        let mut setup = Setup::new(&format!("{mfad_extra}\n{tls}"), "push,totp");
        setup.trust_ca(&ca.cert);
        // Configure while mfad is down, then start it again (a new port).
        drop(setup.daemon.take());
        setup.install.mfac(&[
            "app",
            "add",
            "--user",
            "root",
            "--host",
            "*",
            "--service",
            "*",
            "--client",
            "tux",
            "--methods",
            "push,totp",
        ]);
        let mut args = vec!["duo", "add", "duo-test", "--hosts", "*"];
        if legacy {
            args.push("--legacy");
        }
        let integration = setup.install.mfac_json(&args);
        let field = |name: &str| {
            integration[name]
                .as_str()
                .unwrap_or_else(|| panic!("no {name} in `mfac duo add --json`: {integration}"))
                .to_owned()
        };
        let (ikey, skey) = (field("ikey"), field("skey"));
        assert_eq!(ikey.len(), 20, "ikey {ikey}");
        assert_eq!(skey.len(), 40, "an skey of 40 characters");
        setup.daemon = Some(setup.install.start());
        let base = setup.base();
        assert!(base.starts_with("https://127.0.0.1:"), "{base}");
        let port = base.rsplit(':').next().unwrap().parse().unwrap();
        Self {
            setup,
            ca,
            _ca_dir: ca_dir,
            port,
            ikey,
            skey,
        }
    }

    /// Another integration on the same install (mfad reads integrations from the store).
    fn add_integration(&self, name: &str, hosts: &str, legacy: bool) -> (String, String) {
        let mut args = vec!["duo", "add", name, "--hosts", hosts];
        if legacy {
            args.push("--legacy");
        }
        let answer = self.setup.install.mfac_json(&args);
        let s = |k: &str| answer[k].as_str().unwrap().to_owned();
        (s("ikey"), s("skey"))
    }

    fn host(&self) -> String {
        format!("localhost:{}", self.port)
    }

    /// A pam_duo.conf / login_duo.conf for this mfad (mode 0600, which both demand).
    fn client_conf(&self, skey: &str, extra: &str) -> PathBuf {
        let path = self
            .setup
            .install
            .dir
            .path()
            .join(format!("duo-{}.conf", NEXT.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(
            &path,
            format!(
                "[duo]\nikey = {}\nskey = {skey}\nhost = {}\ncafile = {}\nfailmode = secure\n\
                 pushinfo = yes\n{extra}",
                self.ikey,
                self.host(),
                self.ca.cert.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        path
    }

    /// Waits (at most 15 s) for tux's client to have a pending push; returns it.
    fn pending_push(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(first) = self.setup.pending_requests().into_iter().next() {
                return first;
            }
            assert!(
                Instant::now() < deadline,
                "no push reached tux's client within 15 s"
            );
            nap(100);
        }
    }

    /// Approves or denies the one pending push (waiting for it first).
    fn answer(&self, decision: &str, number: Option<u8>) -> Value {
        let push = self.pending_push();
        self.setup.answer_push(decision, number);
        push
    }
}

/// The number in a prompt `Push with number NN will be sent. Passcode, or 1 for push: ` (the
/// last one in `text`), checked to be the whole prompt the contract names.
fn prompt_number(text: &str) -> u8 {
    const HEAD: &str = "Push with number ";
    let start = text
        .rfind(HEAD)
        .unwrap_or_else(|| panic!("no number-matching prompt in {text:?}"))
        + HEAD.len();
    let digits: String = text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let number: u8 = digits
        .parse()
        .unwrap_or_else(|e| panic!("number {digits:?}: {e} in {text:?}"));
    let prompt = format!("Push with number {digits} will be sent. Passcode, or 1 for push:");
    assert!(
        text.contains(&prompt),
        "the prompt is not {prompt:?}: {text:?}"
    );
    number
}

/// tux's TOTP code for the next 30-second step (within mfad's default skew of 1).
fn next_totp_code(setup: &Setup) -> String {
    let secret = mfa_otp::Secret::from_base32(&setup.totp_secret).unwrap();
    let totp = mfa_otp::Totp::new(secret, mfa_otp::TotpParams::default());
    let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap();
    totp.code_at(now + 30)
}

/// A wrong TOTP code: the right one with its first digit changed.
fn wrong_code(right: &str) -> String {
    let mut chars: Vec<char> = right.chars().collect();
    chars[0] = if chars[0] == '9' {
        '0'
    } else {
        char::from(chars[0] as u8 + 1)
    };
    chars.into_iter().collect()
}

// --- Debian pam_duo through pamtester --------------------------------------------------------

/// A throwaway /etc/pam.d service with pam_duo.so alone; removed on drop.
fn pam_duo_service(pam_duo: &Path, conf: &Path) -> Service {
    Service::with_auth(&format!(
        "auth required {} conf={} debug",
        pam_duo.display(),
        conf.display()
    ))
}

/// pamtester on a pam_duo service for `root` from CLIENT_IP: not sshd, so pam_duo sends
/// `async=1` and polls status.bson. `drive` types the answers.
fn pam_duo_login(
    duo: &Duo,
    peers: &Peers,
    skey: &str,
    conf_extra: &str,
    drive: impl FnOnce(&mut Pamtester, &Duo),
) -> (bool, String) {
    let conf = duo.client_conf(skey, conf_extra);
    let service = pam_duo_service(&peers.pam_duo, &conf);
    let mut command = Command::new("/usr/bin/pamtester");
    command
        .args([
            "-v",
            "-I",
            &format!("rhost={CLIENT_IP}"),
            &service.name,
            "root",
            "authenticate",
        ])
        .env("LD_LIBRARY_PATH", &peers.lib)
        .env_remove("SSH_ORIGINAL_COMMAND")
        .env_remove("SSH_CONNECTION");
    let mut pam = Pamtester::spawn(command);
    drive(&mut pam, duo);
    pam.finish()
}

fn succeeded(out: &str) -> bool {
    out.contains("successfully authenticated")
}

#[test]
fn pam_duo_push_approved_with_the_number_its_prompt_showed() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "", |pam, duo| {
        let number = prompt_number(pam.expect("1 for push:"));
        pam.type_line("1");
        let push = duo.answer("approve", Some(number));
        assert_eq!(push["user"], "root", "{push}");
        assert_eq!(push["service"], "duo", "{push}");
        assert_eq!(push["client_ip"], CLIENT_IP, "{push}");
        assert_eq!(push["number_required"], true, "{push}");
    });
    assert!(ok && succeeded(&out), "{out}");
}

#[test]
fn pam_duo_enter_at_the_prompt_fails_closed_in_the_client_itself() {
    // PAM's conversation strips the newline, and duo_unix's duo_add_param (1.11.3 and 2.x
    // alike) refuses an empty value: pam_duo sends no auth at all for Enter and fails with
    // "Error in Duo login". That is why the prompt says "1 for push"; Enter works with
    // login_duo only (fgets keeps the newline).
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "prompts = 1\n", |pam, _| {
        prompt_number(pam.expect("1 for push:"));
        pam.type_line("");
    });
    assert!(!ok && !succeeded(&out), "{out}");
    assert!(out.contains("Error in Duo login"), "{out}");
    assert_eq!(
        duo.setup.pending_pushes(),
        0,
        "pam_duo sent a push after all: {out}"
    );
}

#[test]
fn pam_duo_push_approved_with_another_number_fails() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("auth_timeout = 5", true);
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "prompts = 1\n", |pam, duo| {
        let number = prompt_number(pam.expect("1 for push:"));
        pam.type_line("1");
        let wrong = if number == 99 { 10 } else { number + 1 };
        let _ = duo.pending_push();
        // The client API refuses (or records a failed match); either way no login.
        let push = duo.setup.pending_requests();
        let txid = push[0]["txid"].as_str().unwrap().to_owned();
        let _ = duo
            .setup
            .agent
            .post(format!("{}/v1/client/requests/{txid}", duo.setup.base()))
            .header("Authorization", &format!("Bearer {}", duo.setup.client_key))
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(serde_json::json!({"decision": "approve", "number": wrong}));
    });
    assert!(!ok && !succeeded(&out), "another number let root in: {out}");
}

#[test]
fn pam_duo_push_denied_fails() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "prompts = 1\n", |pam, duo| {
        prompt_number(pam.expect("1 for push:"));
        pam.type_line("1");
        duo.answer("deny", None);
    });
    assert!(!ok && !succeeded(&out), "{out}");
}

#[test]
fn pam_duo_passcode_right_succeeds() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "", |pam, duo| {
        prompt_number(pam.expect("1 for push:"));
        pam.type_line(&duo.setup.totp_code());
    });
    assert!(ok && succeeded(&out), "{out}");
    assert_eq!(duo.setup.pending_pushes(), 0, "a passcode sent no push");
}

#[test]
fn pam_duo_passcode_wrong_fails() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "prompts = 1\n", |pam, duo| {
        prompt_number(pam.expect("1 for push:"));
        pam.type_line(&wrong_code(&duo.setup.totp_code()));
    });
    assert!(!ok && !succeeded(&out), "{out}");
}

#[test]
fn pam_duo_unanswered_push_times_out_and_fails() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("auth_timeout = 5", true);
    let started = Instant::now();
    let (ok, out) = pam_duo_login(&duo, &peers, &duo.skey, "prompts = 1\n", |pam, duo| {
        prompt_number(pam.expect("1 for push:"));
        pam.type_line("1");
        let _ = duo.pending_push();
    });
    assert!(!ok && !succeeded(&out), "{out}");
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "an auth_timeout of 5 s took {:?}",
        started.elapsed()
    );
}

#[test]
fn pam_duo_wrong_skey_or_unknown_ikey_fails_with_failmode_secure() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let wrong = wrong_skey(&duo.skey);
    let (ok, out) = pam_duo_login(&duo, &peers, &wrong, "", |_, _| {});
    assert!(!ok && !succeeded(&out), "a wrong skey: {out}");
    assert!(!out.contains("Push with number"), "{out}");
    // An ikey mfad does not know (same skey).
    let conf = duo.client_conf(&duo.skey, "");
    let text = std::fs::read_to_string(&conf).unwrap();
    let unknown = format!("DI{}", "A".repeat(18));
    std::fs::write(&conf, text.replace(&duo.ikey, &unknown)).unwrap();
    let service = pam_duo_service(&peers.pam_duo, &conf);
    let mut command = Command::new("/usr/bin/pamtester");
    command
        .args(["-v", &service.name, "root", "authenticate"])
        .env("LD_LIBRARY_PATH", &peers.lib);
    let (ok, out) = Pamtester::spawn(command).finish();
    assert!(!ok && !succeeded(&out), "an unknown ikey: {out}");
    assert_eq!(duo.setup.pending_pushes(), 0);
}

fn wrong_skey(skey: &str) -> String {
    let last = skey.chars().last().unwrap();
    let other = if last == 'A' { 'B' } else { 'A' };
    format!("{}{other}", &skey[..skey.len() - 1])
}

// --- Debian login_duo -------------------------------------------------------------------------

/// login_duo on a terminal (`script` gives it a pty, so it prompts and polls asynchronously
/// rather than the headless one-shot push): `login_duo -c CONF -f tux -h CLIENT_IP CMD`.
fn login_duo_on_a_tty(duo: &Duo, peers: &Peers, conf_extra: &str, cmd: &str) -> Pamtester {
    let conf = duo.client_conf(&duo.skey, conf_extra);
    // The command quoted: login_duo gets it as one argument, unexpanded.
    let line = format!(
        "{} -c {} -f tux -h {CLIENT_IP} '{cmd}'",
        peers.login_duo.display(),
        conf.display()
    );
    let mut command = Command::new("/usr/bin/script");
    command
        .args(["-q", "-e", "-c", &line, "/dev/null"])
        .env("LD_LIBRARY_PATH", &peers.lib)
        .env_remove("SSH_ORIGINAL_COMMAND")
        .env_remove("SSH_CONNECTION");
    Pamtester::spawn(command)
}

#[test]
fn login_duo_push_approved_with_the_number_and_the_command_shown_to_the_approver() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let mut login = login_duo_on_a_tty(&duo, &peers, "", "echo mfa-duo-$((40+2))");
    let number = prompt_number(login.expect("1 for push:"));
    // Factor "1" (factors {"1": "push1"}: login_duo sends auto=push1). Enter is the next test.
    login.type_line("1");
    let push = duo.answer("approve", Some(number));
    assert_eq!(push["user"], "tux", "{push}");
    assert_eq!(push["client_ip"], CLIENT_IP, "{push}");
    let details = push["details"]
        .as_str()
        .unwrap_or_else(|| panic!("no details (pushinfo) on the pending push: {push}"));
    assert!(
        details.contains("Command: echo mfa-duo-$((40+2))"),
        "the command is not in the details: {details:?}"
    );
    assert!(details.contains("Server IP"), "{details:?}");
    let (ok, out) = login.finish();
    assert!(ok, "login_duo failed: {out}");
    assert!(out.contains("mfa-duo-42"), "the command did not run: {out}");
}

#[test]
fn login_duo_enter_at_the_prompt_sends_the_push() {
    // login_duo 1.11.3 reads the answer with fgets and strtok(buf, "\r\n") leaves a lone
    // newline in place: Enter arrives as `auto=%0A`, which must mean push (the person saw the
    // prompt and its number), not a wrong passcode.
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let mut login = login_duo_on_a_tty(&duo, &peers, "prompts = 1\n", "echo mfa-duo-$((40+2))");
    let number = prompt_number(login.expect("1 for push:"));
    login.type_line("");
    duo.answer("approve", Some(number));
    let (ok, out) = login.finish();
    assert!(ok, "Enter, then an approved push: {out}");
    assert!(out.contains("mfa-duo-42"), "the command did not run: {out}");
}

/// login_duo with no terminal and SSH_ORIGINAL_COMMAND (`ssh host cmd`): its one-shot,
/// synchronous push (async=0), sent without showing a prompt.
fn login_duo_headless(duo: &Duo, peers: &Peers) -> Pamtester {
    let conf = duo.client_conf(&duo.skey, "");
    let mut command = Command::new(&peers.login_duo);
    command
        .args(["-c", conf.to_str().unwrap(), "-f", "tux"])
        .env("LD_LIBRARY_PATH", &peers.lib)
        .env("SSH_ORIGINAL_COMMAND", "echo mfa-duo-$((40+2))")
        .env("SSH_CONNECTION", format!("{CLIENT_IP} 50000 127.0.0.1 22"));
    Pamtester::spawn(command)
}

#[test]
fn login_duo_headless_push_approved_without_a_number_runs_the_command() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let login = login_duo_headless(&duo, &peers);
    let push = duo.answer("approve", None);
    assert_eq!(push["number_required"], false, "{push}");
    let (ok, out) = login.finish();
    assert!(ok, "an approved headless push: {out}");
    assert!(out.contains("mfa-duo-42"), "the command did not run: {out}");
}

#[test]
fn login_duo_headless_push_shows_ssh_original_command_and_a_denial_fails() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let login = login_duo_headless(&duo, &peers);
    let push = duo.answer("deny", None);
    // Nobody saw a prompt, so the push asks for no number.
    assert_eq!(push["number_required"], false, "{push}");
    let details = push["details"].as_str().unwrap_or_default().to_owned();
    let (ok, out) = login.finish();
    assert!(!ok, "a denied push let login_duo run the command: {out}");
    assert!(!out.contains("mfa-duo-42"), "the command ran: {out}");
    assert_eq!(push["client_ip"], CLIENT_IP, "{push}");
    assert!(
        details.contains("Command: echo mfa-duo-$((40+2))"),
        "the command is not in the details: {push}"
    );
}

#[test]
fn login_duo_wrong_passcode_then_the_right_one() {
    let Some(peers) = debian_peers() else { return };
    let duo = Duo::new("", true);
    let mut login = login_duo_on_a_tty(&duo, &peers, "prompts = 2\n", "echo mfa-duo-$((6*7))");
    prompt_number(login.expect("1 for push:"));
    let code = duo.setup.totp_code();
    login.type_line(&wrong_code(&code));
    // login_duo asks again (a new preauth, a new number).
    prompt_number(login.expect_nth("1 for push:", 2));
    login.type_line(&code);
    let (ok, out) = login.finish();
    assert!(ok, "the right passcode after a wrong one: {out}");
    assert!(out.contains("mfa-duo-42"), "{out}");
    assert!(out.matches("1 for push:").count() >= 2, "{out}");
}

// --- Hand-built requests: legacy status polls, duo_unix 2.x ----------------------------------

fn hmac_hex<M: Mac + KeyInit>(key: &str, msg: &str) -> String {
    let mut mac = <M as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(msg.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

/// duo_unix's urlenc_encode: `A-Za-z0-9_~.-` kept, every other byte `%XX`.
fn urlenc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"_~.-".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// duo_unix's `_argv_to_qs`: each `key=value` encoded, sorted with strcmp, joined with `&`.
fn canon(params: &[(&str, &str)]) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", urlenc(k), urlenc(v)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// One HTTP answer.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn bson(&self) -> bson::Document {
        bson::Document::from_reader(&mut self.body.as_slice()).unwrap_or_else(|e| {
            panic!(
                "HTTP {}: not BSON ({e}): {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

/// A signed request as duo_unix sends it (1.11: HMAC-SHA1 over `METHOD\nhost\npath\nqs`, no
/// date; 2.x: HMAC-SHA512 over `date\nMETHOD\nhost\npath\nqs` and `X-Duo-Date`), the host
/// signed without its port, the same qs as the GET query or the form body. Sent with curl
/// (`--resolve localhost:PORT:127.0.0.1`, the test CA), at most `max_secs`.
struct Signer<'a> {
    duo: &'a Duo,
    ikey: String,
    skey: String,
    /// None: the legacy dialect (no date).
    date: Option<String>,
}

impl Signer<'_> {
    fn send(&self, method: &str, path: &str, params: &[(&str, &str)], max_secs: u32) -> Answer {
        let qs = canon(params);
        let hex = match &self.date {
            None => hmac_hex::<Hmac<sha1::Sha1>>(
                &self.skey,
                &format!("{method}\nlocalhost\n{path}\n{qs}"),
            ),
            Some(date) => hmac_hex::<Hmac<sha2::Sha512>>(
                &self.skey,
                &format!("{date}\n{method}\nlocalhost\n{path}\n{qs}"),
            ),
        };
        let auth = data_encoding::BASE64.encode(format!("{}:{hex}", self.ikey).as_bytes());
        let out_file = self
            .duo
            .setup
            .install
            .dir
            .path()
            .join(format!("answer-{}", NEXT.fetch_add(1, Ordering::SeqCst)));
        let port = self.duo.port;
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", &max_secs.to_string()])
            .arg("--cacert")
            .arg(&self.duo.ca.cert)
            .args(["--resolve", &format!("localhost:{port}:127.0.0.1")])
            .args([
                "-A",
                "duo_unix/test",
                "-H",
                &format!("Authorization: Basic {auth}"),
            ])
            .arg("-o")
            .arg(&out_file)
            .args(["-w", "%{http_code}"]);
        if let Some(date) = &self.date {
            cmd.args(["-H", &format!("X-Duo-Date: {date}")]);
        }
        let url = format!("https://localhost:{port}{path}");
        if method == "GET" {
            cmd.arg(if qs.is_empty() {
                url
            } else {
                format!("{url}?{qs}")
            });
        } else {
            cmd.args(["-X", method, "-H"])
                .arg("Content-Type: application/x-www-form-urlencoded")
                .arg("--data-binary")
                .arg(&qs)
                .arg(url);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "curl {method} {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let body = std::fs::read(&out_file).unwrap_or_default();
        Answer { status, body }
    }
}

/// Now as duo_unix 2.x writes it: `%a, %d %b %Y %T +0000` (C locale).
fn duo_date(offset_secs: i64) -> String {
    let now = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(offset_secs);
    now.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string()
}

#[test]
fn legacy_status_polls_beyond_twenty_never_allow() {
    // Debian's duo_unix 1.11.3 allows the login after 20 status answers without a `result`:
    // every answer must carry one, and an unanswered push ends in deny.
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the hand-built legacy requests because curl is missing");
        return;
    }
    let duo = Duo::new("auth_timeout = 5", true);
    let signer = Signer {
        duo: &duo,
        ikey: duo.ikey.clone(),
        skey: duo.skey.clone(),
        date: None,
    };
    let who = [
        ("user", "tux"),
        ("ipaddr", CLIENT_IP),
        ("hostname", "bastion.test"),
    ];
    let mut preauth: Vec<(&str, &str)> = who.to_vec();
    preauth.push(("failmode", "closed"));
    let answer = signer.send("POST", "/rest/v1/preauth.bson", &preauth, 30);
    assert_eq!(answer.status, 200, "{:?}", answer.bson());
    let doc = answer.bson();
    assert_eq!(doc.get_str("stat").unwrap(), "OK", "{doc}");
    let response = doc.get_document("response").unwrap();
    assert_eq!(response.get_str("result").unwrap(), "auth", "{doc}");
    prompt_number(response.get_str("prompt").unwrap());
    let factors = response.get_document("factors").unwrap();
    assert_eq!(factors.get_str("default").unwrap(), "push", "{doc}");

    let mut auth: Vec<(&str, &str)> = who.to_vec();
    auth.extend([
        ("factor", "auto"),
        ("auto", "push1"),
        ("async", "1"),
        ("pushinfo", "Server+IP=192.0.2.10&Command=ls%20-l"),
    ]);
    let answer = signer.send("POST", "/rest/v1/auth.bson", &auth, 30);
    let doc = answer.bson();
    assert_eq!(answer.status, 200, "{doc}");
    let txid = doc
        .get_document("response")
        .and_then(|r| r.get_str("txid"))
        .unwrap_or_else(|e| panic!("no txid ({e}): {doc}"))
        .to_owned();
    let push = duo.pending_push();
    let details = push["details"].as_str().unwrap_or_default();
    assert!(details.contains("Command: ls -l"), "{push}");
    assert!(details.contains("192.0.2.10"), "{push}");

    // Nobody answers: 22 polls, more than duo_unix's 20, all within auth_timeout + slack.
    let started = Instant::now();
    let mut results = Vec::new();
    for poll in 0..22 {
        let answer = signer.send("GET", "/rest/v1/status.bson", &[("txid", &txid)], 30);
        let doc = answer.bson();
        assert_eq!(answer.status, 200, "poll {poll}: {doc}");
        match doc.get_str("stat").unwrap() {
            "OK" => {
                let response = doc.get_document("response").unwrap();
                let result = response
                    .get_str("result")
                    .unwrap_or_else(|_| panic!("poll {poll} has no result: {doc}"))
                    .to_owned();
                assert_eq!(result, "deny", "poll {poll}: {doc}");
                assert!(response.get_str("status").is_ok(), "poll {poll}: {doc}");
                results.push(result);
            }
            // A FAIL (say, for a finished transaction) is a refusal for duo_unix too.
            "FAIL" => {
                assert!(doc.get_i32("code").is_ok(), "poll {poll}: {doc}");
                assert!(doc.get_str("message").is_ok(), "poll {poll}: {doc}");
                assert!(poll > 0, "the first poll must answer the push: {doc}");
                results.push("FAIL".into());
            }
            other => panic!("poll {poll}: stat {other}: {doc}"),
        }
    }
    assert_eq!(results[0], "deny");
    assert!(
        started.elapsed() < Duration::from_secs(40),
        "22 polls took {:?}",
        started.elapsed()
    );
    // The legacy dialect is for --legacy integrations only.
    let (ikey, skey) = duo.add_integration("not-legacy", "*", false);
    let other = Signer {
        duo: &duo,
        ikey,
        skey,
        date: None,
    };
    let answer = other.send("POST", "/rest/v1/preauth.bson", &preauth, 30);
    assert_ne!(
        answer.status,
        200,
        "an integration without --legacy answered the legacy dialect: {:?}",
        String::from_utf8_lossy(&answer.body)
    );
}

/// A JSON answer's `response.KEY` as a string ("" when absent).
fn resp_str(v: &Value, key: &str) -> String {
    v["response"][key].as_str().unwrap_or_default().to_owned()
}

#[test]
fn duo_unix_2_requests_signed_by_hand() {
    // Exactly what duo_unix 2.x's duo_login sends (ping, preauth with text_prompt=1, auth with
    // factor=prompt and prompt=<choice or passcode>, auth_status), HMAC-SHA512 + X-Duo-Date.
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the hand-built duo_unix 2.x requests because curl is missing");
        return;
    }
    // Three refusals on the way (a denial, a timeout, a wrong passcode): no lockout here.
    let duo = Duo::new("auth_timeout = 5\nmax_failed_attempts = 50", false);
    let signer = |offset: i64| Signer {
        duo: &duo,
        ikey: duo.ikey.clone(),
        skey: duo.skey.clone(),
        date: Some(duo_date(offset)),
    };
    let now = || signer(0);

    let ping = now().send("GET", "/auth/v2/ping", &[], 30);
    let v = ping.json();
    assert_eq!((ping.status, v["stat"].as_str()), (200, Some("OK")), "{v}");
    let time = v["response"]["time"]
        .as_i64()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(
        (time - jiff::Timestamp::now().as_second()).abs() < 60,
        "{v}"
    );
    let check = now().send("GET", "/auth/v2/check", &[], 30);
    assert_eq!(check.status, 200, "{}", check.json());
    assert_eq!(check.json()["stat"], "OK");

    let who = [
        ("username", "tux"),
        ("ipaddr", CLIENT_IP),
        ("hostname", "bastion.test"),
    ];
    let preauth = || {
        let mut p: Vec<(&str, &str)> = who.to_vec();
        p.extend([("text_prompt", "1"), ("failmode", "closed")]);
        let a = now().send("POST", "/auth/v2/preauth", &p, 30);
        let v = a.json();
        assert_eq!((a.status, v["stat"].as_str()), (200, Some("OK")), "{v}");
        assert_eq!(resp_str(&v, "result"), "auth", "{v}");
        assert_eq!(v["response"]["prompt"]["factors"]["default"], "push", "{v}");
        prompt_number(v["response"]["prompt"]["text"].as_str().unwrap_or_default())
    };
    let pushinfo = "Server+IP=192.0.2.10&Command=ls%20-l";
    let auth = |prompt: &str, is_async: bool| {
        let mut p: Vec<(&str, &str)> = who.to_vec();
        p.extend([
            ("factor", "prompt"),
            ("prompt", prompt),
            ("async", if is_async { "1" } else { "0" }),
            ("pushinfo", pushinfo),
        ]);
        let a = now().send("POST", "/auth/v2/auth", &p, 30);
        let v = a.json();
        assert_eq!((a.status, v["stat"].as_str()), (200, Some("OK")), "{v}");
        v
    };
    let status = |txid: &str| {
        let a = now().send("GET", "/auth/v2/auth_status", &[("txid", txid)], 30);
        let v = a.json();
        assert_eq!(a.status, 200, "{v}");
        v
    };

    // 1. Enter at login_duo's prompt (fgets keeps the newline: prompt=%0A; duo_add_param
    //    refuses an empty value, so "" is never sent): a push, approved while polling.
    let number = preauth();
    let v = auth("\n", true);
    let txid = resp_str(&v, "txid");
    assert!(!txid.is_empty(), "{v}");
    std::thread::scope(|s| {
        let poll = s.spawn(|| status(&txid));
        let push = duo.answer("approve", Some(number));
        let details = push["details"].as_str().unwrap_or_default();
        assert!(details.contains("Command: ls -l"), "{push}");
        assert!(details.contains("192.0.2.10"), "{push}");
        let v = poll.join().unwrap();
        assert_eq!(resp_str(&v, "result"), "allow", "{v}");
        assert!(v["response"]["status_msg"].is_string(), "{v}");
    });

    // 2. "push1" (factor 1): denied.
    preauth();
    let txid = resp_str(&auth("push1", true), "txid");
    std::thread::scope(|s| {
        let poll = s.spawn(|| status(&txid));
        duo.answer("deny", None);
        let v = poll.join().unwrap();
        assert_eq!(resp_str(&v, "result"), "deny", "{v}");
        assert!(v["response"]["status_msg"].is_string(), "{v}");
    });

    // 3. A push nobody answers: the long poll ends in deny (auth_timeout = 5), never `waiting`.
    preauth();
    let txid = resp_str(&auth("1", true), "txid");
    let started = Instant::now();
    let v = status(&txid);
    assert_eq!(resp_str(&v, "result"), "deny", "{v}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let again = status(&txid);
    assert_ne!(resp_str(&again, "result"), "allow", "{again}");
    assert_ne!(resp_str(&again, "result"), "waiting", "{again}");

    // 4. Synchronous push (pam_duo under sshd: async=0 blocks until decided).
    let number = preauth();
    std::thread::scope(|s| {
        let call = s.spawn(|| auth("1", false));
        duo.answer("approve", Some(number));
        let v = call.join().unwrap();
        assert_eq!(resp_str(&v, "result"), "allow", "{v}");
        assert!(v["response"]["status_msg"].is_string(), "{v}");
    });

    // 5. Passcodes typed at the prompt, synchronous: wrong then right.
    preauth();
    let code = duo.setup.totp_code();
    let v = auth(&wrong_code(&code), false);
    assert_eq!(resp_str(&v, "result"), "deny", "{v}");
    assert!(v["response"]["status_msg"].is_string(), "{v}");
    preauth();
    let v = auth(&code, false);
    assert_eq!(resp_str(&v, "result"), "allow", "{v}");
    assert!(v["response"]["status_msg"].is_string(), "{v}");

    // 6. Refusals: a bad signature and a stale date are 401; a host outside the
    //    integration's --hosts is 403 FAIL.
    let mut bad = now();
    bad.skey = wrong_skey(&duo.skey);
    let a = bad.send("POST", "/auth/v2/preauth", &who, 30);
    assert_eq!(a.status, 401, "{:?}", String::from_utf8_lossy(&a.body));
    let a = signer(-3600).send("GET", "/auth/v2/check", &[], 30);
    assert_eq!(a.status, 401, "{:?}", String::from_utf8_lossy(&a.body));
    let (ikey, skey) = duo.add_integration("bastion-only", "bastion.test", false);
    let scoped = Signer {
        duo: &duo,
        ikey,
        skey,
        date: Some(duo_date(0)),
    };
    let elsewhere = [
        ("username", "tux"),
        ("ipaddr", CLIENT_IP),
        ("hostname", "other.test"),
        ("text_prompt", "1"),
    ];
    let a = scoped.send("POST", "/auth/v2/preauth", &elsewhere, 30);
    let v = a.json();
    // The contract says 403 FAIL; a 200 deny refuses as surely (duo_unix aborts on a 403 and
    // denies on a deny, whatever its failmode). Anything else is a way in.
    let refused = match (a.status, v["stat"].as_str()) {
        (403, Some("FAIL")) => v["code"].is_i64() && v["message"].is_string(),
        (200, Some("OK")) => resp_str(&v, "result") == "deny",
        _ => false,
    };
    assert!(refused, "a host outside --hosts: HTTP {}: {v}", a.status);
    if a.status != 403 {
        eprintln!(
            "note: a host outside --hosts answered HTTP {} {v}, not 403 FAIL",
            a.status
        );
    }

    // 7. A passcode with async=1 (pam_duo 2.x on any service but sshd, login_duo on a
    //    terminal): duo_unix reads a txid from every async auth answer and takes the
    //    result from auth_status, so the answer must be a txid here too.
    //    (The next step's code: the current one was burnt by 5; mfad takes a skew of 1.)
    preauth();
    let v = auth(&next_totp_code(&duo.setup), true);
    let txid = resp_str(&v, "txid");
    assert!(
        !txid.is_empty(),
        "an async passcode answered without a txid: {v}"
    );
    let v = status(&txid);
    assert_eq!(resp_str(&v, "result"), "allow", "{v}");
}

// --- duo_client (PyPI) ------------------------------------------------------------------------

/// The venv's python with duo_client (scripts/test.sh makes it), or None (SKIPPED).
fn duo_python() -> Option<PathBuf> {
    let python = workspace_target().join("duo-venv/bin/python");
    let ok = Command::new(&python)
        .args(["-c", "import duo_client"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: duo_client tests because {} cannot import duo_client (scripts/test.sh \
             installs it)",
            python.display()
        );
        return None;
    }
    Some(python)
}

/// tests/duo_client_driver.py, read a JSON line at a time.
struct Driver {
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    lines: mpsc::Receiver<String>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Driver {
    fn start(python: &Path, duo: &Duo, sig_version: u8) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/duo_client_driver.py");
        let mut child = Command::new(python)
            .arg(script)
            .args([&duo.ikey, &duo.skey, &duo.host()])
            .arg(&duo.ca.cert)
            .args([&sig_version.to_string(), "tux", CLIENT_IP, "bastion.test"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = tx.send(line);
            }
        });
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let kept = stderr.clone();
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            kept.lock().unwrap().push_str(&text);
        });
        Self {
            stdin: child.stdin.take().unwrap(),
            child,
            lines: rx,
            stderr,
        }
    }

    /// The next line, which must be step `step` (at most 45 s).
    fn next(&mut self, step: &str) -> Value {
        match self.lines.recv_timeout(Duration::from_secs(45)) {
            Ok(line) => {
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                assert_eq!(v["step"], step, "{v}");
                v
            }
            Err(_) => {
                nap(200);
                panic!(
                    "duo_client_driver.py never printed {step}; stderr:\n{}",
                    self.stderr.lock().unwrap()
                )
            }
        }
    }

    /// The next step's answer, insisting it was not an error.
    fn answer(&mut self, step: &str) -> Value {
        let v = self.next(step);
        assert!(v.get("error").is_none(), "{step}: {v}");
        v["answer"].clone()
    }

    fn type_line(&mut self, line: &str) {
        use std::io::Write;
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn duo_client_drives_every_v2_endpoint(sig_version: u8) {
    let Some(python) = duo_python() else { return };
    let duo = Duo::new("", false);
    let mut driver = Driver::start(&python, &duo, sig_version);

    let ping = driver.answer("ping");
    assert!(ping["time"].is_i64(), "{ping}");
    let check = driver.answer("check");
    assert!(check["time"].is_i64(), "{check}");

    for (decision, expected) in [("approve", "allow"), ("deny", "deny")] {
        let pre = driver.answer("preauth");
        assert_eq!(pre["result"], "auth", "{pre}");
        let number = prompt_number(pre["prompt"]["text"].as_str().unwrap_or_default());
        let sent = driver.answer("auth_push");
        assert!(sent["txid"].is_string(), "{sent}");
        // The driver is long-polling auth_status now.
        let number = (decision == "approve").then_some(number);
        let push = duo.answer(decision, number);
        assert_eq!(push["user"], "tux", "{push}");
        assert_eq!(push["client_ip"], CLIENT_IP, "{push}");
        let status = driver.answer("auth_status");
        assert_eq!(status["result"], expected, "{decision}: {status}");
        assert!(status["status_msg"].is_string(), "{status}");
        // A second poll: duo_client's own reading; never a success after a denial, never
        // `waiting` once decided.
        let again = driver.next("auth_status_again");
        if let Some(answer) = again.get("answer") {
            assert_eq!(answer["waiting"], false, "{again}");
            assert_eq!(answer["success"], expected == "allow", "{again}");
        }
    }

    let pre = driver.answer("preauth");
    let number = prompt_number(pre["prompt"]["text"].as_str().unwrap_or_default());
    driver.next("auth_sync_sent");
    duo.answer("approve", Some(number));
    let sync = driver.answer("auth_auto_sync");
    assert_eq!(sync["result"], "allow", "{sync}");

    let code = duo.setup.totp_code();
    assert_eq!(driver.next("need_passcode")["which"], "passcode_right");
    driver.type_line(&code);
    let right = driver.answer("passcode_right");
    assert_eq!(right["result"], "allow", "{right}");
    assert_eq!(driver.next("need_passcode")["which"], "passcode_wrong");
    driver.type_line(&wrong_code(&code));
    let wrong = driver.answer("passcode_wrong");
    assert_eq!(wrong["result"], "deny", "{wrong}");

    let no_host = driver.next("preauth_without_hostname");
    eprintln!("duo_client's preauth() without hostname (sig v{sig_version}): {no_host}");
    let bad = driver.next("check_wrong_skey");
    let error = bad["error"].as_str().unwrap_or_else(|| panic!("{bad}"));
    assert!(error.contains("401"), "{bad}");
    driver.next("done");
}

#[test]
fn duo_client_drives_every_v2_endpoint_with_sig_version_2() {
    duo_client_drives_every_v2_endpoint(2);
}

#[test]
fn duo_client_drives_every_v2_endpoint_with_sig_version_5() {
    duo_client_drives_every_v2_endpoint(5);
}

#[test]
fn rotate_and_remove_cut_the_old_skey_off_while_mfad_runs() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("SKIPPED: the hand-signed rotate/remove test because curl is missing");
        return;
    }
    let duo = Duo::new("", false);
    let check = |skey: &str| {
        let signer = Signer {
            duo: &duo,
            ikey: duo.ikey.clone(),
            skey: skey.to_owned(),
            date: Some(duo_date(0)),
        };
        signer.send("GET", "/auth/v2/check", &[], 30).status
    };
    assert_eq!(check(&duo.skey), 200);
    let rotated = duo.setup.install.mfac_json(&["duo", "rotate", "duo-test"]);
    assert_eq!(
        rotated["ikey"],
        duo.ikey.as_str(),
        "rotate keeps the ikey: {rotated}"
    );
    let new_skey = rotated["skey"].as_str().unwrap().to_owned();
    assert_ne!(new_skey, duo.skey);
    assert_eq!(
        check(&duo.skey),
        401,
        "the old skey still works after rotate"
    );
    assert_eq!(check(&new_skey), 200, "the new skey does not work");
    duo.setup.install.mfac(&["duo", "remove", "duo-test"]);
    assert_eq!(check(&new_skey), 401, "a removed integration still answers");
}
