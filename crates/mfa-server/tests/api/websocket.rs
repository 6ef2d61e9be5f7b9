use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{TestServer, fixture, login};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(
    srv: &TestServer,
    key: &str,
) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
    let url = srv.url("/v1/client/ws").replacen("http://", "ws://", 1);
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {key}").parse().unwrap());
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
}

/// The next JSON message, skipping pings; fails after 5 s.
pub async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("no message within 5 s")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test]
async fn a_client_sees_the_push_approves_it_and_the_long_poll_returns() {
    let f = fixture("").await;
    let mut ws = connect(&f.srv, &f.tux.key).await.unwrap();
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "hello", "alias": "tux"})
    );
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    let shown = next(&mut ws).await;
    assert_eq!(shown["type"], "request");
    assert_eq!(shown["txid"], txid.as_str());
    assert_eq!(shown["user"], "tux");
    assert_eq!(shown["client_ip"], "192.0.2.10");
    assert_eq!(shown["number_required"], true);
    assert!(
        shown.get("number").is_none(),
        "the number must come from the login prompt"
    );

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
    let sent = std::time::Instant::now();
    let decision =
        json!({"type": "decision", "txid": txid, "decision": "approve", "number": p["number"]});
    ws.send(Message::Text(decision.to_string().into()))
        .await
        .unwrap();
    let result = next(&mut ws).await;
    assert_eq!(
        result,
        json!({"type": "result", "txid": txid, "state": "approved", "decided": true})
    );
    let status = poll.await.unwrap();
    let latency = sent.elapsed();
    assert_eq!(status["result"], "allow");
    assert!(
        latency < Duration::from_millis(500),
        "long poll answered {latency:?} after the approval"
    );
}

#[tokio::test]
async fn every_client_of_the_app_gets_the_push_and_the_others_see_it_withdrawn() {
    let f = fixture("").await;
    let phone = f.srv.enrol("tux-phone").await;
    f.srv
        .app("tux", "*", "sudo", &["tux", "tux-phone"], "push")
        .await;
    let mut laptop_ws = connect(&f.srv, &f.tux.key).await.unwrap();
    let mut phone_ws = connect(&f.srv, &phone.key).await.unwrap();
    next(&mut laptop_ws).await;
    next(&mut phone_ws).await;
    let mut body = login("push");
    body["service"] = json!("sudo");
    let (_, p) = f.srv.post("/v1/auth", &f.token, &body).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    assert_eq!(next(&mut laptop_ws).await["txid"], txid.as_str());
    assert_eq!(next(&mut phone_ws).await["txid"], txid.as_str());

    let answer =
        json!({"type": "decision", "txid": txid, "decision": "approve", "number": p["number"]});
    phone_ws
        .send(Message::Text(answer.to_string().into()))
        .await
        .unwrap();
    assert_eq!(next(&mut phone_ws).await["state"], "approved");
    let withdrawn = next(&mut laptop_ws).await;
    assert_eq!(
        withdrawn,
        json!({"type": "withdrawn", "txid": txid, "state": "approved"})
    );
    // The laptop's late answer is refused.
    laptop_ws
        .send(Message::Text(answer.to_string().into()))
        .await
        .unwrap();
    let late = next(&mut laptop_ws).await;
    assert_eq!(
        (late["decided"].clone(), late["state"].clone()),
        (json!(false), json!("approved"))
    );
    let audit = f
        .srv
        .state
        .store
        .audit_entries(&Default::default())
        .await
        .unwrap();
    let approved: Vec<_> = audit.iter().filter(|e| e.result == "approved").collect();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].client.as_deref(), Some("tux-phone"));
}

#[tokio::test]
async fn a_client_that_connects_late_is_shown_open_pushes() {
    let f = fixture("").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let mut ws = connect(&f.srv, &f.tux.key).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    assert_eq!(next(&mut ws).await["txid"], p["txid"]);
}

#[tokio::test]
async fn a_bad_key_cannot_connect_and_bad_messages_get_an_error() {
    let f = fixture("").await;
    match connect(&f.srv, "mfak_wrong").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected 401, got {other:?}"),
    }
    let mut ws = connect(&f.srv, &f.tux.key).await.unwrap();
    next(&mut ws).await;
    ws.send(Message::Text("{\"type\":\"dance\"}".into()))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["type"], "error");
    let other = json!({"type": "decision", "txid": "nope", "decision": "deny"});
    ws.send(Message::Text(other.to_string().into()))
        .await
        .unwrap();
    let err = next(&mut ws).await;
    assert_eq!(err["type"], "error");
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");
}
