//! The shared TOTP vault (`/v1/vault/...`, API token with scope `vault:read` or `vault:write`).

use serde::{Deserialize, Serialize};

/// `POST /v1/vault/apps`: add a seed, as base32 (`secret`, with optional `algorithm`, `digits`,
/// `period`) or as a whole `otpauth://totp/...` URI (`uri`, which carries its own parameters).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewVaultApp {
    /// The app's name (e.g. the service the shared account is for).
    pub name: String,
    /// Free text shown beside the name, e.g. the account (`ops@example.org`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The seed in base32 (spaces, dashes and padding allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// An `otpauth://totp/...` URI, as a QR code carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// With `secret`: SHA1 (default), SHA256 or SHA512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// With `secret`: 6 (default), 7 or 8.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
    pub digits: Option<u64>,
    /// With `secret`: 15..=120 seconds (default 30).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
    pub period: Option<u64>,
}

/// A vault app as listed: never its seed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultApp {
    /// The app's id, for `/v1/vault/apps/{id}` (never reused).
    pub id: i64,
    pub name: String,
    /// `null` when not set.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub attribute: Option<String>,
    /// SHA1, SHA256 or SHA512.
    pub algorithm: String,
    /// Digits per code: 6, 7 or 8.
    pub digits: u8,
    /// Seconds per code.
    pub period: u32,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
}

/// `GET /v1/vault/apps/{id}/code`: the current code and how long it stays valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VaultCode {
    /// The app's id.
    pub id: i64,
    /// The app's name.
    pub name: String,
    /// The current code.
    pub code: String,
    /// Seconds the code stays valid, counting this one: 1..=period.
    pub valid_for_seconds: u64,
}
