//! `otpauth://` URIs (what enrolment QR codes carry and `mfac`/the vault import).
//!
//! Text inputs: whatever parses renders back to a URI that parses to the same value, with
//! valid parameters; an error is one line and never quotes the secret. Inputs starting with
//! byte 0: a URI built from arbitrary parts renders and parses back to itself.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_fuzz::{assert_one_line, assert_secret_not_quoted, otpauth_secret, text};
use mfa_otp::{Algorithm, Digits, OtpAuthUri, OtpError, OtpKind, Secret};

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((0, rest)) => {
            let _ = rendered_parts_parse_back(&mut Unstructured::new(rest));
        }
        _ => {
            if let Some(text) = text(data) {
                parse_text(text);
            }
        }
    }
});

fn parse_text(text: &str) {
    match OtpAuthUri::parse(text) {
        Ok(uri) => {
            assert_valid(&uri);
            let rendered = uri.to_uri();
            let again = OtpAuthUri::parse(&rendered)
                .unwrap_or_else(|e| panic!("{rendered:?} (rendered from {text:?}) fails: {e}"));
            assert_eq!(again, uri, "{text:?} -> {rendered:?}");
            assert_eq!(again.to_uri(), rendered);
        }
        Err(e) => {
            let message = e.to_string();
            assert_one_line(&message);
            assert_secret_not_quoted(&message, otpauth_secret(text), text);
        }
    }
}

fn assert_valid(uri: &OtpAuthUri) {
    assert!((Digits::MIN..=Digits::MAX).contains(&uri.digits.get()));
    if let OtpKind::Totp { period } = uri.kind {
        assert!((1..=mfa_otp::MAX_PERIOD).contains(&period), "{period}");
    }
    assert!(!uri.account.is_empty() && !uri.account.starts_with(' '));
    assert_ne!(uri.issuer.as_deref(), Some(""));
    assert!(uri.secret.len() >= mfa_otp::MIN_IMPORTED_BASE32_LEN);
}

fn rendered_parts_parse_back(u: &mut Unstructured<'_>) -> Result<()> {
    let kind = if u.arbitrary()? {
        OtpKind::Totp {
            period: u.int_in_range(1..=mfa_otp::MAX_PERIOD)?,
        }
    } else {
        OtpKind::Hotp {
            counter: u.arbitrary()?,
        }
    };
    let issuer: Option<String> = u.arbitrary()?;
    let account: String = u.arbitrary()?;
    let algorithm = *u.choose(&Algorithm::ALL)?;
    let digits =
        Digits::new(u.int_in_range(Digits::MIN..=Digits::MAX)?).unwrap_or_else(|e| panic!("{e}"));
    let mut bytes: Vec<u8> = u.arbitrary()?;
    bytes.resize(bytes.len().max(mfa_otp::MIN_IMPORTED_BASE32_LEN), 0x5a);
    let secret = Secret::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let uri = OtpAuthUri {
        kind,
        issuer,
        account,
        secret,
        algorithm,
        digits,
    };
    let rendered = uri.to_uri();
    // What parsing gives back: an empty issuer is absent, leading spaces of the account go.
    let expected = OtpAuthUri {
        issuer: uri.issuer.clone().filter(|i| !i.is_empty()),
        account: uri.account.trim_start_matches(' ').to_owned(),
        ..uri.clone()
    };
    match OtpAuthUri::parse(&rendered) {
        Ok(parsed) => assert_eq!(parsed, expected, "{rendered:?}"),
        Err(OtpError::MissingAccount) => assert!(expected.account.is_empty(), "{rendered:?}"),
        Err(e) => panic!("{rendered:?} does not parse: {e}"),
    }
    Ok(())
}
