//! Revoking a credential cuts what was opened with it: a client's WebSockets close within a
//! second of `mfac client rotate-key` / `remove` (made here, as mfac makes them, by writing the
//! database), on every node; an answer on such a socket is refused; a long poll on a rotated
//! server token ends with 401.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use mfa_core::Alias;
use mfa_secrets::Token;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::nodes::two_nodes;
use crate::support::{TestServer, fixture, login};
use crate::websocket::{Ws, connect, next};

/// Waits for the server to close `ws`; returns how long that took and the last text message.
async fn closed_within(ws: &mut Ws, limit: Duration) -> (Duration, Option<Value>) {
    let start = Instant::now();
    let mut last = None;
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => panic!("the socket is still open after {limit:?}"),
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => {
                return (start.elapsed(), last);
            }
            Ok(Some(Ok(Message::Text(t)))) => last = Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(_))) => {}
        }
    }
}

async fn rotate(srv: &TestServer, alias: &str) -> String {
    let key = Token::generate("mfak").unwrap();
    srv.state
        .store
        .set_client_key(&Alias::new(alias).unwrap(), &key.hash())
        .await
        .unwrap();
    key.expose().to_owned()
}

/// The issue asks for 1 s; the watcher looks every 250 ms. The bound leaves room for a loaded
/// machine; the measured time is printed.
const CLOSE_WITHIN: Duration = Duration::from_secs(2);

#[tokio::test]
async fn rotating_or_removing_a_client_key_closes_its_open_sockets() {
    let f = fixture("").await;
    let mut ws = connect(&f.srv, &f.tux.key).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    let new_key = rotate(&f.srv, "tux").await;
    let (took, last) = closed_within(&mut ws, CLOSE_WITHIN).await;
    eprintln!("socket closed {took:?} after the rotation");
    let last = last.expect("a message saying why");
    assert!(
        last["message"].as_str().unwrap().contains("revoked"),
        "{last}"
    );
    assert!(connect(&f.srv, &f.tux.key).await.is_err(), "old key works");
    let mut ws = connect(&f.srv, &new_key).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");

    // A removed client, then an alias given to a new device: the old socket goes with the
    // old client, so the new device's pushes never reach it.
    let phone = f.srv.enrol("tux-phone").await;
    let mut old = connect(&f.srv, &phone.key).await.unwrap();
    assert_eq!(next(&mut old).await["type"], "hello");
    f.srv
        .state
        .store
        .remove_client(&Alias::new("tux-phone").unwrap())
        .await
        .unwrap();
    f.srv.enrol("tux-phone").await;
    let (took, _) = closed_within(&mut old, CLOSE_WITHIN).await;
    eprintln!("socket closed {took:?} after the removal");
}

#[tokio::test]
async fn an_answer_on_a_socket_whose_key_was_revoked_is_refused() {
    let f = fixture("").await;
    let mut ws = connect(&f.srv, &f.tux.key).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    assert_eq!(next(&mut ws).await["type"], "request");
    // Rotated, and answered at once: before the node's watcher has seen it.
    rotate(&f.srv, "tux").await;
    let decision =
        json!({"type": "decision", "txid": txid, "decision": "approve", "number": p["number"]});
    ws.send(Message::Text(decision.to_string().into()))
        .await
        .unwrap();
    let (_, last) = closed_within(&mut ws, CLOSE_WITHIN).await;
    assert!(
        last.is_some_and(|m| m["type"] == "error"),
        "the answer was not refused"
    );
    let (_, s) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(s["state"], "pending", "a revoked key decided the push: {s}");
}

#[tokio::test]
async fn a_long_poll_ends_when_its_server_token_is_rotated() {
    let f = fixture("").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    let poll = {
        let (http, url, token) = (
            f.srv.http.clone(),
            f.srv.url(&format!("/v1/auth/{txid}?wait=30")),
            f.token.clone(),
        );
        tokio::spawn(async move {
            let resp = http.get(url).bearer_auth(token).send().await.unwrap();
            (resp.status().as_u16(), Instant::now())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rotated = Instant::now();
    f.srv
        .state
        .store
        .set_server_token("ssh-1", &Token::generate("mfas").unwrap().hash())
        .await
        .unwrap();
    let (status, ended) = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the long poll outlived its token")
        .unwrap();
    assert_eq!(status, 401);
    let took = ended - rotated;
    eprintln!("long poll ended {took:?} after the rotation");
    assert!(took < CLOSE_WITHIN, "{took:?}");
}

#[tokio::test]
async fn a_revocation_on_one_node_closes_sockets_on_another() {
    let Some((f, node_b)) = two_nodes().await else {
        return;
    };
    let mut ws = connect(&node_b, &f.tux.key).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    rotate(&f.srv, "tux").await;
    let (took, _) = closed_within(&mut ws, CLOSE_WITHIN).await;
    eprintln!("socket on the other node closed {took:?} after the rotation");
}
