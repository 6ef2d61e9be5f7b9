//! Opening a byte stream to mfad: TCP, and for https:// / wss:// TLS on top (rustls with the
//! ring provider, the system's CA roots; `SSL_CERT_FILE`/`SSL_CERT_DIR` name other roots).
//! HTTP requests and the WebSocket both run over this one stream type.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use url::{Host, Url};

/// Connecting (TCP, TLS and the HTTP or WebSocket handshake) gives up after this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// A plain or TLS connection to the server.
pub type Stream = Box<dyn Io>;

/// Connects to the host and port `url` names; TLS for `https` and `wss`. The error is a short
/// description of what failed, for "cannot reach SERVER: ...".
pub async fn connect(url: &Url) -> Result<Stream, String> {
    let host = url.host().ok_or("the URL names no host")?;
    let port = url.port_or_known_default().ok_or("the URL names no port")?;
    let tcp = match &host {
        Host::Domain(d) => TcpStream::connect((*d, port)).await,
        Host::Ipv4(a) => TcpStream::connect((*a, port)).await,
        Host::Ipv6(a) => TcpStream::connect((*a, port)).await,
    }
    .map_err(|e| e.to_string())?;
    // Small request/response exchanges: do not wait to fill packets.
    let _ = tcp.set_nodelay(true);
    if !matches!(url.scheme(), "https" | "wss") {
        return Ok(Box::new(tcp));
    }
    let name = match host {
        Host::Domain(d) => ServerName::try_from(d.to_owned())
            .map_err(|e| format!("{d} cannot be checked against a certificate: {e}"))?,
        Host::Ipv4(a) => ServerName::IpAddress(IpAddr::V4(a).into()),
        Host::Ipv6(a) => ServerName::IpAddress(IpAddr::V6(a).into()),
    };
    let connector = tokio_rustls::TlsConnector::from(tls_config()?);
    let tls = connector.connect(name, tcp).await.map_err(|e| {
        format!("TLS handshake failed: {e} (does the server speak https on this port?)")
    })?;
    Ok(Box::new(tls))
}

/// The TLS client settings, built once: ring, TLS 1.2 and 1.3, the system's roots.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG.get_or_init(build_tls_config).clone()
}

fn build_tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found
            .errors
            .first()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default();
        return Err(format!(
            "no CA certificates found on this system{why}: install ca-certificates, or name a CA file in SSL_CERT_FILE"
        ));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
