//! The policy commands: client passwords and recovery codes, users (bypass), groups, host
//! groups, rules, `policy check`, sessions.

use std::io::Write;
use std::process::{Command, Stdio};

use mfa_core::{Clock, SystemClock};
use mfa_secrets::recovery_hash;
use mfa_store::NewSession;
use serde_json::{Value, json};

use crate::Env;

/// Runs mfac with `stdin` piped in; returns (success, stdout, stderr).
pub(crate) fn run_with_stdin(env: &Env, args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mfac"))
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .env_remove("MFA_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn app(env: &Env, user: &str, client: &str) {
    env.ok(&[
        "app",
        "add",
        "--user",
        user,
        "--host",
        "*",
        "--service",
        "*",
        "--client",
        client,
        "--methods",
        "push,totp",
    ]);
}

fn check(env: &Env, args: &[&str]) -> Value {
    let mut a = vec!["policy", "check"];
    a.extend_from_slice(args);
    env.json(&a)
}

#[tokio::test]
async fn a_password_comes_from_stdin_and_is_stored_as_argon2id() {
    let env = Env::with("[password]\nmin_length = 10\nmax_days = 30\n");
    env.ok(&["client", "add", "tux"]);
    let (ok, out, err) = run_with_stdin(
        &env,
        &["client", "password", "tux", "--json"],
        "correct horse\n",
    );
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["result"], "set");
    assert!(v["expires_at"].as_str().unwrap().ends_with('Z'), "{v}");
    assert!(!out.contains("correct horse"));

    let store = env.store().await;
    let stored = store
        .client_password(&"tux".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.hash.as_str().starts_with("$argon2id$"));
    assert!(stored.hash.verify("correct horse"));
    store.close().await;

    let show = env.json(&["client", "show", "tux"]);
    assert!(
        show["password"].as_str().unwrap().starts_with("set "),
        "{show}"
    );
    let (ok, _, err) = run_with_stdin(&env, &["client", "password", "tux"], "too short\n");
    assert!(!ok);
    assert_eq!(
        err.trim_end(),
        "mfac: the password is too short: use at least 10 characters"
    );
    let (ok, _, err) = run_with_stdin(&env, &["client", "password", "tux"], "");
    assert!(!ok);
    assert!(err.starts_with("mfac: no password on stdin"), "{err}");
    let (ok, _, err) = run_with_stdin(&env, &["client", "password", "ghost"], "correct horse\n");
    assert!(!ok);
    assert_eq!(err.trim_end(), "mfac: client ghost does not exist");
    // Never from argv: there is no argument to give it as.
    let (ok, _, _) = env.run(&["client", "password", "tux", "correct horse"]);
    assert!(!ok);

    env.ok(&["client", "password", "tux", "--remove"]);
    assert_eq!(env.json(&["client", "show", "tux"])["password"], "none");
    assert_eq!(
        env.fails(&["client", "password", "tux", "--remove"]),
        "mfac: client tux has no password to remove"
    );
}

#[tokio::test]
async fn recovery_codes_are_printed_once_and_replace_the_old_set() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    let first = env.json(&["client", "recovery-codes", "tux"]);
    let codes: Vec<String> = first["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    let mut unique = codes.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 10);
    assert!(
        codes
            .iter()
            .all(|c| c.len() == 19 && c.matches('-').count() == 3)
    );
    assert_eq!(
        env.json(&["client", "show", "tux"])["recovery_codes_left"],
        10
    );

    let text = env.ok(&["client", "recovery-codes", "tux"]);
    assert!(text.contains("Shown once"), "{text}");
    let store = env.store().await;
    let tux = "tux".parse().unwrap();
    // The first set no longer works; the second does, once.
    assert!(
        !store
            .use_recovery_code(&tux, &recovery_hash(&codes[0]).unwrap())
            .await
            .unwrap()
    );
    let second = text.lines().find_map(|l| recovery_hash(l.trim())).unwrap();
    assert!(store.use_recovery_code(&tux, &second).await.unwrap());
    assert!(!store.use_recovery_code(&tux, &second).await.unwrap());
    store.close().await;
    assert_eq!(
        env.fails(&["client", "recovery-codes", "ghost"]),
        "mfac: client ghost does not exist"
    );
}

#[test]
fn groups_add_list_show_modify_remove() {
    let env = Env::with("");
    let g = env.json(&["group", "add", "admins", "--members", "tux,alice"]);
    assert_eq!(g["members"], json!(["alice", "tux"]));
    env.ok(&["group", "add", "devs"]);
    let list = env.json(&["group", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let g = env.json(&[
        "group",
        "modify",
        "admins",
        "--add-members",
        "bob",
        "--remove-members",
        "alice",
    ]);
    assert_eq!(g["members"], json!(["bob", "tux"]));
    let g = env.json(&["group", "modify", "admins", "--members", "carol"]);
    assert_eq!(g["members"], json!(["carol"]));
    assert_eq!(
        env.fails(&["group", "modify", "admins", "--remove-members", "zed"]),
        "mfac: member zed of group admins does not exist"
    );
    assert!(
        env.fails(&["group", "add", "admins"])
            .contains("exists already")
    );
    assert!(
        env.fails(&["group", "add", "bad name"])
            .contains("invalid alias")
    );
    let rule = env.json(&["rule", "add", "--group", "admins", "--require", "totp"]);
    let show = env.json(&["group", "show", "admins"]);
    assert_eq!(show["rules"].as_array().unwrap().len(), 1, "{show}");
    assert_eq!(
        env.fails(&["group", "remove", "admins"]),
        format!(
            "mfac: group admins is still used by rule {}: remove those first",
            rule["id"]
        )
    );
    env.ok(&["rule", "remove", &rule["id"].to_string()]);
    env.ok(&["group", "remove", "admins"]);
    assert_eq!(
        env.fails(&["group", "show", "admins"]),
        "mfac: group admins does not exist"
    );
    let text = env.ok(&["group", "list"]);
    assert!(text.starts_with("GROUP") && text.contains("devs"), "{text}");
}

#[test]
fn host_groups_add_list_show_modify_remove() {
    let env = Env::with("");
    let g = env.json(&[
        "host-group",
        "add",
        "prod",
        "--hosts",
        "db.example.org,*.prod.example.org",
    ]);
    assert_eq!(g["hosts"], json!(["db.example.org", "*.prod.example.org"]));
    assert!(
        env.fails(&["host-group", "add", "x", "--hosts", "a b"])
            .contains("invalid pattern")
    );
    let g = env.json(&[
        "host-group",
        "modify",
        "prod",
        "--hosts",
        "*.prod.example.org",
    ]);
    assert_eq!(g["hosts"], json!(["*.prod.example.org"]));
    let r = env.json(&[
        "rule",
        "add",
        "--host-group",
        "prod",
        "--require",
        "password,totp",
    ]);
    assert_eq!(r["host_group"], "prod");
    assert!(
        env.fails(&["host-group", "remove", "prod"])
            .contains("still used by rule")
    );
    assert!(
        env.fails(&["rule", "add", "--host-group", "nope", "--require", "any"])
            .contains("host group nope does not exist")
    );
    env.ok(&["rule", "remove", &r["id"].to_string()]);
    env.ok(&["host-group", "remove", "prod"]);
    assert_eq!(env.json(&["host-group", "list"]), json!([]));
}

#[test]
fn rules_and_what_policy_check_decides() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    env.ok(&["client", "add", "alice"]);
    app(&env, "tux", "tux");
    app(&env, "alice", "alice");
    env.ok(&["group", "add", "admins", "--members", "alice"]);
    let everyone = env.json(&["rule", "add", "--require", "any"]);
    let admins = env.json(&["rule", "add", "--group", "admins", "--require", "totp"]);
    let bastion = env.json(&[
        "rule",
        "add",
        "--host",
        "bastion.example.org",
        "--service",
        "sshd",
        "--require",
        "push",
    ]);
    let deploy = env.json(&["rule", "add", "--action", "deploy", "--require", "totp"]);
    let cron = env.json(&[
        "rule",
        "add",
        "--user",
        "tux",
        "--service",
        "cron",
        "--require",
        "none",
    ]);
    assert_eq!(everyone["user"], Value::Null);
    assert_eq!(bastion["host"], "bastion.example.org");
    assert_eq!(deploy["action"], "deploy");
    let list = env.json(&["rule", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 5);
    let text = env.ok(&["rule", "list"]);
    assert!(text.lines().next().unwrap().starts_with("ID"), "{text}");

    // (arguments, result, requirement, winning rules)
    let login = |user: &'static str, host: &'static str, service: &'static str| {
        vec![
            "--user",
            user,
            "--host",
            host,
            "--service",
            service,
            "--client-ip",
            "192.0.2.1",
        ]
    };
    let table = [
        (
            login("tux", "web.example.org", "sshd"),
            "auth",
            Some("any"),
            vec![&everyone],
        ),
        (
            login("alice", "web.example.org", "sshd"),
            "auth",
            Some("totp"),
            vec![&admins],
        ),
        (
            login("tux", "bastion.example.org", "sshd"),
            "auth",
            Some("push"),
            vec![&bastion],
        ),
        // Group and host+service: neither is more specific, both apply.
        (
            login("alice", "bastion.example.org", "sshd"),
            "auth",
            Some("push,totp"),
            vec![&admins, &bastion],
        ),
        (
            login("tux", "web.example.org", "cron"),
            "allow",
            Some("none"),
            vec![&cron],
        ),
        (
            vec!["--user", "tux", "--action", "deploy"],
            "auth",
            Some("totp"),
            vec![&deploy],
        ),
        (
            login("nobody", "web.example.org", "sshd"),
            "enroll",
            Some("any"),
            vec![&everyone],
        ),
    ];
    for (args, result, requirement, rules) in table {
        let v = check(&env, &args);
        assert_eq!(v["result"], result, "{args:?}: {v}");
        assert_eq!(v["requirement"].as_str(), requirement, "{args:?}: {v}");
        let ids: Vec<Value> = rules.iter().map(|r| r["id"].clone()).collect();
        assert_eq!(v["rules"], json!(ids), "{args:?}: {v}");
    }
    let v = check(&env, &login("alice", "web.example.org", "sshd"));
    assert_eq!(v["methods"], json!(["totp"]));
    assert_eq!(v["required"], json!(["totp"]));
    let text = env.ok(&[
        "policy",
        "check",
        "--user",
        "alice",
        "--host",
        "h",
        "--service",
        "sshd",
    ]);
    assert!(text.contains("requirement:  totp (from rule"), "{text}");

    // Changing and removing rules.
    env.ok(&[
        "rule",
        "modify",
        &admins["id"].to_string(),
        "--require",
        "password,totp",
    ]);
    assert_eq!(
        check(&env, &login("alice", "web.example.org", "sshd"))["result"],
        "enroll",
        "no password yet"
    );
    env.ok(&["rule", "remove", &admins["id"].to_string()]);
    assert_eq!(
        check(&env, &login("alice", "web.example.org", "sshd"))["requirement"],
        "any"
    );

    // Errors are one line.
    assert_eq!(
        env.fails(&["rule", "add", "--require", "sms"]),
        "mfac: invalid requirement \"sms\": expected none, any, or the factors that must all be given, e.g. totp or password,totp"
    );
    assert!(
        env.fails(&["rule", "add", "--require", "totp"])
            .contains("exists already")
    );
    assert_eq!(
        env.fails(&["rule", "remove", "999"]),
        "mfac: rule 999 does not exist"
    );
    let (ok, _, _) = env.run(&[
        "rule",
        "add",
        "--user",
        "a",
        "--group",
        "b",
        "--require",
        "any",
    ]);
    assert!(!ok, "--user and --group conflict");
    assert!(
        env.fails(&["policy", "check", "--user", "tux", "--service", "sshd"])
            .contains("--host is required")
    );
}

#[test]
fn the_global_policy_and_trusted_networks_show_in_policy_check() {
    let env = Env::with("mfa_policy = \"totp-required\"\ntrusted_ip_networks = [\"10.0.0.0/8\"]\n");
    env.ok(&["client", "add", "tux"]);
    app(&env, "tux", "tux");
    let v = check(&env, &["--user", "tux", "--host", "h", "--service", "sshd"]);
    assert_eq!(v["source"], "mfa_policy = \"totp-required\"");
    assert_eq!(v["required"], json!(["totp"]));
    let v = check(
        &env,
        &[
            "--user",
            "tux",
            "--host",
            "h",
            "--service",
            "sshd",
            "--client-ip",
            "10.1.2.3",
        ],
    );
    assert_eq!(
        (v["result"].as_str(), v["reason"].as_str()),
        (Some("allow"), Some("trusted network"))
    );
}

#[test]
fn bypass_is_set_audited_and_decides() {
    let env = Env::with("");
    env.ok(&["rule", "add", "--require", "password,totp"]);
    let v = env.json(&["user", "modify", "robot-sync", "--bypass"]);
    assert_eq!(
        v,
        json!({"name": "robot-sync", "bypass": true, "changed": true})
    );
    assert_eq!(
        env.json(&["user", "modify", "robot-sync", "--bypass"])["changed"],
        false
    );
    let v = check(
        &env,
        &["--user", "robot-sync", "--host", "h", "--service", "sshd"],
    );
    assert_eq!(v["result"], "allow");
    assert!(
        v["reason"].as_str().unwrap().contains("automation account"),
        "{v}"
    );
    let users = env.json(&["user", "list"]);
    assert_eq!(users[0]["name"], "robot-sync");
    assert_eq!(users[0]["bypass"], true);
    let audit = env.json(&["audit", "--user", "robot-sync"]);
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit[0]["result"], "bypass-on");
    assert_eq!(audit[0]["reason"], "mfac user modify robot-sync --bypass");

    env.ok(&["user", "modify", "robot-sync", "--no-bypass"]);
    assert_eq!(
        env.json(&["audit", "--user", "robot-sync"])[1]["result"],
        "bypass-off"
    );
    assert_eq!(
        check(
            &env,
            &["--user", "robot-sync", "--host", "h", "--service", "sshd"]
        )["result"],
        "enroll"
    );
    assert_eq!(
        env.fails(&["user", "modify", "robot-sync"]),
        "mfac: nothing to change: give --bypass or --no-bypass"
    );
    let show = env.ok(&["user", "show", "robot-sync"]);
    assert!(show.contains("bypass:    no"), "{show}");
}

#[tokio::test]
async fn sessions_list_and_revoke() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    app(&env, "tux", "tux");
    let store = env.store().await;
    let now = SystemClock.now();
    let factors: mfa_core::Methods = "totp".parse().unwrap();
    let mut ids = Vec::new();
    for (user, scope) in [
        ("tux", "login:sudo@h"),
        ("tux", "action:deploy"),
        ("alice", "login:sshd@h"),
    ] {
        let s = store
            .create_session(NewSession {
                user: user.into(),
                client_ip: Some("192.0.2.1".into()),
                scope: scope.into(),
                factors: factors.clone(),
                server: Some("ssh-1".into()),
                txid: None,
                now,
                seconds: 600,
            })
            .await
            .unwrap();
        ids.push(s.id);
    }
    store.close().await;
    let list = env.json(&["session", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(
        env.json(&["session", "list", "--user", "tux"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let first = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == ids[0].as_str())
        .unwrap();
    assert_eq!(first["scope"], "login:sudo@h");
    assert_eq!(first["factors"], "totp");
    assert_eq!(first["client_ip"], "192.0.2.1");
    // policy check sees the session.
    let v = check(
        &env,
        &[
            "--user",
            "tux",
            "--host",
            "h",
            "--service",
            "sudo",
            "--client-ip",
            "192.0.2.1",
        ],
    );
    assert_eq!(v["result"], "allow", "{v}");
    env.ok(&["session", "revoke", &ids[0]]);
    let v = check(
        &env,
        &[
            "--user",
            "tux",
            "--host",
            "h",
            "--service",
            "sudo",
            "--client-ip",
            "192.0.2.1",
        ],
    );
    assert_eq!(v["result"], "auth", "revoked at once: {v}");
    assert_eq!(
        env.fails(&["session", "revoke", &ids[0]]),
        format!("mfac: no session {}: see mfac session list", ids[0])
    );
    assert_eq!(
        env.json(&["session", "revoke", "--user", "tux"]),
        json!({"user": "tux", "revoked": 1})
    );
    assert_eq!(env.json(&["session", "list"]).as_array().unwrap().len(), 1);
    assert!(env.ok(&["session", "list"]).starts_with("ID"));
}
