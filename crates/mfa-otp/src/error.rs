//! One error type for the whole crate, so callers match on a single enum.
//!
//! Messages are one line and say what was wrong. They never contain secret
//! material: only lengths, positions and the offending non-secret values.

/// Everything that can go wrong building secrets, parameters or otpauth URIs.
#[derive(Debug, thiserror::Error)]
pub enum OtpError {
    /// `digits` outside 6..=8 (or not a number, in a URI).
    #[error("digits must be 6, 7 or 8 (got {0})")]
    InvalidDigits(String),

    /// TOTP `period` outside 1..=3600 seconds (or not a number, in a URI).
    #[error("period must be between 1 and 3600 seconds (got {0})")]
    InvalidPeriod(String),

    /// Algorithm name that is not SHA1, SHA256 or SHA512.
    #[error("unknown algorithm {0:?} (expected SHA1, SHA256 or SHA512)")]
    UnknownAlgorithm(String),

    /// A secret with no bytes at all.
    #[error("secret is empty")]
    EmptySecret,

    /// A secret shorter than the minimum for that operation.
    #[error("secret is too short: {got} bytes ({} bits), need at least {min} bytes", got * 8)]
    SecretTooShort {
        /// Length that was supplied or requested, in bytes.
        got: usize,
        /// Minimum accepted length, in bytes.
        min: usize,
    },

    /// A character outside the RFC 4648 base32 alphabet.
    #[error(
        "invalid base32 character {ch:?} at position {position} (allowed: A-Z, 2-7, spaces, '-', trailing '=')"
    )]
    InvalidBase32Char {
        /// The offending character (the alphabet is public, so this leaks nothing).
        ch: char,
        /// Character index in the input as given.
        position: usize,
    },

    /// '=' somewhere other than at the end.
    #[error("invalid base32: '=' padding is only allowed at the end")]
    MisplacedBase32Padding,

    /// Base32 length that cannot encode whole bytes (1, 3 or 6 symbols mod 8).
    #[error("invalid base32 length: {0} symbols do not encode a whole number of bytes")]
    InvalidBase32Length(usize),

    /// The OS random number generator failed.
    #[error("OS random number generator failed: {0}")]
    Random(getrandom::Error),

    /// Not an `otpauth://` URI.
    #[error("URI scheme must be otpauth:// (got {0:?})")]
    InvalidScheme(String),

    /// Type (URI host) other than `totp` / `hotp`.
    #[error("unknown OTP type {0:?} in otpauth URI (expected totp or hotp)")]
    UnknownOtpType(String),

    /// Structurally broken otpauth URI.
    #[error("malformed otpauth URI: {0}")]
    MalformedUri(&'static str),

    /// Label without an account name.
    #[error("otpauth URI label has no account name")]
    MissingAccount,

    /// No `secret` query parameter (or an empty one).
    #[error("otpauth URI has no secret parameter")]
    MissingSecret,

    /// `hotp` URI without the mandatory `counter` parameter.
    #[error("hotp otpauth URI has no counter parameter")]
    MissingCounter,

    /// `counter` that is not a decimal u64.
    #[error("counter must be a non-negative integer below 2^64 (got {0:?})")]
    InvalidCounter(String),

    /// A recognised query parameter given twice; refusing beats guessing which one counts.
    #[error("otpauth URI repeats the {0:?} parameter")]
    DuplicateParameter(String),

    /// A label part or parameter that is not UTF-8 after percent-decoding.
    #[error("otpauth URI {0} is not valid UTF-8 after percent-decoding")]
    InvalidUtf8(&'static str),
}
