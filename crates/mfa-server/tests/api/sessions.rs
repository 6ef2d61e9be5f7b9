//! Elevated sessions: `remember` in POST /v1/auth, checked by preauth and step-up for the same
//! user, source address and scope, until they expire or are revoked.

use std::sync::Arc;

use mfa_core::{FixedClock, Timestamp};
use serde_json::{Value, json};

use crate::policy::{add_rule, auth, code, preauth, set_password};
use crate::support::{Fixture, TestServer, fixture, fixture_on};

async fn preauth_from(f: &Fixture, ip: &str, service: &str) -> Value {
    let body =
        json!({"user": "tux", "host": "linux.example.org", "service": service, "client_ip": ip});
    f.srv.post("/v1/preauth", &f.token, &body).await.1
}

async fn clocked(extra: &str) -> (Fixture, FixedClock) {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let srv = TestServer::start_with_clock(extra, Arc::new(clock.clone())).await;
    (fixture_on(srv).await, clock)
}

#[tokio::test]
async fn remember_covers_the_same_user_address_and_scope_until_it_expires() {
    let (f, clock) = clocked("").await;
    f.srv
        .app("tux", "linux.example.org", "sudo", &["tux"], "push,totp")
        .await;
    let ok = auth(&f, "totp", json!({"passcode": code(&f), "remember": 600})).await;
    assert_eq!(ok["result"], "allow", "{ok}");
    let until = f.srv.now().plus_secs(600).to_string();
    assert_eq!(ok["elevated_until"], until.as_str());

    let pre = preauth(&f, "tux", "sshd").await;
    assert_eq!(
        pre,
        json!({"result": "allow", "reason": format!("elevated session until {until}")})
    );
    // Another address, another service: not covered.
    assert_eq!(
        preauth_from(&f, "192.0.2.99", "sshd").await["result"],
        "auth"
    );
    assert_eq!(
        preauth_from(&f, "192.0.2.10", "sudo").await["result"],
        "auth"
    );
    // /v1/auth goes through the same gate.
    assert_eq!(auth(&f, "push", json!({})).await["result"], "allow");

    clock.advance_secs(599);
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "allow");
    clock.advance_secs(1);
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "auth");
}

#[tokio::test]
async fn remember_true_takes_the_default_and_the_maximum_caps_it() {
    let (f, _clock) = clocked("elevated_session = 120\nmax_elevated_session = 300").await;
    let now = f.srv.now();
    let a = auth(&f, "totp", json!({"passcode": code(&f), "remember": true})).await;
    assert_eq!(
        a["elevated_until"],
        now.plus_secs(120).to_string().as_str(),
        "{a}"
    );
    let sessions = f.srv.state.store.sessions(Some("tux"), now).await.unwrap();
    f.srv
        .state
        .store
        .revoke_session(&sessions[0].id)
        .await
        .unwrap();
    // A new code needs a new step.
    let code2 = f.tux.totp.code_at(now.unix_secs() + 30);
    let b = auth(&f, "totp", json!({"passcode": code2, "remember": 99_999})).await;
    assert_eq!(
        b["elevated_until"],
        now.plus_secs(300).to_string().as_str(),
        "{b}"
    );
    // remember: false, or no remember at all: no session.
    let (g, _clock) = clocked("max_elevated_session = 0").await;
    let c = auth(&g, "totp", json!({"passcode": code(&g), "remember": 600})).await;
    assert_eq!(c, json!({"result": "allow"}), "sessions are off");
    assert_eq!(preauth(&g, "tux", "sshd").await["result"], "auth");
}

#[tokio::test]
async fn revocation_takes_effect_at_once() {
    let f = fixture("").await;
    auth(&f, "totp", json!({"passcode": code(&f), "remember": 900})).await;
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "allow");
    let store = &f.srv.state.store;
    let live = store.sessions(None, f.srv.now()).await.unwrap();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0].scope, "login:sshd@linux.example.org");
    assert_eq!(live[0].client_ip.as_deref(), Some("192.0.2.10"));
    assert_eq!(live[0].factors.to_string(), "totp");
    assert!(store.revoke_session(&live[0].id).await.unwrap());
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "auth");
}

#[tokio::test]
async fn an_approved_push_makes_the_session_it_was_asked_for() {
    let f = fixture("").await;
    let pending = auth(&f, "push", json!({"remember": 300})).await;
    let txid = pending["txid"].as_str().unwrap();
    assert_eq!(
        preauth(&f, "tux", "sshd").await["result"],
        "auth",
        "not before approval"
    );
    f.decide(
        txid,
        &json!({"decision": "approve", "number": pending["number"]}),
    )
    .await;
    let (_, status) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(status["result"], "allow");
    assert!(status["elevated_until"].is_string(), "{status}");
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "allow");
    // A denied push makes none.
    let g = fixture("").await;
    let pending = auth(&g, "push", json!({"remember": 300})).await;
    let txid = pending["txid"].as_str().unwrap();
    g.srv
        .post(
            &format!("/v1/client/requests/{txid}"),
            &g.tux.key,
            &json!({"decision": "deny"}),
        )
        .await;
    assert_eq!(preauth(&g, "tux", "sshd").await["result"], "auth");
}

#[tokio::test]
async fn a_session_covers_only_what_its_factors_meet() {
    let f = fixture("").await;
    set_password(&f.srv, "tux", "correct horse").await;
    auth(&f, "totp", json!({"passcode": code(&f), "remember": 900})).await;
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "allow");
    // The policy now asks for more than the session proved.
    add_rule(&f.srv, "user:tux", "*", "*", "password,totp").await;
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "auth");
}

#[tokio::test]
async fn step_ups_are_remembered_per_action() {
    let f = fixture("").await;
    f.srv
        .app("tux", "linux.example.org", "*", &["tux"], "push,totp")
        .await;
    add_rule(&f.srv, "*", "*", "action:deploy", "totp").await;
    let stepup = |action: &'static str| {
        let body = json!({"user": "tux", "action": action, "host": "linux.example.org", "client_ip": "192.0.2.10"});
        let f = &f;
        async move { f.srv.post("/v1/stepup", &f.token, &body).await.1 }
    };
    assert_eq!(stepup("deploy").await["result"], "auth");
    let body = json!({
        "user": "tux", "host": "linux.example.org", "action": "deploy", "client_ip": "192.0.2.10",
        "method": "totp", "passcode": code(&f), "remember": true,
    });
    let (_, ok) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert!(ok["elevated_until"].is_string(), "{ok}");
    let again = stepup("deploy").await;
    assert_eq!(again["result"], "allow", "{again}");
    assert!(
        again["reason"]
            .as_str()
            .unwrap()
            .starts_with("elevated session until")
    );
    // Another action, or a login, is another scope.
    assert_eq!(stepup("reboot").await["result"], "auth");
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "auth");
    let sessions = f.srv.state.store.sessions(None, f.srv.now()).await.unwrap();
    assert_eq!(sessions[0].scope, "action:deploy@linux.example.org");
}
