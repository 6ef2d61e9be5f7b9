//! The JSON shapes mfa speaks, shared by `mfad`, `mfac`, `mfa` and `pam_mfa.so`.
//!
//! Requests deny unknown fields, so a typo is an error rather than a silently ignored option.
//! Field names are a public contract: add fields, never rename them.

mod client;
mod otp;
mod server;
mod vault;
mod ws;

pub use client::{ClientDecision, CodeResponse, Decision, DecisionResult, PendingRequest};
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
pub struct ErrorBody {
    pub error: String,
    pub message: String,
}
