//! What mfad checks in a login or step-up before it looks anything up (mfa-server login.rs
//! parse_login / parse_step_up are these checks: user names, host/service/action patterns,
//! client_ip), and the OTP and vault fields the HTTP API checks (mfa-store params.rs, which
//! mfa-server fields.rs wraps). The first byte picks the check, the rest is the input.
//!
//! An accepted name is in the portable set and displays as given; a pattern displays as text
//! that parses back to it and matches what it says; checked text is trimmed, one line and
//! short; a vault seed's parameters are in range and no error quotes the seed.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_core::{Alias, Pattern};
use mfa_fuzz::store_params::{self as params, VaultSeedInput};
use mfa_fuzz::{assert_one_line, assert_secret_not_quoted, otpauth_secret, text};

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 4 {
        0 => {
            if let Some(text) = text(rest) {
                alias(text);
                pattern(text);
            }
        }
        1 => {
            if let Some(text) = text(rest) {
                checked_text(text);
            }
        }
        2 => {
            let _ = otp_parameters(&mut Unstructured::new(rest));
        }
        _ => {
            let _ = vault_seed(&mut Unstructured::new(rest));
        }
    }
});

fn alias(text: &str) {
    let Ok(alias) = Alias::new(text) else { return };
    assert_eq!(alias.as_str(), text);
    assert!(!text.is_empty() && text.len() <= Alias::MAX_LEN);
    assert!(text.starts_with(|c: char| c.is_ascii_alphanumeric()));
    assert!(
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    );
    let json = serde_json::to_string(&alias).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(serde_json::from_str::<Alias>(&json).ok(), Some(alias));
}

fn pattern(text: &str) {
    let Ok(pattern) = Pattern::new(text) else {
        return;
    };
    let shown = pattern.to_string();
    assert_eq!(
        Pattern::new(&shown).ok().as_ref(),
        Some(&pattern),
        "{shown:?}"
    );
    match &pattern {
        Pattern::Any => assert!(pattern.matches(text)),
        Pattern::Exact(name) => {
            assert_eq!(*name, text.trim().to_ascii_lowercase());
            assert!(pattern.matches(name) && pattern.matches(&name.to_ascii_uppercase()));
            assert!(!pattern.matches(&format!("x{name}")));
        }
        Pattern::Suffix(suffix) => {
            assert!(suffix.starts_with('.'), "{suffix:?}");
            // Any name below the domain, not the domain itself.
            assert!(pattern.matches(&format!("a{suffix}")));
            assert!(!pattern.matches(suffix) && !pattern.matches(&suffix[1..]));
        }
    }
}

fn checked_text(text: &str) {
    match params::check_text("label", Some(text)) {
        Ok(Some(v)) => {
            assert_eq!(v, text.trim());
            assert!(!v.is_empty() && v.chars().count() <= params::MAX_TEXT_CHARS);
            assert!(!v.chars().any(char::is_control), "{v:?}");
        }
        Ok(None) => assert!(text.trim().is_empty()),
        Err(e) => {
            assert_one_line(&e);
            assert!(e.starts_with("label "), "{e}");
        }
    }
}

fn otp_parameters(u: &mut Unstructured<'_>) -> Result<()> {
    let algorithm: Option<String> = u.arbitrary()?;
    if let Ok(a) = params::parse_algorithm(algorithm.as_deref()) {
        let name = algorithm.unwrap_or_else(|| "SHA1".into());
        let plain: String = name.chars().filter(|c| !matches!(c, '-' | '_')).collect();
        assert!(
            plain.eq_ignore_ascii_case(a.as_str()),
            "{name:?} read as {a}"
        );
    }
    let digits: Option<u64> = u.arbitrary()?;
    match params::parse_digits(digits) {
        Ok(d) => assert_eq!(u64::from(d.get()), digits.unwrap_or(6)),
        Err(e) => assert!(digits.is_some_and(|d| !(6..=8).contains(&d)), "{e}"),
    }
    let period: u64 = u.arbitrary()?;
    assert_eq!(
        params::check_period(period).is_ok(),
        params::TOTP_PERIODS.contains(&period)
    );
    Ok(())
}

fn vault_seed(u: &mut Unstructured<'_>) -> Result<()> {
    let secret: Option<String> = u.arbitrary()?;
    let uri: Option<String> = u.arbitrary()?;
    let input = VaultSeedInput {
        secret: secret.as_deref(),
        uri: uri.as_deref(),
        algorithm: if u.arbitrary()? {
            Some(*u.choose(&["SHA1", "sha256", "md5"])?)
        } else {
            None
        },
        digits: u.arbitrary()?,
        period: u.arbitrary()?,
    };
    let seed_text = format!(
        "{}{}",
        secret.as_deref().unwrap_or(""),
        uri.as_deref().unwrap_or("")
    );
    match params::parse_vault_seed(input) {
        Ok((seed, p)) => {
            assert!(seed.len() >= mfa_otp::MIN_IMPORTED_BASE32_LEN);
            assert!(params::TOTP_PERIODS.contains(&u64::from(p.period)));
            assert!((6..=8).contains(&p.digits.get()));
        }
        Err(e) => {
            assert_one_line(&e);
            if let Some(s) = &secret {
                assert_secret_not_quoted(&e, s, &seed_text);
            }
            if let Some(u) = &uri {
                assert_secret_not_quoted(&e, otpauth_secret(u), &seed_text);
            }
        }
    }
    Ok(())
}
