//! Checking a request head before hyper sees it, so that every head hyper would refuse with
//! its own bodiless 400/414/431 is refused here first, with our JSON error instead.

use axum::http::{HeaderName, HeaderValue, Method, Uri};

use crate::{ApiError, MAX_BODY_BYTES};

/// The longest head (request line and header fields) accepted.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// The longest request target (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// The most header fields accepted (hyper's own limit is 100).
pub const MAX_HEADERS: usize = 64;

/// What the bytes read so far say about the next request.
#[derive(Debug)]
pub(crate) enum Head {
    /// No complete head yet.
    Partial,
    /// A head hyper will accept: its length, and what follows it.
    Valid {
        len: usize,
        body_len: u64,
        /// An upgrade (WebSocket) or CONNECT: what follows is not HTTP we can frame.
        upgrade: bool,
    },
    /// A head that is refused with this error.
    Refused(ApiError),
}

/// Looks for a complete head at the start of `buf`. `scanned` remembers how far the search
/// for its end got, so a head dribbled in byte by byte is not searched again and again.
pub(crate) fn check(buf: &[u8], scanned: &mut usize) -> Head {
    let Some(end) = find_end(buf, scanned) else {
        return if buf.len() >= MAX_HEAD_BYTES {
            too_large()
        } else {
            Head::Partial
        };
    };
    if end > MAX_HEAD_BYTES {
        return too_large();
    }
    let mut fields = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut fields);
    match request.parse(&buf[..end]) {
        Ok(httparse::Status::Complete(len)) => match validate(&request) {
            Ok((body_len, upgrade)) => Head::Valid {
                len,
                body_len,
                upgrade,
            },
            Err(e) => Head::Refused(e),
        },
        // Leading blank lines end in what looks like an end of head: read on.
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(httparse::Error::TooManyHeaders) => Head::Refused(ApiError::HeaderTooLarge(format!(
            "more than {MAX_HEADERS} header fields"
        ))),
        Err(e) => Head::Refused(ApiError::BadRequest(format!(
            "malformed HTTP request head: {e}"
        ))),
    }
}

fn too_large() -> Head {
    Head::Refused(ApiError::HeaderTooLarge(format!(
        "request head over {MAX_HEAD_BYTES} bytes"
    )))
}

/// The end of the first `\n\n` or `\n\r\n` (httparse accepts bare LF line ends too).
fn find_end(buf: &[u8], scanned: &mut usize) -> Option<usize> {
    let from = scanned.saturating_sub(2).max(1);
    for i in from..buf.len() {
        if buf[i] == b'\n' && (buf[i - 1] == b'\n' || (i >= 2 && &buf[i - 2..i] == b"\n\r")) {
            *scanned = i + 1;
            return Some(i + 1);
        }
    }
    *scanned = buf.len();
    None
}

/// Everything hyper checks after httparse, so hyper never refuses a head we pass on.
fn validate(request: &httparse::Request<'_, '_>) -> Result<(u64, bool), ApiError> {
    let method = request.method.unwrap_or_default();
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| ApiError::BadRequest("invalid request method".into()))?;
    let target = request.path.unwrap_or_default();
    if target.len() > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(format!(
            "request target over {MAX_URI_BYTES} bytes"
        )));
    }
    target
        .parse::<Uri>()
        .map_err(|_| ApiError::BadRequest("invalid request target".into()))?;
    let mut body_len = None;
    let mut upgrade = method == Method::CONNECT;
    for field in request.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| ApiError::BadRequest("invalid header field name".into()))?;
        HeaderValue::from_bytes(field.value)
            .map_err(|_| ApiError::BadRequest(format!("invalid value in header {name}")))?;
        if name == axum::http::header::CONTENT_LENGTH {
            let len = content_length(field.value)?;
            if body_len.is_some_and(|earlier| earlier != len) {
                return Err(ApiError::BadRequest(
                    "conflicting Content-Length headers".into(),
                ));
            }
            body_len = Some(len);
        } else if name == axum::http::header::TRANSFER_ENCODING {
            // Bodies are small JSON objects: a length up front lets us refuse a big one
            // before it is sent, and leaves no doubt where the request ends.
            return Err(ApiError::LengthRequired(
                "send the request body with a Content-Length (no Transfer-Encoding)".into(),
            ));
        } else if name == axum::http::header::UPGRADE {
            upgrade = true;
        }
    }
    let body_len = body_len.unwrap_or(0);
    if body_len > MAX_BODY_BYTES as u64 {
        return Err(ApiError::PayloadTooLarge(format!(
            "request body too large: Content-Length {body_len} is over {MAX_BODY_BYTES} bytes"
        )));
    }
    Ok((body_len, upgrade))
}

fn content_length(value: &[u8]) -> Result<u64, ApiError> {
    let digits = value.trim_ascii();
    let bad = || ApiError::BadRequest("invalid Content-Length".into());
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8]) -> Head {
        check(bytes, &mut 0)
    }

    fn refused(bytes: &[u8]) -> (u16, String) {
        match run(bytes) {
            Head::Refused(e) => {
                let (status, body) = e.parts();
                (status.as_u16(), body.error)
            }
            other => panic!(
                "{:?}: expected a refusal, got {other:?}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    #[test]
    fn a_plain_request_is_valid_with_its_length() {
        let req = b"POST /v1/auth HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n{\"a\":1}";
        match run(req) {
            Head::Valid {
                len,
                body_len,
                upgrade,
            } => {
                assert_eq!(len, req.len() - 7);
                assert_eq!(body_len, 12);
                assert!(!upgrade);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            run(b"GET /ws HTTP/1.1\nUpgrade: websocket\nConnection: upgrade\n\n"),
            Head::Valid {
                upgrade: true,
                body_len: 0,
                ..
            }
        ));
    }

    #[test]
    fn partial_heads_wait_and_scanning_resumes() {
        let mut scanned = 0;
        let whole = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for end in 1..whole.len() {
            assert!(
                matches!(check(&whole[..end], &mut scanned), Head::Partial),
                "{end}"
            );
        }
        assert!(matches!(check(whole, &mut scanned), Head::Valid { .. }));
        assert!(matches!(run(b"\r\n\r\nGET / HTTP/1.1\r\n"), Head::Partial));
    }

    #[test]
    fn bad_heads_get_the_status_hyper_would_give_with_our_codes() {
        let long_target = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(MAX_URI_BYTES));
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X-A: 1\r\n".repeat(MAX_HEADERS + 1)
        );
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (b"NOT AN HTTP REQUEST\r\n\r\n".to_vec(), 400, "bad_request"),
            (b"GET / HTTP/2.0\r\n\r\n".to_vec(), 400, "bad_request"),
            (
                b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n".to_vec(),
                400,
                "bad_request",
            ),
            (
                b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n".to_vec(),
                400,
                "bad_request",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
                400,
                "bad_request",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n".to_vec(),
                400,
                "bad_request",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n".to_vec(),
                400,
                "bad_request",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n".to_vec(),
                400,
                "bad_request",
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
                411,
                "length_required",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 16385\r\n\r\n".to_vec(),
                413,
                "payload_too_large",
            ),
            (long_target.into_bytes(), 414, "uri_too_long"),
            (many.into_bytes(), 431, "header_too_large"),
            (vec![b'G'; MAX_HEAD_BYTES], 431, "header_too_large"),
        ];
        for (bytes, status, code) in cases {
            assert_eq!(
                refused(&bytes),
                (status, code.to_owned()),
                "{:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(60)])
            );
        }
        let mut big = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        big.resize(MAX_HEAD_BYTES + 10, b'a');
        big.extend_from_slice(b"\r\n\r\n");
        assert_eq!(refused(&big).0, 431);
    }
}
