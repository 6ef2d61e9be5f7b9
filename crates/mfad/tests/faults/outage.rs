use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::cluster::PrivatePostgres;

const HOST: &str = "db.example.org";

struct Bed {
    _install: mfa_testkit::Install,
    daemon: mfa_testkit::Daemon,
    http: reqwest::Client,
    server_token: String,
    client_key: String,
    totp: mfa_otp::Totp,
}

impl Bed {
    fn start(pg: &PrivatePostgres) -> Self {
        let install = mfa_testkit::Install::new(&format!("database_url = \"{}\"\n", pg.url()));
        let tux = install.mfac_json(&["client", "add", "tux", "--notify", "none"]);
        let server_token =
            install.mfac_field(&["server", "add", "db-test", "--hosts", HOST], "api_token");
        install.mfac(&[
            "app",
            "add",
            "--user",
            "tux",
            "--host",
            HOST,
            "--service",
            "*",
            "--client",
            "tux",
            "--methods",
            "push,totp",
        ]);
        let secret = mfa_otp::Secret::from_base32(tux["totp_secret"].as_str().unwrap()).unwrap();
        let daemon = install.start();
        Self {
            daemon,
            _install: install,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .unwrap(),
            server_token,
            client_key: tux["client_key"].as_str().unwrap().to_owned(),
            totp: mfa_otp::Totp::new(secret, mfa_otp::TotpParams::default()),
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.daemon.base);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url).bearer_auth(key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn auth(&self, body: Value) -> (u16, Value) {
        let mut login = json!({"user": "tux", "host": HOST, "service": "sshd"});
        login
            .as_object_mut()
            .unwrap()
            .extend(body.as_object().unwrap().clone());
        self.request("POST", "/v1/auth", &self.server_token, Some(login))
            .await
    }

    /// A pending push for tux: its txid and number.
    async fn push(&self) -> (String, Value) {
        let (status, push) = self.auth(json!({"method": "push"})).await;
        assert_eq!(
            (status, push["result"].as_str()),
            (200, Some("pending")),
            "{push}"
        );
        (
            push["txid"].as_str().unwrap().to_owned(),
            push["number"].clone(),
        )
    }

    fn code(&self, steps_ahead: u64) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        self.totp.code_for_step(self.totp.step(now) + steps_ahead)
    }

    async fn healthz(&self) -> (u16, Value) {
        self.request("GET", "/healthz", "", None).await
    }

    /// Polls /healthz until it answers `status`; how long that took.
    async fn health_becomes(&self, status: u16, within: Duration) -> Duration {
        let started = Instant::now();
        loop {
            let (got, body) = self.healthz().await;
            if got == status {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < within,
                "/healthz still {got} {body} after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn websocket(&self) -> Ws {
        let url = format!("{}/v1/client/ws", self.daemon.base).replacen("http://", "ws://", 1);
        let mut request = url.into_client_request().unwrap();
        let bearer = format!("Bearer {}", self.client_key);
        request
            .headers_mut()
            .insert("authorization", bearer.parse().unwrap());
        tokio_tungstenite::connect_async(request).await.unwrap().0
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the socket does within `within`: `Some(text)` for the next text frame, `None` once
/// it is closed; panics when it does neither (a socket left hanging).
async fn ws_next(ws: &mut Ws, within: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => panic!("the WebSocket neither spoke nor closed within {within:?}"),
            Ok(None | Some(Err(_))) => return None,
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                return Some(text.to_string());
            }
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_)))) => return None,
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// The next text frame that is not about a push other than `txid`; panics after `within`.
async fn ws_request_for(ws: &mut Ws, txid: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let text = ws_next(ws, left).await.expect("the WebSocket closed");
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] == "request" && frame["txid"] == txid {
            return frame;
        }
    }
}

async fn long_poll(bed: &Bed, txid: &str) -> tokio::task::JoinHandle<(Duration, u16, Value)> {
    let http = bed.http.clone();
    let url = format!("{}/v1/auth/{txid}?wait=60", bed.daemon.base);
    let token = bed.server_token.clone();
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        let response = http.get(url).bearer_auth(token).send().await.unwrap();
        let status = response.status().as_u16();
        (
            started.elapsed(),
            status,
            response.json().await.unwrap_or(Value::Null),
        )
    });
    // Let it reach mfad and subscribe (a poll that started later would be no test).
    tokio::time::sleep(Duration::from_millis(300)).await;
    poll
}

fn assert_unavailable(what: &str, status: u16, body: &Value) {
    assert_eq!(status, 503, "{what}: {body}");
    assert_eq!(body["error"], "unavailable", "{what}: {body}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.contains("database"), "{what} says why: {body}");
}

/// The database stops under mfad (as a crash would: `pg_ctl -m immediate`), then comes back.
/// Meanwhile: /healthz says 503 and why within 3 s, a right TOTP code and a push are refused
/// with 503 (never allowed), an open long poll ends with 503 instead of hanging. Afterwards
/// mfad heals by itself: /healthz 200, TOTP allowed, and a WebSocket opened before the outage
/// receives the next push, whose approval ends a long poll with allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_closed_says_so_and_heals_by_itself() {
    let Some(pg) = PrivatePostgres::start() else {
        return;
    };
    let bed = Bed::start(&pg);
    let (txid, _) = bed.push().await;
    let mut ws = bed.websocket().await;
    ws_request_for(&mut ws, &txid, Duration::from_secs(5)).await;
    let poll = long_poll(&bed, &txid).await;

    pg.stop();
    let took = bed.health_becomes(503, Duration::from_secs(30)).await;
    assert!(
        took < Duration::from_secs(3),
        "/healthz took {took:?} to say 503"
    );
    let (status, body) = bed.healthz().await;
    assert_unavailable("/healthz", status, &body);
    let (status, body) = bed
        .auth(json!({"method": "totp", "passcode": bed.code(0)}))
        .await;
    assert_unavailable("a right TOTP code", status, &body);
    let (status, body) = bed.auth(json!({"method": "push"})).await;
    assert_unavailable("a push", status, &body);
    let (waited, status, body) = tokio::time::timeout(Duration::from_secs(70), poll)
        .await
        .expect("the long poll hangs")
        .unwrap();
    assert_unavailable("the long poll", status, &body);
    assert!(
        waited < Duration::from_secs(45),
        "the long poll ended after {waited:?}"
    );

    pg.start_again();
    bed.health_becomes(200, Duration::from_secs(30)).await;
    let (status, body) = bed
        .auth(json!({"method": "totp", "passcode": bed.code(1)}))
        .await;
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("allow")),
        "{body}"
    );
    let (txid, number) = bed.push().await;
    let poll = long_poll(&bed, &txid).await;
    ws_request_for(&mut ws, &txid, Duration::from_secs(20)).await;
    let decision = json!({"decision": "approve", "number": number});
    let path = format!("/v1/client/requests/{txid}");
    let (status, body) = bed
        .request("POST", &path, &bed.client_key, Some(decision))
        .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("approved")),
        "{body}"
    );
    let (_, status, body) = poll.await.unwrap();
    assert_eq!(
        (status, body["result"].as_str()),
        (200, Some("allow")),
        "{body}"
    );
}
