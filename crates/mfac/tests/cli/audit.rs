use mfa_core::{Clock, SystemClock, Timestamp};
use mfa_store::AuditEntry;
use serde_json::{Value, json};

use crate::Env;

/// Writes what mfad would have logged, oldest first; returns the entries' times.
async fn log_some(env: &Env) -> Vec<Timestamp> {
    env.ok(&["client", "list"]); // creates the database and key file
    let store = env.store().await;
    let now = SystemClock.now();
    let at = [
        now.plus_secs(-3 * 86_400),
        now.plus_secs(-2 * 3600),
        now.plus_secs(-30 * 60),
        now.plus_secs(-10 * 60),
    ];
    let login = |user: &str| AuditEntry {
        user: user.into(),
        host: Some("linux.example.org".into()),
        service: Some("sshd".into()),
        client_ip: Some("192.0.2.7".into()),
        server: Some("ssh-1".into()),
        ..AuditEntry::default()
    };
    let entries = [
        AuditEntry {
            at: Some(at[0]),
            method: Some("bypass".into()),
            result: "allow".into(),
            reason: Some("trusted network".into()),
            ..login("tux")
        },
        AuditEntry {
            at: Some(at[1]),
            user: "alice".into(),
            result: "deny".into(),
            reason: Some("unknown user alice".into()),
            ..AuditEntry::default()
        },
        AuditEntry {
            at: Some(at[2]),
            method: Some("push".into()),
            result: "denied".into(),
            reason: Some("denied by alice".into()),
            client: Some("alice".into()),
            txid: Some("tx1".into()),
            ..login("alice")
        },
        AuditEntry {
            at: Some(at[3]),
            method: Some("push".into()),
            result: "approved".into(),
            client: Some("tux".into()),
            txid: Some("tx2".into()),
            ..login("tux")
        },
    ];
    for e in &entries {
        store.audit(e, now).await.unwrap();
    }
    store.close().await;
    at.to_vec()
}

fn results(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn json_is_every_entry_oldest_first_with_every_field() {
    let env = Env::with("");
    let at = log_some(&env).await;
    let all = env.json(&["audit"]);
    assert_eq!(results(&all), ["allow", "deny", "denied", "approved"]);
    assert_eq!(
        all[3],
        json!({
            "time": at[3].to_string(),
            "user": "tux",
            "host": "linux.example.org",
            "service": "sshd",
            "client_ip": "192.0.2.7",
            "method": "push",
            "result": "approved",
            "reason": null,
            "server": "ssh-1",
            "client": "tux",
            "txid": "tx2",
        })
    );
    // Fields that were not set are there, as null.
    assert_eq!(all[1]["host"], Value::Null);
    assert_eq!(all[1].as_object().unwrap().len(), 11);
}

#[tokio::test]
async fn filters_by_user_time_and_count() {
    let env = Env::with("");
    let at = log_some(&env).await;
    assert_eq!(
        results(&env.json(&["audit", "--user", "alice"])),
        ["deny", "denied"]
    );
    assert_eq!(
        results(&env.json(&["audit", "--since", "1h"])),
        ["denied", "approved"]
    );
    assert_eq!(
        results(&env.json(&["audit", "--since", "90m"])),
        ["denied", "approved"]
    );
    assert_eq!(
        results(&env.json(&["audit", "--since", "1d"])),
        ["deny", "denied", "approved"]
    );
    assert_eq!(results(&env.json(&["audit", "--since", "1w"])).len(), 4);
    // An RFC 3339 time: from that moment on, inclusive.
    let since = at[1].to_string();
    assert_eq!(
        results(&env.json(&["audit", "--since", &since])),
        ["deny", "denied", "approved"]
    );
    // The newest N, still oldest first.
    assert_eq!(
        results(&env.json(&["audit", "--limit", "2"])),
        ["denied", "approved"]
    );
    assert_eq!(
        results(&env.json(&["audit", "--user", "tux", "--since", "2d", "--limit", "5"])),
        ["approved"]
    );
    assert_eq!(env.json(&["audit", "--user", "nobody"]), json!([]));
}

#[tokio::test]
async fn text_is_a_table() {
    let env = Env::with("");
    let at = log_some(&env).await;
    let text = env.ok(&["audit"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    for column in [
        "TIME", "USER", "HOST", "SERVICE", "METHOD", "RESULT", "REASON",
    ] {
        assert!(lines[0].contains(column), "{text}");
    }
    assert!(lines[1].starts_with(&at[0].to_string()), "{text}");
    assert!(lines[1].contains("trusted network"), "{text}");
    // Unset fields are a dash.
    assert!(lines[2].contains(" - "), "{text}");
    assert!(lines[4].contains("approved"), "{text}");
}

#[test]
fn bad_filters_are_one_line() {
    let env = Env::with("");
    for since in [
        "yesterday",
        "1x",
        "-1h",
        "2026-13-01T00:00:00Z",
        "1h30m",
        "",
    ] {
        let err = env.fails(&["audit", "--since", since]);
        assert!(err.starts_with("mfac: invalid --since"), "{since:?}: {err}");
    }
    assert!(
        env.fails(&["audit", "--user", "bad name"])
            .contains("invalid alias")
    );
    let (ok, _, err) = env.run(&["audit", "--limit", "0"]);
    assert!(!ok && err.contains("--limit"), "{err}");
}
