//! A full scenario with every kind of secret, then a search for each of them in everything
//! mfa writes down: mfad's log (at trace level, its most verbose), the PAM module's syslog lines and what it
//! printed, the stderr of every mfac and mfa run, the audit log, the database file, its WAL
//! and shared memory. None may appear in the clear.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use serde_json::{Value, json};

use crate::harness::{Pamtester, Service, Setup, SyslogListener};

/// What was written down, and the secrets to look for in it.
#[derive(Default)]
struct Evidence {
    /// (where, text)
    logs: Vec<(String, String)>,
    /// (what, bytes)
    secrets: Vec<(String, Vec<u8>)>,
}

impl Evidence {
    fn secret(&mut self, what: &str, value: &str) {
        assert!(
            value.len() >= 8,
            "{what} is too short to search for: {value:?}"
        );
        self.secrets
            .push((what.to_owned(), value.as_bytes().to_vec()));
    }

    /// A seed in base32, as raw bytes, hex and base64 too.
    fn seed(&mut self, what: &str, base32: &str) {
        let raw = Secret::from_base32(base32).unwrap().as_bytes().to_vec();
        self.secret(what, base32);
        self.secret(&format!("{what} (hex)"), &hex(&raw));
        self.secrets.push((format!("{what} (raw)"), raw));
    }

    /// A token `prefix_rest`: the part after the prefix is what must not leak.
    fn token(&mut self, what: &str, token: &str) {
        let secret = token.split_once('_').map_or(token, |(_, rest)| rest);
        self.secret(what, secret);
    }

    fn stderr(&mut self, what: &str, out: &Output) {
        self.logs.push((
            what.to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ));
    }

    fn assert_nothing_in(&self, place: &str, bytes: &[u8]) {
        for (what, secret) in &self.secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_slice()),
                "{what} appears in {place}"
            );
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unix_now() -> u64 {
    #[allow(clippy::disallowed_methods)]
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The 8-digit code of a SHA1 seed `steps` time steps from now (8 digits: a code is then
/// unlikely to occur by chance in a log line or the database, so finding one means it leaked).
fn code_of(base32: &str, steps: u64) -> String {
    let params = TotpParams::new(Algorithm::Sha1, Digits::new(8).unwrap(), 30).unwrap();
    let totp = Totp::new(Secret::from_base32(base32).unwrap(), params);
    totp.code_for_step(totp.step(unix_now()) + steps)
}

fn mfac(setup: &Setup, evidence: &mut Evidence, args: &[&str], stdin: Option<&str>) -> Value {
    use std::io::Write;
    let mut child = Command::new(mfa_testkit::artefact("mfac"))
        .arg("--config")
        .arg(&setup.install.config)
        .args(args)
        .arg("--json")
        .env_remove("MFA_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input
        .write_all(stdin.unwrap_or_default().as_bytes())
        .unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "mfac {args:?}: {out:?}");
    evidence.stderr(&format!("mfac {args:?}"), &out);
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// A login answering each (prompt, line) in turn; `None` answers a push prompt by approving
/// the push with its number through the client API.
fn login(
    setup: &Setup,
    evidence: &mut Evidence,
    syslog: &SyslogListener,
    typed: &[(&str, Option<&str>)],
) -> bool {
    let config = setup.pam_config("");
    let service = Service::new(&format!(
        "config={} syslog_socket={}",
        config.display(),
        syslog.path.display()
    ));
    let mut pam = Pamtester::start(&service, "tux", "192.0.2.1");
    for (prompt, line) in typed {
        pam.expect(prompt);
        match line {
            Some(line) => pam.type_line(line),
            None => {
                let number = pam.number();
                setup.answer_push("approve", Some(number));
                pam.type_line("");
            }
        }
    }
    let (ok, out) = pam.finish();
    evidence.logs.push(("pamtester".into(), out));
    ok
}

fn api(setup: &Setup, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", setup.base());
    let agent = ureq::Agent::new_with_defaults();
    let auth = format!("Bearer {token}");
    let mut response = match body {
        Some(body) => agent
            .post(&url)
            .header("Authorization", &auth)
            .send_json(&body),
        None if method == "GET" => agent.get(&url).header("Authorization", &auth).call(),
        None => agent.post(&url).header("Authorization", &auth).send_empty(),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    response.body_mut().read_json().unwrap()
}

/// Logins with a TOTP code (right, wrong), a recovery code, a password and a push approved
/// through `mfa`'s client key; the OTP service's credentials and one-time codes; the vault.
#[test]
fn no_secret_of_a_full_scenario_is_in_a_log_or_the_database() {
    let setup = Setup::new("log = \"trace\"\n[totp]\ndigits = 8\n", "push,totp");
    let syslog = SyslogListener::new(setup.install.dir.path());
    let mut evidence = Evidence::default();
    evidence.token("client key", &setup.client_key);
    evidence.seed("client TOTP seed", &setup.totp_secret);
    evidence.token("server token", &setup.token);
    let key_file = std::fs::read(setup.install.dir.path().join("data/mfa.key")).unwrap();
    evidence.secrets.push(("sealing key file".into(), key_file));

    logins(&setup, &mut evidence, &syslog);
    otp_service_and_vault(&setup, &mut evidence);
    mfa_client(&setup, &mut evidence);

    let audit = mfac(&setup, &mut evidence, &["audit"], None);
    evidence.logs.push(("mfac audit".into(), audit.to_string()));
    let daemon = setup.daemon.as_ref().unwrap();
    evidence.logs.push(("mfad".into(), daemon.log().join("\n")));
    assert!(
        daemon.log().iter().any(|l| l.contains("DEBUG")),
        "mfad logged at its most verbose level"
    );
    let logged = syslog.lines();
    assert!(logged.len() >= 5, "the module's syslog lines: {logged:?}");
    evidence.logs.push(("PAM syslog".into(), logged.join("\n")));
    for (place, text) in &evidence.logs {
        evidence.assert_nothing_in(place, text.as_bytes());
    }
    assert_nothing_in_the_data_dir(&evidence, &setup.install.dir.path().join("data"));
}

fn logins(setup: &Setup, evidence: &mut Evidence, syslog: &SyslogListener) {
    let code = code_of(&setup.totp_secret, 0);
    evidence.secret("TOTP code", &code);
    // Typed at the push prompt ("..., or type a verification code: ").
    let at_push = "verification code: ";
    assert!(
        login(setup, evidence, syslog, &[(at_push, Some(&code))]),
        "the right code"
    );
    assert!(
        login(setup, evidence, syslog, &[(at_push, None)]),
        "a push approved"
    );
    let wrong = format!(
        "{:08}",
        (code.parse::<u64>().unwrap() + 4_321_987) % 100_000_000
    );
    evidence.secret("wrong TOTP code", &wrong);
    assert!(
        !login(setup, evidence, syslog, &[(at_push, Some(&wrong))]),
        "a wrong code"
    );

    let recovery = mfac(setup, evidence, &["client", "recovery-codes", "tux"], None);
    let recovery = recovery["recovery_codes"][0].as_str().unwrap().to_owned();
    evidence.secret("recovery code", &recovery);
    assert!(
        login(setup, evidence, syslog, &[(at_push, Some(&recovery))]),
        "a recovery code"
    );

    let password = "correct horse battery staple";
    evidence.secret("password", password);
    mfac(
        setup,
        evidence,
        &["client", "password", "tux"],
        Some(&format!("{password}\n")),
    );
    mfac(
        setup,
        evidence,
        &["rule", "add", "--user", "tux", "--require", "password,totp"],
        None,
    );
    // This step's code is used up: the next step's is within the skew.
    let code = code_of(&setup.totp_secret, 1);
    evidence.secret("later TOTP code", &code);
    let asked = [
        ("Password: ", Some(password)),
        ("Verification code: ", Some(code.as_str())),
    ];
    assert!(login(setup, evidence, syslog, &asked), "password and code");
    let wrong_password = "wrong horse battery";
    evidence.secret("wrong password", wrong_password);
    let asked = [
        ("Password: ", Some(wrong_password)),
        ("Verification code: ", Some(wrong.as_str())),
    ];
    assert!(!login(setup, evidence, syslog, &asked), "a wrong password");
}

fn otp_service_and_vault(setup: &Setup, evidence: &mut Evidence) {
    let created = mfac(
        setup,
        evidence,
        &[
            "token",
            "add",
            "app",
            "--scope",
            "otp,vault:read,vault:write",
        ],
        None,
    );
    let token = created["api_token"].as_str().unwrap().to_owned();
    evidence.token("API token", &token);

    let credential = json!({"type": "totp", "digits": 8});
    let credential = api(
        setup,
        &token,
        "POST",
        "/v1/otp/credentials",
        Some(credential),
    );
    let secret = credential["secret"].as_str().unwrap();
    evidence.seed("OTP credential seed", secret);
    let path = format!(
        "/v1/otp/credentials/{}/verify",
        credential["id"].as_str().unwrap()
    );
    let code = code_of(secret, 0);
    evidence.secret("OTP credential code", &code);
    assert_eq!(
        api(setup, &token, "POST", &path, Some(json!({"code": code})))["ok"],
        true
    );

    let one_time = json!({"ttl_seconds": 600, "digits": 8});
    let one_time = api(setup, &token, "POST", "/v1/otp/codes", Some(one_time));
    let code = one_time["code"].as_str().unwrap();
    evidence.secret("one-time code", code);
    let path = format!("/v1/otp/codes/{}/verify", one_time["id"].as_str().unwrap());
    assert_eq!(
        api(setup, &token, "POST", &path, Some(json!({"code": code})))["ok"],
        true
    );

    let seed = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
    evidence.seed("vault seed", seed);
    let app = json!({"name": "shared", "secret": seed, "digits": 8});
    let app = api(setup, &token, "POST", "/v1/vault/apps", Some(app));
    let path = format!("/v1/vault/apps/{}/code", app["id"]);
    let vault_code = api(setup, &token, "GET", &path, None);
    evidence.secret("vault code", vault_code["code"].as_str().unwrap());
}

/// `mfa enroll` with the client key on stdin, then a push approved with that key.
fn mfa_client(setup: &Setup, evidence: &mut Evidence) {
    use std::io::Write;
    let config = setup.install.dir.path().join("client.toml");
    let mut enroll = Command::new(mfa_testkit::artefact("mfa"))
        .arg("--config")
        .arg(&config)
        .args(["enroll", "--server", &setup.base()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = enroll.stdin.take().unwrap();
    writeln!(stdin, "{}", setup.client_key).unwrap();
    drop(stdin);
    let out = enroll.wait_with_output().unwrap();
    assert!(out.status.success(), "mfa enroll: {out:?}");
    evidence.stderr("mfa enroll", &out);
    evidence.logs.push((
        "mfa enroll stdout".into(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ));
    let code = Command::new(mfa_testkit::artefact("mfa"))
        .arg("--config")
        .arg(&config)
        .arg("code")
        .output()
        .unwrap();
    assert!(code.status.success(), "mfa code: {code:?}");
    evidence.stderr("mfa code", &code);
}

/// The database, its WAL and shared memory, and anything else mfad keeps beside them (but
/// the key file, which is the sealing key itself).
fn assert_nothing_in_the_data_dir(evidence: &Evidence, data: &Path) {
    let mut searched = Vec::new();
    for entry in std::fs::read_dir(data).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().is_some_and(|n| n == "mfa.key") {
            continue;
        }
        evidence.assert_nothing_in(&path.display().to_string(), &std::fs::read(&path).unwrap());
        searched.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    assert!(searched.iter().any(|n| n == "mfa.db"), "{searched:?}");
    assert!(
        searched.iter().any(|n| n == "mfa.db-wal"),
        "mfad still runs, so a WAL: {searched:?}"
    );
}
