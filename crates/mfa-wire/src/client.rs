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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
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
    /// What else the login says about itself, e.g. `Command: ls -l, Server IP: 192.0.2.7`
    /// (a Duo client's pushinfo). Shown to the person approving; absent when there is nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

/// `POST /v1/client/enroll`: this client's TOTP seed, answered once (later calls get 410 until
/// an admin runs `mfac client reset-totp ALIAS`). `mfa enroll` stores it and `mfa code`
/// computes codes from it; the server never hands out codes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EnrollResponse {
    /// The client's alias, as its key authenticated it.
    pub alias: String,
    /// The seed, base32 without padding (RFC 4648), as in an otpauth:// URI.
    pub totp_secret: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    /// Digits per code: 6, 7 or 8.
    pub digits: u8,
    /// Seconds per code.
    pub period: u32,
}

/// Never prints the seed.
impl std::fmt::Debug for EnrollResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollResponse")
            .field("alias", &self.alias)
            .field("totp_secret", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .finish()
    }
}
