//! What a trusted server (PAM module, pam_exec script, integration) sends and gets back.

use serde::{Deserialize, Serialize};

/// `POST /v1/preauth`: may this login go ahead, and how?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreauthRequest {
    pub user: String,
    pub host: String,
    pub service: String,
    /// The address the login comes from (sshd's PAM_RHOST); absent for local logins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PreauthResult {
    /// No second factor needed (e.g. a trusted network).
    Allow,
    /// Refused (unknown user or app, locked out); `reason` says why.
    Deny,
    /// Ask for one of `methods`.
    Auth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreauthResponse {
    pub result: PreauthResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// With `auth`: the methods this app allows ("push", "totp").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMethod {
    Push,
    Totp,
    /// TOTP when a passcode is given, else push.
    Auto,
}

/// `POST /v1/auth`: ask for the second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerAuthRequest {
    pub user: String,
    pub host: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    pub method: AuthMethod,
    /// The code the person typed, for `totp` (or `auto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passcode: Option<String>,
    /// `false` when the asking service cannot show the person a number (mail logins, PAM
    /// `push_only`): the push then goes out without number matching. Absent: the server's
    /// `number_matching` setting decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_matching: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthResult {
    Allow,
    Deny,
    /// A push is out: poll `GET /v1/auth/{txid}?wait=N` for the decision.
    Pending,
}

/// The answer to `POST /v1/auth`: `allow`/`deny` at once for TOTP, `pending` with a txid and
/// the number to show at the login prompt for push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAuthResponse {
    pub result: AuthResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// Two digits the person types on their device (number matching); absent when it is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
    /// RFC 3339: when a pending push expires (and is denied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
}

/// `GET /v1/auth/{txid}`: where a push stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthStatus {
    pub txid: String,
    /// `allow` once approved, `deny` once denied or expired, `pending` before.
    pub result: AuthResult,
    /// pending | approved | denied | expired
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
