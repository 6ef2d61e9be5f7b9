//! Keys for the push flow: approve links, timeouts, lockouts, trusted networks, notifications.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::validate;

/// `[notify]`: how clients hear of a push besides their WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Provider for clients that have not chosen one: `none`, `webhook` or `ntfy`.
    pub default: NotifyProvider,
    /// How many times a failed delivery is tried in all (1..=10).
    #[serde(deserialize_with = "validate::attempts")]
    pub attempts: u32,
    pub webhook: WebhookConfig,
    pub ntfy: NtfyConfig,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            default: NotifyProvider::None,
            attempts: 3,
            webhook: WebhookConfig::default(),
            ntfy: NtfyConfig::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyProvider {
    None,
    Webhook,
    Ntfy,
}

/// `[notify.webhook]`: the seed's URL template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// URL template with placeholders {username} {server_name} {client_ip} {service}
    /// {notification_message} {approve_url} {number}, URL-encoded where they are substituted.
    /// Empty: no webhook. A user's `push_link` in `[user_settings.NAME]` overrides it.
    pub url: String,
    /// `GET` or `POST`. POST sends a JSON body with the same fields as the placeholders.
    pub method: HttpMethod,
    /// Whether `{number}` carries the number of a push with number matching. Off: it is empty,
    /// so the number is only ever read at the login prompt. On weakens number matching: whoever
    /// sees the notification can approve without looking at the login.
    pub include_number: bool,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            method: HttpMethod::Get,
            include_number: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
}

/// `[notify.ntfy]`: publish to an ntfy server; each client has its own topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NtfyConfig {
    /// Base URL of the ntfy server.
    pub server: String,
    /// Access token for the ntfy server (sent as a bearer token); empty for none.
    pub token: String,
    /// With number matching on, offer three numbers to tap (one of them right) instead of
    /// Open / Deny / "This was not me". Weakens number matching: a random tap is right one
    /// time in three.
    pub number_choices: bool,
}

impl Default for NtfyConfig {
    fn default() -> Self {
        Self {
            server: "https://ntfy.sh".to_owned(),
            token: String::new(),
            number_choices: false,
        }
    }
}

/// `[user_settings.NAME]` (and `[user_settings.default]`): per-user notification templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UserSettings {
    /// Text of the notification; placeholders {username} {server_name} {client_ip} {service}.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_message: Option<String>,
    /// The webhook URL template for this user (overrides `notify.webhook.url`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_link: Option<String>,
}

/// The built-in message when neither the user nor `default` has one.
pub const DEFAULT_NOTIFICATION_MESSAGE: &str =
    "Login request for {username} on {server_name} ({service}) from {client_ip}";

/// Looks up a user's setting, falling back to `[user_settings.default]`.
pub fn user_setting<'a>(
    settings: &'a BTreeMap<String, UserSettings>,
    user: &str,
    pick: impl Fn(&'a UserSettings) -> Option<&'a String>,
) -> Option<&'a str> {
    settings
        .get(user)
        .and_then(&pick)
        .or_else(|| settings.get("default").and_then(&pick))
        .map(String::as_str)
}

/// Networks as written in the config: CIDRs, or single addresses.
pub type Networks = Vec<IpNet>;
