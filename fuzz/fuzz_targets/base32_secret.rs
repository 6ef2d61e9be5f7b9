//! Base32 secrets as people type or paste them (`mfac`, the vault, otpauth URIs).
//!
//! Text inputs: an accepted secret is at least 80 bits, re-encodes canonically to the symbols
//! that were given (up to ignored trailing bits), and decodes again to itself; an error is one
//! line and quotes none of the input's symbols. Inputs starting with byte 0: any key of 10 or
//! more bytes encodes and decodes back, in every form the decoder accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_fuzz::{assert_one_line, assert_secret_not_quoted, text};
use mfa_otp::Secret;

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, key)) => bytes_round_trip(key),
        _ => {
            if let Some(text) = text(data) {
                decode_text(text);
            }
        }
    }
});

fn decode_text(text: &str) {
    match Secret::from_base32(text) {
        Ok(secret) => {
            assert!(secret.len() >= mfa_otp::MIN_IMPORTED_BASE32_LEN);
            let canonical = secret.to_base32();
            assert!(
                canonical
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
            );
            let given: String = text
                .chars()
                .filter(|c| !matches!(c, ' ' | '-' | '='))
                .map(|c| c.to_ascii_uppercase())
                .collect();
            assert_eq!(canonical.len(), given.len(), "{text:?}");
            // The last symbol may differ: its unused low bits are ignored, not kept.
            let keep = given.len().saturating_sub(1);
            assert_eq!(canonical[..keep], given[..keep], "{text:?}");
            assert!(Secret::from_base32(&canonical).is_ok_and(|again| again == secret));
        }
        Err(e) => {
            let message = e.to_string();
            assert_one_line(&message);
            assert_secret_not_quoted(&message, text, text);
        }
    }
}

fn bytes_round_trip(key: &[u8]) {
    let Ok(secret) = Secret::from_bytes(key) else {
        assert!(key.is_empty());
        return;
    };
    let canonical = secret.to_base32();
    let decoded = Secret::from_base32(&canonical);
    if key.len() < mfa_otp::MIN_IMPORTED_BASE32_LEN {
        assert!(decoded.is_err(), "a {}-byte key was accepted", key.len());
        return;
    }
    assert!(decoded.is_ok_and(|d| d == secret), "{canonical}");
    let lower = canonical.to_ascii_lowercase();
    let grouped = canonical
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let dashed = grouped.replace(' ', "-");
    let padded = format!("{canonical}{}", "=".repeat((8 - canonical.len() % 8) % 8));
    for form in [lower, grouped, dashed, padded] {
        assert!(
            Secret::from_base32(&form).is_ok_and(|d| d == secret),
            "{form:?} does not decode to the key"
        );
    }
}
