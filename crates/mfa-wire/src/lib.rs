//! The JSON shapes mfa speaks, shared by `mfad`, `mfac`, `mfa` and `pam_mfa.so`.
//!
//! Requests deny unknown fields, so a typo is an error rather than a silently ignored option.
//! Field names are a public contract: add fields, never rename them.

mod client;
mod otp;
mod server;
mod vault;
mod whole;
mod ws;

pub use client::{ClientDecision, Decision, DecisionResult, EnrollResponse, PendingRequest};
pub use otp::{
    NewOneTimeCode, NewOtpCredential, OneTimeCode, OtpCredential, OtpType, VerifyCode, VerifyResult,
};
pub use server::{
    AuthMethod, AuthResult, AuthStatus, Password, PreauthRequest, PreauthResponse, PreauthResult,
    Remember, ServerAuthRequest, ServerAuthResponse, StepupRequest,
};
pub use vault::{NewVaultApp, VaultApp, VaultCode};
pub use ws::{ClientMessage, ServerMessage};

use serde::{Deserialize, Serialize};

/// Every error response body: `{"error": "bad_request", "message": "one line saying what to do"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "openapi",
    schema(example = json!({"error": "unauthorized", "message": "invalid API token"}))
)]
pub struct ErrorBody {
    /// The kind of error: `bad_request` (400), `unauthorized` (401), `forbidden` (403),
    /// `not_found` (404), `method_not_allowed` (405), `length_required` (411),
    /// `payload_too_large` (413), `uri_too_long` (414), `unsupported_media_type` (415),
    /// `header_too_large` (431), `locked_out` or `too_many_connections` (429), `internal`
    /// (500), `unavailable` or `busy` (503).
    pub error: String,
    /// One line saying what is wrong and, where it helps, what to do. Never a secret.
    pub message: String,
}
