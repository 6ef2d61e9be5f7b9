use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{TestServer, fixture, login};

#[tokio::test]
async fn approve_over_the_client_api_answers_a_waiting_long_poll_at_once() {
    let f = fixture("").await;
    let (status, pending) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["result"], "pending");
    let txid = pending["txid"].as_str().unwrap().to_owned();
    let number = pending["number"].as_u64().unwrap();
    assert!((10..=99).contains(&number));

    let poll = {
        let http = f.srv.http.clone();
        let url = f.srv.url(&format!("/v1/auth/{txid}?wait=30"));
        let token = f.token.clone();
        tokio::spawn(async move {
            let resp = http.get(url).bearer_auth(token).send().await.unwrap();
            (
                Instant::now(),
                resp.json::<serde_json::Value>().await.unwrap(),
            )
        })
    };
    f.srv.until_waiting(&txid, 1).await;
    let (status, listed) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["txid"], txid.as_str());
    assert!(
        listed[0].get("number").is_none(),
        "the client must not be told the number"
    );

    let approved_at = Instant::now();
    let (status, result) = f
        .decide(&txid, &json!({"decision": "approve", "number": number}))
        .await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["state"], "approved");
    assert_eq!(result["decided"], true);
    let (answered_at, status_body) = poll.await.unwrap();
    assert_eq!(status_body["result"], "allow");
    assert_eq!(status_body["state"], "approved");
    let latency = answered_at.duration_since(approved_at);
    assert!(
        latency < Duration::from_millis(500),
        "long poll answered after {latency:?}"
    );

    // A second answer changes nothing.
    let (_, again) = f.decide(&txid, &json!({"decision": "deny"})).await;
    assert_eq!(again["decided"], false);
    assert_eq!(again["state"], "approved");
}

#[tokio::test]
async fn a_server_can_cancel_its_pending_push_without_counting_a_failure() {
    let f = fixture("max_failed_attempts = 1").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    let other = f.srv.server("other", &["*"]).await;
    let resp = f
        .srv
        .http
        .delete(f.srv.url(&format!("/v1/auth/{txid}")))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404, "another server cannot cancel it");

    let resp = f
        .srv
        .http
        .delete(f.srv.url(&format!("/v1/auth/{txid}")))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let status: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        (
            status["result"].as_str(),
            status["state"].as_str(),
            status["reason"].as_str()
        ),
        (
            Some("deny"),
            Some("withdrawn"),
            Some("withdrawn: the login gave up")
        )
    );
    let (_, listed) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(listed, json!([]), "a cancelled push is no longer shown");
    let (_, late) = f
        .decide(
            &txid,
            &json!({"decision": "approve", "number": p["number"]}),
        )
        .await;
    assert_eq!(
        (late["decided"].clone(), late["state"].clone()),
        (json!(false), json!("withdrawn"))
    );
    // With max_failed_attempts = 1 a counted failure would lock tux out now.
    let (_, pre) = f
        .srv
        .post("/v1/preauth", &f.token, &json!({"user": "tux", "host": "linux.example.org", "service": "sshd", "client_ip": "192.0.2.10"}))
        .await;
    assert_eq!(
        pre["result"], "auth",
        "a cancellation was counted as a failure: {pre}"
    );

    // An approved push stays approved.
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    f.decide(
        &txid,
        &json!({"decision": "approve", "number": p["number"]}),
    )
    .await;
    let resp = f
        .srv
        .http
        .delete(f.srv.url(&format!("/v1/auth/{txid}")))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    let status: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status["state"], "approved");
}

/// A push withdrawn because a code was typed says so to its clients; after a restart, pushes
/// whose login did not come back are withdrawn, not left approvable.
#[tokio::test]
async fn withdrawn_pushes_say_why() {
    let f = fixture("").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    let resp = f
        .srv
        .http
        .delete(f.srv.url(&format!("/v1/auth/{txid}?reason=code_used")))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    let status: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(status["state"], "withdrawn");
    assert_eq!(status["reason"], "withdrawn: a code was used at the login");
    let resp = f
        .srv
        .http
        .delete(f.srv.url(&format!("/v1/auth/{txid}?reason=because")))
        .bearer_auth(&f.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400, "an unknown reason is refused");
}

#[tokio::test]
async fn after_a_restart_pushes_nobody_waits_for_are_withdrawn() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mfa.db").display());
    let store = mfa_store::Store::open(&url, crate::support::sealer())
        .await
        .unwrap();
    let first = TestServer::start_on(
        store,
        "auth_timeout = 120",
        std::sync::Arc::new(mfa_core::SystemClock),
        tempfile::tempdir().unwrap(),
    )
    .await;
    let f = crate::support::fixture_on(first).await;
    let (_, gone) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let (_, back) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let (gone, back) = (
        gone["txid"].as_str().unwrap().to_owned(),
        back["txid"].as_str().unwrap().to_owned(),
    );
    // "Restart": a new node on the same database. One login polls again, one never does.
    let store = mfa_store::Store::open(&url, crate::support::sealer())
        .await
        .unwrap();
    let second = TestServer::start_on(
        store,
        "auth_timeout = 120",
        std::sync::Arc::new(mfa_core::SystemClock),
        tempfile::tempdir().unwrap(),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, s) = second
        .get(&format!("/v1/auth/{back}?wait=1"), &f.token)
        .await;
    assert_eq!(s["state"], "pending", "{s}");
    let mut withdrawn = None;
    for _ in 0..100 {
        let r = second.state.store.request(&gone).await.unwrap();
        if r.state != mfa_store::PushState::Pending {
            withdrawn = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = withdrawn.expect("the abandoned push is still approvable");
    assert_eq!(r.state, mfa_store::PushState::Withdrawn);
    assert_eq!(
        r.reason.as_deref(),
        Some("withdrawn: the login is gone (mfad restarted)")
    );
    let r = second.state.store.request(&back).await.unwrap();
    assert_eq!(
        r.state,
        mfa_store::PushState::Pending,
        "the polled push was withdrawn"
    );
}
