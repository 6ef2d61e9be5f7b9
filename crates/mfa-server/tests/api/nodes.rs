//! Several mfad nodes on one PostgreSQL database: events cross nodes, decisions stay single.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa_core::SystemClock;
use mfa_store::Store;
use serde_json::{Value, json};

use crate::support::{TestServer, fixture_on, login, postgres_schema, postgres_url, sealer};

/// Two nodes sharing one fresh schema, or None (with a note) without PostgreSQL.
pub async fn two_nodes() -> Option<(crate::support::Fixture, TestServer)> {
    let Some(base) = postgres_url() else {
        eprintln!(
            "SKIPPED multi-node test: MFA_TEST_POSTGRES_URL is not set (it needs PostgreSQL)"
        );
        return None;
    };
    let url = postgres_schema(&base).await;
    let a = Store::open(&url, sealer()).await.unwrap();
    let b = Store::open(&url, sealer()).await.unwrap();
    let node_a =
        TestServer::start_on(a, "", Arc::new(SystemClock), tempfile::tempdir().unwrap()).await;
    let node_b =
        TestServer::start_on(b, "", Arc::new(SystemClock), tempfile::tempdir().unwrap()).await;
    // Node B's listener must be up before anything is published.
    node_b.until_relaying().await;
    Some((fixture_on(node_a).await, node_b))
}

#[tokio::test]
async fn an_approval_on_one_node_answers_a_long_poll_on_another() {
    let Some((f, node_b)) = two_nodes().await else {
        return;
    };
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    let poll = {
        let (http, url, token) = (
            f.srv.http.clone(),
            f.srv.url(&format!("/v1/auth/{txid}?wait=20")),
            f.token.clone(),
        );
        tokio::spawn(async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    f.srv.until_waiting(&txid, 1).await;
    let approved = Instant::now();
    let (status, d) = node_b
        .post(
            &format!("/v1/client/requests/{txid}"),
            &f.tux.key,
            &json!({"decision": "approve", "number": p["number"]}),
        )
        .await;
    assert_eq!(
        (status, d["state"].as_str()),
        (200, Some("approved")),
        "{d}"
    );
    let answer = poll.await.unwrap();
    let latency = approved.elapsed();
    assert_eq!(answer["result"], "allow");
    // LISTEN/NOTIFY wakes node A at once; the one-second re-read is only a safety net.
    assert!(
        latency < Duration::from_millis(800),
        "cross-node answer took {latency:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_answers_on_two_nodes_decide_once() {
    let Some((f, node_b)) = two_nodes().await else {
        return;
    };
    let f = Arc::new(f);
    let node_b = Arc::new(node_b);
    for _ in 0..3 {
        let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
        let txid = p["txid"].as_str().unwrap().to_owned();
        let racers: Vec<_> = (0..16)
            .map(|i| {
                let (f, b, txid) = (f.clone(), node_b.clone(), txid.clone());
                let body = json!({"decision": if i % 3 == 0 { "deny" } else { "approve" }, "number": p["number"]});
                tokio::spawn(async move {
                    let node = if i % 2 == 0 { &f.srv } else { &*b };
                    node.post(&format!("/v1/client/requests/{txid}"), &f.tux.key, &body).await
                })
            })
            .collect();
        let mut decided = 0;
        for r in racers {
            let (status, body) = r.await.unwrap();
            assert_eq!(status, 200, "{body}");
            decided += usize::from(body["decided"] == true);
        }
        assert_eq!(decided, 1, "decided {decided} times across two nodes");
    }
}
