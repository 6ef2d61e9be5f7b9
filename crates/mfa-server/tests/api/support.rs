//! The test kit: a fresh database (SQLite, or a PostgreSQL schema), mfad's router on a free
//! port, and helpers to enrol clients, apps and servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use mfa_core::{Alias, Clock, Methods, Pattern, SystemClock};
use mfa_otp::{Secret, Totp, TotpParams};
use mfa_secrets::{SealKey, Sealer, Token};
use mfa_server::AppState;
use mfa_server::serve::Limits;
use mfa_store::{NewApp, NewClient, Store};
use serde_json::Value;

pub struct TestServer {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

pub struct Enrolled {
    pub key: String,
    pub totp: Totp,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn sealer() -> Sealer {
    Sealer::new(SealKey::from_bytes([42; 32]))
}

/// The PostgreSQL server to test against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("MFA_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// A fresh, empty PostgreSQL schema; returns a URL that uses it.
pub async fn postgres_schema(base: &str) -> String {
    use sqlx::Executor;
    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(base).await.unwrap();
    // Process ids repeat across runs and schemas outlive them: a random part keeps names apart.
    let schema = format!(
        "mfa_test_api_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        mfa_secrets::random_id(5).unwrap()
    );
    admin
        .execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .unwrap();
    admin.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-c%20search_path%3D{schema}")
}

/// The database for a test: SQLite by default; PostgreSQL when `MFA_TEST_BACKEND=postgres`
/// and `MFA_TEST_POSTGRES_URL` are set.
async fn open_store(dir: &std::path::Path) -> Store {
    open_store_at(dir).await.0
}

/// [`open_store`], and the database's URL (for a test that reaches into the database).
pub async fn open_store_at(dir: &std::path::Path) -> (Store, String) {
    let url = match (std::env::var("MFA_TEST_BACKEND").as_deref(), postgres_url()) {
        (Ok("postgres"), Some(base)) => postgres_schema(&base).await,
        _ => format!("sqlite://{}", dir.join("mfa.db").display()),
    };
    (Store::open(&url, sealer()).await.unwrap(), url)
}

impl TestServer {
    /// Starts with the default config plus `extra` TOML.
    pub async fn start(extra: &str) -> Self {
        Self::start_with_clock(extra, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(extra: &str, clock: Arc<dyn Clock>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path()).await;
        Self::start_on(store, extra, clock, dir).await
    }

    /// Its `host_addr` is `http://localhost:PORT`: a DNS name, as passkeys need (browsers treat
    /// localhost as a secure context).
    pub async fn start_on_localhost(extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path()).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let extra = format!("host_addr = \"http://localhost:{port}\"\n{extra}");
        Self::serve_on(listener, store, &extra, Arc::new(SystemClock), dir, |_| {}).await
    }

    /// Served with `limits` changed by `adjust` (short timeouts, small caps).
    pub async fn start_with_limits(extra: &str, adjust: impl FnOnce(&mut Limits)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(dir.path()).await;
        Self::serve(store, extra, Arc::new(SystemClock), dir, adjust).await
    }

    /// A node on an existing store (several nodes may share one PostgreSQL database).
    pub async fn start_on(
        store: Store,
        extra: &str,
        clock: Arc<dyn Clock>,
        dir: tempfile::TempDir,
    ) -> Self {
        Self::serve(store, extra, clock, dir, |_| {}).await
    }

    /// mfad's router behind mfad's own serving loop (`mfa_server::serve`).
    async fn serve(
        store: Store,
        extra: &str,
        clock: Arc<dyn Clock>,
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Limits),
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::serve_on(listener, store, extra, clock, dir, adjust).await
    }

    async fn serve_on(
        listener: tokio::net::TcpListener,
        store: Store,
        extra: &str,
        clock: Arc<dyn Clock>,
        dir: tempfile::TempDir,
        adjust: impl FnOnce(&mut Limits),
    ) -> Self {
        let config = mfa_config::parse(
            &format!("server_name = \"mfa.test\"\n{extra}"),
            &dir.path().join("mfad.toml"),
        )
        .unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = config;
        if config.host_addr.is_none() {
            config.host_addr = Some(format!("http://{addr}"));
        }
        let state = AppState::new(store, config, clock);
        mfa_server::spawn_background(&state).await.unwrap();
        let mut limits = Limits::from_config(&state.config);
        adjust(&mut limits);
        let app = mfa_server::router(state.clone());
        tokio::spawn(mfa_server::serve::serve(
            listener,
            app,
            limits,
            None,
            std::future::pending(),
        ));
        Self {
            base: format!("http://{addr}"),
            state,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits (at most 10 s) until `n` long polls on this node wait for push `txid`: one that
    /// has not subscribed yet misses the decision's event and answers only on its timer.
    pub async fn until_waiting(&self, txid: &str, n: usize) {
        self.until(|s| s.state.hub.waiting_on(txid) >= n, "long polls to wait")
            .await;
    }

    /// Waits (at most 10 s) until this node hears other nodes' events.
    pub async fn until_relaying(&self) {
        self.until(|s| s.state.hub.relaying(), "the node to listen")
            .await;
    }

    /// Waits (at most 10 s) until `ready` holds.
    pub async fn until(&self, ready: impl Fn(&Self) -> bool, what: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !ready(self) {
            assert!(
                std::time::Instant::now() < deadline,
                "waited 10 s for {what}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    pub fn now(&self) -> mfa_core::Timestamp {
        self.state.clock.now()
    }

    pub async fn enrol(&self, alias: &str) -> Enrolled {
        let key = Token::generate("mfak").unwrap();
        let secret = Secret::generate(20).unwrap();
        self.state
            .store
            .add_client(NewClient {
                alias: &Alias::new(alias).unwrap(),
                key_hash: &key.hash(),
                totp_secret: &secret,
                totp: TotpParams::default(),
                notify: Default::default(),
                now: self.now(),
            })
            .await
            .unwrap();
        Enrolled {
            key: key.expose().to_owned(),
            totp: Totp::new(secret, TotpParams::default()),
        }
    }

    pub async fn app(
        &self,
        user: &str,
        host: &str,
        service: &str,
        clients: &[&str],
        methods: &str,
    ) -> i64 {
        self.state
            .store
            .add_app(
                &NewApp {
                    user: Alias::new(user).unwrap(),
                    host: Pattern::new(host).unwrap(),
                    service: Pattern::new(service).unwrap(),
                    methods: methods.parse::<Methods>().unwrap(),
                    clients: clients.iter().map(|c| Alias::new(c).unwrap()).collect(),
                },
                self.now(),
            )
            .await
            .unwrap()
            .id
    }

    /// Adds a trusted server for `hosts`; returns its API token.
    pub async fn server(&self, name: &str, hosts: &[&str]) -> String {
        let token = Token::generate("mfas").unwrap();
        let hosts: Vec<Pattern> = hosts.iter().map(|h| Pattern::new(h).unwrap()).collect();
        self.state
            .store
            .add_server(name, &token.hash(), &hosts, self.now())
            .await
            .unwrap();
        token.expose().to_owned()
    }

    /// POSTs JSON with a bearer token; returns (status, body).
    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}

/// The usual fixture: client tux, app tux@linux.example.org/sshd with push and totp, server ssh-1.
pub struct Fixture {
    pub srv: TestServer,
    pub tux: Enrolled,
    pub token: String,
}

impl Fixture {
    /// tux answers push `txid` (`POST /v1/client/requests/{txid}` with tux's key).
    pub async fn decide(&self, txid: &str, answer: &Value) -> (u16, Value) {
        let path = format!("/v1/client/requests/{txid}");
        self.srv.post(&path, &self.tux.key, answer).await
    }

    /// A code for tux that none of the steps the server accepts now (skew 1) would take.
    pub fn wrong_code(&self) -> String {
        let now = self.srv.now().unix_secs();
        let valid: Vec<String> = [now - 30, now, now + 30]
            .iter()
            .map(|t| self.tux.totp.code_at(*t))
            .collect();
        (0u32..)
            .map(|n| format!("{n:06}"))
            .find(|c| !valid.contains(c))
            .unwrap_or_default()
    }
}

pub async fn fixture(extra: &str) -> Fixture {
    fixture_on(TestServer::start(extra).await).await
}

pub async fn fixture_on(srv: TestServer) -> Fixture {
    let tux = srv.enrol("tux").await;
    srv.app("tux", "linux.example.org", "sshd", &["tux"], "push,totp")
        .await;
    let token = srv
        .server("ssh-1", &["linux.example.org", "*.lab.example.org"])
        .await;
    Fixture { srv, tux, token }
}

pub fn login(method: &str) -> Value {
    serde_json::json!({
        "user": "tux", "host": "linux.example.org", "service": "sshd",
        "client_ip": "192.0.2.10", "method": method,
    })
}
