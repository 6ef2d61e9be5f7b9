//! Simulated clients: one WebSocket (`GET /v1/client/ws`, client key as bearer) per client,
//! as `mfa listen` holds. A client approves a push as soon as it is told of it (its `request`
//! message) and knows the number (the person reads it at the login prompt: here the login
//! side hands it over); or, held, it waits until told to approve everything at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow};
use futures_util::{SinkExt as _, StreamExt as _};
use mfa_wire::{ClientMessage, Decision, ServerMessage};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::http::Target;
use crate::load::Outcome;
use crate::setup::User;

/// WebSockets opened at once while connecting the fleet.
const CONNECTING_AT_ONCE: usize = 64;

/// What is known of a push so far: its number (from the login) or that the client saw it.
enum Slot {
    Number(Option<u8>),
    Seen,
}

/// State shared by the login side and the clients.
#[derive(Default)]
struct Board {
    slots: Mutex<HashMap<String, Slot>>,
    hold: AtomicBool,
    seen: AtomicU64,
    ready: AtomicU64,
    errors: Mutex<Outcome>,
}

impl Board {
    fn error(&self, message: String) {
        if let Ok(mut e) = self.errors.lock() {
            e.error(message);
        }
    }
}

pub struct Fleet {
    senders: Vec<mpsc::UnboundedSender<String>>,
    board: Arc<Board>,
    tasks: tokio::task::JoinSet<()>,
}

fn decision(txid: &str, number: Option<u8>) -> String {
    let message = ClientMessage::Decision {
        txid: txid.to_owned(),
        decision: Decision::Approve,
        number,
    };
    serde_json::to_string(&message).unwrap_or_default()
}

impl Fleet {
    /// Connects one WebSocket per user's client and waits for every `hello`.
    pub async fn connect(target: &Target, users: &[User]) -> anyhow::Result<Self> {
        let board = Arc::new(Board::default());
        let gate = Arc::new(tokio::sync::Semaphore::new(CONNECTING_AT_ONCE));
        let mut opening = tokio::task::JoinSet::new();
        for (i, user) in users.iter().enumerate() {
            let (target, key, gate) = (target.clone(), user.key.clone(), gate.clone());
            opening.spawn(async move {
                let _turn = gate.acquire_owned().await;
                (i, open(&target, &key).await)
            });
        }
        let mut sockets = Vec::new();
        while let Some(done) = opening.join_next().await {
            let (i, ws) = done?;
            sockets.push((i, ws.with_context(|| format!("WebSocket of client {i}"))?));
        }
        sockets.sort_by_key(|(i, _)| *i);
        let mut fleet = Self {
            senders: Vec::new(),
            board,
            tasks: tokio::task::JoinSet::new(),
        };
        for (_, ws) in sockets {
            let (tx, rx) = mpsc::unbounded_channel();
            fleet.senders.push(tx);
            fleet.tasks.spawn(client(ws, rx, fleet.board.clone()));
        }
        fleet.wait_ready(users.len()).await?;
        Ok(fleet)
    }

    async fn wait_ready(&self, n: usize) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.board.ready.load(Ordering::Relaxed) < n as u64 {
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "only {} of {n} WebSockets said hello within 30 s",
                    self.board.ready.load(Ordering::Relaxed)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    /// Held: clients note pushes but approve none until [`Fleet::approve`].
    pub fn hold(&self, hold: bool) {
        self.board.hold.store(hold, Ordering::Relaxed);
        if let Ok(mut slots) = self.board.slots.lock() {
            slots.clear();
        }
        self.board.seen.store(0, Ordering::Relaxed);
    }

    /// The login side got `txid` and its number: approve now if the client saw it already.
    pub fn told(&self, txid: &str, number: Option<u8>, client: usize) {
        let Ok(mut slots) = self.board.slots.lock() else {
            return;
        };
        match slots.remove(txid) {
            Some(Slot::Seen) => self.send(client, decision(txid, number)),
            _ => {
                slots.insert(txid.to_owned(), Slot::Number(number));
            }
        }
    }

    /// Approves `txid` from `client` now (held pushes).
    pub fn approve(&self, txid: &str, number: Option<u8>, client: usize) {
        self.send(client, decision(txid, number));
    }

    fn send(&self, client: usize, text: String) {
        if let Some(tx) = self.senders.get(client)
            && tx.send(text).is_err()
        {
            self.board
                .error(format!("client {client}: its WebSocket is gone"));
        }
    }

    /// Pushes the clients were told of since the last [`Fleet::hold`].
    pub fn seen(&self) -> u64 {
        self.board.seen.load(Ordering::Relaxed)
    }

    /// The clients' errors since the last call.
    pub fn take_errors(&self) -> Outcome {
        self.board
            .errors
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default()
    }

    pub async fn close(mut self) {
        self.senders.clear();
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        self.tasks.abort_all();
    }
}

async fn open(target: &Target, key: &str) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let tcp = TcpStream::connect(target.addr).await.context("connect")?;
    let _ = tcp.set_nodelay(true);
    let mut request = format!("ws://{}/v1/client/ws", target.addr).into_client_request()?;
    request.headers_mut().insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {key}"))?,
    );
    let connecting = tokio_tungstenite::client_async(request, tcp);
    let (ws, _) = tokio::time::timeout(Duration::from_secs(10), connecting)
        .await
        .map_err(|_| anyhow!("no WebSocket handshake within 10 s"))??;
    Ok(ws)
}

/// One client: reads mfad's messages, writes the decisions it is handed.
async fn client(
    mut ws: WebSocketStream<TcpStream>,
    mut outgoing: mpsc::UnboundedReceiver<String>,
    board: Arc<Board>,
) {
    loop {
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Some(answer) = on_message(&text, &board)
                        && let Err(e) = ws.send(Message::Text(answer.into())).await
                    {
                        board.error(format!("WebSocket send: {e}"));
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None => return,
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    board.error(format!("WebSocket: {e}"));
                    return;
                }
            },
            out = outgoing.recv() => match out {
                Some(text) => {
                    if let Err(e) = ws.send(Message::Text(text.into())).await {
                        board.error(format!("WebSocket send: {e}"));
                        return;
                    }
                }
                None => {
                    let _ = ws.close(None).await;
                    return;
                }
            },
        }
    }
}

/// Handles one message from mfad; the decision to send at once, if any.
fn on_message(text: &str, board: &Board) -> Option<String> {
    let message: ServerMessage = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(e) => {
            board.error(format!("unreadable WebSocket message ({e}): {text}"));
            return None;
        }
    };
    match message {
        ServerMessage::Hello { .. } => {
            board.ready.fetch_add(1, Ordering::Relaxed);
        }
        ServerMessage::Request(request) => {
            board.seen.fetch_add(1, Ordering::Relaxed);
            if board.hold.load(Ordering::Relaxed) {
                return None;
            }
            let mut slots = board.slots.lock().ok()?;
            match slots.remove(&request.txid) {
                Some(Slot::Number(number)) => return Some(decision(&request.txid, number)),
                _ => {
                    slots.insert(request.txid, Slot::Seen);
                }
            }
        }
        ServerMessage::Result {
            txid,
            state,
            reason,
            ..
        } => {
            if state != "approved" {
                board.error(format!(
                    "approval of {txid} answered {state}: {}",
                    reason.unwrap_or_default()
                ));
            }
        }
        ServerMessage::Withdrawn { .. } => {}
        ServerMessage::Error { message } => {
            board.error(format!("mfad on the WebSocket: {message}"))
        }
    }
    None
}
