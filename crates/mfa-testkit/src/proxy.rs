//! An HTTP/1.1 proxy on 127.0.0.1 in front of mfad that records every request line, so a test
//! can count what a client sent, and that can stop forwarding, so a test can see a client's
//! deadlines hold against an mfad that accepts and never answers.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// The proxy's threads end with their connections; the listener ends on drop.
pub struct Proxy {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    requests: Arc<Mutex<Vec<String>>>,
    stalled: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Forwards to `backend` (`http://127.0.0.1:PORT`, mfad's `Daemon::base`).
    pub fn start(backend: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let backend = backend.trim_start_matches("http://").to_owned();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stalled = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, st) = (requests.clone(), stalled.clone(), stop.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let (backend, r, s) = (backend.clone(), r.clone(), s.clone());
                std::thread::spawn(move || {
                    let _ = relay(client, &backend, &r, &s);
                });
            }
        });
        Self {
            url,
            requests,
            stalled,
            stop,
        }
    }

    /// Every request line received so far (`GET /v1/auth/x?wait=5 HTTP/1.1`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().expect("requests").clone()
    }

    /// From now on, requests are read and recorded but never forwarded or answered.
    pub fn stall(&self) {
        self.stalled.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`.
        let _ = TcpStream::connect(self.url.trim_start_matches("http://"));
    }
}

/// One client connection: its requests one by one (HTTP/1.1 without pipelining: the client
/// waits for each answer), the answers copied back as they come.
fn relay(
    client: TcpStream,
    backend: &str,
    requests: &Mutex<Vec<String>>,
    stalled: &AtomicBool,
) -> io::Result<()> {
    let upstream = TcpStream::connect(backend)?;
    let (mut down, mut to_client) = (upstream.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || {
        let _ = io::copy(&mut down, &mut to_client);
        let _ = to_client.shutdown(Shutdown::Write);
    });
    let mut reader = BufReader::new(client);
    let mut upstream = upstream;
    while let Some((line, raw)) = read_request(&mut reader)? {
        requests.lock().expect("requests").push(line);
        if stalled.load(Ordering::SeqCst) {
            // Hold the request: read on until the client gives up and closes.
            io::copy(&mut reader, &mut io::sink())?;
            break;
        }
        upstream.write_all(&raw)?;
    }
    let _ = upstream.shutdown(Shutdown::Write);
    Ok(())
}

/// The next request: its request line and its bytes (head and a Content-Length body); None at
/// the end of the connection.
fn read_request(reader: &mut impl BufRead) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut raw = Vec::new();
    let mut length = 0usize;
    loop {
        let mut header = Vec::new();
        if reader.read_until(b'\n', &mut header)? == 0 {
            return Ok(None);
        }
        raw.extend_from_slice(&header);
        let text = String::from_utf8_lossy(&header);
        let text = text.trim_end();
        if let Some((name, value)) = text.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        if text.is_empty() {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    raw.extend_from_slice(&body);
    let line = String::from_utf8_lossy(&raw)
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned();
    Ok(Some((line, raw)))
}
