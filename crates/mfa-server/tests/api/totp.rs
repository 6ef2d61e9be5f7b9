use std::sync::Arc;

use serde_json::{Value, json};

use crate::support::{fixture, login};

fn totp_login(code: &str) -> Value {
    let mut body = login("totp");
    body["passcode"] = json!(code);
    body
}

#[tokio::test]
async fn a_code_works_once_and_a_wrong_code_is_denied() {
    let f = fixture("").await;
    let code = f.tux.totp.code_at(f.srv.now().unix_secs());
    let (status, first) = f.srv.post("/v1/auth", &f.token, &totp_login(&code)).await;
    assert_eq!(
        (status, first["result"].as_str()),
        (200, Some("allow")),
        "{first}"
    );
    let (_, replay) = f.srv.post("/v1/auth", &f.token, &totp_login(&code)).await;
    assert_eq!(replay["result"], "deny", "a replayed code was accepted");
    assert_eq!(replay["reason"], "invalid or already used code");
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let (_, denied) = f.srv.post("/v1/auth", &f.token, &totp_login(wrong)).await;
    assert_eq!(denied["result"], "deny");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_submissions_of_one_code_succeed_once() {
    let f = Arc::new(fixture("max_failed_attempts = 100").await);
    let code = f.tux.totp.code_at(f.srv.now().unix_secs());
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let f = f.clone();
            let code = code.clone();
            tokio::spawn(async move { f.srv.post("/v1/auth", &f.token, &totp_login(&code)).await })
        })
        .collect();
    let mut allowed = 0;
    for r in racers {
        let (status, body) = r.await.unwrap();
        assert_eq!(status, 200, "{body}");
        if body["result"] == "allow" {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 1, "one code accepted {allowed} times");
}

#[tokio::test]
async fn auto_uses_totp_with_a_passcode_and_push_without() {
    let f = fixture("").await;
    let code = f.tux.totp.code_at(f.srv.now().unix_secs());
    let mut body = login("auto");
    body["passcode"] = json!(format!(" {} {} ", &code[..3], &code[3..]));
    let (_, with_code) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(
        with_code["result"], "allow",
        "spaces inside a typed code are ignored"
    );
    let (_, without) = f.srv.post("/v1/auth", &f.token, &login("auto")).await;
    assert_eq!(without["result"], "pending");
}

#[tokio::test]
async fn a_method_the_app_does_not_allow_is_denied() {
    let f = fixture("").await;
    f.srv.enrol("alice").await;
    f.srv.app("alice", "*", "sshd", &["alice"], "push").await;
    let mut body = login("totp");
    body["user"] = json!("alice");
    body["passcode"] = json!("123456");
    let (status, denied) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 200);
    assert_eq!(denied["result"], "deny");
    assert!(
        denied["reason"].as_str().unwrap().contains("not allowed"),
        "{denied}"
    );
    let (_, pre) = f
        .srv
        .post(
            "/v1/preauth",
            &f.token,
            &json!({"user": "alice", "host": "linux.example.org", "service": "sshd"}),
        )
        .await;
    assert_eq!(pre, json!({"result": "auth", "methods": ["push"]}));
}

#[tokio::test]
async fn totp_without_a_passcode_is_a_bad_request() {
    let f = fixture("").await;
    let (status, body) = f.srv.post("/v1/auth", &f.token, &login("totp")).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "bad_request");
}
