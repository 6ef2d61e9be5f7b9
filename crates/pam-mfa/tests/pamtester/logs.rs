//! What the module writes to syslog, read from a listener of the test's own.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{Pamtester, Service, Setup, SyslogListener};

/// A config file whose token is written wrongly: the error names the key and the line, and
/// neither syslog nor the terminal ever sees the token.
#[test]
fn a_malformed_config_line_is_logged_by_key_and_line_never_by_value() {
    let setup = Setup::new("", "push,totp");
    let syslog = SyslogListener::new(setup.install.dir.path());
    let token = setup.token.clone();
    let secret_part = token.trim_start_matches("mfas_").to_owned();
    let url = format!("url = \"{}\"", setup.base());
    let cases = [
        // The case from the review: a token without quotes.
        (format!("{url}\ntoken = {token}\n"), "line 2", "token"),
        // A token pasted into the wrong key or on a line of its own.
        (
            format!("{url}\ntoken = \"x\"\ntimeout = \"{token}\"\n"),
            "line 3",
            "timeout",
        ),
        (
            format!("{url}\ntoken = \"x\"\nfailmode = \"{token}\"\n"),
            "line 3",
            "failmode",
        ),
        (format!("{url}\ntoken = \"x\"\n{token}\n"), "line 3", ""),
        (
            format!("{url}\ntoken = \"x\"\n[prompts]\ntotp = {token}\n"),
            "line 4",
            "totp",
        ),
    ];
    for (i, (text, line, key)) in cases.into_iter().enumerate() {
        let path = setup.install.dir.path().join(format!("bad-{i}.toml"));
        std::fs::write(&path, &text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let service = Service::new(&format!(
            "config={} syslog_socket={}",
            path.display(),
            syslog.path.display()
        ));
        let (ok, out) = Pamtester::start(&service, "tux", "192.0.2.1").finish();
        assert!(!ok, "{text}: {out}");
        let logged = syslog.lines();
        let error = logged
            .iter()
            .find(|l| l.contains("config"))
            .unwrap_or_else(|| panic!("{text}: no config error in syslog: {logged:?}"));
        // <84>: facility authpriv (10 * 8), severity warning (4).
        assert!(error.starts_with("<84>"), "{error}");
        assert!(error.contains(line), "{text}: {error}");
        assert!(error.contains(key), "{text}: {error}");
        for seen in logged.iter().chain([&out]) {
            assert!(
                !seen.contains(&secret_part),
                "{text}: the token leaked: {seen}"
            );
        }
    }
}

/// A login let through by `failmode = "safe"` is a warning in syslog, with the reason.
#[test]
fn a_safe_mode_allow_is_logged_as_a_warning_with_its_reason() {
    let mut setup = Setup::new("", "push,totp");
    setup.daemon.take().unwrap().stop();
    let syslog = SyslogListener::new(setup.install.dir.path());
    let config = setup.pam_config("failmode = \"safe\"");
    let service = Service::new(&format!(
        "config={} syslog_socket={}",
        config.display(),
        syslog.path.display()
    ));
    let (ok, out) = Pamtester::start(&service, "tux", "192.0.2.1").finish();
    assert!(ok, "{out}");
    let logged = syslog.lines();
    let allowed = logged
        .iter()
        .find(|l| l.contains("allowed user tux"))
        .unwrap_or_else(|| panic!("no allow logged: {logged:?}"));
    // <84>: authpriv, warning.
    assert!(allowed.starts_with("<84>"), "{allowed}");
    assert!(allowed.contains("WITHOUT MFA"), "{allowed}");
    assert!(allowed.contains("mfad unreachable"), "{allowed}");
}

/// sshd with `UseDNS yes` puts a host name in PAM_RHOST: the module sends no client_ip then
/// (mfad takes only addresses), says so at debug level, and the login goes on.
#[test]
fn a_remote_host_name_is_not_sent_as_client_ip() {
    let setup = Setup::new("", "totp");
    let syslog = SyslogListener::new(setup.install.dir.path());
    let config = setup.pam_config("");
    let service = Service::new(&format!(
        "config={} syslog_socket={}",
        config.display(),
        syslog.path.display()
    ));
    let mut pam = Pamtester::start(&service, "tux", "client.example.org");
    pam.expect("Verification code:");
    pam.type_line(&setup.totp_code());
    let (ok, out) = pam.finish();
    assert!(ok, "{out}");
    let audit = setup.install.mfac_json(&["audit"]);
    let entry = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["result"], "allow", "{entry}");
    assert!(entry["client_ip"].is_null(), "{entry}");
    let logged = syslog.lines();
    // <87>: authpriv, debug.
    assert!(
        logged.iter().any(|l| l.starts_with("<87>")
            && l.contains("client.example.org")
            && l.contains("no client_ip")),
        "{logged:#?}"
    );
    // An address is sent as it is.
    let mut pam = Pamtester::start(&service, "tux", "2001:db8::7");
    pam.expect("Verification code:");
    pam.type_line(&setup.totp_code());
    let (_, out) = pam.finish();
    let audit = setup.install.mfac_json(&["audit"]);
    let entry = audit.as_array().unwrap().last().unwrap().clone();
    assert_eq!(entry["client_ip"], "2001:db8::7", "{entry} {out}");
}
