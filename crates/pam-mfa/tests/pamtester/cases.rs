use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::harness::{Pamtester, Service, Setup};

/// Whether the person was told `line` (the module's last message, after "Access denied.").
fn told(out: &str, line: &str) -> bool {
    out.contains(&format!("Access denied. {line}"))
}

pub(crate) fn authenticate(
    setup: &Setup,
    config_extra: &str,
    module_args: &str,
    rhost: &str,
    answer: impl FnOnce(&mut Pamtester, &Setup),
) -> (bool, String) {
    let config = setup.pam_config(config_extra);
    let service = Service::new(&format!("config={} {module_args}", config.display()));
    let mut pam = Pamtester::start(&service, "tux", rhost);
    answer(&mut pam, setup);
    pam.finish()
}

#[test]
fn push_approved_with_the_number_from_the_prompt() {
    let setup = Setup::new("", "push,totp");
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, setup| {
        let number = pam.number();
        assert!(
            pam.seen.contains("Approve it there and press Enter"),
            "{}",
            pam.seen
        );
        setup.answer_push("approve", Some(number));
        pam.type_line("");
    });
    assert!(ok, "{out}");
    assert!(out.contains("successfully authenticated"), "{out}");
    assert!(out.contains("Approved."), "the approved text: {out}");
}

#[test]
fn push_denied() {
    let setup = Setup::new("", "push,totp");
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, setup| {
        pam.number();
        setup.answer_push("deny", None);
        pam.type_line("");
    });
    assert!(!ok, "{out}");
    assert!(out.contains("push denied"), "{out}");
    assert!(told(&out, "The push was denied on your device."), "{out}");
}

#[test]
fn push_timed_out() {
    let setup = Setup::new("auth_timeout = 5", "push");
    let started = Instant::now();
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.number();
        pam.type_line("");
    });
    assert!(!ok, "{out}");
    assert!(out.contains("push expired: timeout"), "{out}");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert!(
        told(&out, "The push timed out before it was approved"),
        "{out}"
    );
}

#[test]
fn totp_right_wrong_and_replayed() {
    let setup = Setup::new("", "totp");
    let code = setup.totp_code();
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Verification code:");
        pam.type_line(&code);
    });
    assert!(ok, "right code refused: {out}");
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Verification code:");
        pam.type_line(&code);
    });
    assert!(!ok, "replayed code accepted: {out}");
    assert!(out.contains("invalid or already used code"), "{out}");
    assert!(
        told(&out, "The verification code is wrong or was already used"),
        "{out}"
    );
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (ok, _) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Verification code:");
        pam.type_line(wrong);
    });
    assert!(!ok, "wrong code accepted");
}

#[test]
fn a_code_typed_at_the_push_prompt_is_checked_as_totp() {
    let setup = Setup::new("", "push,totp");
    let code = setup.totp_code();
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.number();
        pam.type_line(&code);
    });
    assert!(ok, "{out}");
    assert_eq!(setup.pending_pushes(), 0, "the push was not withdrawn");
}

#[test]
fn mfad_down_denies_with_failmode_secure_and_allows_with_safe() {
    let mut setup = Setup::new("", "push,totp");
    setup.daemon.take().unwrap().stop();
    // Config file says secure (the default); the module argument can switch to safe.
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |_, _| {});
    assert!(!ok, "{out}");
    assert!(out.contains("failmode secure"), "{out}");
    assert!(told(&out, "The MFA server cannot be reached"), "{out}");
    let (ok, out) = authenticate(&setup, "", "failmode=safe", "192.0.2.1", |_, _| {});
    assert!(ok, "{out}");
    assert!(out.contains("failmode safe"), "{out}");
    let (ok, _) = authenticate(&setup, "failmode = \"safe\"", "", "192.0.2.1", |_, _| {});
    assert!(ok);
}

#[test]
fn a_user_who_is_not_enrolled_is_denied() {
    let setup = Setup::new("", "push,totp");
    let config = setup.pam_config("");
    let service = Service::new(&format!("config={}", config.display()));
    let (ok, out) = Pamtester::start(&service, "mallory", "192.0.2.1").finish();
    assert!(!ok, "{out}");
    assert!(out.contains("unknown user mallory"), "{out}");
}

#[test]
fn a_trusted_network_needs_no_second_factor() {
    let setup = Setup::new("trusted_ip_networks = [\"198.51.100.0/24\"]", "push,totp");
    let (ok, out) = authenticate(&setup, "", "", "198.51.100.7", |_, _| {});
    assert!(ok, "{out}");
    assert!(!out.contains("Push sent"), "no prompt expected: {out}");
}

#[test]
fn push_only_waits_without_a_prompt() {
    let setup = Setup::new("", "push");
    let (ok, out) = authenticate(&setup, "", "push_only", "192.0.2.1", |pam, setup| {
        // No prompt comes; the push is there without a number to match.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let agent = ureq::Agent::new_with_defaults();
            let pending: Vec<serde_json::Value> = agent
                .get(format!("{}/v1/client/requests", setup.base()))
                .header("Authorization", &format!("Bearer {}", setup.client_key))
                .call()
                .unwrap()
                .body_mut()
                .read_json()
                .unwrap();
            if let Some(p) = pending.first() {
                assert_eq!(p["number_required"], false);
                break;
            }
            assert!(Instant::now() < deadline, "no push arrived");
            crate::harness::nap(100);
        }
        assert!(!pam.seen.contains("Push sent"));
        setup.answer_push("approve", None);
    });
    assert!(ok, "{out}");
}

#[test]
fn a_config_others_can_read_is_refused() {
    let setup = Setup::new("", "push,totp");
    let config = setup.pam_config("");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let service = Service::new(&format!("config={}", config.display()));
    let (ok, out) = Pamtester::start(&service, "tux", "192.0.2.1").finish();
    assert!(!ok, "{out}");
    assert!(out.contains("chmod 600"), "{out}");
}

#[test]
fn a_malformed_config_or_argument_is_refused() {
    let setup = Setup::new("", "push,totp");
    let (ok, out) = authenticate(&setup, "colour = \"blue\"", "", "192.0.2.1", |_, _| {});
    assert!(!ok);
    assert!(out.contains("colour"), "{out}");
    let (ok, out) = authenticate(&setup, "", "nullok", "192.0.2.1", |_, _| {});
    assert!(!ok);
    assert!(out.contains("unknown module argument"), "{out}");
}

/// Runs mfac on the setup's install with `stdin` piped in (how a password is given).
fn mfac_with_stdin(setup: &Setup, args: &[&str], stdin: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(mfa_testkit::artefact("mfac"))
        .arg("--config")
        .arg(&setup.install.config)
        .args(args)
        .env_remove("MFA_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "mfac {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn password_and_totp_are_both_asked_for() {
    let setup = Setup::new("", "push,totp");
    mfac_with_stdin(&setup, &["client", "password", "tux"], "correct horse\n");
    setup
        .install
        .mfac(&["rule", "add", "--user", "tux", "--require", "password,totp"]);
    let code = setup.totp_code();
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Password: ");
        pam.type_line("correct horse");
        pam.expect("Verification code: ");
        pam.type_line(&code);
    });
    assert!(ok, "{out}");
    assert!(!out.contains("Push sent"), "no push: {out}");
    // A wrong password fails even with a right code (and the code is not used up by it).
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, setup| {
        pam.expect("Password: ");
        pam.type_line("wrong horse");
        pam.expect("Verification code: ");
        pam.type_line(&setup.totp_code());
    });
    assert!(!ok, "{out}");
    assert!(out.contains("wrong password"), "{out}");
}

#[test]
fn a_recovery_code_works_once_where_a_verification_code_is_asked() {
    let setup = Setup::new("", "totp");
    let codes = setup
        .install
        .mfac_json(&["client", "recovery-codes", "tux"]);
    let code = codes["recovery_codes"][0].as_str().unwrap().to_owned();
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Verification code:");
        pam.type_line(&code);
    });
    assert!(ok, "recovery code refused: {out}");
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Verification code:");
        pam.type_line(&code);
    });
    assert!(!ok, "a recovery code worked twice: {out}");
    assert!(
        out.contains("invalid or already used recovery code"),
        "{out}"
    );
    // Typed at the push prompt too.
    let setup = Setup::new("", "push,totp");
    let codes = setup
        .install
        .mfac_json(&["client", "recovery-codes", "tux"]);
    let code = codes["recovery_codes"][1].as_str().unwrap().to_uppercase();
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
        pam.number();
        pam.type_line(&code);
    });
    assert!(ok, "{out}");
}

#[test]
fn a_user_who_must_enrol_is_told_how() {
    let setup = Setup::new("", "push,totp");
    setup
        .install
        .mfac(&["rule", "add", "--user", "tux", "--require", "password"]);
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |_, _| {});
    assert!(!ok, "{out}");
    assert!(out.contains("mfac client password tux"), "{out}");
}

/// Safe mode is for an mfad that never answered: once it has answered this login (here: a
/// pending push), losing it denies. Killing mfad during a push must not be a way in.
#[test]
fn mfad_killed_while_a_push_is_pending_denies_even_in_safe_mode() {
    let mut setup = Setup::new("auth_timeout = 60", "push,totp");
    let config = setup.pam_config("failmode = \"safe\"");
    let service = Service::new(&format!("config={}", config.display()));
    let mut pam = Pamtester::start(&service, "tux", "192.0.2.1");
    pam.number();
    pam.type_line("");
    // Let the module's long poll reach mfad, then kill mfad (SIGKILL, as a crash would).
    let deadline = Instant::now() + Duration::from_secs(15);
    while setup.pending_pushes() == 0 {
        assert!(Instant::now() < deadline, "no push reached tux");
        crate::harness::nap(100);
    }
    crate::harness::nap(500);
    setup.daemon.take().unwrap().stop();
    let (ok, out) = pam.finish();
    assert!(
        !ok,
        "a login was allowed after mfad died during its push: {out}"
    );
    assert!(out.contains("failmode safe does not apply"), "{out}");
}

/// Too many wrong codes lock the user out; the next login is told until when.
#[test]
fn a_locked_out_user_is_told_until_when() {
    let setup = Setup::new("max_failed_attempts = 2\nblock_duration = 300", "totp");
    let wrong = if setup.totp_code() == "000000" {
        "111111"
    } else {
        "000000"
    };
    for _ in 0..2 {
        let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |pam, _| {
            pam.expect("Verification code:");
            pam.type_line(wrong);
        });
        assert!(!ok, "{out}");
    }
    let (ok, out) = authenticate(&setup, "", "", "192.0.2.1", |_, _| {});
    assert!(!ok, "{out}");
    assert!(
        told(&out, "Locked out after too many failed attempts until 20"),
        "{out}"
    );
}

/// A connection flood that fills mfad's connection cap is answered by a running mfad (503
/// `busy`): that is no outage, so even `failmode = safe` denies (else a flood opens the host).
#[test]
fn a_busy_mfad_denies_even_in_safe_mode() {
    let setup = Setup::new("max_connections = 16", "push,totp");
    let addr = setup.base().trim_start_matches("http://").to_owned();
    let target: std::net::SocketAddr = addr.parse().unwrap();
    // 16 idle connections from other loopback addresses hold every slot (for up to 10 s).
    let flood: Vec<std::net::TcpStream> = (0..16).map(|i| connect_from(2 + i, target)).collect();
    crate::harness::nap(300);
    let (ok, out) = authenticate(&setup, "", "failmode=safe", "192.0.2.1", |_, _| {});
    drop(flood);
    assert!(!ok, "a busy mfad let a safe-mode login in: {out}");
    assert!(!out.contains("WITHOUT MFA"), "{out}");
}

/// An idle TCP connection to `target` from 127.0.0.`host`.
fn connect_from(host: u8, target: std::net::SocketAddr) -> std::net::TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, host], 0)))
            .unwrap();
        socket.connect(target).await.unwrap().into_std().unwrap()
    })
}
