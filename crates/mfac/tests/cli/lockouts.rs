use mfa_core::push::FRAUD_REASON;
use mfa_core::{Clock, SystemClock};
use mfa_store::{LockKind, LockoutRule};

use crate::Env;

/// Locks what mfad would lock: tux and an address after failures, alice after a fraud report;
/// bob has a failure but no lock.
async fn lock_some(env: &Env) {
    env.ok(&["client", "list"]); // creates the database and key file
    let store = env.store().await;
    let now = SystemClock.now();
    let rule = LockoutRule {
        max_failures: 2,
        window_secs: 300,
        block_secs: 600,
        max_block_secs: 86_400,
    };
    for (kind, subject) in [
        (LockKind::User, "tux"),
        (LockKind::Ip, "192.0.2.7"),
        (LockKind::Ip, "2001:db8::1"),
    ] {
        for _ in 0..2 {
            store
                .record_failure(kind, subject, rule, now)
                .await
                .unwrap();
        }
    }
    store
        .record_failure(LockKind::User, "bob", rule, now)
        .await
        .unwrap();
    store
        .lock_until_cleared(LockKind::User, "alice", FRAUD_REASON, now)
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn list_shows_every_lock_in_force() {
    let env = Env::with("");
    lock_some(&env).await;
    let list = env.json(&["lockout", "list"]);
    let rows = list.as_array().unwrap();
    let keys: Vec<(String, String)> = rows
        .iter()
        .map(|l| {
            (
                l["kind"].as_str().unwrap().to_owned(),
                l["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("ip".into(), "192.0.2.7".into()),
            ("ip".into(), "2001:db8::1".into()),
            ("user".into(), "alice".into()),
            ("user".into(), "tux".into()),
        ],
        "bob has a failure but no lock: {list}"
    );
    let tux = &rows[3];
    assert_eq!(tux["failures"], 2);
    assert_eq!(tux["reason"], "too many failures");
    assert!(tux["until"].as_str().unwrap().ends_with('Z'), "{tux}");
    let alice = &rows[2];
    assert_eq!(alice["until"], serde_json::Value::Null);
    assert_eq!(alice["reason"], FRAUD_REASON);

    let text = env.ok(&["lockout", "list"]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("KIND") && lines[0].contains("UNTIL"),
        "{text}"
    );
    let alice = lines.iter().find(|l| l.contains("alice")).unwrap();
    assert!(alice.contains("until cleared"), "{text}");
    assert!(alice.contains(FRAUD_REASON), "{text}");
    let tux = lines.iter().find(|l| l.contains("tux")).unwrap();
    assert!(tux.contains(tux_until(&env).as_str()), "{text}");
}

fn tux_until(env: &Env) -> String {
    env.json(&["lockout", "list"])
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["subject"] == "tux")
        .unwrap()["until"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn clear_lifts_one_lock() {
    let env = Env::with("");
    lock_some(&env).await;
    let v = env.json(&["lockout", "clear", "user", "alice"]);
    assert_eq!(
        v,
        serde_json::json!({
            "kind": "user", "subject": "alice", "result": "cleared", "still_locked": []
        })
    );
    let text = env.ok(&["lockout", "clear", "ip", "192.0.2.7"]);
    assert!(text.contains("Cleared ip 192.0.2.7"), "{text}");
    // An address written another way is the same address.
    let v = env.json(&["lockout", "clear", "ip", "2001:DB8:0::1"]);
    assert_eq!(v["subject"], "2001:db8::1");
    // Failures without a lock are cleared too.
    env.ok(&["lockout", "clear", "user", "bob"]);
    let left = env.json(&["lockout", "list"]);
    assert_eq!(left.as_array().unwrap().len(), 1, "{left}");
    assert_eq!(left[0]["subject"], "tux");

    // The store agrees: alice may log in again.
    let store = env.store().await;
    let now = SystemClock.now();
    assert!(
        store
            .lockout(LockKind::User, "alice", now)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .lockout(LockKind::User, "tux", now)
            .await
            .unwrap()
            .is_some()
    );
    store.close().await;
}

#[tokio::test]
async fn clearing_nothing_or_bad_input_is_an_error() {
    let env = Env::with("");
    lock_some(&env).await;
    assert_eq!(
        env.fails(&["lockout", "clear", "user", "ghost"]),
        "mfac: nothing to clear: user ghost is not locked out and has no failures recorded"
    );
    assert!(
        env.fails(&["lockout", "clear", "ip", "198.51.100.1"])
            .contains("nothing to clear")
    );
    env.ok(&["lockout", "clear", "user", "tux"]);
    assert!(
        env.fails(&["lockout", "clear", "user", "tux"])
            .contains("nothing to clear")
    );
    assert_eq!(
        env.fails(&["lockout", "clear", "group", "tux"]),
        "mfac: unknown lockout kind \"group\": expected user, ip or caller"
    );
    assert!(
        env.fails(&["lockout", "clear", "user", "bad name"])
            .contains("invalid alias")
    );
    assert!(
        env.fails(&["lockout", "clear", "ip", "1.2.3.4 5"])
            .contains("invalid address")
    );
    assert_eq!(env.json(&["lockout", "list"]).as_array().unwrap().len(), 3);
}

#[test]
fn no_locks_is_an_empty_list() {
    let env = Env::with("");
    assert_eq!(env.json(&["lockout", "list"]), serde_json::json!([]));
    assert!(env.ok(&["lockout", "list"]).starts_with("KIND"));
}

/// Clearing a user whose logins an address lock still refuses says so, and names the command
/// that lifts it.
#[tokio::test]
async fn clearing_a_user_names_the_address_lock_that_still_refuses_them() {
    let env = Env::with("");
    env.ok(&["client", "list"]);
    let store = env.store().await;
    let now = SystemClock.now();
    let rule = LockoutRule {
        max_failures: 1,
        window_secs: 300,
        block_secs: 600,
        max_block_secs: 86_400,
    };
    for (kind, subject) in [(LockKind::User, "tux"), (LockKind::Ip, "203.0.113.7")] {
        store
            .record_failure(kind, subject, rule, now)
            .await
            .unwrap();
    }
    // What mfad audits for the failed login (tux from 203.0.113.7), and an older, unlocked source.
    for ip in ["203.0.113.7", "198.51.100.9"] {
        let entry = mfa_store::AuditEntry {
            user: "tux".into(),
            client_ip: Some(ip.into()),
            method: Some("totp".into()),
            result: "deny".into(),
            reason: Some("invalid or already used code".into()),
            ..Default::default()
        };
        store.audit(&entry, now).await.unwrap();
    }
    store.close().await;
    let text = env.ok(&["lockout", "clear", "user", "tux"]);
    assert!(text.contains("Cleared user tux"), "{text}");
    assert!(
        text.contains("Logins of tux from 203.0.113.7 are still refused")
            && text.contains("Lift it with: mfac lockout clear ip 203.0.113.7"),
        "{text}"
    );
    assert!(!text.contains("198.51.100.9"), "{text}");
    // The same in JSON, after the user is locked again.
    let store = env.store().await;
    store
        .record_failure(LockKind::User, "tux", rule, now)
        .await
        .unwrap();
    store.close().await;
    let v = env.json(&["lockout", "clear", "user", "tux"]);
    assert_eq!(v["still_locked"][0]["subject"], "203.0.113.7", "{v}");
    assert_eq!(
        v["still_locked"][0]["command"],
        "mfac lockout clear ip 203.0.113.7"
    );
    env.ok(&["lockout", "clear", "ip", "203.0.113.7"]);
}
