//! Notifications (webhook, ntfy) against a local HTTP receiver that records exactly what it got,
//! and the phone's side of ntfy: tapping an action button answers the waiting long poll.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use mfa_core::{Alias, FixedClock, Timestamp};
use mfa_store::Notify;
use serde_json::{Value, json};

use crate::support::{Fixture, TestServer, fixture, fixture_on, login};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub method: Method,
    pub path: String,
    /// The raw query string, as sent.
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    /// The query's parameters, percent-decoded.
    pub fn params(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(self.query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

#[derive(Clone, Default)]
struct Recorder {
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
}

/// A tiny HTTP server on 127.0.0.1 that records every request and answers with a set status.
pub struct Receiver {
    pub base: String,
    rec: Recorder,
}

impl Receiver {
    pub async fn start(status: u16) -> Self {
        async fn record(
            State(rec): State<Recorder>,
            method: Method,
            uri: Uri,
            headers: HeaderMap,
            body: Bytes,
        ) -> StatusCode {
            rec.hits.lock().unwrap().push(Hit {
                method,
                path: uri.path().to_owned(),
                query: uri.query().map(str::to_owned),
                headers,
                body,
            });
            StatusCode::from_u16(rec.status.load(Ordering::SeqCst)).unwrap()
        }
        let rec = Recorder::default();
        rec.status.store(status, Ordering::SeqCst);
        let app = axum::Router::new().fallback(record).with_state(rec.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, rec }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.rec.hits.lock().unwrap().clone()
    }

    /// Waits (up to 10 s) until at least `n` requests came in.
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let hits = self.hits();
            if hits.len() >= n {
                return hits;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} notification requests, got {}: {hits:?}",
                hits.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Starts a push for the usual login; returns (txid, number).
pub async fn push(f: &Fixture) -> (String, Option<u64>) {
    let (status, v) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"], "pending", "{v}");
    (v["txid"].as_str().unwrap().to_owned(), v["number"].as_u64())
}

/// A long poll on `txid` running in the background; yields (when it answered, its body).
pub fn long_poll(
    srv: &TestServer,
    token: &str,
    txid: &str,
) -> tokio::task::JoinHandle<(Instant, Value)> {
    let http = srv.http.clone();
    let url = srv.url(&format!("/v1/auth/{txid}?wait=10"));
    let token = token.to_owned();
    tokio::spawn(async move {
        let resp = http.get(url).bearer_auth(token).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        (Instant::now(), resp.json::<Value>().await.unwrap())
    })
}

/// The push's state right now (no waiting).
pub async fn state_of(f: &Fixture, txid: &str) -> Value {
    let (status, v) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(status, 200, "{v}");
    v
}

fn approve_link_pattern(srv: &TestServer, link: &str) -> String {
    let prefix = format!("{}/approve/mfaa_", srv.base);
    let rest = link
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{link} does not start with {prefix}"));
    assert_eq!(rest.len(), 52, "{link}");
    assert!(
        rest.bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
        "{link}"
    );
    rest.to_owned()
}

fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

#[tokio::test]
async fn webhook_get_fills_the_url_template_with_url_encoded_values() {
    let rx = Receiver::start(200).await;
    let f = fixture(&format!(
        r#"
[notify]
default = "webhook"
[notify.webhook]
url = "{}/hook/{{username}}?host={{server_name}}&ip={{client_ip}}&service={{service}}&msg={{notification_message}}&link={{approve_url}}&n={{number}}"
[user_settings.default]
notification_message = "Login: {{username}} on {{server_name}} ({{service}}) from {{client_ip}} & more?"
"#,
        rx.base
    ))
    .await;
    let (_, number) = push(&f).await;
    assert!(number.is_some(), "number matching is on by default");
    let hit = rx.wait_for(1).await.remove(0);
    assert_eq!(hit.method, Method::GET);
    assert_eq!(hit.path, "/hook/tux");
    assert!(hit.body.is_empty());
    let params = hit.params();
    let link = params["link"].clone();
    approve_link_pattern(&f.srv, &link);
    let expected: BTreeMap<String, String> = [
        ("host", "linux.example.org"),
        ("ip", "192.0.2.10"),
        ("service", "sshd"),
        (
            "msg",
            "Login: tux on linux.example.org (sshd) from 192.0.2.10 & more?",
        ),
        ("link", link.as_str()),
        // Number matching is on, but the number is typed at the login, never sent along.
        ("n", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(params, expected);
    // Encoded as a URL component: spaces, '&', '?', ':' and '/' do not break the query.
    let raw = hit.query.unwrap();
    assert!(
        raw.contains("&msg=Login%3A%20tux%20on%20linux.example.org%20%28sshd%29%20from%20192.0.2.10%20%26%20more%3F&"),
        "{raw}"
    );
    assert!(raw.contains("&link=http%3A%2F%2F127.0.0.1%3A"), "{raw}");
    // The link works: it shows the push.
    let page = f.srv.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
}

/// With number matching on, the number next to `{approve_url}` would let a tap on the link
/// (or a receiver that shows both) approve without reading the login prompt: it is left out
/// unless `notify.webhook.include_number = true`.
#[tokio::test]
async fn webhook_sends_the_number_only_with_include_number() {
    for include in [false, true] {
        let rx = Receiver::start(200).await;
        let f = fixture(&format!(
            "[notify]\ndefault = \"webhook\"\n[notify.webhook]\nmethod = \"POST\"\n\
             include_number = {include}\nurl = \"{}/hook?n={{number}}&link={{approve_url}}\"\n",
            rx.base
        ))
        .await;
        let (_, number) = push(&f).await;
        let number = number
            .expect("number matching is on by default")
            .to_string();
        let hit = rx.wait_for(1).await.remove(0);
        let expected = if include { number.as_str() } else { "" };
        assert_eq!(hit.params()["n"], expected, "include_number = {include}");
        let body = hit.json();
        assert_eq!(
            body["number"], expected,
            "include_number = {include}: {body}"
        );
        approve_link_pattern(&f.srv, body["approve_url"].as_str().unwrap());
    }
}

#[tokio::test]
async fn webhook_post_sends_the_values_as_json_with_per_user_message_and_link() {
    let rx = Receiver::start(204).await;
    let f = fixture(&format!(
        r#"
number_matching = false
[notify]
default = "webhook"
[notify.webhook]
url = "{base}/hook?u={{username}}"
method = "POST"
[user_settings.tux]
notification_message = "Tux, is that you on {{server_name}}?"
push_link = "{base}/tux?m={{notification_message}}&n={{number}}"
"#,
        base = rx.base
    ))
    .await;
    // penguin has no settings of its own, and there is no [user_settings.default]: the
    // built-in message and notify.webhook.url apply.
    f.srv
        .app("penguin", "linux.example.org", "sshd", &["tux"], "push")
        .await;

    let (_, number) = push(&f).await;
    assert_eq!(number, None);
    let hit = rx.wait_for(1).await.remove(0);
    assert_eq!(hit.method, Method::POST);
    assert_eq!(hit.path, "/tux");
    assert_eq!(hit.header("content-type"), Some("application/json"));
    let params = hit.params();
    assert_eq!(params["m"], "Tux, is that you on linux.example.org?");
    assert_eq!(params["n"], "");
    let body = hit.json();
    let link = body["approve_url"].as_str().unwrap().to_owned();
    approve_link_pattern(&f.srv, &link);
    assert_eq!(
        body,
        json!({
            "username": "tux",
            "server_name": "linux.example.org",
            "client_ip": "192.0.2.10",
            "service": "sshd",
            "notification_message": "Tux, is that you on linux.example.org?",
            "approve_url": link,
            "number": "",
        })
    );

    let mut penguin = login("push");
    penguin["user"] = json!("penguin");
    penguin["client_ip"] = json!(null);
    let (_, v) = f.srv.post("/v1/auth", &f.token, &penguin).await;
    assert_eq!(v["result"], "pending", "{v}");
    let hit = rx.wait_for(2).await.remove(1);
    assert_eq!((hit.method.as_str(), hit.path.as_str()), ("POST", "/hook"));
    assert_eq!(hit.params()["u"], "penguin");
    let body = hit.json();
    assert_eq!(body["client_ip"], "");
    assert_eq!(
        body["notification_message"],
        "Login request for penguin on linux.example.org (sshd) from "
    );
}

/// `extra` goes at the top of mfad.toml, `ntfy_keys` into `[notify.ntfy]`.
async fn ntfy_fixture(
    extra: &str,
    ntfy_keys: &str,
    rx: &Receiver,
    clock: Option<FixedClock>,
) -> Fixture {
    let config = format!(
        "{extra}\n[notify.ntfy]\nserver = \"{}/\"\ntoken = \"tk_ntfy_secret\"\n{ntfy_keys}\n",
        rx.base
    );
    let srv = match clock {
        Some(clock) => TestServer::start_with_clock(&config, Arc::new(clock)).await,
        None => TestServer::start(&config).await,
    };
    let f = fixture_on(srv).await;
    f.srv
        .state
        .store
        .set_client_notify(
            &alias("tux"),
            &Notify::Ntfy {
                topic: "mfa-tux-7f3a9c".into(),
            },
        )
        .await
        .unwrap();
    f
}

/// An ntfy action button, as the phone's app would call it.
#[derive(Debug)]
struct Button {
    /// `http` (the app POSTs `body` to `url`) or `view` (the app opens `url`).
    action: String,
    label: String,
    url: String,
    body: String,
}

impl Button {
    fn parse(action: &Value) -> Self {
        assert_eq!(action["clear"], true, "{action}");
        let kind = action["action"].as_str().unwrap().to_owned();
        let body = match kind.as_str() {
            "http" => {
                assert_eq!(action["method"], "POST", "{action}");
                assert_eq!(
                    action["headers"],
                    json!({"Content-Type": "application/json"})
                );
                action["body"].as_str().unwrap().to_owned()
            }
            "view" => {
                assert_eq!(action.as_object().unwrap().len(), 4, "{action}");
                String::new()
            }
            other => panic!("unexpected ntfy action {other}: {action}"),
        };
        Self {
            action: kind,
            label: action["label"].as_str().unwrap().to_owned(),
            url: action["url"].as_str().unwrap().to_owned(),
            body,
        }
    }

    /// Taps it: what ntfy's Android app sends.
    async fn tap(&self, srv: &TestServer) -> (u16, Value) {
        let resp = srv
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .body(self.body.clone())
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }
}

/// The ntfy publish the receiver got: checks everything but the buttons, returns them.
fn ntfy_publish(f: &Fixture, hit: &Hit, hint: &str) -> (Vec<Button>, String) {
    assert_eq!(hit.method, Method::POST);
    assert_eq!(hit.path, "/");
    assert_eq!(hit.query, None);
    assert_eq!(hit.header("authorization"), Some("Bearer tk_ntfy_secret"));
    assert_eq!(hit.header("content-type"), Some("application/json"));
    let body = hit.json();
    let click = body["click"].as_str().unwrap().to_owned();
    let token = approve_link_pattern(&f.srv, &click);
    let actions = body["actions"].as_array().unwrap().clone();
    assert_eq!(
        body,
        json!({
            "topic": "mfa-tux-7f3a9c",
            "title": "Login request: tux@linux.example.org",
            "message": format!("Login request for tux on linux.example.org (sshd) from 192.0.2.10\n{hint}"),
            "priority": 4,
            "tags": ["closed_lock_with_key"],
            "click": click,
            "actions": actions,
        })
    );
    let buttons: Vec<Button> = actions.iter().map(Button::parse).collect();
    for b in &buttons {
        match b.action.as_str() {
            "view" => assert_eq!(b.url, click),
            _ => assert_eq!(b.url, format!("{}/v1/notify/mfaa_{token}", f.srv.base)),
        }
    }
    (buttons, click)
}

const TYPE_THE_NUMBER: &str = "Open it and type the number shown at the login prompt.";
const TAP_THE_NUMBER: &str = "Tap the number shown at the login prompt.";

/// With number matching on, the notification must not let a tap approve: a person tapping at
/// random under push fatigue would pick the right one of three numbers one time in three. The
/// buttons are Open (the approve page, where the number is typed), Deny and "This was not me".
#[tokio::test]
async fn ntfy_with_number_matching_offers_open_deny_and_not_me_but_no_numbers() {
    let rx = Receiver::start(200).await;
    let f = ntfy_fixture("", "", &rx, None).await;
    let (txid, number) = push(&f).await;
    let number = number.expect("number matching is on by default");
    let hit = rx.wait_for(1).await.remove(0);
    let (buttons, click) = ntfy_publish(&f, &hit, TYPE_THE_NUMBER);
    let shown: Vec<(&str, &str, Value)> = buttons
        .iter()
        .map(|b| {
            let body = match b.action.as_str() {
                "http" => serde_json::from_str(&b.body).unwrap(),
                _ => Value::Null,
            };
            (b.action.as_str(), b.label.as_str(), body)
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            ("view", "Open", Value::Null),
            ("http", "Deny", json!({"decision": "deny"})),
            ("http", "This was not me", json!({"decision": "fraud"})),
        ]
    );
    // No button approves (above), and the number is nowhere in the publish.
    let body = hit.json();
    assert!(!body["actions"].to_string().contains("number"), "{body}");
    for field in ["title", "message"] {
        // As a number of its own: "10" may well be part of 192.0.2.10.
        let text = body[field].as_str().unwrap();
        let numbers: Vec<&str> = text
            .split(|c: char| !c.is_ascii_digit() && c != '.')
            .collect();
        assert!(!numbers.contains(&number.to_string().as_str()), "{body}");
    }

    // Open leads to the page that asks for the number.
    let page = f.srv.http.get(&click).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("name=\"number\""));

    // "This was not me" denies and locks the user out.
    let poll = long_poll(&f.srv, &f.token, &txid);
    let (status, result) = buttons[2].tap(&f.srv).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(
        (result["state"].clone(), result["reason"].clone()),
        (json!("denied"), json!("fraud reported"))
    );
    assert_eq!(poll.await.unwrap().1["result"], "deny");
    let (_, v) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(v["result"], "deny", "{v}");
    assert!(v["reason"].as_str().unwrap().contains("locked out"), "{v}");
}

#[tokio::test]
async fn ntfy_deny_button_denies_with_number_matching_on() {
    let rx = Receiver::start(200).await;
    let f = ntfy_fixture("", "", &rx, None).await;
    let (txid, _) = push(&f).await;
    let (buttons, click) = ntfy_publish(&f, &rx.wait_for(1).await[0], TYPE_THE_NUMBER);
    let (status, result) = buttons[1].tap(&f.srv).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["state"], "denied");
    assert_ne!(result["reason"], "fraud reported");
    assert_eq!(state_of(&f, &txid).await["state"], "denied");
    let page = f.srv.http.get(&click).send().await.unwrap();
    assert_eq!(page.status(), 410);
}

#[tokio::test]
async fn ntfy_number_choices_offers_three_numbers_and_the_right_one_answers_the_long_poll_at_once()
{
    let rx = Receiver::start(200).await;
    let f = ntfy_fixture("", "number_choices = true", &rx, None).await;
    let (txid, number) = push(&f).await;
    let number = number.unwrap();
    let hit = rx.wait_for(1).await.remove(0);
    let (buttons, click) = ntfy_publish(&f, &hit, TAP_THE_NUMBER);

    assert_eq!(buttons.len(), 3, "ntfy shows at most three buttons");
    let labels: Vec<u64> = buttons.iter().map(|b| b.label.parse().unwrap()).collect();
    assert_eq!(
        labels.iter().filter(|&&n| n == number).count(),
        1,
        "{labels:?} {number}"
    );
    assert!(labels.iter().all(|n| (10..=99).contains(n)));
    assert!(labels[0] != labels[1] && labels[1] != labels[2] && labels[0] != labels[2]);
    for (b, n) in buttons.iter().zip(&labels) {
        let body: Value = serde_json::from_str(&b.body).unwrap();
        assert_eq!(body, json!({"decision": "approve", "number": n}));
    }
    // Nothing that outlives the push is in it.
    let raw = String::from_utf8(hit.body.to_vec()).unwrap();
    assert!(!raw.contains(&f.tux.key) && !raw.contains("mfak_"));

    let poll = long_poll(&f.srv, &f.token, &txid);
    f.srv.until_waiting(&txid, 1).await;
    let right = buttons
        .iter()
        .find(|b| b.label == number.to_string())
        .unwrap();
    let tapped = Instant::now();
    let (status, result) = right.tap(&f.srv).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["state"], "approved");
    assert_eq!(result["decided"], true);
    let (answered, v) = poll.await.unwrap();
    assert_eq!(v["result"], "allow", "{v}");
    let latency = answered.duration_since(tapped);
    eprintln!("ntfy button -> long poll answer: {latency:?}");
    assert!(latency < Duration::from_millis(500), "{latency:?}");

    // The token is spent: another button changes nothing, and the web link is gone.
    let wrong = buttons
        .iter()
        .find(|b| b.label != number.to_string())
        .unwrap();
    let (status, again) = wrong.tap(&f.srv).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["decided"], false);
    assert_eq!(again["state"], "approved");
    assert_eq!(state_of(&f, &txid).await["state"], "approved");
    let page = f.srv.http.get(&click).send().await.unwrap();
    assert_eq!(page.status(), 410);
}

#[tokio::test]
async fn ntfy_number_choices_a_wrong_number_denies() {
    let rx = Receiver::start(200).await;
    let f = ntfy_fixture("", "number_choices = true", &rx, None).await;
    let (txid, number) = push(&f).await;
    let number = number.unwrap().to_string();
    let (buttons, _) = ntfy_publish(&f, &rx.wait_for(1).await[0], TAP_THE_NUMBER);
    let poll = long_poll(&f.srv, &f.token, &txid);
    let wrong = buttons.iter().find(|b| b.label != number).unwrap();
    let (status, result) = wrong.tap(&f.srv).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["state"], "denied");
    assert_eq!(result["reason"], "wrong number");
    let (_, v) = poll.await.unwrap();
    assert_eq!(v["result"], "deny");
    assert_eq!(v["reason"], "wrong number");
    // The right number cannot undo it.
    let right = buttons.iter().find(|b| b.label == number).unwrap();
    let (_, again) = right.tap(&f.srv).await;
    assert_eq!(
        (again["decided"].clone(), again["state"].clone()),
        (json!(false), json!("denied"))
    );
}

#[tokio::test]
async fn ntfy_without_number_matching_offers_approve_and_deny() {
    let rx = Receiver::start(200).await;
    // number_choices only matters with number matching on.
    let f = ntfy_fixture(
        "number_matching = false",
        "number_choices = true",
        &rx,
        None,
    )
    .await;
    let (txid, number) = push(&f).await;
    assert_eq!(number, None);
    let (buttons, _) = ntfy_publish(
        &f,
        &rx.wait_for(1).await[0],
        "Approve only if you are logging in right now.",
    );
    let shown: Vec<(&str, Value)> = buttons
        .iter()
        .map(|b| (b.label.as_str(), serde_json::from_str(&b.body).unwrap()))
        .collect();
    assert_eq!(
        shown,
        vec![
            ("Approve", json!({"decision": "approve"})),
            ("Deny", json!({"decision": "deny"})),
        ]
    );
    let poll = long_poll(&f.srv, &f.token, &txid);
    let (status, result) = buttons[1].tap(&f.srv).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["state"], "denied");
    assert_eq!(poll.await.unwrap().1["result"], "deny");
    // Approve after the deny does nothing.
    let (_, again) = buttons[0].tap(&f.srv).await;
    assert_eq!(again["decided"], false);
    assert_eq!(again["state"], "denied");
}

/// A `push_only` login (pam_mfa.so on a mail server) cannot show a number: its push has none,
/// so the buttons stay Approve / Deny although the server has number matching on.
#[tokio::test]
async fn ntfy_a_push_without_number_matching_offers_approve_and_deny() {
    let rx = Receiver::start(200).await;
    let f = ntfy_fixture("", "", &rx, None).await;
    let mut body = login("push");
    body["number_matching"] = json!(false);
    let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(
        (status, v["result"].clone()),
        (200, json!("pending")),
        "{v}"
    );
    assert_eq!(v["number"], Value::Null, "{v}");
    let (buttons, _) = ntfy_publish(
        &f,
        &rx.wait_for(1).await[0],
        "Approve only if you are logging in right now.",
    );
    let labels: Vec<&str> = buttons.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, ["Approve", "Deny"]);
    let (status, result) = buttons[0].tap(&f.srv).await;
    assert_eq!((status, result["state"].clone()), (200, json!("approved")));
}

#[tokio::test]
async fn an_ntfy_token_is_dead_once_its_push_expired() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let rx = Receiver::start(200).await;
    let f = ntfy_fixture(
        "auth_timeout = 30",
        "number_choices = true",
        &rx,
        Some(clock.clone()),
    )
    .await;
    let (txid, number) = push(&f).await;
    let number = number.unwrap().to_string();
    let (buttons, click) = ntfy_publish(&f, &rx.wait_for(1).await[0], TAP_THE_NUMBER);
    clock.advance_secs(31);
    let right = buttons.iter().find(|b| b.label == number).unwrap();
    let (status, result) = right.tap(&f.srv).await;
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["decided"], false);
    assert_eq!(result["state"], "expired");
    let v = state_of(&f, &txid).await;
    assert_eq!(
        (v["result"].clone(), v["state"].clone()),
        (json!("deny"), json!("expired"))
    );
    let page = f.srv.http.get(&click).send().await.unwrap();
    assert_eq!(page.status(), 410);
}

#[tokio::test]
async fn a_client_without_ntfy_or_with_notify_none_gets_nothing() {
    let rx = Receiver::start(200).await;
    // The default provider is ntfy, but tux has no topic; then tux chooses none.
    let f = fixture(&format!(
        "[notify]\ndefault = \"ntfy\"\n[notify.ntfy]\nserver = \"{}\"\n",
        rx.base
    ))
    .await;
    push(&f).await;
    f.srv
        .state
        .store
        .set_client_notify(&alias("tux"), &Notify::None)
        .await
        .unwrap();
    push(&f).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(rx.hits().is_empty(), "{:?}", rx.hits());
}

/// Collects what mfad logs on this thread (the test runtime runs every task on it).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || logs.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[tokio::test]
async fn a_failing_receiver_is_retried_then_given_up_and_nothing_is_approved() {
    let logs = Logs::default();
    let _guard = logs.capture();
    let rx = Receiver::start(500).await;
    let f = fixture(&format!(
        "[notify]\ndefault = \"webhook\"\nattempts = 3\n[notify.webhook]\nurl = \"{}/hook/{{approve_url}}?link={{approve_url}}\"\n",
        rx.base
    ))
    .await;
    let started = Instant::now();
    let (txid, _) = push(&f).await;
    let hits = rx.wait_for(3).await;
    let tried_for = started.elapsed();
    // 0.5 s, then 1 s between the attempts.
    assert!(tried_for >= Duration::from_millis(1400), "{tried_for:?}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(rx.hits().len(), 3, "attempts = 3 means three tries in all");
    assert!(
        hits.iter()
            .all(|h| h.params()["link"] == hits[0].params()["link"])
    );
    let v = state_of(&f, &txid).await;
    assert_eq!(
        (v["result"].clone(), v["state"].clone()),
        (json!("pending"), json!("pending"))
    );

    let text = logs.text();
    assert_eq!(
        text.matches("notification not delivered").count(),
        3,
        "{text}"
    );
    assert!(text.contains("HTTP 500"), "{text}");
    assert!(text.contains("notification given up"), "{text}");
    let token = hits[0].params()["link"]
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        !text.contains(&token),
        "the token leaked into the log: {text}"
    );
    assert!(
        !text.contains("/hook") && !text.contains("link="),
        "the URL's path or query leaked: {text}"
    );
    assert!(text.contains(&format!("to={}", rx.base)), "{text}");
}

#[tokio::test]
async fn a_receiver_that_cannot_be_reached_never_approves_and_is_not_retried_after_the_decision() {
    let logs = Logs::default();
    let _guard = logs.capture();
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let f = fixture(&format!(
        "[notify]\ndefault = \"webhook\"\nattempts = 5\n[notify.webhook]\nurl = \"http://{closed}/hook?link={{approve_url}}\"\n"
    ))
    .await;
    let (txid, _) = push(&f).await;
    tokio::time::sleep(Duration::from_millis(1800)).await;
    let v = state_of(&f, &txid).await;
    assert_eq!(v["state"], "pending", "a failed delivery decides nothing");
    let text = logs.text();
    assert_eq!(
        text.matches("notification not delivered").count(),
        3,
        "{text}"
    );
    assert!(text.contains("onnect"), "{text}");
    assert!(!text.contains("mfaa_") && !text.contains("link="), "{text}");

    // Once the push is decided, the remaining tries are dropped.
    let (status, _) = f.decide(&txid, &json!({"decision": "deny"})).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let text = logs.text();
    assert_eq!(
        text.matches("notification not delivered").count(),
        3,
        "{text}"
    );
    assert!(
        text.contains("push no longer pending: notification not retried"),
        "{text}"
    );
}

/// A receiver that takes the connection and never answers: pushes still go out at once, a
/// TOTP login meanwhile is answered, the person approves while the delivery hangs, and the
/// hang itself approves nothing.
#[tokio::test]
async fn a_receiver_that_hangs_delays_nothing_and_approves_nothing() {
    let hang = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = hang.local_addr().unwrap();
    let taken = Arc::new(AtomicU16::new(0));
    let holder = tokio::spawn({
        let taken = taken.clone();
        async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = hang.accept().await {
                held.push(socket);
                taken.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let f = fixture(&format!(
        "[notify]\ndefault = \"webhook\"\n[notify.webhook]\nurl = \"http://{addr}/hook?link={{approve_url}}\"\n"
    ))
    .await;
    let started = Instant::now();
    let (txid, number) = push(&f).await;
    let (other, _) = push(&f).await;
    let mut body = login("totp");
    body["passcode"] = json!(f.tux.totp.code_at(f.srv.now().unix_secs()));
    let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!((status, v["result"].as_str()), (200, Some("allow")), "{v}");
    // Each delivery may hang for its 10 s request timeout; none of it is waited for here.
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(5),
        "two pushes and a login took {took:?}"
    );
    assert_eq!(state_of(&f, &txid).await["state"], "pending");
    f.srv
        .until(
            |_| taken.load(Ordering::SeqCst) == 2,
            "both deliveries to hang",
        )
        .await;

    let poll = long_poll(&f.srv, &f.token, &txid);
    let (status, v) = f
        .decide(&txid, &json!({"decision": "approve", "number": number}))
        .await;
    assert_eq!(
        (status, v["state"].as_str()),
        (200, Some("approved")),
        "{v}"
    );
    let (_, v) = poll.await.unwrap();
    assert_eq!(v["result"], "allow", "{v}");
    assert_eq!(
        state_of(&f, &other).await["state"],
        "pending",
        "the hang approves nothing"
    );
    holder.abort();
}
