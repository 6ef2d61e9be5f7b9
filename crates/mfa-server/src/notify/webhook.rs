//! The seed's webhook: a URL template, called with GET or POST.
//!
//! Placeholders (URL-encoded where they are substituted): `{username}` (the login user),
//! `{server_name}` (the host being logged into), `{client_ip}` (empty when unknown),
//! `{service}`, `{notification_message}` (the user's template, rendered), `{approve_url}` (the
//! single-use web link) and `{number}`. POST also sends those values as a JSON object of
//! strings, with the same names.
//!
//! `{number}` is empty unless `notify.webhook.include_number` is on (and always empty without
//! number matching): next to `{approve_url}` it would let the notification alone approve, which
//! undoes number matching. The key stays in the POST body (as `""`) so receivers see one shape.

use mfa_config::HttpMethod;
use mfa_secrets::Token;
use mfa_store::AuthRequest;

use super::{Delivery, approve_url, notification_message};
use crate::AppState;

/// The request for `request`'s webhook, or None when no URL template is set (neither the
/// user's `push_link` nor `notify.webhook.url`).
pub(super) fn delivery(state: &AppState, request: &AuthRequest, token: &Token) -> Option<Delivery> {
    let config = &state.config;
    let template = mfa_config::user_setting(&config.user_settings, &request.user, |s| {
        s.push_link.as_ref()
    })
    .unwrap_or(&config.notify.webhook.url);
    if template.trim().is_empty() {
        return None;
    }
    let message = notification_message(state, request);
    let link = approve_url(state, token);
    let number = request
        .number
        .filter(|_| config.notify.webhook.include_number)
        .map(|n| n.to_string())
        .unwrap_or_default();
    let values = [
        ("username", request.user.as_str()),
        ("server_name", request.host.as_str()),
        ("client_ip", request.client_ip.as_deref().unwrap_or("")),
        ("service", request.service.as_str()),
        ("notification_message", message.as_str()),
        ("approve_url", link.as_str()),
        ("number", number.as_str()),
    ];
    let url = mfa_core::render_template(template.trim(), &values, true);
    let (method, json) = match config.notify.webhook.method {
        HttpMethod::Get => (axum::http::Method::GET, None),
        HttpMethod::Post => {
            let body: serde_json::Map<String, serde_json::Value> = values
                .iter()
                .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
                .collect();
            (
                axum::http::Method::POST,
                Some(serde_json::Value::Object(body)),
            )
        }
    };
    Some(Delivery {
        provider: "webhook",
        method,
        url,
        bearer: None,
        json,
    })
}
