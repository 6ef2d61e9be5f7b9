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
