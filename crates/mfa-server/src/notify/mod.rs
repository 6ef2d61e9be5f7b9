//! Notifications: how a client hears of a push besides its WebSocket.
//!
//! What leaves mfad is the request's description and a single-use approve token that dies
//! with the request; nothing that stays valid after it is decided or expired (never a client
//! key, never a TOTP secret). A failed delivery is logged (without the token or the URL's
//! path and query) and retried briefly in the background, and never approves anything.
//!
//! Providers, per client (`mfa_store::Notify`, falling back to `[notify] default`):
//! - `webhook`: the seed's URL template ([`webhook`]);
//! - `ntfy`: a JSON publish to the client's topic with action buttons that decide through
//!   `POST /v1/notify/{token}` ([`ntfy`]).

mod ntfy;
mod transport;
mod webhook;

use std::time::Duration;

use axum::http::Method;
use mfa_config::NotifyProvider;
use mfa_core::Alias;
use mfa_secrets::Token;
use mfa_store::{AuthRequest, Notify};

use crate::AppState;
use transport::{Failure, HttpClient};

/// Sends notifications in the background, so a slow provider never holds up a login.
#[derive(Clone)]
pub struct Notifier {
    http: HttpClient,
}

impl Default for Notifier {
    fn default() -> Self {
        Self::new()
    }
}

impl Notifier {
    pub fn new() -> Self {
        Self {
            http: HttpClient::new(),
        }
    }

    /// Hands one client's notification for `request` to the client's provider. Returns at
    /// once: the delivery (and its retries) runs in a task of its own.
    pub async fn push(
        &self,
        state: &AppState,
        request: &AuthRequest,
        client: &Alias,
        token: Token,
    ) {
        let http = self.http.clone();
        let state = state.clone();
        let request = request.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let Some(delivery) = prepare(&state, &request, &client, &token).await else {
                return;
            };
            drop(token);
            deliver(&http, &state, &request.txid, &client, delivery).await;
        });
    }
}

/// The web approve link for a token: `{host_addr}/approve/{token}`.
pub fn approve_url(state: &AppState, token: &Token) -> String {
    format!("{}/approve/{}", state.config.host_addr(), token.expose())
}

/// The URL ntfy action buttons call: `{host_addr}/v1/notify/{token}`.
pub fn action_url(state: &AppState, token: &Token) -> String {
    format!("{}/v1/notify/{}", state.config.host_addr(), token.expose())
}

/// The notification text for `request`: the user's `notification_message`, else
/// `[user_settings.default]`'s, else the built-in one; placeholders {username}
/// {server_name} (the host logged into) {client_ip} {service}; then the push's details, if any
/// (a Duo client's command), so the person sees what they approve.
pub fn notification_message(state: &AppState, request: &AuthRequest) -> String {
    let template = mfa_config::user_setting(&state.config.user_settings, &request.user, |s| {
        s.notification_message.as_ref()
    })
    .unwrap_or(mfa_config::DEFAULT_NOTIFICATION_MESSAGE);
    let message = mfa_core::render_template(
        template,
        &[
            ("username", &request.user),
            ("server_name", &request.host),
            ("client_ip", request.client_ip.as_deref().unwrap_or("")),
            ("service", &request.service),
        ],
        false,
    );
    match &request.details {
        Some(details) => format!("{message} ({details})"),
        None => message,
    }
}

/// One HTTP request to make, with what may be logged about it. No `Debug`: its URL and
/// body carry the approve token, and the bearer is the ntfy access token.
pub(crate) struct Delivery {
    pub provider: &'static str,
    pub method: Method,
    pub url: String,
    pub bearer: Option<String>,
    pub json: Option<serde_json::Value>,
}

impl Delivery {
    /// Where it goes, fit for a log line: scheme, host and port only (a path or query may
    /// carry the approve token or an ntfy topic).
    fn destination(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(u) => u.origin().ascii_serialization(),
            Err(_) => "(invalid URL)".to_owned(),
        }
    }
}

/// Which request (if any) a client's notification takes.
async fn prepare(
    state: &AppState,
    request: &AuthRequest,
    alias: &Alias,
    token: &Token,
) -> Option<Delivery> {
    let notify = match state.store.client(alias).await {
        Ok(c) => c.notify,
        Err(e) => {
            tracing::warn!(client = %alias, txid = %request.txid, error = %e, "cannot look up the client's notification provider");
            return None;
        }
    };
    let provider = match (&notify, state.config.notify.default) {
        (Notify::None, _) | (Notify::Default, NotifyProvider::None) => return None,
        (Notify::Webhook, _) | (Notify::Default, NotifyProvider::Webhook) => {
            NotifyProvider::Webhook
        }
        (Notify::Ntfy { .. }, _) | (Notify::Default, NotifyProvider::Ntfy) => NotifyProvider::Ntfy,
    };
    match provider {
        NotifyProvider::Webhook => {
            let delivery = webhook::delivery(state, request, token);
            if delivery.is_none() {
                tracing::warn!(client = %alias, user = %request.user,
                    "webhook notifications are on but no URL is set: set notify.webhook.url or the user's push_link");
            }
            delivery
        }
        NotifyProvider::Ntfy => match &notify {
            Notify::Ntfy { topic } => match ntfy::delivery(state, request, topic, token) {
                Ok(d) => Some(d),
                Err(e) => {
                    tracing::warn!(client = %alias, error = %e, "cannot prepare the ntfy notification");
                    None
                }
            },
            _ => {
                tracing::warn!(client = %alias,
                    "ntfy is the default provider but this client has no ntfy topic: give it one with mfac client modify ALIAS --notify ntfy");
                None
            }
        },
        NotifyProvider::None => None,
    }
}

/// Pause before attempt `next` (2, 3, ...): 0.5 s, 1 s, then 2 s.
fn backoff(next: u32) -> Duration {
    Duration::from_millis(500 << next.saturating_sub(2).min(2))
}

/// Tries `notify.attempts` times in all, and stops early once the request is no longer open
/// (its token is useless then). Never decides anything.
async fn deliver(http: &HttpClient, state: &AppState, txid: &str, client: &Alias, d: Delivery) {
    let attempts = state.config.notify.attempts.max(1);
    let to = d.destination();
    for attempt in 1..=attempts {
        if attempt > 1 {
            tokio::time::sleep(backoff(attempt)).await;
            match state.store.request(txid).await {
                Ok(r) if !r.is_open(state.clock.now()) => {
                    tracing::info!(provider = d.provider, %client, %txid, "push no longer pending: notification not retried");
                    return;
                }
                _ => {}
            }
        }
        match http.send(&d).await {
            Ok(()) => {
                tracing::debug!(provider = d.provider, %client, %txid, %to, attempt, "notification delivered");
                return;
            }
            Err(Failure { why, retry }) => {
                tracing::warn!(provider = d.provider, %client, %txid, %to, attempt, attempts,
                    error = %why, "notification not delivered");
                if !retry {
                    state.metrics.notification_failed(d.provider);
                    return;
                }
            }
        }
    }
    state.metrics.notification_failed(d.provider);
    tracing::warn!(provider = d.provider, %client, %txid, %to, attempts, "notification given up");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_short() {
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_millis(1000));
        assert_eq!(backoff(4), Duration::from_millis(2000));
        assert_eq!(backoff(10), Duration::from_millis(2000));
    }

    #[test]
    fn destination_hides_path_and_query() {
        let d = Delivery {
            provider: "webhook",
            method: Method::GET,
            url: "https://push.example.org:8443/mfaa_secret?link=mfaa_secret".into(),
            bearer: None,
            json: None,
        };
        assert_eq!(d.destination(), "https://push.example.org:8443");
    }
}
