//! The bounds the OpenAPI document states (src/openapi/bounds.rs) are the server's: what it
//! allows is accepted, what it forbids is refused with a 400, the same whatever the policy
//! says. Found by schemathesis (scripts/schemathesis.sh); each test failed before its fix.

use serde_json::json;

use crate::otp::api_token;
use crate::support::{fixture, login};

#[tokio::test]
async fn a_number_beyond_two_digits_is_a_malformed_answer_and_decides_nothing() {
    let f = fixture("").await;
    let (_, pending) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = pending["txid"].as_str().unwrap();
    for number in [100, 255] {
        let body = json!({"decision": "approve", "number": number});
        let (status, error) = f.decide(txid, &body).await;
        assert_eq!(status, 400, "{number}: {error}");
        assert!(
            error["message"].as_str().unwrap().contains("number"),
            "{error}"
        );
    }
    let (_, status) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(
        status["state"], "pending",
        "a malformed answer must not deny the push"
    );
}

#[tokio::test]
async fn a_malformed_auth_is_refused_before_the_policy_looks() {
    // mfa_policy "enabled": a login that routes to no app is allowed. A body that cannot be
    // answered is still a 400, not an allow that depends on who is named in it.
    let f = fixture("").await;
    let mut body = login("totp");
    body["user"] = json!("nobody");
    let (status, error) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("passcode"),
        "{error}"
    );
    let mut body = login("password");
    body["user"] = json!("nobody");
    let (status, _) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn names_and_addresses_are_checked_as_sent() {
    let f = fixture("").await;
    let preauth = |field: &str, value: &str| {
        let mut body = json!({"user": "tux", "host": "linux.example.org", "service": "sshd"});
        body[field] = json!(value);
        body
    };
    for (field, value) in [
        ("host", " linux.example.org"),
        ("service", "sshd\n"),
        ("client_ip", " 192.0.2.1"),
    ] {
        let (status, error) = f
            .srv
            .post("/v1/preauth", &f.token, &preauth(field, value))
            .await;
        assert_eq!(status, 400, "{field} {value:?}: {error}");
        assert!(
            error["message"].as_str().unwrap().starts_with(field),
            "{error}"
        );
    }
    let (status, _) = f
        .srv
        .post("/v1/preauth", &f.token, &preauth("client_ip", ""))
        .await;
    assert_eq!(status, 200, "an empty client_ip is an absent one");
}

#[tokio::test]
async fn remember_is_at_most_a_week() {
    let f = fixture("").await;
    let mut body = login("totp");
    body["passcode"] = json!(f.tux.totp.code_at(f.srv.now().unix_secs()));
    body["remember"] = json!(7 * 86_400 + 1);
    let (status, error) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 400, "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("remember"),
        "{error}"
    );
    body["remember"] = json!(7.0 * 86_400.0);
    let (status, answer) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(
        (status, &answer["result"]),
        (200, &json!("allow")),
        "{answer}"
    );
}

#[tokio::test]
async fn free_text_is_checked_as_sent_and_integers_may_have_a_zero_fraction() {
    let f = fixture("").await;
    let token = api_token(&f.srv, "app", "otp", None).await;
    let create = |body: serde_json::Value| {
        let (srv, token) = (&f.srv, token.clone());
        async move { srv.post("/v1/otp/credentials", &token, &body).await }
    };
    let (status, error) = create(json!({"type": "totp", "label": "\tx"})).await;
    assert_eq!(
        status, 400,
        "a tab at the start is a control character: {error}"
    );
    let (status, made) = create(json!({"type": "totp", "digits": 8.0, "period": 60.0})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        (made["digits"].as_u64(), made["period"].as_u64()),
        (Some(8), Some(60))
    );
    let (status, error) = create(json!({"type": "totp", "digits": 6.5})).await;
    assert_eq!(status, 400, "{error}");
    let (status, error) = create(json!({"type": "hotp", "period": 30})).await;
    assert_eq!(status, 400, "{error}");
    let (status, code) = f
        .srv
        .post(
            "/v1/otp/codes",
            &token,
            &json!({"ttl_seconds": 60.0, "max_attempts": 3.0}),
        )
        .await;
    assert_eq!(
        (status, code["max_attempts"].as_u64()),
        (201, Some(3)),
        "{code}"
    );
}

#[tokio::test]
async fn a_uri_too_long_for_a_qr_code_still_makes_the_credential() {
    // 128 three-byte characters each, percent-encoded (the issuer twice): a URI of over 3 KB,
    // beyond what any QR code holds (2953 bytes).
    let f = fixture("").await;
    let token = api_token(&f.srv, "app", "otp", None).await;
    let long = "€".repeat(128);
    let body = json!({"type": "totp", "issuer": long, "label": long});
    let (status, made) = f.srv.post("/v1/otp/credentials", &token, &body).await;
    assert_eq!(status, 201, "{made}");
    assert!(made["otpauth_uri"].as_str().unwrap().len() > 2953);
    assert!(made["secret"].is_string());
    assert!(made.get("qr_svg").is_none(), "no QR code can hold it");
    let (status, short) = f
        .srv
        .post("/v1/otp/credentials", &token, &json!({"type": "totp"}))
        .await;
    assert_eq!(status, 201);
    assert!(
        short["qr_svg"].as_str().unwrap().starts_with("<?xml"),
        "{short}"
    );
}
