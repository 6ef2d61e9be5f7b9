//! The connection as hyper sees it: bytes reach hyper one checked request at a time.
//!
//! Each head is read and checked here ([`head::check`]) before hyper gets any of it, and then
//! exactly that head and its `Content-Length` of body are handed on. A refused head never
//! reaches hyper: in its place hyper reads a stand-in request (`connection: close`), and the
//! service answers that one with the refusal, in JSON, in order after any answer still being
//! written. What follows an upgrade (WebSocket) is passed on unchecked.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use super::admit::Ticket;
use super::head::{self, Head, MAX_HEAD_BYTES};
use crate::ApiError;

/// What hyper reads in place of a refused head.
const STAND_IN: &[u8] = b"GET / HTTP/1.1\r\nhost: mfad\r\nconnection: close\r\n\r\n";
/// Bytes read and dropped after a refusal, so that closing does not reset the connection
/// (and lose the answer) while the client is still sending.
const MAX_DISCARD: usize = 256 * 1024;
const CHUNK: usize = 8 * 1024;

/// One entry per head handed to hyper, in order; the service takes one per request.
#[derive(Debug)]
pub(crate) enum Admitted {
    Request { upgrade: bool },
    Refused(ApiError),
}

#[derive(Debug, Default)]
pub(crate) struct Heads(Mutex<VecDeque<Admitted>>);

impl Heads {
    fn push(&self, admitted: Admitted) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push_back(admitted);
    }

    /// The entry for the request hyper has just parsed.
    pub(crate) fn next(&self) -> Admitted {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
            .unwrap_or(Admitted::Refused(ApiError::Internal(
                "a request arrived that was never checked".into(),
            )))
    }
}

enum Phase {
    /// Reading and checking the next head.
    Head { scanned: usize },
    /// Handing on `left` more bytes of a checked head and its body.
    Pass { left: u64 },
    /// After an upgrade: everything, unchecked.
    Raw,
    /// Handing on the stand-in for a refused head.
    StandIn { at: usize },
    /// Refused: read and drop whatever the client still sends.
    Discard { dropped: usize },
}

pub(crate) struct Gate<T> {
    inner: T,
    /// Read from `inner`, not yet handed on.
    buf: Vec<u8>,
    phase: Phase,
    heads: Arc<Heads>,
    body_timeout: Duration,
    /// Set while a body is being handed on: a body must arrive within `body_timeout`.
    body_deadline: Option<Pin<Box<Sleep>>>,
    /// The connection's place under the caps, for as long as the socket lives (through an
    /// upgrade to a WebSocket, too).
    _ticket: Ticket,
}

impl<T: AsyncRead + AsyncWrite + Unpin> Gate<T> {
    pub(crate) fn new(inner: T, heads: Arc<Heads>, body_timeout: Duration, ticket: Ticket) -> Self {
        Self {
            inner,
            buf: Vec::new(),
            phase: Phase::Head { scanned: 0 },
            heads,
            body_timeout,
            body_deadline: None,
            _ticket: ticket,
        }
    }

    /// Reads up to `max` more bytes into `buf`; `Ok(0)` at end of input.
    fn poll_fill(&mut self, cx: &mut Context<'_>, max: usize) -> Poll<io::Result<usize>> {
        let mut chunk = [0u8; CHUNK];
        let mut read = ReadBuf::new(&mut chunk[..max.clamp(1, CHUNK)]);
        ready!(Pin::new(&mut self.inner).poll_read(cx, &mut read))?;
        self.buf.extend_from_slice(read.filled());
        Poll::Ready(Ok(read.filled().len()))
    }

    /// Hands on up to `limit` buffered bytes; returns how many.
    fn hand_on(&mut self, out: &mut ReadBuf<'_>, limit: u64) -> usize {
        let n = self
            .buf
            .len()
            .min(out.remaining())
            .min(usize::try_from(limit).unwrap_or(usize::MAX));
        out.put_slice(&self.buf[..n]);
        self.buf.drain(..n);
        n
    }

    fn refuse(&mut self, error: ApiError) {
        self.heads.push(Admitted::Refused(error));
        self.buf.clear();
        self.body_deadline = None;
        self.phase = Phase::StandIn { at: 0 };
    }

    fn on_head(&mut self, scanned: usize, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let mut scanned = scanned;
        match head::check(&self.buf, &mut scanned) {
            Head::Partial => {
                self.phase = Phase::Head { scanned };
                let room = MAX_HEAD_BYTES.saturating_sub(self.buf.len());
                // Ok(false): end of input (an unfinished head is dropped with the connection).
                Poll::Ready(ready!(self.poll_fill(cx, room)).map(|n| n > 0))
            }
            Head::Valid {
                len,
                body_len,
                upgrade,
            } => {
                self.heads.push(Admitted::Request { upgrade });
                self.phase = if upgrade {
                    Phase::Raw
                } else {
                    if body_len > 0 {
                        self.body_deadline = Some(Box::pin(tokio::time::sleep(self.body_timeout)));
                    }
                    Phase::Pass {
                        left: len as u64 + body_len,
                    }
                };
                Poll::Ready(Ok(true))
            }
            Head::Refused(error) => {
                self.refuse(error);
                Poll::Ready(Ok(true))
            }
        }
    }

    /// A body is handed on as it comes, within its deadline.
    fn on_pass(
        &mut self,
        left: u64,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<bool>> {
        if left == 0 {
            self.body_deadline = None;
            self.phase = Phase::Head { scanned: 0 };
            return Poll::Ready(Ok(true));
        }
        if self.buf.is_empty() {
            match self.poll_fill(cx, CHUNK) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(false)),
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    if let Some(deadline) = self.body_deadline.as_mut() {
                        ready!(deadline.as_mut().poll(cx));
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request body not received in time",
                        )));
                    }
                    return Poll::Pending;
                }
            }
        }
        let n = self.hand_on(out, left);
        self.phase = Phase::Pass {
            left: left - n as u64,
        };
        Poll::Ready(Ok(n == 0))
    }

    /// Reads and drops input after a refusal until the client stops or sent too much.
    fn on_discard(&mut self, dropped: usize, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut dropped = dropped;
        loop {
            self.buf.clear();
            let n = ready!(self.poll_fill(cx, CHUNK))?;
            dropped += n;
            self.phase = Phase::Discard { dropped };
            if n == 0 {
                // The client finished sending; hyper still writes the answer, then closes.
                return Poll::Pending;
            }
            if dropped > MAX_DISCARD {
                return Poll::Ready(Err(io::ErrorKind::InvalidData.into()));
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for Gate<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            // Each arm either answers hyper or changes state and goes round again.
            let again = match this.phase {
                Phase::Head { scanned } => ready!(this.on_head(scanned, cx))?,
                Phase::Pass { left } => {
                    let filled = out.filled().len();
                    let again = ready!(this.on_pass(left, cx, out))?;
                    again && out.filled().len() == filled
                }
                Phase::Raw => {
                    if this.buf.is_empty() && ready!(this.poll_fill(cx, CHUNK))? == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    this.hand_on(out, u64::MAX);
                    return Poll::Ready(Ok(()));
                }
                Phase::StandIn { at } => {
                    let n = (STAND_IN.len() - at).min(out.remaining());
                    out.put_slice(&STAND_IN[at..at + n]);
                    this.phase = if at + n == STAND_IN.len() {
                        Phase::Discard { dropped: 0 }
                    } else {
                        Phase::StandIn { at: at + n }
                    };
                    return Poll::Ready(Ok(()));
                }
                Phase::Discard { dropped } => return this.on_discard(dropped, cx),
            };
            if !again {
                // End of input: hyper sees it as such.
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Gate<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // After a refusal, drop what has arrived meanwhile: closing with unread input would
        // reset the connection, and the client could lose the answer.
        if let Phase::Discard { dropped } = self.phase {
            let _ = self.on_discard(dropped, cx);
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
