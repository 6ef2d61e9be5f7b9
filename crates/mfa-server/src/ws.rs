//! `GET /v1/client/ws`: a client's live feed of pushes, and its answers.

use std::collections::HashSet;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use mfa_secrets::TokenHash;
use mfa_store::Client;
use mfa_wire::{ClientMessage, ServerMessage};
use tokio::sync::broadcast::error::RecvError;

use crate::extract::AuthClient;
use crate::hub::Event;
use crate::openapi::doc::*;
use crate::push::{self, Channel};
use crate::{ApiError, AppState};

/// tungstenite zero-fills its whole read buffer (128 KiB by default) before every read, even
/// one that finds nothing, and every session reads again after each event: with 1000 clients
/// connected, 67% of mfad's time went to memset. Client messages are small (an answer).
const READ_BUFFER_BYTES: usize = 4 * 1024;

#[utoipa::path(
    get,
    path = "/v1/client/ws",
    tag = "client",
    operation_id = "client_ws",
    summary = "The client's live feed of pushes (WebSocket)",
    description = "A WebSocket upgrade (`101 Switching Protocols`). Every frame is one JSON text message,\n\
        tagged by `type`.\n\n\
        mfad sends (schema `ServerMessage`): `hello` first (`alias`); a `request` for each push\n\
        for this client (a `PendingRequest`, also one for every push still open when it\n\
        connects); `withdrawn` when a push it was shown is decided elsewhere or expires\n\
        (`txid`, `state`, `reason`); `result`, the answer to its own `decision` (`txid`,\n\
        `state`, `decided`, `reason`); `error` when something it sent could not be used.\n\n\
        The client sends (schema `ClientMessage`):\n\
        `{\"type\": \"decision\", \"txid\": \"...\", \"decision\": \"approve\" | \"deny\" | \"fraud\", \"number\": 42}`.\n\
        Messages are at most 16 KiB; mfad pings every 20 seconds.\n\n\
        The client key is checked before the handshake; a request that is not a WebSocket\n\
        handshake gets a 400 `bad_request`.",
    security(("client_key" = [])),
    params(
        ("Connection" = String, Header, description = "`Upgrade`.", example = "Upgrade"),
        ("Upgrade" = String, Header, description = "`websocket`.", example = "websocket"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`.", example = "13"),
        ("Sec-WebSocket-Key" = String, Header, description = "The handshake's random key (RFC 6455)."),
    ),
    responses(
        (status = 101, description = "Switching Protocols: the WebSocket is open; the messages are `ServerMessage` and `ClientMessage`.",
            headers(
                ("Upgrade" = String, description = "`websocket`"),
                ("Connection" = String, description = "`upgrade`"),
                ("Sec-WebSocket-Accept" = String, description = "The handshake's answer (RFC 6455)."),
            )),
        (status = 400, description = "`bad_request`: not a WebSocket handshake (the `Connection`, `Upgrade`, \
            `Sec-WebSocket-Version` or `Sec-WebSocket-Key` header is missing or wrong, or the connection \
            cannot be upgraded).", body = ErrorBody),
        (status = 401, description = NO_CLIENT_KEY, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn upgrade(
    State(state): State<AppState>,
    AuthClient(client, key): AuthClient,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|r| {
        ApiError::BadRequest(format!(
            "not a WebSocket handshake ({}): connect with a WebSocket client",
            r.body_text().trim()
        ))
    })?;
    Ok(ws
        .max_message_size(16 * 1024)
        .read_buffer_size(READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            let _open = state.metrics.websocket_opened();
            let alias = client.alias.clone();
            if let Err(e) = Session::new(state, client, key, socket).run().await {
                tracing::debug!(%alias, error = %e, "client WebSocket closed");
            }
        }))
}

/// The request behind an event. Events are database-wide with PostgreSQL, so one may name a
/// request this deployment does not have (another schema): skip it.
async fn lookup(
    state: &AppState,
    txid: &str,
) -> Result<Option<mfa_store::AuthRequest>, SessionError> {
    match state.store.request(txid).await {
        Ok(r) => Ok(Some(r)),
        Err(mfa_store::StoreError::NotFound(_)) => Ok(None),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

struct Session {
    state: AppState,
    client: Client,
    /// The key the socket was opened with: checked again at every revocation and answer.
    key: TokenHash,
    socket: WebSocket,
    /// Pushes this client was shown and that are still open.
    shown: HashSet<String>,
}

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("socket: {0}")]
    Socket(#[from] axum::Error),
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("encode: {0}")]
    Json(#[from] serde_json::Error),
}

impl Session {
    fn new(state: AppState, client: Client, key: TokenHash, socket: WebSocket) -> Self {
        Self {
            state,
            client,
            key,
            socket,
            shown: HashSet::new(),
        }
    }

    async fn send(&mut self, msg: &ServerMessage) -> Result<(), SessionError> {
        let text = serde_json::to_string(msg)?;
        self.socket.send(Message::Text(text.into())).await?;
        Ok(())
    }

    async fn run(mut self) -> Result<(), SessionError> {
        let mut revocations = self.state.hub.subscribe();
        let mut pushes = self.state.hub.watch_client(self.client.alias.as_str());
        // Revoked between the upgrade's check and the subscription? Then no event would tell.
        if self.key_revoked().await? {
            return self.close_revoked().await;
        }
        self.send(&ServerMessage::Hello {
            alias: self.client.alias.to_string(),
        })
        .await?;
        self.resync().await?;
        let mut keepalive = tokio::time::interval(Duration::from_secs(20));
        keepalive.tick().await;
        loop {
            tokio::select! {
                event = pushes.recv() => match event {
                    Ok(Event::Created { txid, .. }) => self.show(&txid).await?,
                    Ok(Event::Decided { txid, .. }) => self.withdraw_if_shown(&txid).await?,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => self.resync().await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                event = revocations.recv() => match event {
                    Ok(Event::Revoked) => {
                        if self.key_revoked().await? {
                            return self.close_revoked().await;
                        }
                    }
                    // Events were missed (a revocation among them, perhaps).
                    Ok(Event::Resync) | Err(RecvError::Lagged(_)) => {
                        if self.key_revoked().await? {
                            return self.close_revoked().await;
                        }
                        self.resync().await?;
                    }
                    Ok(_) => {}
                    Err(RecvError::Closed) => return Ok(()),
                },
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => {
                        // An answer on a socket whose key was revoked is refused.
                        if self.key_revoked().await? {
                            return self.close_revoked().await;
                        }
                        self.answer(&text).await?;
                    }
                    Some(Ok(Message::Close(_))) | None => return Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                },
                _ = keepalive.tick() => self.socket.send(Message::Ping(Vec::new().into())).await?,
            }
        }
    }

    /// Whether the key the socket was opened with no longer belongs to its client (a rotated
    /// key, a removed client or an alias given to a new device all end the socket).
    async fn key_revoked(&mut self) -> Result<bool, SessionError> {
        let found = self
            .state
            .store
            .client_by_key(&self.key)
            .await
            .map_err(ApiError::from)?;
        Ok(found.is_none_or(|c| c.alias != self.client.alias))
    }

    async fn close_revoked(mut self) -> Result<(), SessionError> {
        tracing::info!(alias = %self.client.alias, "client key revoked: closing its WebSocket");
        self.send(&ServerMessage::Error {
            message: "client key revoked: enrol again with a new key (mfa enroll)".into(),
        })
        .await?;
        self.socket
            .send(Message::Close(Some(CloseFrame {
                code: close_code::POLICY,
                reason: "client key revoked".into(),
            })))
            .await?;
        Ok(())
    }

    async fn show(&mut self, txid: &str) -> Result<(), SessionError> {
        let Some(request) = lookup(&self.state, txid).await? else {
            return Ok(());
        };
        if request.is_open(self.state.clock.now()) && self.shown.insert(txid.to_owned()) {
            self.send(&ServerMessage::Request(push::pending_view(&request)))
                .await?;
        }
        Ok(())
    }

    async fn withdraw_if_shown(&mut self, txid: &str) -> Result<(), SessionError> {
        if !self.shown.remove(txid) {
            return Ok(());
        }
        let Some(request) = lookup(&self.state, txid).await? else {
            return Ok(());
        };
        self.send(&ServerMessage::Withdrawn {
            txid: txid.to_owned(),
            state: request.state.to_string(),
            reason: request.reason,
        })
        .await
    }

    /// Shows every open push not shown yet; withdraws those no longer open.
    async fn resync(&mut self) -> Result<(), SessionError> {
        let now = self.state.clock.now();
        let open = self
            .state
            .store
            .pending_requests_for(&self.client.alias, now)
            .await
            .map_err(ApiError::from)?;
        let open_ids: HashSet<String> = open.iter().map(|r| r.txid.clone()).collect();
        let gone: Vec<String> = self.shown.difference(&open_ids).cloned().collect();
        for txid in gone {
            self.withdraw_if_shown(&txid).await?;
        }
        for request in open {
            if self.shown.insert(request.txid.clone()) {
                self.send(&ServerMessage::Request(push::pending_view(&request)))
                    .await?;
            }
        }
        Ok(())
    }

    async fn answer(&mut self, text: &str) -> Result<(), SessionError> {
        let message = match ClientMessage::from_frame(text) {
            Ok(m) => m,
            Err(message) => return self.send(&ServerMessage::Error { message }).await,
        };
        let ClientMessage::Decision {
            txid,
            decision,
            number,
        } = message;
        let answer = mfa_wire::ClientDecision { decision, number };
        let outcome = match self.state.store.request(&txid).await {
            Ok(request) => {
                push::decide(
                    &self.state,
                    &request,
                    &self.client.alias,
                    Channel::Client,
                    &answer,
                )
                .await
            }
            Err(e) => Err(ApiError::from(e)),
        };
        match outcome {
            Ok(result) => {
                self.shown.remove(&txid);
                self.send(&ServerMessage::Result {
                    txid: result.txid,
                    state: result.state,
                    decided: result.decided,
                    reason: result.reason,
                })
                .await
            }
            Err(e) => {
                self.send(&ServerMessage::Error {
                    message: e.to_string(),
                })
                .await
            }
        }
    }
}
