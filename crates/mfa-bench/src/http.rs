//! HTTP/1.1 keep-alive connections straight on hyper: one connection per load worker, so the
//! generator does no pooling, no locking and no allocation beyond the request itself.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request as the workers send it.
pub type Req = Request<Full<Bytes>>;

/// Where a server listens: `http://127.0.0.1:PORT`. Only loopback addresses are accepted:
/// the bench never sends traffic anywhere else.
#[derive(Debug, Clone)]
pub struct Target {
    pub addr: SocketAddr,
    /// The `Host:` header.
    pub host: HeaderValue,
}

impl Target {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("{url}: only http:// is benchmarked"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        let authority = authority.replace("localhost", "127.0.0.1");
        let addr: SocketAddr = authority
            .parse()
            .with_context(|| format!("{url}: not an address with a port"))?;
        if !addr.ip().is_loopback() {
            bail!("{url}: not a loopback address; the bench sends traffic to 127.0.0.1 only");
        }
        let host = HeaderValue::from_str(&authority).context("Host header")?;
        Ok(Self { addr, host })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

type Connection = hyper::client::conn::http1::Connection<TokioIo<TcpStream>, Full<Bytes>>;

/// One keep-alive connection. Its I/O is driven by the task that sends on it (no task of its
/// own): a request and its answer cost no wake-up across threads.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// `None` once the server closed it (or it failed).
    connection: Option<Pin<Box<Connection>>>,
}

impl Conn {
    pub async fn open(target: &Target) -> anyhow::Result<Self> {
        let tcp = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(target.addr))
            .await
            .map_err(|_| anyhow!("connecting to {}: no answer within 10 s", target.addr))?
            .with_context(|| format!("connecting to {}", target.addr))?;
        let _ = tcp.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .context("HTTP handshake")?;
        Ok(Self {
            sender,
            connection: Some(Box::pin(connection)),
        })
    }

    /// Sends `req` and reads the whole answer, within `limit`.
    pub async fn send(&mut self, req: Req, limit: Duration) -> anyhow::Result<(StatusCode, Bytes)> {
        let Some(connection) = self.connection.as_mut() else {
            bail!("connection closed");
        };
        let sender = &mut self.sender;
        let exchange = async {
            sender.ready().await.context("connection closed")?;
            let response = sender.send_request(req).await.context("request")?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .context("reading the answer")?
                .to_bytes();
            anyhow::Ok((status, body))
        };
        let mut closed = false;
        let driven = async {
            tokio::pin!(exchange);
            tokio::select! {
                biased;
                answer = &mut exchange => answer,
                // A server that answers and closes (`Connection: close`, gunicorn's sync
                // workers) ends the connection before the answer is read: read it all the same.
                ended = connection.as_mut() => {
                    closed = true;
                    match ended {
                        Ok(()) => exchange.await.context("the server closed the connection"),
                        Err(e) => Err(anyhow!("connection: {e}")),
                    }
                }
            }
        };
        let result = tokio::time::timeout(limit, driven)
            .await
            .map_err(|_| anyhow!("no answer within {} s", limit.as_secs()))
            .and_then(|r| r);
        if closed || result.is_err() {
            self.connection = None;
        }
        result
    }

    /// Whether the connection can take another request (false once the server closed it).
    pub fn is_open(&self) -> bool {
        self.connection.is_some() && !self.sender.is_closed()
    }
}

fn bearer(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {token}"))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid"))
}

fn build(
    target: &Target,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<(&'static str, String)>,
) -> Req {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, target.host.clone());
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, bearer(token));
    }
    let body = match body {
        Some((kind, text)) => {
            request = request.header(header::CONTENT_TYPE, kind);
            Bytes::from(text)
        }
        None => Bytes::new(),
    };
    request.body(Full::new(body)).unwrap_or_else(|_| {
        // Only a path with characters a URI cannot hold gets here; ours are ids and digits.
        Request::new(Full::new(Bytes::new()))
    })
}

pub fn get(target: &Target, path: &str, token: Option<&str>) -> Req {
    build(target, Method::GET, path, token, None)
}

pub fn post_json(target: &Target, path: &str, token: Option<&str>, body: String) -> Req {
    build(
        target,
        Method::POST,
        path,
        token,
        Some(("application/json", body)),
    )
}

pub fn post_empty(target: &Target, path: &str, token: Option<&str>) -> Req {
    build(target, Method::POST, path, token, None)
}

pub fn post_form(target: &Target, path: &str, body: String) -> Req {
    build(
        target,
        Method::POST,
        path,
        None,
        Some(("application/x-www-form-urlencoded", body)),
    )
}

/// The answer's JSON, or an error naming the status and the start of the body.
pub fn json<T: serde::de::DeserializeOwned>(status: StatusCode, body: &[u8]) -> Result<T, String> {
    if !status.is_success() {
        return Err(format!("HTTP {}: {}", status.as_u16(), snippet(body)));
    }
    serde_json::from_slice(body).map_err(|e| format!("unexpected JSON ({e}): {}", snippet(body)))
}

pub fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(160).collect()
}
