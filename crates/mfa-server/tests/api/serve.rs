//! mfad's serving loop (`mfa_server::serve`) over raw TCP: heads hyper would refuse with an
//! empty 400/414/431 get our JSON error, on a first request and after keep-alive ones;
//! slow heads, slow bodies and idle connections are cut; the connection caps answer in JSON.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;

use crate::support::TestServer;

fn addr(server: &TestServer) -> SocketAddr {
    server.base.trim_start_matches("http://").parse().unwrap()
}

async fn connect_from(source: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((source, 0))).unwrap();
    timeout(Duration::from_secs(5), socket.connect(to))
        .await
        .unwrap()
        .unwrap()
}

/// One response, framed by its Content-Length: status, headers (lower-case), body.
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn error_code(&self) -> String {
        let json: serde_json::Value = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("HTTP {}: not JSON ({e}): {:?}", self.status, self.body));
        assert!(
            json["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
        json["error"].as_str().unwrap().to_owned()
    }
}

/// Reads one response from `stream`, keeping whatever follows it in `rest`.
async fn read_answer(stream: &mut TcpStream, rest: &mut Vec<u8>) -> Answer {
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(end) = rest.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&rest[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            if rest.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&rest[end + 4..end + 4 + len]).into_owned();
                rest.drain(..end + 4 + len);
                let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
                return Answer { status, head, body };
            }
        }
        let n = timeout(
            deadline - tokio::time::Instant::now(),
            stream.read(&mut chunk),
        )
        .await
        .expect("an answer within 10 s")
        .unwrap();
        assert!(
            n > 0,
            "closed before a whole answer: {:?}",
            String::from_utf8_lossy(rest)
        );
        rest.extend_from_slice(&chunk[..n]);
    }
}

/// Whether the server closes `stream` within `within` (after anything it still sends).
async fn closes_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match timeout(
            deadline - tokio::time::Instant::now(),
            stream.read(&mut chunk),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
            Err(_) => return false,
        }
    }
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: mfa\r\n\r\n";

fn refused_heads() -> Vec<(Vec<u8>, u16, &'static str)> {
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: mfa\r\n\r\n", "a".repeat(9000));
    let many = format!("GET / HTTP/1.1\r\n{}\r\n", "X-A: 1\r\n".repeat(70));
    let big = format!("GET / HTTP/1.1\r\nX-Pad: {}\r\n\r\n", "a".repeat(17_000));
    vec![
        (b"NOT AN HTTP REQUEST\r\n\r\n".to_vec(), 400, "bad_request"),
        (
            b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"POST /v1/preauth HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            411,
            "length_required",
        ),
        (
            b"POST /v1/preauth HTTP/1.1\r\nContent-Type: application/json\r\n\
              Content-Length: 1000000\r\n\r\n"
                .to_vec(),
            413,
            "payload_too_large",
        ),
        (long_target.into_bytes(), 414, "uri_too_long"),
        (many.into_bytes(), 431, "header_too_large"),
        (big.into_bytes(), 431, "header_too_large"),
    ]
}

/// Before, hyper answered these itself with an empty body (or, for a big Content-Length,
/// the request waited for the body).
#[tokio::test]
async fn every_refused_head_is_a_json_error_first_or_after_keep_alive() {
    let server = TestServer::start("").await;
    for (bytes, status, code) in refused_heads() {
        let what = String::from_utf8_lossy(&bytes[..bytes.len().min(40)]).into_owned();
        for after_a_good_one in [false, true] {
            let mut stream = connect_from(Ipv4Addr::LOCALHOST, addr(&server)).await;
            let mut rest = Vec::new();
            if after_a_good_one {
                stream.write_all(HEALTHZ).await.unwrap();
                assert_eq!(read_answer(&mut stream, &mut rest).await.status, 200);
            }
            stream.write_all(&bytes).await.unwrap();
            let answer = read_answer(&mut stream, &mut rest).await;
            assert_eq!(answer.status, status, "{what:?}: {}", answer.body);
            assert_eq!(answer.error_code(), code, "{what:?}");
            assert!(
                answer.head.contains("content-type: application/json"),
                "{}",
                answer.head
            );
            assert!(answer.head.contains("connection: close"), "{}", answer.head);
            assert!(
                closes_within(&mut stream, Duration::from_secs(5)).await,
                "{what:?}"
            );
        }
    }
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::start("").await;
    let mut stream = connect_from(Ipv4Addr::LOCALHOST, addr(&server)).await;
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n\
              GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nBROKEN\r\n\r\n",
        )
        .await
        .unwrap();
    let mut rest = Vec::new();
    let statuses = [200, 404, 200, 400];
    for want in statuses {
        let answer = read_answer(&mut stream, &mut rest).await;
        assert_eq!(answer.status, want, "{}", answer.body);
        if want != 200 {
            answer.error_code();
        }
    }
    assert!(closes_within(&mut stream, Duration::from_secs(5)).await);
}

#[tokio::test]
async fn slow_heads_slow_bodies_and_idle_connections_are_cut() {
    let server = TestServer::start_with_limits("", |l| {
        l.header_timeout = Duration::from_secs(1);
        l.body_timeout = Duration::from_secs(1);
    })
    .await;
    let to = addr(&server);
    let mut slow_head = connect_from(Ipv4Addr::LOCALHOST, to).await;
    slow_head
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let mut slow_body = connect_from(Ipv4Addr::LOCALHOST, to).await;
    slow_body
        .write_all(
            b"POST /v1/preauth HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
              Content-Length: 40\r\n\r\n{\"user\":",
        )
        .await
        .unwrap();
    let mut idle = connect_from(Ipv4Addr::LOCALHOST, to).await;
    idle.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_answer(&mut idle, &mut Vec::new()).await.status, 200);
    let within = Duration::from_secs(8);
    let (a, b, c) = tokio::join!(
        closes_within(&mut slow_head, within),
        closes_within(&mut slow_body, within),
        closes_within(&mut idle, within),
    );
    assert!(a, "an unfinished head outlived header_timeout");
    assert!(b, "an unfinished body outlived body_timeout");
    assert!(c, "an idle keep-alive connection outlived header_timeout");
}

#[tokio::test]
async fn one_address_is_capped_but_trusted_proxies_are_not() {
    let server = TestServer::start_with_limits("", |l| {
        l.max_connections_per_ip = 2;
        l.exempt = vec!["127.0.0.9/32".parse().unwrap()];
    })
    .await;
    let to = addr(&server);
    let crowd = Ipv4Addr::new(127, 0, 0, 8);
    let mut held = vec![connect_from(crowd, to).await, connect_from(crowd, to).await];
    for stream in &mut held {
        stream.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_answer(stream, &mut Vec::new()).await.status, 200);
    }
    let mut third = connect_from(crowd, to).await;
    let answer = read_answer(&mut third, &mut Vec::new()).await;
    assert_eq!(answer.status, 429, "{}", answer.body);
    assert_eq!(answer.error_code(), "too_many_connections");

    let proxy = Ipv4Addr::new(127, 0, 0, 9);
    let mut through_proxy = Vec::new();
    for _ in 0..5 {
        let mut stream = connect_from(proxy, to).await;
        stream.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_answer(&mut stream, &mut Vec::new()).await.status, 200);
        through_proxy.push(stream);
    }
    // A slot is given back when its connection closes.
    drop(held.pop());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = connect_from(crowd, to).await;
        again.write_all(HEALTHZ).await.unwrap();
        let answer = read_answer(&mut again, &mut Vec::new()).await;
        if answer.status == 200 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slot never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn the_total_cap_answers_busy() {
    let server = TestServer::start_with_limits("", |l| l.max_connections = 3).await;
    let to = addr(&server);
    let mut held = Vec::new();
    for host in 20..23u8 {
        let mut stream = connect_from(Ipv4Addr::new(127, 0, 0, host), to).await;
        stream.write_all(HEALTHZ).await.unwrap();
        assert_eq!(read_answer(&mut stream, &mut Vec::new()).await.status, 200);
        held.push(stream);
    }
    let mut fourth = connect_from(Ipv4Addr::new(127, 0, 0, 23), to).await;
    let answer = read_answer(&mut fourth, &mut Vec::new()).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.error_code(), "busy");
}
