//! HOTP (RFC 4226) and TOTP (RFC 6238) codes, shared secrets and `otpauth://`
//! URIs (Google Authenticator Key Uri Format).
//!
//! Pure computation: no I/O and no clock. Time is passed in as unix seconds so
//! callers inject their clock; replay state (`last_used` step, HOTP counter) is
//! returned to the caller to persist.
//!
//! ```
//! use mfa_otp::{Algorithm, OtpAuthUri, OtpKind, Secret, Totp, TotpParams};
//!
//! // Enrolment: a fresh secret, shown to the user as a QR code of this URI.
//! let secret = Secret::generate_for(Algorithm::Sha1)?;
//! let uri = OtpAuthUri {
//!     kind: OtpKind::Totp { period: 30 },
//!     issuer: Some("Example Co".into()),
//!     account: "alice@example.com".into(),
//!     secret: secret.clone(),
//!     algorithm: Algorithm::Sha1,
//!     digits: Default::default(),
//! };
//! assert!(uri.to_uri().starts_with("otpauth://totp/Example%20Co:alice%40example.com?secret="));
//!
//! // Login: check the code, then persist the returned step as `last_used`.
//! let totp = Totp::new(secret, TotpParams::default());
//! let now = 1_700_000_000; // from the caller's clock
//! let code = totp.code_at(now); // what the user's app shows
//! let step = totp.verify(&code, now, 1, None).ok_or("rejected")?;
//! assert_eq!(totp.verify(&code, now, 1, Some(step)), None); // replay refused
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod algorithm;
mod error;
mod hotp;
mod secret;
mod totp;
mod uri;

pub use algorithm::{Algorithm, Digits};
pub use error::OtpError;
pub use hotp::{Hotp, hotp};
pub use secret::{MIN_GENERATED_LEN, MIN_IMPORTED_BASE32_LEN, Secret};
pub use totp::{MAX_PERIOD, Totp, TotpParams};
pub use uri::{OtpAuthUri, OtpKind};
