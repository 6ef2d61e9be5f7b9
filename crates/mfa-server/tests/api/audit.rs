//! Every refusal is audited: lockouts, hosts a token does not cover, bad and missing tokens
//! (with the caller's address).

use mfa_store::AuditEntry;
use serde_json::json;

use crate::support::{Fixture, fixture, login};

async fn entries(f: &Fixture) -> Vec<AuditEntry> {
    f.srv
        .state
        .store
        .audit_entries(&Default::default())
        .await
        .unwrap()
}

#[tokio::test]
async fn refusals_before_any_factor_are_audited() {
    let f = fixture("max_failed_attempts = 2").await;
    // A host the token does not cover: 403, audited with the login it was about.
    let mut body = login("push");
    body["host"] = json!("mail.example.org");
    let (status, _) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 403);
    let e = entries(&f).await.pop().unwrap();
    assert_eq!(
        (e.user.as_str(), e.host.as_deref(), e.result.as_str()),
        ("tux", Some("mail.example.org"), "deny")
    );
    assert!(e.reason.unwrap().contains("may not ask about host"));
    assert_eq!(e.server.as_deref(), Some("ssh-1"));

    // A missing token, bad tokens, then the locked caller's 429: each audited with the
    // caller's address.
    let resp = f
        .srv
        .http
        .post(f.srv.url("/v1/preauth"))
        .json(&login("push"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    for _ in 0..2 {
        let (status, _) = f.srv.post("/v1/preauth", "mfas_bad", &login("push")).await;
        assert_eq!(status, 401);
    }
    let (status, _) = f.srv.post("/v1/preauth", "mfas_bad", &login("push")).await;
    assert_eq!(status, 429);
    let callers: Vec<(String, String)> = entries(&f)
        .await
        .into_iter()
        .filter(|e| e.client_ip.as_deref() == Some("127.0.0.1") && e.user.is_empty())
        .map(|e| (e.method.unwrap_or_default(), e.reason.unwrap_or_default()))
        .collect();
    assert_eq!(callers.len(), 4, "{callers:?}");
    assert!(callers[0].1.starts_with("missing API token"), "{callers:?}");
    assert_eq!(callers[1], ("API token".into(), "invalid API token".into()));
    assert!(
        callers[3].1.starts_with("caller 127.0.0.1 is locked out"),
        "{callers:?}"
    );

    // A login refused by a lock: audited too.
    for _ in 0..2 {
        let mut body = login("totp");
        body["passcode"] = json!("000000");
        f.srv.post("/v1/auth", &f.token, &body).await;
    }
    let mut body = login("totp");
    body["passcode"] = json!(f.tux.totp.code_at(f.srv.now().unix_secs()));
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "deny");
    let e = entries(&f).await.pop().unwrap();
    assert_eq!(e.result, "deny");
    assert!(e.reason.unwrap().contains("locked out"));
}
