//! What an application sends to the OTP service (`/v1/otp/...`, API token with scope `otp`)
//! and gets back.
//!
//! Numbers the caller chooses (`digits`, `period`, `ttl_seconds`, `max_attempts`) are read as
//! plain integers and range-checked by the server, so an out-of-range value is answered with the
//! range rather than with a type error.

use serde::{Deserialize, Serialize};

/// `totp` (time-based, RFC 6238) or `hotp` (counter-based, RFC 4226).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum OtpType {
    /// Time-based (RFC 6238).
    Totp,
    /// Counter-based (RFC 4226).
    Hotp,
}

/// `POST /v1/otp/credentials`: make a HOTP or TOTP credential; the server makes the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOtpCredential {
    /// `totp` or `hotp`.
    #[serde(rename = "type")]
    pub kind: OtpType,
    /// SHA1 (default), SHA256 or SHA512.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// 6 (default), 7 or 8.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
    pub digits: Option<u64>,
    /// TOTP only: seconds per code, 15..=120 (default 30).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
    pub period: Option<u64>,
    /// Shown by authenticator apps above the account (e.g. the application's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The account name authenticator apps show (e.g. the user's e-mail); default: the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A credential. The secret, its `otpauth://` URI and QR code come only in the answer to the
/// create request; `GET` never shows them again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OtpCredential {
    /// The credential's id, for the other `/v1/otp/credentials/{id}` requests.
    pub id: String,
    /// `totp` or `hotp`.
    #[serde(rename = "type")]
    pub kind: OtpType,
    /// SHA1, SHA256 or SHA512.
    pub algorithm: String,
    /// Digits per code: 6, 7 or 8.
    pub digits: u8,
    /// TOTP: seconds per code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u32>,
    /// HOTP: the next counter the server expects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// Shown by authenticator apps above the account, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The account name authenticator apps show.
    pub label: String,
    /// RFC 3339.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub created_at: String,
    /// Create only: the secret in base32, for typing into an app by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Create only: the `otpauth://` URI (it contains the secret).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otpauth_uri: Option<String>,
    /// Create only: the URI as an SVG QR code (left out when the URI is too long for one: a
    /// long issuer and label in many-byte characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_svg: Option<String>,
}

/// `POST /v1/otp/credentials/{id}/verify` and `POST /v1/otp/codes/{id}/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct VerifyCode {
    /// The code the user typed (spaces are ignored).
    pub code: String,
}

/// The answer to a verification. A wrong, replayed, expired or used-up code is `ok: false`
/// with a `reason`; it is not an HTTP error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VerifyResult {
    pub ok: bool,
    /// With `ok: false`: `invalid or already used code`, `wrong code`, `already used`,
    /// `expired` or `too many attempts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// HOTP, with `ok: true`: the next counter the server expects (after resynchronisation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<u64>,
    /// One-time codes, after a wrong code: how many more tries it has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
}

/// `POST /v1/otp/codes`: a one-time code (the e-mail/SMS kind) for the caller to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewOneTimeCode {
    /// How long the code works: 1..=86400 seconds.
    #[serde(deserialize_with = "crate::whole::required")]
    pub ttl_seconds: u64,
    /// 6 (default), 7 or 8.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
    pub digits: Option<u64>,
    /// Tries (right or wrong) before the code is dead: 1..=10 (default 5).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::whole::optional"
    )]
    pub max_attempts: Option<u64>,
}

/// The new one-time code: shown this once (mfad keeps only a keyed hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimeCode {
    /// The code's id, for `POST /v1/otp/codes/{id}/verify`.
    pub id: String,
    /// The code, for the caller to deliver; this is the only time it is shown.
    pub code: String,
    /// Digits in the code: 6, 7 or 8.
    pub digits: u8,
    /// Tries (right or wrong) it may get.
    pub max_attempts: u32,
    /// RFC 3339: when it stops working.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub expires_at: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn create_request_uses_type_and_refuses_unknown_fields() {
        let r: NewOtpCredential = serde_json::from_str(r#"{"type": "hotp", "digits": 8}"#).unwrap();
        assert_eq!((r.kind, r.digits, r.period), (OtpType::Hotp, Some(8), None));
        let e = serde_json::from_str::<NewOtpCredential>(r#"{"type": "totp", "colour": 1}"#)
            .unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");
        let e = serde_json::from_str::<NewOtpCredential>(r#"{"type": "motp"}"#).unwrap_err();
        assert!(e.to_string().contains("motp"), "{e}");
    }

    #[test]
    fn answers_leave_out_what_does_not_apply() {
        let v = serde_json::to_value(VerifyResult {
            ok: true,
            reason: None,
            counter: None,
            attempts_left: None,
        })
        .unwrap();
        assert_eq!(v, serde_json::json!({"ok": true}));
        let v = serde_json::to_value(OtpCredential {
            id: "x".into(),
            kind: OtpType::Totp,
            algorithm: "SHA1".into(),
            digits: 6,
            period: Some(30),
            counter: None,
            issuer: None,
            label: "x".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            secret: None,
            otpauth_uri: None,
            qr_svg: None,
        })
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id": "x", "type": "totp", "algorithm": "SHA1", "digits": 6,
                "period": 30, "label": "x", "created_at": "2026-01-01T00:00:00Z"})
        );
    }
}
