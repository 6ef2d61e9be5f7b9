//! Lockouts under attack: parallel guessing, separate namespaces for logins and API callers,
//! locks a success cannot lift, and one spelling per address.

use std::sync::Arc;

use mfa_secrets::RecoveryCode;
use serde_json::{Value, json};

use crate::policy::{alias, set_password};
use crate::support::{Fixture, TestServer, fixture, login};

const FIVE: &str = "max_failed_attempts = 5\nblock_duration = 300";

async fn audited(f: &Fixture, reason_starts: &str) -> usize {
    let entries = f
        .srv
        .state
        .store
        .audit_entries(&Default::default())
        .await
        .unwrap();
    entries
        .iter()
        .filter(|e| {
            e.reason
                .as_deref()
                .is_some_and(|r| r.starts_with(reason_starts))
        })
        .count()
}

/// `n` concurrent `POST /v1/auth` with `extra` merged into tux's login, each from its own
/// address (so only the user's count can stop them).
async fn burst(f: &Arc<Fixture>, n: usize, extra: Value) -> Vec<Value> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            let mut body = login("totp");
            for (k, v) in extra.as_object().unwrap() {
                body[k] = v.clone();
            }
            body["client_ip"] = json!(format!("198.51.100.{}", i % 250));
            tokio::spawn(async move { f.srv.post("/v1/auth", &f.token, &body).await })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        let (status, v) = t.await.unwrap();
        assert_eq!(status, 200, "{v}");
        answers.push(v);
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_codes_are_compared_at_most_max_failed_attempts_times() {
    let f = Arc::new(fixture(FIVE).await);
    let wrong = f.wrong_code();
    let answers = burst(&f, 64, json!({"passcode": wrong})).await;
    assert!(answers.iter().all(|a| a["result"] == "deny"));
    let compared = audited(&f, "invalid or already used code").await;
    assert!(
        (1..=5).contains(&compared),
        "64 parallel wrong codes were compared {compared} times (limit 5)"
    );
    // The right code, sent after them, is refused while the lock holds.
    let right = f.tux.totp.code_at(f.srv.now().unix_secs());
    let mut body = login("totp");
    body["passcode"] = json!(right);
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "deny", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("locked out"), "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_recovery_codes_and_passwords_are_counted_before_they_are_compared() {
    let f = Arc::new(fixture(FIVE).await);
    let code = RecoveryCode::generate().unwrap();
    f.srv
        .state
        .store
        .replace_recovery_codes(&alias("tux"), &[code.hash()], f.srv.now())
        .await
        .unwrap();
    let other = RecoveryCode::generate().unwrap();
    burst(&f, 48, json!({"passcode": other.expose()})).await;
    let compared = audited(&f, "invalid or already used recovery code").await;
    assert!(
        (1..=5).contains(&compared),
        "48 parallel wrong recovery codes were compared {compared} times (limit 5)"
    );
    let mut body = login("totp");
    body["passcode"] = json!(code.expose());
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "deny", "the right recovery code got in: {v}");

    // Passwords (argon2: each comparison costs tens of milliseconds, so fewer racers).
    let srv = TestServer::start(FIVE).await;
    let tux = srv.enrol("tux").await;
    srv.app(
        "tux",
        "linux.example.org",
        "sshd",
        &["tux"],
        "push,totp,password",
    )
    .await;
    let token = srv.server("ssh-1", &["linux.example.org"]).await;
    let f = Arc::new(Fixture { srv, tux, token });
    set_password(&f.srv, "tux", "correct horse").await;
    burst(
        &f,
        16,
        json!({"method": "password", "password": "wrong horse"}),
    )
    .await;
    let compared = audited(&f, "wrong password").await;
    assert!(
        (1..=5).contains(&compared),
        "16 parallel wrong passwords were compared {compared} times (limit 5)"
    );
}

/// Five wrong codes typed on a host whose own address is the login's source (a bastion, `ssh
/// localhost`) lock that login source, not the host's API token; bad tokens from the host's
/// address lock it as a caller, and never a request with a valid token.
#[tokio::test]
async fn login_failures_and_caller_failures_are_counted_apart() {
    let f = fixture("max_failed_attempts = 3\nblock_duration = 300").await;
    for user in ["alice", "bob", "carol"] {
        f.srv.enrol(user).await;
        f.srv
            .app(user, "linux.example.org", "sshd", &[user], "push,totp")
            .await;
    }
    for user in ["alice", "bob", "carol"] {
        let mut body = login("totp");
        body["user"] = json!(user);
        body["client_ip"] = json!("127.0.0.1");
        body["passcode"] = json!("000000");
        f.srv.post("/v1/auth", &f.token, &body).await;
    }
    // Logins from 127.0.0.1 are locked ...
    let ask = |user: &str, ip: &str| json!({"user": user, "host": "linux.example.org", "service": "sshd", "client_ip": ip});
    let (status, v) = f
        .srv
        .post("/v1/preauth", &f.token, &ask("tux", "127.0.0.1"))
        .await;
    assert_eq!((status, v["result"].as_str()), (200, Some("deny")), "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("ip 127.0.0.1 is locked out until"),
        "{v}"
    );
    // ... but the host's token, calling from 127.0.0.1, still works for other logins.
    let (status, v) = f
        .srv
        .post("/v1/preauth", &f.token, &ask("tux", "192.0.2.77"))
        .await;
    assert_eq!((status, v["result"].as_str()), (200, Some("auth")), "{v}");

    // Bad tokens from 127.0.0.1 lock the caller address: bad tokens get 429 ...
    for _ in 0..3 {
        let (status, _) = f
            .srv
            .post("/v1/preauth", "mfas_wrong", &ask("tux", "192.0.2.77"))
            .await;
        assert_eq!(status, 401);
    }
    let (status, v) = f
        .srv
        .post("/v1/preauth", "mfas_wrong", &ask("tux", "192.0.2.77"))
        .await;
    assert_eq!(status, 429, "{v}");
    assert!(v["message"].as_str().unwrap().contains("127.0.0.1"), "{v}");
    // ... a valid token from the same address is never refused for it ...
    let (status, v) = f
        .srv
        .post("/v1/preauth", &f.token, &ask("tux", "192.0.2.78"))
        .await;
    assert_eq!((status, v["result"].as_str()), (200, Some("auth")), "{v}");
    // ... and the caller lock does not touch logins whose source is that address's neighbour.
    let (_, v) = f
        .srv
        .post("/v1/preauth", &f.token, &ask("tux", "127.0.0.2"))
        .await;
    assert_eq!(v["result"], "auth", "{v}");
}

#[tokio::test]
async fn a_success_never_lifts_a_lock_in_force() {
    let f = fixture("max_failed_attempts = 3\nblock_duration = 300").await;
    // A push sent before the lock ...
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let mut body = login("totp");
        body["passcode"] = json!(f.wrong_code());
        body["client_ip"] = json!("203.0.113.5");
        f.srv.post("/v1/auth", &f.token, &body).await;
    }
    let ask = json!({"user": "tux", "host": "linux.example.org", "service": "sshd", "client_ip": "192.0.2.10"});
    let (_, pre) = f.srv.post("/v1/preauth", &f.token, &ask).await;
    assert_eq!(pre["result"], "deny", "{pre}");
    // ... approved after it: the login is refused, and the lock stays.
    let (_, d) = f
        .decide(
            &txid,
            &json!({"decision": "approve", "number": p["number"]}),
        )
        .await;
    assert_eq!(d["state"], "denied", "{d}");
    assert!(d["reason"].as_str().unwrap().contains("locked out"), "{d}");
    let (_, s) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(s["result"], "deny", "{s}");
    let (_, pre) = f.srv.post("/v1/preauth", &f.token, &ask).await;
    assert_eq!(pre["result"], "deny", "the approval lifted the lock: {pre}");
}

#[tokio::test]
async fn one_address_has_one_spelling_and_other_text_is_refused() {
    let f = fixture("max_failed_attempts = 3\nblock_duration = 300").await;
    for user in ["alice", "bob"] {
        f.srv.enrol(user).await;
        f.srv
            .app(user, "linux.example.org", "sshd", &[user], "push,totp")
            .await;
    }
    for (user, ip) in [
        ("tux", "2001:db8::1"),
        ("alice", "2001:db8:0:0:0:0:0:1"),
        ("bob", "2001:0db8::0001"),
    ] {
        let mut body = login("totp");
        body["user"] = json!(user);
        body["client_ip"] = json!(ip);
        body["passcode"] = json!("000000");
        let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
        assert_eq!((status, v["result"].as_str()), (200, Some("deny")), "{v}");
    }
    // One subject, three failures: the address's /64 is locked, however it is written.
    for ip in ["2001:db8::1", "2001:DB8::2", "2001:db8::ffff:1"] {
        let ask = json!({"user": "carol", "host": "linux.example.org", "service": "sshd", "client_ip": ip});
        let (_, v) = f.srv.post("/v1/preauth", &f.token, &ask).await;
        assert_eq!(v["result"], "deny", "{ip}: {v}");
        assert!(
            v["reason"].as_str().unwrap().contains("2001:db8::/64"),
            "{v}"
        );
    }
    // The audit log has the canonical spelling.
    let entries = f
        .srv
        .state
        .store
        .audit_entries(&Default::default())
        .await
        .unwrap();
    assert!(
        entries
            .iter()
            .filter(|e| e.method.as_deref() == Some("totp"))
            .all(|e| e.client_ip.as_deref() == Some("2001:db8::1")),
        "{entries:?}"
    );
    // A mapped IPv4 address is that IPv4 address.
    let ask = |ip: &str| json!({"user": "tux", "host": "linux.example.org", "service": "sshd", "client_ip": ip});
    for user in ["u1", "u2", "u3"] {
        f.srv.enrol(user).await;
        f.srv
            .app(user, "linux.example.org", "sshd", &[user], "push,totp")
            .await;
        let mut body = login("totp");
        body["client_ip"] = json!("::ffff:203.0.113.60");
        body["user"] = json!(user);
        body["passcode"] = json!("000000");
        f.srv.post("/v1/auth", &f.token, &body).await;
    }
    let (_, v) = f
        .srv
        .post("/v1/preauth", &f.token, &ask("203.0.113.60"))
        .await;
    assert_eq!(v["result"], "deny", "{v}");
    // Not an address: 400, naming the field.
    for bad in ["host.example.org", "203.0.113", "1.2.3.4; rm"] {
        let (status, v) = f.srv.post("/v1/preauth", &f.token, &ask(bad)).await;
        assert_eq!(status, 400, "{bad}: {v}");
        assert!(
            v["message"].as_str().unwrap().starts_with("client_ip:"),
            "{v}"
        );
    }
}
