//! The HTTP client notifications go out with: HTTP/1.1 on hyper; https through rustls with the
//! ring provider and the system's CA roots. Redirects are not followed (a 3xx is a failure).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::{HeaderValue, Request, Uri, header};
use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::Delivery;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most one attempt may take, from connecting to the response's status line.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const USER_AGENT: &str = concat!("mfad/", env!("CARGO_PKG_VERSION"));

/// Why one attempt failed; `retry` is false when trying again cannot help.
pub(super) struct Failure {
    pub why: String,
    pub retry: bool,
}

type Inner = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Cheap to clone; one per `AppState`, since its pooled connections belong to the runtime that
/// opened them.
#[derive(Clone)]
pub(super) struct HttpClient {
    inner: Result<Inner, String>,
}

/// The TLS set-up, made once per process (reading the CA roots takes a moment).
fn tls_config() -> Result<rustls::ClientConfig, String> {
    static CONFIG: OnceLock<Result<rustls::ClientConfig, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                tracing::warn!(errors = ?found.errors,
                    "no CA certificates found (install ca-certificates): https notifications will fail");
            }
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| b.with_root_certificates(roots).with_no_client_auth())
                .map_err(|e| format!("TLS set-up failed: {e}"))
        })
        .clone()
}

impl HttpClient {
    pub fn new() -> Self {
        let inner = tls_config().map(|tls| {
            let mut http = HttpConnector::new();
            http.set_connect_timeout(Some(CONNECT_TIMEOUT));
            http.enforce_http(false);
            let https = hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(http);
            Client::builder(TokioExecutor::new()).build(https)
        });
        if let Err(e) = &inner {
            tracing::error!(error = %e, "notifications are off");
        }
        Self { inner }
    }

    /// One attempt: success is a 2xx status.
    pub async fn send(&self, d: &Delivery) -> Result<(), Failure> {
        let permanent = |why: String| Failure { why, retry: false };
        let client = self.inner.as_ref().map_err(|e| permanent(e.clone()))?;
        let uri: Uri = d
            .url
            .parse()
            .map_err(|_| permanent("invalid URL (check the URL template)".into()))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(permanent(
                "the URL must start with http:// or https://".into(),
            ));
        }
        let mut req = Request::builder()
            .method(d.method.clone())
            .uri(uri)
            .header(header::USER_AGENT, USER_AGENT);
        if let Some(bearer) = &d.bearer {
            let value = HeaderValue::from_str(&format!("Bearer {bearer}"))
                .map_err(|_| permanent("the access token is not a valid header value".into()))?;
            req = req.header(header::AUTHORIZATION, value);
        }
        let body = match &d.json {
            Some(json) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(json).map_err(|e| permanent(e.to_string()))?)
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(body))
            .map_err(|e| permanent(format!("invalid request: {e}")))?;
        match tokio::time::timeout(REQUEST_TIMEOUT, client.request(req)).await {
            Err(_) => Err(Failure {
                why: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
                retry: true,
            }),
            Ok(Err(e)) => Err(Failure {
                why: causes(&e),
                retry: true,
            }),
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => Err(Failure {
                why: format!("HTTP {}", resp.status()),
                retry: true,
            }),
        }
    }
}

/// An error and its causes on one line. hyper's errors do not carry the URL.
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = cause.source();
    }
    out
}
