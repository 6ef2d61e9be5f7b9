//! `mfa enroll` and `mfa code` against a real mfad.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{
    Rig, Terminal, curl, finish, free_port, mfa, mfa_bin, one_error_line, outcome,
};

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn enroll_checks_the_key_and_saves_a_private_config() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    let daemon = rig.start();
    // A config directory that does not exist yet, found through XDG_CONFIG_HOME.
    let xdg = rig.dir().join("xdg");
    let out = Command::new(mfa_bin())
        .args([
            "enroll",
            "--server",
            &format!("{}/", daemon.base),
            "--key",
            &key,
        ])
        .env("XDG_CONFIG_HOME", &xdg)
        .env_remove("MFA_CLIENT_CONFIG")
        .output()
        .unwrap();
    let (ok, stdout, stderr) = outcome(out);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("accepts this key"), "{stdout}");
    let path = xdg.join("mfa/client.toml");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&xdg.join("mfa")), 0o700);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains(&format!("server = \"{}\"", daemon.base)),
        "{text}"
    );
    assert!(text.contains(&format!("key = \"{key}\"")), "{text}");

    // MFA_CLIENT_CONFIG names it too.
    let out = Command::new(mfa_bin())
        .arg("code")
        .env("MFA_CLIENT_CONFIG", &path)
        .output()
        .unwrap();
    let (ok, _, stderr) = outcome(out);
    assert!(ok, "{stderr}");
}

#[test]
fn enroll_reads_the_key_from_stdin_when_not_given() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    let daemon = rig.start();
    let path = rig.dir().join("c/client.toml");
    let mut child = Command::new(mfa_bin())
        .arg("--config")
        .arg(&path)
        .args(["enroll", "--server", &daemon.base])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "  {key}  ").unwrap();
    let (ok, _, stderr) = outcome(child.wait_with_output().unwrap());
    assert!(ok, "{stderr}");
    let (ok, out, err) = mfa(&path, &["code"]);
    assert!(ok, "{err}");
    assert!(out.contains("valid for"), "{out}");
}

#[test]
fn enroll_refuses_a_key_the_server_rejects_and_saves_nothing() {
    let rig = Rig::new("");
    rig.client("tux");
    let daemon = rig.start();
    let path = rig.dir().join("c/client.toml");
    let err = one_error_line(mfa(
        &path,
        &["enroll", "--server", &daemon.base, "--key", "mfak_wrong"],
    ));
    assert!(err.contains("rejected this client's key"), "{err}");
    assert!(err.contains("invalid client key"), "{err}");
    assert!(!path.exists());
}

#[test]
fn enroll_says_when_the_server_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.toml");
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let err = one_error_line(mfa(
        &path,
        &["enroll", "--server", &base, "--key", "mfak_x"],
    ));
    assert!(err.contains(&format!("cannot reach {base}")), "{err}");
    assert!(err.contains("--no-check"), "{err}");
    assert!(!path.exists());

    for (server, says) in [
        ("127.0.0.1:8420", "http://"),
        ("ftp://127.0.0.1", "http:// or https://"),
    ] {
        let err = one_error_line(mfa(&path, &["enroll", "--server", server, "--key", "k"]));
        assert!(err.contains(says), "{server}: {err}");
    }
    let err = one_error_line(mfa(&path, &["enroll", "--server", &base, "--key", "a b"]));
    assert!(err.contains("spaces"), "{err}");

    // --no-check saves it anyway, without a TOTP secret (that comes from the server); then
    // `mfa code` says how to get one, in one line.
    let (ok, out, err) = mfa(
        &path,
        &["enroll", "--server", &base, "--key", "mfak_x", "--no-check"],
    );
    assert!(ok, "{err}");
    assert!(out.contains("not checked"), "{out}");
    assert_eq!(mode(&path), 0o600);
    let err = one_error_line(mfa(&path, &["code"]));
    assert!(err.contains("no TOTP secret"), "{err}");
    assert!(err.contains("mfa enroll"), "{err}");
}

#[test]
fn https_to_a_plain_http_server_fails_in_one_line() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    let daemon = rig.start();
    let https = daemon.base.replace("http://", "https://");
    let path = rig.dir().join("c/client.toml");
    let err = one_error_line(mfa(&path, &["enroll", "--server", &https, "--key", &key]));
    assert!(err.contains("TLS handshake failed"), "{err}");
}

#[test]
fn code_prints_a_code_mfad_accepts() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    rig.app("tux");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);

    let (ok, out, err) = mfa(&config, &["code", "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let code = v["code"].as_str().unwrap().to_owned();
    let valid = v["valid_for_seconds"].as_u64().unwrap();
    assert_eq!(code.len(), 6, "{v}");
    assert!((1..=30).contains(&valid), "{v}");

    let (ok, out, err) = mfa(&config, &["code"]);
    assert!(ok, "{err}");
    let line = out.trim_end();
    let (digits, rest) = line.split_once(' ').unwrap();
    assert!(
        digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()),
        "{line}"
    );
    assert!(
        rest.starts_with("(valid for ") && rest.ends_with(" s)"),
        "{line}"
    );

    // The code works for a login (the server allows one step of skew, so a code that just
    // rolled over still counts).
    let v = rig.post(
        &daemon.base,
        "/v1/auth",
        json!({"user": "tux", "host": "linux.example.org", "service": "sshd",
               "client_ip": "192.0.2.1", "method": "totp", "passcode": digits}),
    );
    assert_eq!(v["result"], "allow", "{v}");
}

#[test]
fn a_config_others_can_read_is_refused() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    for cmd in ["code", "listen"] {
        let err = one_error_line(mfa(&config, &[cmd]));
        assert!(err.contains("readable by others"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }
    let err = one_error_line(mfa(&rig.dir().join("none.toml"), &["code"]));
    assert!(err.contains("mfa enroll --server"), "{err}");
}

#[test]
fn listen_stops_with_one_line_when_the_key_stops_working() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);
    rig.mfac(&["client", "rotate-key", "tux"]);
    // stdin stays open (a pipe nobody writes), so only the server can end it.
    let mut child = Command::new(mfa_bin())
        .arg("--config")
        .arg(&config)
        .arg("listen")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take();
    let out = finish(child);
    drop(stdin);
    let err = one_error_line(outcome(out));
    assert!(err.contains("rejected this client's key"), "{err}");
}

/// The TOTP secret the server handed out, from a client config.
fn saved_secret(config: &std::path::Path) -> Option<String> {
    let text = std::fs::read_to_string(config).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    table
        .get("totp")
        .map(|t| t["secret"].as_str().unwrap().to_owned())
}

/// A TOTP login for tux with `code`: mfad's verdict.
fn totp_login(rig: &Rig, base: &str, code: &str) -> Value {
    rig.post(
        base,
        "/v1/auth",
        json!({"user": "tux", "host": "linux.example.org", "service": "sshd",
               "client_ip": "192.0.2.1", "method": "totp", "passcode": code}),
    )
}

fn code_of(config: &std::path::Path) -> String {
    let (ok, out, err) = mfa(config, &["code", "--json"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    v["code"].as_str().unwrap().to_owned()
}

/// `mfa enroll` receives the seed once and keeps it in the 0600 config; `mfa code` computes
/// codes from it, so it needs no server (and the server hands out no codes).
#[test]
fn enroll_saves_the_seed_and_code_works_without_the_server() {
    let rig = Rig::new("");
    let added = rig.mfac(&["client", "add", "tux"]);
    let key = added["client_key"].as_str().unwrap().to_owned();
    rig.app("tux");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);
    assert_eq!(mode(&config), 0o600);
    assert_eq!(
        saved_secret(&config).as_deref(),
        added["totp_secret"].as_str(),
        "the seed mfad holds"
    );
    daemon.stop();

    let (ok, out, err) = mfa(&config, &["code"]);
    assert!(ok, "mfa code needs the server: {err}");
    let digits = out.split_whitespace().next().unwrap().to_owned();
    assert!(out.contains("valid for"), "{out}");
    // The code works for a login (one step of skew is allowed, should it roll over now).
    let daemon = rig.start();
    let v = totp_login(&rig, &daemon.base, &digits);
    assert_eq!(v["result"], "allow", "{v}");
}

/// Whoever enrols second with the same key (another device, or a thief) gets no seed: the
/// config is saved for `mfa listen`, with a warning naming `mfac client reset-totp`.
/// Enrolling again where the seed is (after `mfac client rotate-key`) keeps it.
#[test]
fn only_the_first_enroll_gets_the_seed_until_it_is_reset() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    rig.app("tux");
    let daemon = rig.start();
    let first = rig.enroll("tux", &daemon.base, &key);
    assert!(saved_secret(&first).is_some());

    let second = rig.dir().join("second/client.toml");
    let (ok, out, err) = mfa(
        &second,
        &["enroll", "--server", &daemon.base, "--key", &key],
    );
    assert!(ok, "{err}");
    assert!(out.contains("accepts this key"), "{out}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with("mfa: warning: "), "{err}");
    assert!(err.contains("mfac client reset-totp tux"), "{err}");
    assert_eq!(saved_secret(&second), None);
    let err = one_error_line(mfa(&second, &["code"]));
    assert!(err.contains("no TOTP secret"), "{err}");
    assert!(err.contains("mfac client reset-totp"), "{err}");

    // A new key for the first device: enrolling it again keeps the seed it has.
    let rotated = rig.mfac(&["client", "rotate-key", "tux"])["client_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let kept = saved_secret(&first);
    let (ok, out, err) = mfa(
        &first,
        &["enroll", "--server", &daemon.base, "--key", &rotated],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Kept the TOTP secret"), "{out}");
    assert!(err.is_empty(), "{err}");
    assert_eq!(saved_secret(&first), kept);
    let v = totp_login(&rig, &daemon.base, &code_of(&first));
    assert_eq!(v["result"], "allow", "{v}");

    // After a reset the next enroll gets the new seed; the old one no longer works.
    rig.mfac(&["client", "reset-totp", "tux"]);
    let (ok, _, err) = mfa(
        &second,
        &["enroll", "--server", &daemon.base, "--key", &rotated],
    );
    assert!(ok && err.is_empty(), "{err}");
    assert!(saved_secret(&second).is_some());
    assert_ne!(saved_secret(&second), kept);
    let v = totp_login(&rig, &daemon.base, &code_of(&second));
    assert_eq!(v["result"], "allow", "{v}");
    let v = totp_login(&rig, &daemon.base, &code_of(&first));
    assert_eq!(v["result"], "deny", "the old seed still works: {v}");
}

#[test]
fn enroll_code_and_listen_over_https_trust_the_ca_named_in_ssl_cert_file() {
    let dir = tempfile::tempdir().unwrap();
    let ca = mfa_testkit::tls::TestCa::new(dir.path());
    let rig = Rig::new(&ca.issue("mfad").config());
    let key = rig.client("tux");
    rig.app("tux");
    let daemon = rig.start();
    assert!(daemon.base.starts_with("https://"), "{}", daemon.base);
    let path = rig.dir().join("c/client.toml");
    let enroll = |ca_file: &std::path::Path| {
        Command::new(mfa_bin())
            .arg("--config")
            .arg(&path)
            .args(["enroll", "--server", &daemon.base, "--key", &key])
            .env("SSL_CERT_FILE", ca_file)
            .env_remove("SSL_CERT_DIR")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // Trusting only some other CA, the server is an impostor: nothing is saved.
    let stranger = mfa_testkit::tls::TestCa::new(&dir.path().join("stranger"));
    let err = one_error_line(outcome(enroll(&stranger.cert)));
    assert!(err.contains("certificate"), "{err}");
    assert!(!path.exists());

    let (ok, stdout, stderr) = outcome(enroll(&ca.cert));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("accepts this key"), "{stdout}");
    // The seed came over HTTPS: the code it makes is one mfad accepts.
    let login = json!({"user": "tux", "host": "linux.example.org", "service": "sshd",
                       "client_ip": "192.0.2.1", "method": "totp", "passcode": code_of(&path)});
    let answer = curl(
        &ca.cert,
        &rig.token,
        &format!("{}/v1/auth", daemon.base),
        Some(&login),
    );
    assert_eq!(answer["result"], "allow", "{answer}");

    // A push over HTTPS, answered by `mfa listen` over wss://.
    let term = Terminal::listen_trusting(&path, &ca.cert);
    term.wait_for(&format!("Connected to {} as tux.", daemon.base));
    let push = json!({"user": "tux", "host": "linux.example.org", "service": "sshd",
                      "client_ip": "192.0.2.1", "method": "push"});
    let pending = curl(
        &ca.cert,
        &rig.token,
        &format!("{}/v1/auth", daemon.base),
        Some(&push),
    );
    assert_eq!(pending["result"], "pending", "{pending}");
    term.wait_for("number / d / r > ");
    term.type_line(&pending["number"].to_string());
    let txid = pending["txid"].as_str().unwrap();
    let url = format!("{}/v1/auth/{txid}?wait=10", daemon.base);
    let decided = curl(&ca.cert, &rig.token, &url, None);
    assert_eq!(decided["result"], "allow", "{decided}");
}
