//! What an enrolled client (the `mfa` program, a phone, a script) sends and gets back.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
    /// Deny and report "this was not me": locks the user out until an admin clears it.
    Fraud,
}

/// `POST /v1/client/requests/{txid}` (client key as bearer), and the WebSocket `decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientDecision {
    pub decision: Decision,
    /// The number shown at the login prompt; required to approve when number matching is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
}

/// The outcome of a decision attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionResult {
    pub txid: String,
    /// The request's state now: approved | denied | expired (pending never comes back).
    pub state: String,
    /// True when this answer decided the request; false when it was decided before.
    pub decided: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A push waiting for an answer, as a client sees it. The number is not in it: the person
/// must read it at the login prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingRequest {
    pub txid: String,
    pub user: String,
    pub host: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub expires_at: String,
    /// Whether approving needs the number from the login prompt.
    pub number_required: bool,
}

/// `GET /v1/client/totp`: the client's current TOTP code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeResponse {
    pub code: String,
    pub valid_for_seconds: u64,
}
