use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::json;

use crate::{HOST, Login, PamService, RHOST, Setup, USER, can_run, script};

/// The one audit entry that decided the push, or the only entry.
fn last_entry(setup: &Setup) -> serde_json::Value {
    setup.audit().pop().expect("an audit entry")
}

#[test]
fn approved_push_logs_in_and_the_token_never_shows_in_ps() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let mut login = setup.login(USER);
    let number = login.number();
    let txid = setup.the_push();

    // While the script long-polls, no process's command line holds the API token.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut polling = false;
    while !polling {
        assert!(
            std::time::Instant::now() < deadline,
            "the script's curl was not found polling"
        );
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            assert!(
                !cmdline.contains(&setup.token),
                "the API token is on a command line: {cmdline}"
            );
            polling |=
                cmdline.starts_with("curl ") && cmdline.contains(&format!("/v1/auth/{txid}?wait="));
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let decided = setup.decide(&txid, json!({ "decision": "approve", "number": number }));
    assert_eq!(decided["state"], "approved", "{decided}");
    let out = login.finish();
    assert!(out.status.success(), "{out:#?}");
    // setcred too, as sshd calls it: pam_permit after pam_exec makes it succeed.
    for said in [
        "successfully authenticated",
        "credential info has successfully been set",
    ] {
        assert!(out.stdout.contains(said), "{out:#?}");
    }
    assert!(out.took < Duration::from_secs(10), "{out:#?}");

    // mfad saw what PAM knew: the user, the service, the remote host; and the host from conf.
    let entry = last_entry(&setup);
    assert_eq!(entry["result"], "approved", "{entry}");
    assert_eq!(entry["user"], USER);
    assert_eq!(entry["host"], HOST);
    assert_eq!(entry["service"], setup.pam.name.as_str());
    assert_eq!(entry["client_ip"], RHOST);
    assert_eq!(entry["server"], "test-host");
    assert_eq!(entry["txid"], txid.as_str());
}

#[test]
fn denied_push_fails_the_login_at_once() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let mut login = setup.login(USER);
    login.number();
    let txid = setup.the_push();
    setup.decide(&txid, json!({ "decision": "deny" }));
    let out = login.finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stdout
            .contains("request-mfa: login denied for tux: mfad:"),
        "{out:#?}"
    );
    assert!(out.took < Duration::from_secs(10), "{out:#?}");
    assert_eq!(last_entry(&setup)["result"], "denied");
}

#[test]
fn a_wrong_number_denies() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let mut login = setup.login(USER);
    let number = login.number();
    let txid = setup.the_push();
    let wrong = if number == 10 { 11 } else { number - 1 };
    setup.decide(&txid, json!({ "decision": "approve", "number": wrong }));
    let out = login.finish();
    assert!(!out.status.success(), "{out:#?}");
    assert_eq!(last_entry(&setup)["reason"], "wrong number");
}

/// Nobody answers: the script stops at its own deadline, well before mfad's push expires.
#[test]
fn no_answer_fails_at_the_scripts_timeout() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("auth_timeout = 60", 3);
    // The script reads its clock in whole seconds. Started 0.95 s into a second, it reads it
    // just before the second ticks and its first poll just after: a deadline of `date +%s` + 3
    // then came a second early (2.1 s; from 0.5-0.92 s or 0.99 s into a second, 3.1 s).
    just_before_a_second_boundary();
    let mut login = setup.login(USER);
    login.number();
    let out = login.finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("no answer within 3 s"), "{out:#?}");
    // Never before the stated 3 s (`took` counts from before pamtester started, so it can only
    // be longer than the script's own wait); the upper bound only catches a hang.
    assert!(
        out.took >= Duration::from_secs(3) && out.took < Duration::from_secs(10),
        "{out:#?}"
    );
    // The script withdrew its push rather than leave it to expire into a counted failure.
    assert_eq!(setup.pending(), Vec::<serde_json::Value>::new());
    assert!(
        setup.audit().iter().any(|e| e["result"] == "withdrawn"),
        "{:?}",
        setup.audit()
    );
}

/// Nobody answers and mfad's push expires first: the long poll brings the denial.
#[test]
fn a_push_mfad_expires_fails_the_login() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("auth_timeout = 5", 30);
    let mut login = setup.login(USER);
    login.number();
    let out = login.finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("\"state\":\"expired\""), "{out:#?}");
    assert!(
        out.took >= Duration::from_secs(4) && out.took < Duration::from_secs(20),
        "{out:#?}"
    );
}

#[test]
fn mfad_down_fails_the_login() {
    if !can_run() {
        return;
    }
    let mut setup = Setup::new("", 30);
    setup.daemon.take().unwrap().stop();
    let out = setup.login(USER).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stdout.contains("/v1/auth failed: curl: (7)"),
        "{out:#?}"
    );
    assert_eq!(
        out.stdout.lines().count(),
        1,
        "one line for the user: {out:#?}"
    );
    assert!(out.took < Duration::from_secs(10), "{out:#?}");
}

#[test]
fn a_user_without_an_app_is_denied() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let out = setup.login("alice").finish();
    assert!(!out.status.success(), "{out:#?}");
    let entry = last_entry(&setup);
    assert_eq!(entry["user"], "alice");
    // Not enrolled: refused, with a reason that says how to enrol.
    assert_eq!(entry["result"], "enroll");
    assert!(
        entry["reason"]
            .as_str()
            .unwrap()
            .starts_with("unknown user alice: not enrolled for MFA"),
        "{entry}"
    );
    assert!(setup.pending().is_empty());
}

/// From a trusted network mfad answers allow at once: no push, exit 0.
#[test]
fn an_immediate_allow_logs_in_without_a_push() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("trusted_ip_networks = [\"192.0.2.0/24\"]", 30);
    let out = setup.login(USER).finish();
    assert!(out.status.success(), "{out:#?}");
    assert!(!out.stdout.contains("push sent"), "{out:#?}");
    assert_eq!(last_entry(&setup)["result"], "allow");
}

#[test]
fn a_rotated_token_is_refused() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    setup.mfac(&["server", "rotate-token", "test-host"]);
    let out = setup.login(USER).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("invalid API token"), "{out:#?}");
    // Audited as a caller's refusal: no user, the caller's address.
    let audit = setup.audit();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["reason"], "invalid API token");
    assert_eq!(audit[0]["client_ip"], "127.0.0.1");
}

/// The configuration file holds the token: the script trusts only a root-owned file no one
/// else can read or write, and asks mfad nothing otherwise.
#[test]
fn a_conf_file_others_can_read_or_write_is_refused() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let chmod = |mode: u32| {
        std::fs::set_permissions(&setup.conf, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660, 0o606] {
        chmod(mode);
        let out = setup.login(USER).finish();
        assert!(!out.status.success(), "mode {mode:o}: {out:#?}");
        assert!(
            out.stdout
                .contains("readable or writable by group or others"),
            "mode {mode:o}: {out:#?}"
        );
    }
    chmod(0o600);
    std::os::unix::fs::chown(&setup.conf, Some(65534), None).unwrap();
    let out = setup.login(USER).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("not owned by root"), "{out:#?}");

    // A symlink to a good file is refused too (its target could change under the script).
    std::os::unix::fs::chown(&setup.conf, Some(0), None).unwrap();
    let link = setup.install.dir.path().join("link.conf");
    std::os::unix::fs::symlink(&setup.conf, &link).unwrap();
    let pam = PamService::new(&format!(
        "auth required pam_exec.so stdout quiet {} {}\n",
        script().display(),
        link.display()
    ));
    let out = Login::start(&pam.name, USER, &["authenticate"]).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("not a regular file"), "{out:#?}");

    assert!(setup.audit().is_empty(), "nothing may reach mfad");
}

#[test]
fn a_missing_or_incomplete_conf_file_is_refused() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let good = std::fs::read_to_string(&setup.conf).unwrap();
    let cases = [
        (String::new(), "url must be"),
        (good.replace("token=", "# token="), "token must be"),
        (good.replace("timeout=30", "timeout=0"), "timeout must be"),
        (good.replace("timeout=30", "timeout=030"), "timeout must be"),
        (good.replace("timeout=30", "timeout=601"), "timeout must be"),
        (good.replace("url = ", "url = ftp://x#"), "url must be"),
        (format!("{good}colour=blue\n"), "line 6: unknown key"),
        (format!("{good}just words\n"), "line 6: not key=value"),
        // A token on a line without '=' must not be shown back.
        (good.replace("token=", "token "), "line 3: not key=value"),
        (
            format!("{good}cafile=/nonexistent/ca.pem\n"),
            "cannot be read",
        ),
        (format!("{good}host=bad host\n"), "host name \"bad host\""),
    ];
    for (text, error) in cases {
        std::fs::write(&setup.conf, &text).unwrap();
        let out = setup.login(USER).finish();
        assert!(!out.status.success(), "{text}: {out:#?}");
        assert!(out.stdout.contains(error), "{text}: {out:#?}");
        assert!(!out.stdout.contains(&setup.token), "{text}: {out:#?}");
    }
    std::fs::remove_file(&setup.conf).unwrap();
    let out = setup.login(USER).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("not a regular file"), "{out:#?}");
    assert!(setup.audit().is_empty(), "nothing may reach mfad");
}

/// User names are put into JSON unescaped, so anything outside the safe set is refused before
/// mfad is asked.
#[test]
fn unsafe_user_names_are_refused_before_mfad_is_asked() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    for user in [
        "tux\",\"user\":\"root",
        "tux x",
        ".tux",
        "tux\\",
        "t\u{e4}x",
        &"t".repeat(65),
    ] {
        let out = setup.login(user).finish();
        assert!(!out.status.success(), "{user}: {out:#?}");
        assert!(out.stdout.contains("user name"), "{user}: {out:#?}");
    }
    assert!(setup.audit().is_empty(), "nothing may reach mfad");
}

/// In any stack but auth the script fails: a line there is a mistake, and success would mean
/// logins without a second factor.
#[test]
fn other_pam_stacks_are_refused() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let line = format!(
        "pam_exec.so stdout quiet {} {}",
        script().display(),
        setup.conf.display()
    );
    let pam = PamService::new(&format!(
        "auth required pam_permit.so\naccount required {line}\nsession required {line}\n"
    ));
    for op in ["acct_mgmt", "open_session", "close_session"] {
        let out = Login::start(&pam.name, USER, &[op]).finish();
        assert!(!out.status.success(), "{op}: {out:#?}");
        assert!(out.stdout.contains("is not auth"), "{op}: {out:#?}");
    }
    assert!(setup.audit().is_empty(), "nothing may reach mfad");
}

/// The token in the file is the one `mfac server add` printed, and `mfac server remove` takes
/// it away.
#[test]
fn a_removed_server_is_refused() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    setup.mfac(&["server", "remove", "test-host"]);
    let out = setup.login(USER).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("invalid API token"), "{out:#?}");
}

/// Without `host=` the script names this machine as `hostname -f` does, and mfad lets a server
/// ask only about the hosts `mfac server add --hosts` gave it.
#[test]
fn the_host_defaults_to_hostname_f_and_must_be_covered() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    let text = std::fs::read_to_string(&setup.conf).unwrap();
    std::fs::write(&setup.conf, text.replace(&format!("host={HOST}\n"), "")).unwrap();
    let hostname = std::process::Command::new("sh")
        .args([
            "-c",
            "h=$(hostname -f 2>/dev/null) || h=; [ -n \"$h\" ] || h=$(uname -n); printf %s \"$h\"",
        ])
        .output()
        .unwrap();
    let hostname = String::from_utf8(hostname.stdout)
        .unwrap()
        .to_ascii_lowercase();
    assert!(!hostname.is_empty() && hostname != HOST);
    let out = setup.login(USER).finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(
        out.stdout.contains(&format!(
            "server test-host may not ask about host {hostname}"
        )),
        "{out:#?}"
    );
}

/// sshd with `UseDNS yes` puts a host name in PAM_RHOST: the script sends no client_ip then
/// (mfad takes only addresses); an address is sent as it is.
#[test]
fn a_host_name_in_pam_rhost_is_not_sent_as_client_ip() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("", 30);
    for (rhost, want) in [
        ("client.example.org", serde_json::Value::Null),
        ("2001:db8::7", json!("2001:db8::7")),
        ("192.0.2.300", serde_json::Value::Null),
    ] {
        let mut login = Login::start_from(&setup.pam.name, USER, rhost, &["authenticate"]);
        login.number();
        let txid = setup.the_push();
        setup.decide(&txid, json!({ "decision": "deny" }));
        let out = login.finish();
        assert!(!out.status.success(), "{out:#?}");
        let entry = last_entry(&setup);
        assert_eq!(entry["txid"], txid.as_str(), "{entry}");
        assert_eq!(entry["client_ip"], want, "{rhost}: {entry}");
    }
}

/// The script has no safe mode: mfad dying while the script waits for the push denies.
#[test]
fn mfad_killed_during_the_wait_fails_the_login() {
    if !can_run() {
        return;
    }
    let mut setup = Setup::new("auth_timeout = 60", 30);
    let mut login = setup.login(USER);
    login.number();
    setup.the_push();
    std::thread::sleep(Duration::from_millis(500));
    setup.daemon.take().unwrap().stop();
    let out = login.finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("failed"), "{out:#?}");
    assert!(out.took < Duration::from_secs(10), "{out:#?}");
}

/// Nobody answers, the script's timeout below mfad's auth_timeout: a handful of requests
/// (each poll waits whole seconds, never 0), and the push is withdrawn as abandoned.
#[test]
fn no_answer_costs_a_bounded_number_of_requests_and_withdraws_the_push_as_abandoned() {
    if !can_run() {
        return;
    }
    let setup = Setup::new("auth_timeout = 60", 4);
    let proxy = mfa_testkit::Proxy::start(&setup.base);
    let conf = std::fs::read_to_string(&setup.conf).unwrap();
    std::fs::write(
        &setup.conf,
        conf.replace(
            &format!("url = {}/", setup.base),
            &format!("url = {}", proxy.url),
        ),
    )
    .unwrap();
    let mut login = setup.login(USER);
    login.number();
    let out = login.finish();
    assert!(!out.status.success(), "{out:#?}");
    assert!(out.stdout.contains("no answer within 4 s"), "{out:#?}");
    let requests = proxy.requests();
    assert!(
        requests.iter().all(|r| !r.contains("wait=0 ")),
        "{requests:#?}"
    );
    assert!(requests.len() <= 5, "{requests:#?}");
    assert!(
        requests
            .last()
            .is_some_and(|r| r.starts_with("DELETE /v1/auth/") && r.contains("?reason=abandoned ")),
        "{requests:#?}"
    );
}

/// Returns when the wall clock is 0.95 s into a second (waits under a second).
fn just_before_a_second_boundary() {
    let into_the_second = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_millis();
    let wait = (1950 - u64::from(into_the_second)) % 1000;
    std::thread::sleep(Duration::from_millis(wait));
}
