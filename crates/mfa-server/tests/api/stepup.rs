//! Step-up (just-in-time MFA): POST /v1/stepup, answered through POST /v1/auth with `action`.

use serde_json::{Value, json};

use crate::policy::{add_rule, code, set_password};
use crate::support::{Fixture, fixture};

async fn stepup(f: &Fixture, action: &str, host: Option<&str>) -> (u16, Value) {
    let mut body = json!({"user": "tux", "action": action, "client_ip": "192.0.2.10"});
    if let Some(h) = host {
        body["host"] = json!(h);
    }
    f.srv.post("/v1/stepup", &f.token, &body).await
}

async fn answer(f: &Fixture, action: &str, method: &str, with: Value) -> Value {
    let mut body = json!({
        "user": "tux", "host": "linux.example.org", "action": action,
        "client_ip": "192.0.2.10", "method": method,
    });
    for (k, v) in with.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// tux's fixture app covers sshd only; an app whose service is `*` covers every action.
async fn with_actions_app(f: &Fixture) {
    f.srv
        .app("tux", "linux.example.org", "*", &["tux"], "push,totp")
        .await;
}

#[tokio::test]
async fn a_step_up_asks_like_a_login_and_totp_answers_it() {
    let f = fixture("").await;
    with_actions_app(&f).await;
    let (status, v) = stepup(&f, "deploy", Some("linux.example.org")).await;
    assert_eq!(status, 200);
    assert_eq!(v, json!({"result": "auth", "methods": ["push", "totp"]}));
    let ok = answer(&f, "deploy", "totp", json!({"passcode": code(&f)})).await;
    assert_eq!(ok["result"], "allow", "{ok}");
    let entries = f
        .srv
        .state
        .store
        .audit_entries(&Default::default())
        .await
        .unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.service.as_deref(), Some("action:deploy"));
    assert_eq!(last.method.as_deref(), Some("totp"));
}

#[tokio::test]
async fn per_action_requirements() {
    let f = fixture("").await;
    with_actions_app(&f).await;
    set_password(&f.srv, "tux", "correct horse").await;
    add_rule(&f.srv, "*", "*", "action:read-logs", "none").await;
    add_rule(&f.srv, "*", "*", "action:deploy", "totp").await;
    add_rule(&f.srv, "*", "*", "action:db-write", "password").await;
    add_rule(&f.srv, "*", "*", "action:reboot", "push").await;
    // A service rule never applies to a step-up, nor an action rule to a login.
    add_rule(&f.srv, "*", "*", "service:deploy", "password,totp").await;
    let h = Some("linux.example.org");
    let (_, v) = stepup(&f, "read-logs", h).await;
    assert_eq!(v["result"], "allow", "{v}");
    assert_eq!(stepup(&f, "deploy", h).await.1["required"], json!(["totp"]));
    assert_eq!(
        stepup(&f, "db-write", h).await.1["required"],
        json!(["password"])
    );
    assert_eq!(stepup(&f, "reboot", h).await.1["required"], json!(["push"]));
    assert_eq!(
        stepup(&f, "anything-else", h).await.1["methods"],
        json!(["push", "totp"])
    );

    let pw = answer(
        &f,
        "db-write",
        "password",
        json!({"password": "correct horse"}),
    )
    .await;
    assert_eq!(pw["result"], "allow", "{pw}");
    let push_for_deploy = answer(&f, "deploy", "push", json!({})).await;
    assert_eq!(push_for_deploy["result"], "deny");
    let pending = answer(&f, "reboot", "push", json!({})).await;
    assert_eq!(pending["result"], "pending", "{pending}");
    let (_, listed) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(
        listed[0]["service"], "action:reboot",
        "the approver sees the action"
    );
    let txid = pending["txid"].as_str().unwrap();
    f.decide(
        txid,
        &json!({"decision": "approve", "number": pending["number"]}),
    )
    .await;
    let (_, status) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(status["result"], "allow");
}

#[tokio::test]
async fn a_step_up_routes_by_its_action() {
    let f = fixture("").await;
    // The fixture's app covers service sshd only, so not action deploy.
    let (_, v) = stepup(&f, "deploy", Some("linux.example.org")).await;
    assert_eq!(v["result"], "deny", "{v}");
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .contains("covers action deploy"),
        "{v}"
    );
    // An app whose service names the action routes it.
    f.srv
        .app("tux", "linux.example.org", "deploy", &["tux"], "totp")
        .await;
    assert_eq!(
        stepup(&f, "deploy", Some("linux.example.org")).await.1["methods"],
        json!(["totp"])
    );
    // Unknown users are told how to enrol.
    let (_, v) = f
        .srv
        .post(
            "/v1/stepup",
            &f.token,
            &json!({"user": "nobody", "action": "deploy", "host": "linux.example.org"}),
        )
        .await;
    assert_eq!(v["result"], "enroll");
}

#[tokio::test]
async fn a_step_up_without_a_host_needs_a_server_allowed_everywhere() {
    let f = fixture("").await;
    f.srv.app("tux", "*", "*", &["tux"], "push,totp").await;
    let (status, v) = stepup(&f, "deploy", None).await;
    assert_eq!(status, 403, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("name the host"),
        "{v}"
    );
    let everywhere = f.srv.server("jump", &["*"]).await;
    let (status, v) = f
        .srv
        .post(
            "/v1/stepup",
            &everywhere,
            &json!({"user": "tux", "action": "deploy"}),
        )
        .await;
    assert_eq!((status, v["result"].as_str()), (200, Some("auth")), "{v}");
    // Answered without a host too.
    let (status, v) = f
        .srv
        .post(
            "/v1/auth",
            &everywhere,
            &json!({"user": "tux", "action": "deploy", "method": "totp", "passcode": code(&f)}),
        )
        .await;
    assert_eq!((status, v["result"].as_str()), (200, Some("allow")), "{v}");
}

#[tokio::test]
async fn step_up_input_is_checked() {
    let f = fixture("").await;
    let (status, v) = f
        .srv
        .post(
            "/v1/stepup",
            &f.token,
            &json!({"user": "tux", "action": "rm -rf /"}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().starts_with("action: "),
        "{v}"
    );
    let (status, _) = f
        .srv
        .post(
            "/v1/stepup",
            &f.token,
            &json!({"user": "tux", "action": "a", "service": "sshd"}),
        )
        .await;
    assert_eq!(status, 400, "unknown fields are refused");
    let (status, _) = f
        .srv
        .post(
            "/v1/stepup",
            &f.token,
            &json!({"user": "tux", "action": "a", "host": "evil.example.com"}),
        )
        .await;
    assert_eq!(status, 403, "a host the token does not cover");
}
