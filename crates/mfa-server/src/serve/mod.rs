//! Serving the router over TCP with limits on what one client may hold, so idle, slow or
//! oversized connections cannot take mfad offline (axum's `serve` has no header timeout and
//! no connection cap: about 1010 idle connections exhausted the usual 1024 descriptors).
//!
//! - Connections: at most `max_connections` in all (and never more than three quarters of the
//!   open-file limit) and `max_connections_per_ip` per client address; the excess gets a JSON
//!   503 `busy` or 429 `too_many_connections` and is closed at once ([`admit`]).
//! - Heads: read and checked before hyper sees them ([`gate`], [`head`]): at most 16 KiB, 64
//!   fields, an 8 KiB target, a `Content-Length` within the body limit and no
//!   `Transfer-Encoding`. A refused head is answered with the JSON error of every other
//!   error (400, 411, 413, 414, 431), never hyper's empty one, and the connection closes.
//! - Time: a head must arrive within `header_timeout` of the connection opening or of the
//!   previous answer (which is also how long an idle keep-alive connection stays open), and
//!   a body within `body_timeout` of its head.
//! - TLS, when `[tls]` is set ([`tls`]): the handshake too must end within `header_timeout`.

mod admit;
mod gate;
pub mod head;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use admit::{Admission, Ticket};
use gate::{Admitted, Gate, Heads};

/// How long a head may take, and how long an idle keep-alive connection stays open.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a body may take after its head.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopping server waits for answers in progress (long polls end within 30 s).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(35);
/// After an accept error (out of descriptors, say), wait this long before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What one connection, and all of them, may hold.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Peers not counted per address (trusted reverse proxies carry many clients).
    pub exempt: mfa_config::Networks,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
}

impl Limits {
    /// The configured limits, with `max_connections` cut to what the open-file limit allows.
    pub fn from_config(config: &mfa_config::Config) -> Self {
        let configured = usize::try_from(config.max_connections).unwrap_or(usize::MAX);
        let max_connections = match open_file_limit() {
            Some(files) if connections_for(files) < configured => {
                let allowed = connections_for(files);
                tracing::warn!(
                    configured,
                    allowed,
                    open_file_limit = files,
                    "max_connections cut to three quarters of the open-file limit; raise the \
                     limit (ulimit -n, LimitNOFILE) to serve more"
                );
                allowed
            }
            _ => configured,
        };
        Self {
            max_connections,
            max_connections_per_ip: usize::try_from(config.max_connections_per_ip)
                .unwrap_or(usize::MAX),
            exempt: config.trusted_reverse_proxies.clone(),
            header_timeout: HEADER_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
        }
    }
}

/// Connections that fit in `files` descriptors, leaving a quarter (at least 64) for the
/// database, outgoing notifications, logs and connections being refused.
fn connections_for(files: usize) -> usize {
    files.saturating_sub((files / 4).max(64)).max(8)
}

/// Connections the kernel queues for `accept` (std's default is 128). The accept loop yields
/// to the connections it started every 128 accepts; with a queue that short, a burst of new
/// connections overflowed it and the kernel dropped SYNs, each costing its client a 1 s
/// retransmit (10 000 connections took 16 s to open instead of under one).
const LISTEN_BACKLOG: u32 = 1024;

/// Listens on `addr` with [`LISTEN_BACKLOG`] and `SO_REUSEADDR` (a restarted mfad binds its
/// port again while connections of the old one linger in TIME_WAIT).
pub fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The soft `RLIMIT_NOFILE`, from /proc (no unsafe code for getrlimit); `None` if unknown.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` completes, then lets
/// answers in progress finish (at most 35 s). Accept errors are logged and retried, never fatal.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let admission = Admission::new(&limits);
    let limits = Arc::new(limits);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let Some(ticket) = admission.admit(&stream, peer.ip()) else {
                    continue;
                };
                let conn = Conn {
                    app: app.clone(),
                    limits: limits.clone(),
                    peer,
                    stop: stop_rx.clone(),
                    _done: done_tx.clone(),
                };
                tokio::spawn(conn.start(stream, tls.clone(), ticket));
            }
            Err(e) if is_per_connection(&e) => {}
            Err(e) => {
                tracing::warn!(error = %e, "accept error; retrying shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(done_tx);
    // Every connection task holds a sender: recv() ends when the last one is gone.
    if tokio::time::timeout(SHUTDOWN_GRACE, done_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Errors that concern one connection that went away before it was accepted.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// One accepted connection and what it holds until it ends.
struct Conn {
    app: Router,
    limits: Arc<Limits>,
    peer: SocketAddr,
    stop: watch::Receiver<bool>,
    /// Held until hyper is done (not through an upgrade: shutdown does not wait for
    /// WebSockets).
    _done: tokio::sync::mpsc::Sender<()>,
}

impl Conn {
    async fn start(self, stream: TcpStream, tls: Option<TlsAcceptor>, ticket: Ticket) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = tls else {
            return self.run(stream, ticket).await;
        };
        // A handshake is held to the head's deadline: a client that opens and stalls costs
        // a descriptor for `header_timeout`, as over plain HTTP.
        match tokio::time::timeout(self.limits.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(stream)) => self.run(stream, ticket).await,
            Ok(Err(e)) => tracing::debug!(peer = %self.peer, error = %e, "TLS handshake failed"),
            Err(_) => tracing::debug!(peer = %self.peer, "TLS handshake timed out"),
        }
    }

    async fn run<S>(mut self, stream: S, ticket: Ticket)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let heads = Arc::new(Heads::default());
        let gate = Gate::new(stream, heads.clone(), self.limits.body_timeout, ticket);
        let io = TokioIo::new(gate);
        let (app, peer) = (self.app.clone(), self.peer);
        let service =
            hyper::service::service_fn(move |req| answer(app.clone(), heads.clone(), peer, req));
        let mut builder = http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_timeout)
            // hyper sees only checked heads and bodies within the limit.
            .max_buf_size(head::MAX_HEAD_BYTES + crate::MAX_BODY_BYTES + 8192);
        let conn = builder.serve_connection(io, service).with_upgrades();
        tokio::pin!(conn);
        let stop = &mut self.stop;
        let stopping = async move {
            let _ = stop.wait_for(|stop| *stop).await;
        };
        let finished = tokio::select! {
            result = conn.as_mut() => Some(result),
            () = stopping => None,
        };
        let result = match finished {
            Some(result) => result,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!(peer = %self.peer, error = %e, "connection ended with an error");
        }
    }
}

/// Answers one request hyper parsed: the refusal its head earned, or the router's answer.
async fn answer(
    app: Router,
    heads: Arc<Heads>,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let upgrade = match heads.next() {
        Admitted::Refused(error) => {
            tracing::debug!(peer = %peer, %error, "request head refused");
            return Ok(closing(error.into_response()));
        }
        Admitted::Request { upgrade } => upgrade,
    };
    req.extensions_mut().insert(ConnectInfo(peer));
    let response = match app.oneshot(req.map(Body::new)).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    // What follows a refused upgrade is unchecked: do not read another request from it.
    if upgrade && response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return Ok(closing(response));
    }
    Ok(response)
}

fn closing(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_leave_a_quarter_of_the_descriptors() {
        assert_eq!(connections_for(1024), 768);
        assert_eq!(connections_for(256), 192);
        assert_eq!(connections_for(100), 36);
        assert_eq!(connections_for(10), 8);
        assert_eq!(connections_for(65536), 49152);
    }

    #[test]
    fn reads_this_process_open_file_limit() {
        assert!(open_file_limit().is_some_and(|n| n > 0));
    }
}
