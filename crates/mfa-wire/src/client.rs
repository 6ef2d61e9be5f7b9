//! What an enrolled client (the `mfa` program, a phone, a script) sends and gets back.

use serde::{Deserialize, Serialize};

/// A client's answer to a push: `approve`, `deny`, or `fraud` (deny and report "this was not
/// me", which locks the user out until an admin clears it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
    /// Deny and report "this was not me": locks the user out until an admin clears it.
    Fraud,
}

/// `POST /v1/client/requests/{txid}` (client key as bearer), and the WebSocket `decision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientDecision {
    pub decision: Decision,
    /// The number shown at the login prompt; required to approve when number matching is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u8>,
}

/// The outcome of a decision attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DecisionResult {
    /// The push's transaction id.
    pub txid: String,
    /// The request's state now: approved | denied | expired | withdrawn (pending never comes back).
    pub state: String,
    /// True when this answer decided the request; false when it was decided before.
    pub decided: bool,
    /// Why it was denied or expired (`denied by tux`, `wrong number`, `timeout`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A push waiting for an answer, as a client sees it. The number is not in it: the person
/// must read it at the login prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingRequest {
    /// The push's transaction id: answer it with `POST /v1/client/requests/{txid}` or a
    /// WebSocket `decision`.
    pub txid: String,
    /// The user logging in.
    pub user: String,
    /// The host logged into.
    pub host: String,
    /// The service (`sshd`, `sudo`, ...), or the action of a step-up.
    pub service: String,
    /// The address the login comes from, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<String>,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// RFC 3339: when it expires (and is denied).
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
    /// Whether approving needs the number from the login prompt.
    pub number_required: bool,
}

/// `GET /v1/client/totp`: the client's current TOTP code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeResponse {
    /// The current code.
    pub code: String,
    /// Seconds the code stays valid, counting this one.
    pub valid_for_seconds: u64,
}
