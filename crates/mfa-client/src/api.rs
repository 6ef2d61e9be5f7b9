//! The client API of mfad over HTTP/1.1 (one short connection per call), and the WebSocket
//! handshake; every failure becomes an [`ApiError`] that reads as one line.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use mfa_wire::ErrorBody;
use serde::de::DeserializeOwned;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use url::Url;

use crate::endpoint::Endpoint;
use crate::net::{self, CONNECT_TIMEOUT, Stream};

/// A whole API call (connect, send, read the answer) gives up after this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// mfad's answers are small JSON objects; anything bigger is not mfad.
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No answer at all: DNS, TCP, TLS, a timeout, a dropped connection.
    #[error("cannot reach {server}: {detail}")]
    Unreachable { server: String, detail: String },
    /// The server answered with an error status.
    #[error("{}", status_line(.server, *.status, .message))]
    Status {
        server: String,
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// An answer that is not what mfad sends.
    #[error("{server} does not answer like mfad: {detail}")]
    Protocol { server: String, detail: String },
}

fn status_line(server: &str, status: u16, message: &str) -> String {
    match status {
        401 => format!(
            "{server} rejected this client's key ({message}): check it, or ask an admin for a new one and run `mfa enroll` again"
        ),
        429 => format!("{server} refused: {message}"),
        _ => format!("{server} answered HTTP {status}: {message}"),
    }
}

impl ApiError {
    /// Whether trying again later cannot help (a bad key, a wrong URL), as opposed to the
    /// server being down, overloaded or locking us out for a while.
    pub fn is_permanent(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => {
                (400..500).contains(status) && !matches!(status, 408 | 429)
            }
            ApiError::Unreachable { .. } | ApiError::Protocol { .. } => false,
        }
    }
}

/// What the server said, from an error response: mfad's `{error, message}`, or the body's
/// first line (a proxy's error page), or the status text.
fn error_from(server: &str, status: StatusCode, body: &[u8]) -> ApiError {
    let (code, message) = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(e) => (Some(e.error), one_line(&e.message)),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let first = one_line(text.lines().next().unwrap_or_default());
            let message = if first.is_empty() || first.starts_with('<') {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                first.chars().take(200).collect()
            };
            (None, message)
        }
    };
    ApiError::Status {
        server: server.to_owned(),
        status: status.as_u16(),
        code,
        message,
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Authorization: Bearer <key>`, marked sensitive.
fn bearer(key: &str) -> Result<HeaderValue, String> {
    let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
        .map_err(|_| "the client key cannot be sent in a header".to_owned())?;
    value.set_sensitive(true);
    Ok(value)
}

/// `Host:` for `url`: the host, and the port when it is not the scheme's default.
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// Calls the client API with this client's key.
pub struct Api {
    endpoint: Endpoint,
    key: String,
}

impl Api {
    pub fn new(endpoint: Endpoint, key: &str) -> Self {
        Self {
            endpoint,
            key: key.to_owned(),
        }
    }

    pub fn server(&self) -> String {
        self.endpoint.display()
    }

    /// A POST without a body.
    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let body = self.call(Method::POST, path, None).await?;
        self.decode(&body)
    }

    fn decode<T: DeserializeOwned>(&self, body: &[u8]) -> Result<T, ApiError> {
        serde_json::from_slice(body).map_err(|e| self.protocol(format!("unexpected JSON: {e}")))
    }

    fn unreachable(&self, detail: impl Into<String>) -> ApiError {
        ApiError::Unreachable {
            server: self.server(),
            detail: detail.into(),
        }
    }

    fn protocol(&self, detail: impl Into<String>) -> ApiError {
        ApiError::Protocol {
            server: self.server(),
            detail: detail.into(),
        }
    }

    /// One request on a fresh connection; the body of a 2xx answer, else the error.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ApiError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(method, path, body)).await {
            Ok(result) => result,
            Err(_) => {
                Err(self.unreachable(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))
            }
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ApiError> {
        let url = self.endpoint.http_url(path);
        let stream = net::connect(&url).await.map_err(|e| self.unreachable(e))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| self.unreachable(e.to_string()))?;
        let driver = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::builder()
            .method(method)
            .uri(&url[url::Position::BeforePath..])
            .header(header::HOST, host_header(&url))
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("mfa/", env!("CARGO_PKG_VERSION")),
            )
            .header(
                header::AUTHORIZATION,
                bearer(&self.key).map_err(|e| self.protocol(e))?,
            );
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| self.protocol(e.to_string()))?;
        let result = async {
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| self.unreachable(e.to_string()))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| self.unreachable(format!("reading the answer: {e}")))?
                .to_bytes();
            if status.is_success() {
                Ok(bytes)
            } else {
                Err(error_from(&self.server(), status, &bytes))
            }
        }
        .await;
        driver.abort();
        result
    }

    /// Opens `GET /v1/client/ws` with this client's key.
    pub async fn websocket(&self) -> Result<WebSocketStream<Stream>, ApiError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.open_websocket()).await {
            Ok(result) => result,
            Err(_) => {
                Err(self.unreachable(format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())))
            }
        }
    }

    async fn open_websocket(&self) -> Result<WebSocketStream<Stream>, ApiError> {
        let url = self.endpoint.ws_url();
        let stream = net::connect(&url).await.map_err(|e| self.unreachable(e))?;
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| self.protocol(e.to_string()))?;
        request.headers_mut().insert(
            header::AUTHORIZATION,
            bearer(&self.key).map_err(|e| self.protocol(e))?,
        );
        let config =
            tungstenite::protocol::WebSocketConfig::default().max_message_size(Some(MAX_BODY));
        match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
            Ok((ws, _response)) => Ok(ws),
            Err(tungstenite::Error::Http(response)) => Err(error_from(
                &self.server(),
                response.status(),
                response.body().as_deref().unwrap_or_default(),
            )),
            Err(e @ (tungstenite::Error::Io(_) | tungstenite::Error::ConnectionClosed)) => {
                Err(self.unreachable(e.to_string()))
            }
            Err(e) => Err(self.protocol(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_one_line_and_classify() {
        let e = error_from(
            "http://x",
            StatusCode::UNAUTHORIZED,
            br#"{"error":"unauthorized","message":"invalid client key"}"#,
        );
        let text = e.to_string();
        assert!(
            text.contains("rejected this client's key (invalid client key)"),
            "{text}"
        );
        assert!(e.is_permanent());

        let e = error_from("http://x", StatusCode::BAD_GATEWAY, b"<html>\n<h1>Bad</h1>");
        assert_eq!(e.to_string(), "http://x answered HTTP 502: Bad Gateway");
        assert!(!e.is_permanent());

        let e = error_from(
            "http://x",
            StatusCode::TOO_MANY_REQUESTS,
            br#"{"error":"locked_out","message":"ip 127.0.0.1 is locked out until later"}"#,
        );
        assert!(!e.is_permanent());
        assert!(e.to_string().contains("locked out"), "{e}");

        let e = error_from("http://x", StatusCode::NOT_FOUND, b"no such\nthing");
        assert_eq!(e.to_string(), "http://x answered HTTP 404: no such");
        assert!(e.is_permanent());
    }

    #[test]
    fn host_header_keeps_only_explicit_ports() {
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            host_header(&url("http://127.0.0.1:8420/x")),
            "127.0.0.1:8420"
        );
        assert_eq!(
            host_header(&url("https://mfa.example.org/x")),
            "mfa.example.org"
        );
        assert_eq!(host_header(&url("http://[::1]:80/")), "[::1]");
    }
}
