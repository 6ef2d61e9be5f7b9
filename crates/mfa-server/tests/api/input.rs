//! Bad input gets a 4xx with a JSON body naming the problem; never a 500.

use serde_json::{Value, json};

use crate::support::{fixture, login};

async fn raw(
    f: &crate::support::Fixture,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = f.srv.http.request(method, f.srv.url(path)).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: not JSON ({status}): {text:?}"));
    (status, body)
}

fn assert_error(got: (u16, Value), status: u16, code: &str, needle: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], code, "{}", got.1);
    let message = got.1["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    assert!(!message.contains('\n'), "one line: {message:?}");
}

#[tokio::test]
async fn malformed_unknown_oversized_untyped_and_unauthenticated_bodies() {
    let f = fixture("").await;
    let json_ct = Some("application/json");
    let post = reqwest::Method::POST;
    let token = Some(f.token.as_str());

    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        token,
        json_ct,
        b"{\"user\": ".to_vec(),
    )
    .await;
    assert_error(got, 400, "bad_request", "malformed JSON");

    let mut body = login("push");
    body["colour"] = json!("blue");
    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        token,
        json_ct,
        body.to_string().into_bytes(),
    )
    .await;
    assert_error(got, 400, "bad_request", "colour");

    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        token,
        json_ct,
        br#"{"user":"tux"}"#.to_vec(),
    )
    .await;
    assert_error(got, 400, "bad_request", "missing field");

    let mut body = login("sms");
    body["method"] = json!("sms");
    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        token,
        json_ct,
        body.to_string().into_bytes(),
    )
    .await;
    assert_error(got, 400, "bad_request", "sms");

    let huge = format!("{{\"user\": \"{}\"}}", "x".repeat(100_000));
    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        token,
        json_ct,
        huge.into_bytes(),
    )
    .await;
    assert_error(got, 413, "payload_too_large", "too large");

    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        token,
        Some("text/plain"),
        login("push").to_string().into_bytes(),
    )
    .await;
    assert_error(got, 415, "unsupported_media_type", "application/json");

    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        None,
        json_ct,
        login("push").to_string().into_bytes(),
    )
    .await;
    assert_error(got, 401, "unauthorized", "Authorization: Bearer");

    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        Some("mfas_nope"),
        json_ct,
        login("push").to_string().into_bytes(),
    )
    .await;
    assert_error(got, 401, "unauthorized", "invalid API token");

    // A client key is not an API token, nor the other way round.
    let got = raw(
        &f,
        post.clone(),
        "/v1/auth",
        Some(&f.tux.key),
        json_ct,
        login("push").to_string().into_bytes(),
    )
    .await;
    assert_error(got, 401, "unauthorized", "invalid API token");
    let got = raw(
        &f,
        reqwest::Method::GET,
        "/v1/client/requests",
        token,
        None,
        vec![],
    )
    .await;
    assert_error(got, 401, "unauthorized", "invalid client key");
}

#[tokio::test]
async fn bad_fields_paths_and_queries() {
    let f = fixture("").await;
    let mut body = login("push");
    body["user"] = json!("tux; rm -rf /");
    let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_error((status, v), 400, "bad_request", "user");

    let mut body = login("push");
    body["host"] = json!("*");
    let (status, v) = f
        .srv
        .post("/v1/preauth", &f.token, &body_without_method(body))
        .await;
    assert_error((status, v), 400, "bad_request", "host");

    let (status, v) = f.srv.get("/v1/auth/nonexistent", &f.token).await;
    assert_error((status, v), 404, "not_found", "nonexistent");

    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap();
    let (status, v) = f
        .srv
        .get(&format!("/v1/auth/{txid}?wait=61"), &f.token)
        .await;
    assert_error((status, v), 400, "bad_request", "wait");
    let (status, v) = f
        .srv
        .get(&format!("/v1/auth/{txid}?wait=soon"), &f.token)
        .await;
    assert_error((status, v), 400, "bad_request", "wait");
    let (status, v) = f
        .srv
        .get(&format!("/v1/auth/{txid}?colour=1"), &f.token)
        .await;
    assert_error((status, v), 400, "bad_request", "colour");

    let (status, v) = f
        .srv
        .post(
            "/v1/client/requests/nonexistent",
            &f.tux.key,
            &json!({"decision": "approve", "number": 1}),
        )
        .await;
    assert_error((status, v), 404, "not_found", "nonexistent");
    let (status, v) = f.decide(txid, &json!({"decision": "maybe"})).await;
    assert_error((status, v), 400, "bad_request", "maybe");
    let (status, v) = f
        .decide(txid, &json!({"decision": "approve", "number": 300}))
        .await;
    assert_error((status, v), 400, "bad_request", "number");

    let (status, v) = f.srv.get("/v1/nope", &f.token).await;
    assert_error((status, v), 404, "not_found", "/v1/nope");
    let got = raw(
        &f,
        reqwest::Method::DELETE,
        "/v1/auth",
        Some(&f.token),
        None,
        vec![],
    )
    .await;
    assert_error(got, 405, "method_not_allowed", "DELETE");
}

#[tokio::test]
async fn framework_rejections_are_json_too() {
    let f = fixture("").await;
    // A path segment that is not UTF-8 once decoded.
    let got = raw(
        &f,
        reqwest::Method::GET,
        "/v1/auth/%FF",
        Some(&f.token),
        None,
        vec![],
    )
    .await;
    assert_error(got, 400, "bad_request", "UTF-8");
    // The WebSocket endpoint asked without a handshake.
    let got = raw(
        &f,
        reqwest::Method::GET,
        "/v1/client/ws",
        Some(&f.tux.key),
        None,
        vec![],
    )
    .await;
    assert_error(got, 400, "bad_request", "WebSocket");
}

fn body_without_method(mut body: Value) -> Value {
    body.as_object_mut().unwrap().remove("method");
    body
}
