//! `GET /metrics`: what the counters, gauges and histograms say after real requests, that
//! their labels never carry user data, and `metrics_token`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::support::{Fixture, TestServer, fixture, login};
use crate::websocket::{connect, next};

/// One sample of the text format: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => {
                let inner = rest.strip_suffix('}').expect("closing brace");
                let labels = inner
                    .split("\",")
                    .map(|pair| {
                        let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
                        (k.to_owned(), v.trim_end_matches('"').to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
            None => (series.to_owned(), BTreeMap::new()),
        };
        out.push((name, labels, value));
    }
    out
}

/// The value of `name` with exactly `labels`, if the output has it.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let want: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    samples
        .iter()
        .find(|(n, l, _)| n == name && *l == want)
        .map(|(_, _, v)| *v)
}

/// Scrapes with `token` (none: no Authorization header); the status and body.
async fn scrape_with(srv: &TestServer, token: Option<&str>) -> (u16, String, String) {
    let mut req = srv.http.get(srv.url("/metrics"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

async fn scrape(srv: &TestServer) -> (String, Vec<Sample>) {
    let (status, content_type, text) = scrape_with(srv, None).await;
    assert_eq!(status, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let samples = parse(&text);
    (text, samples)
}

fn requests(samples: &[Sample], route: &str, status: &str) -> f64 {
    value(
        samples,
        "mfa_http_requests_total",
        &[("route", route), ("status", status)],
    )
    .unwrap_or(0.0)
}

fn decisions(samples: &[Sample], method: &str, result: &str) -> f64 {
    value(
        samples,
        "mfa_decisions_total",
        &[("method", method), ("result", result)],
    )
    .unwrap_or(0.0)
}

/// Nothing a label could leak: the user, host, service, client IP, server, alias, keys,
/// tokens, the push's txid, the caller's address.
fn assert_no_user_data(text: &str, f: &Fixture, more: &[&str]) {
    for secret in [
        "tux",
        "linux.example.org",
        "sshd",
        "192.0.2.10",
        "127.0.0.1",
        "ssh-1",
        f.tux.key.as_str(),
        f.token.as_str(),
        "mfak_",
        "mfas_",
        "mfaa_",
    ]
    .iter()
    .chain(more)
    {
        assert!(!text.contains(secret), "{secret:?} in the metrics:\n{text}");
    }
}

#[tokio::test]
async fn requests_decisions_pushes_and_their_latency_are_counted_without_user_data() {
    let f = fixture("").await;
    let (_, before) = scrape(&f.srv).await;
    assert_eq!(value(&before, "mfa_pushes_pending", &[]), Some(0.0));
    assert_eq!(value(&before, "mfa_websockets_open", &[]), Some(0.0));

    // A TOTP login: one request to /v1/auth answered 200, one decision totp/allow.
    let mut body = login("totp");
    body["passcode"] = json!(f.tux.totp.code_at(f.srv.now().unix_secs()));
    let (status, answer) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("allow")));
    // A wrong code: a deny.
    let mut body = login("totp");
    body["passcode"] = json!(f.wrong_code());
    let (status, answer) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("deny")));
    // A preauth: the gate's decision is counted when it decides (auth: not yet a decision).
    let mut preauth = login("push");
    preauth.as_object_mut().unwrap().remove("method");
    let (status, answer) = f.srv.post("/v1/preauth", &f.token, &preauth).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("auth")),
        "{answer}"
    );

    // A push: pending while it waits.
    let (status, pending) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(status, 200, "{pending}");
    let txid = pending["txid"].as_str().unwrap().to_owned();
    let number = pending["number"].as_u64().unwrap();
    let (_, waiting) = scrape(&f.srv).await;
    assert_eq!(value(&waiting, "mfa_pushes_pending", &[]), Some(1.0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, decided) = f
        .decide(&txid, &json!({"decision": "approve", "number": number}))
        .await;
    assert_eq!((status, decided["state"].as_str()), (200, Some("approved")));
    let (status, polled) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!((status, polled["result"].as_str()), (200, Some("allow")));
    // An unknown path: counted as `unmatched`, not by its text.
    let (status, _) = f.srv.get("/v1/nope/tux/192.0.2.10", "").await;
    assert_eq!(status, 404);

    let (text, after) = scrape(&f.srv).await;
    assert_eq!(value(&after, "mfa_pushes_pending", &[]), Some(0.0));
    assert_eq!(
        requests(&after, "/v1/auth", "200") - requests(&before, "/v1/auth", "200"),
        3.0,
        "{text}"
    );
    assert_eq!(requests(&after, "/v1/client/requests/{txid}", "200"), 1.0);
    assert_eq!(requests(&after, "/v1/auth/{txid}", "200"), 1.0);
    assert_eq!(requests(&after, "unmatched", "404"), 1.0, "{text}");
    // The scrapes before this one count too.
    assert!(requests(&after, "/metrics", "200") >= 2.0, "{text}");
    assert_eq!(decisions(&after, "totp", "allow"), 1.0, "{text}");
    assert_eq!(decisions(&after, "totp", "deny"), 1.0, "{text}");
    assert_eq!(decisions(&after, "push", "approved"), 1.0, "{text}");
    // The preauth's answer was `auth`: the gate decided nothing yet, so nothing is counted.
    assert_eq!(decisions(&after, "preauth", "allow"), 0.0, "{text}");

    // The push's latency: one sample of at least 0.3 s, and under 30.
    let latency = |suffix: &str, le: Option<&str>| {
        let mut labels = vec![("result", "approved")];
        if let Some(le) = le {
            labels.push(("le", le));
        }
        value(
            &after,
            &format!("mfa_push_latency_seconds{suffix}"),
            &labels,
        )
    };
    assert_eq!(latency("_count", None), Some(1.0), "{text}");
    let sum = latency("_sum", None).unwrap();
    assert!((0.3..30.0).contains(&sum), "{sum}");
    assert_eq!(latency("_bucket", Some("30")), Some(1.0), "{text}");
    assert_eq!(latency("_bucket", Some("+Inf")), Some(1.0), "{text}");
    assert!(
        text.contains("# TYPE mfa_push_latency_seconds histogram"),
        "{text}"
    );

    // Database latency: the decisions' writes, the push's settling, the scrape's counts.
    for query in ["record", "settle", "attempt", "count"] {
        let n = value(&after, "mfa_db_query_seconds_count", &[("query", query)]);
        assert!(n.is_some_and(|n| n >= 1.0), "{query}: {n:?}\n{text}");
    }
    assert_no_user_data(&text, &f, &[txid.as_str()]);
}

#[tokio::test]
async fn lockouts_in_force_are_counted_by_kind() {
    let f = fixture("max_failed_attempts = 1").await;
    let (_, before) = scrape(&f.srv).await;
    for kind in ["user", "ip", "caller"] {
        assert_eq!(
            value(&before, "mfa_lockouts_in_force", &[("kind", kind)]),
            Some(0.0),
            "{kind}"
        );
    }
    let mut body = login("totp");
    body["passcode"] = json!(f.wrong_code());
    let (status, answer) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!((status, answer["result"].as_str()), (200, Some("deny")));
    // A bad server token locks the caller's address.
    let (status, _) = f
        .srv
        .post("/v1/preauth", "mfas_wrong", &login("push"))
        .await;
    assert_eq!(status, 401);

    let (text, after) = scrape(&f.srv).await;
    for kind in ["user", "ip", "caller"] {
        assert_eq!(
            value(&after, "mfa_lockouts_in_force", &[("kind", kind)]),
            Some(1.0),
            "{kind}: {text}"
        );
    }
    assert_eq!(requests(&after, "/v1/preauth", "401"), 1.0, "{text}");
    assert_no_user_data(&text, &f, &["mfas_wrong"]);
}

#[tokio::test]
async fn open_websockets_are_counted_while_open() {
    let f = fixture("").await;
    let mut ws = connect(&f.srv, &f.tux.key).await.unwrap();
    assert_eq!(next(&mut ws).await["type"], "hello");
    let (_, open) = scrape(&f.srv).await;
    assert_eq!(value(&open, "mfa_websockets_open", &[]), Some(1.0));
    ws.close(None).await.unwrap();
    drop(ws);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (text, closed) = scrape(&f.srv).await;
        if value(&closed, "mfa_websockets_open", &[]) == Some(0.0) {
            assert_eq!(requests(&closed, "/v1/client/ws", "101"), 1.0, "{text}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still open: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn notifications_given_up_are_counted_by_provider() {
    // A port nobody listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let f = fixture(&format!(
        "[notify]\ndefault = \"webhook\"\nattempts = 1\n[notify.webhook]\nurl = \"http://{closed}/hook?link={{approve_url}}\"\n"
    ))
    .await;
    let (status, _) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (text, samples) = scrape(&f.srv).await;
        let failed = |p| {
            value(
                &samples,
                "mfa_notification_failures_total",
                &[("provider", p)],
            )
        };
        if failed("webhook") == Some(1.0) {
            assert_eq!(failed("ntfy"), Some(0.0), "{text}");
            assert_no_user_data(&text, &f, &[&closed.port().to_string()]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not counted: {text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// With `metrics_token` set, only a scrape with it is answered; without it or with another,
/// 401 with the JSON error body. The token never appears in an answer.
#[tokio::test]
async fn metrics_token_is_required_when_set() {
    let token = "m3trics-t0ken-for-the-test-0123456789";
    let srv = TestServer::start(&format!("metrics_token = \"{token}\"\n")).await;
    for presented in [None, Some("wrong-token-of-some-length"), Some("")] {
        let (status, _, text) = scrape_with(&srv, presented).await;
        assert_eq!(status, 401, "{presented:?}: {text}");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["error"], "unauthorized", "{body}");
        assert!(body["message"].as_str().unwrap().contains("metrics token"));
        assert!(!text.contains(token));
    }
    // Another scheme with the right token is refused too.
    let resp = srv
        .http
        .get(srv.url("/metrics"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let (status, content_type, text) = scrape_with(&srv, Some(token)).await;
    assert_eq!(status, 200, "{text}");
    assert!(content_type.starts_with("text/plain; version=0.0.4"));
    assert!(!text.contains(token));
    // The refusals were counted, as any answer.
    let samples = parse(&text);
    assert_eq!(requests(&samples, "/metrics", "401"), 4.0, "{text}");
    // The scheme's name is not case-sensitive.
    let resp = srv
        .http
        .get(srv.url("/metrics"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// Open by default: no token needed.
#[tokio::test]
async fn metrics_are_open_without_a_token() {
    let srv = TestServer::start("").await;
    let (status, _, text) = scrape_with(&srv, None).await;
    assert_eq!(status, 200, "{text}");
    // Any bearer token is ignored then.
    let (status, _, _) = scrape_with(&srv, Some("whatever-token")).await;
    assert_eq!(status, 200);
}
