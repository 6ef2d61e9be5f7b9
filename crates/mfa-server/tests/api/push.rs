use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{fixture, login};

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
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, listed) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["txid"], txid.as_str());
    assert!(
        listed[0].get("number").is_none(),
        "the client must not be told the number"
    );

    let approved_at = Instant::now();
    let (status, result) = f
        .srv
        .post(
            &format!("/v1/client/requests/{txid}"),
            &f.tux.key,
            &json!({"decision": "approve", "number": number}),
        )
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
    let (_, again) = f
        .srv
        .post(
            &format!("/v1/client/requests/{txid}"),
            &f.tux.key,
            &json!({"decision": "deny"}),
        )
        .await;
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
        (Some("deny"), Some("denied"), Some("cancelled"))
    );
    let (_, listed) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(listed, json!([]), "a cancelled push is no longer shown");
    let (_, late) = f
        .srv
        .post(
            &format!("/v1/client/requests/{txid}"),
            &f.tux.key,
            &json!({"decision": "approve", "number": p["number"]}),
        )
        .await;
    assert_eq!(
        (late["decided"].clone(), late["state"].clone()),
        (json!(false), json!("denied"))
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
    f.srv
        .post(
            &format!("/v1/client/requests/{txid}"),
            &f.tux.key,
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
