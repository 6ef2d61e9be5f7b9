//! OTP parameters and vault seeds as callers give them (the HTTP API, mfac), checked in one place
//! so both answer with the same one-line message. Messages never contain a secret.

use std::ops::RangeInclusive;

use mfa_otp::{Algorithm, Digits, OtpAuthUri, OtpKind, Secret, TotpParams};

/// TOTP periods mfa makes and keeps, in seconds (as `[totp] period` in mfad.toml).
pub const TOTP_PERIODS: RangeInclusive<u64> = 15..=120;

/// SHA1 when absent; else SHA1, SHA256 or SHA512 in any common spelling.
pub fn parse_algorithm(a: Option<&str>) -> Result<Algorithm, String> {
    match a {
        None => Ok(Algorithm::default()),
        Some(a) => a.parse().map_err(|e| format!("algorithm: {e}")),
    }
}

/// 6 when absent; else 6, 7 or 8.
pub fn parse_digits(d: Option<u64>) -> Result<Digits, String> {
    match d {
        None => Ok(Digits::default()),
        Some(d) => u8::try_from(d)
            .ok()
            .and_then(|d| Digits::new(d).ok())
            .ok_or_else(|| format!("digits must be 6, 7 or 8 (got {d})")),
    }
}

/// A period within [`TOTP_PERIODS`].
pub fn check_period(p: u64) -> Result<u32, String> {
    match u32::try_from(p) {
        Ok(period) if TOTP_PERIODS.contains(&p) => Ok(period),
        _ => Err(format!(
            "period must be between {} and {} seconds (got {p})",
            TOTP_PERIODS.start(),
            TOTP_PERIODS.end()
        )),
    }
}

/// Longest issuer, label, vault name or attribute, in characters.
pub const MAX_TEXT_CHARS: usize = 128;

/// What [`check_text`] accepts, as a regular expression (for the OpenAPI document, beside
/// `maxLength` [`MAX_TEXT_CHARS`]; a test checks the two agree): no control characters.
pub const TEXT_REGEX: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

/// [`TEXT_REGEX`] for a text that must not be blank (a vault app's name): at least one
/// character that is neither a control character nor white space (Unicode `White_Space`, what
/// `str::trim` removes).
pub const NON_BLANK_TEXT_REGEX: &str = r"^[^\x00-\x1f\x7f-\x9f]*[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\x00-\x1f\x7f-\x9f]*$";

/// Optional free text (issuer, label, vault name, attribute): one line, at most
/// [`MAX_TEXT_CHARS`] characters, both checked as sent; then trimmed, and empty is absent.
pub fn check_text(field: &str, value: Option<&str>) -> Result<Option<String>, String> {
    let Some(v) = value else {
        return Ok(None);
    };
    if v.chars().count() > MAX_TEXT_CHARS {
        return Err(format!(
            "{field} is too long: at most {MAX_TEXT_CHARS} characters"
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(format!(
            "{field} must not contain control characters (newlines, tabs, ...)"
        ));
    }
    let v = v.trim();
    Ok((!v.is_empty()).then(|| v.to_owned()))
}

/// A vault seed: base32 with optional parameters, or a whole `otpauth://totp/...` URI (which
/// carries its own).
#[derive(Debug, Default, Clone, Copy)]
pub struct VaultSeedInput<'a> {
    pub secret: Option<&'a str>,
    pub uri: Option<&'a str>,
    pub algorithm: Option<&'a str>,
    pub digits: Option<u64>,
    pub period: Option<u64>,
}

/// The seed and its parameters, or what is wrong with them.
pub fn parse_vault_seed(input: VaultSeedInput<'_>) -> Result<(Secret, TotpParams), String> {
    match (input.secret, input.uri) {
        (Some(b32), None) => {
            let secret = Secret::from_base32(b32).map_err(|e| format!("secret: {e}"))?;
            let params = TotpParams {
                algorithm: parse_algorithm(input.algorithm)?,
                digits: parse_digits(input.digits)?,
                period: check_period(input.period.unwrap_or(30))?,
            };
            Ok((secret, params))
        }
        (None, Some(uri)) => {
            if input.algorithm.is_some() || input.digits.is_some() || input.period.is_some() {
                return Err(
                    "algorithm, digits and period come from the uri: leave them out".to_owned(),
                );
            }
            let uri = OtpAuthUri::parse(uri).map_err(|e| format!("uri: {e}"))?;
            let OtpKind::Totp { period } = uri.kind else {
                return Err(
                    "uri: the vault keeps TOTP seeds; this is an otpauth://hotp URI".into(),
                );
            };
            let params = TotpParams {
                algorithm: uri.algorithm,
                digits: uri.digits,
                period: check_period(u64::from(period)).map_err(|e| format!("uri: {e}"))?,
            };
            Ok((uri.secret, params))
        }
        (Some(_), Some(_)) => {
            Err("give the seed as secret (base32) or as uri (otpauth://...), not both".into())
        }
        (None, None) => {
            Err("missing seed: give secret (base32) or uri (otpauth://totp/...)".into())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SEED: &str = "JBSWY3DPEHPK3PXP";

    #[test]
    fn parameters() {
        assert_eq!(parse_algorithm(None).unwrap(), Algorithm::Sha1);
        assert_eq!(parse_algorithm(Some("sha-512")).unwrap(), Algorithm::Sha512);
        assert!(
            parse_algorithm(Some("md5"))
                .unwrap_err()
                .contains("\"md5\"")
        );
        assert_eq!(parse_digits(Some(8)).unwrap().get(), 8);
        assert_eq!(
            parse_digits(Some(256)).unwrap_err(),
            "digits must be 6, 7 or 8 (got 256)"
        );
        assert_eq!(check_period(15).unwrap(), 15);
        assert_eq!(check_period(120).unwrap(), 120);
        for bad in [0, 14, 121, u64::MAX] {
            assert!(
                check_period(bad)
                    .unwrap_err()
                    .contains(&format!("(got {bad})"))
            );
        }
    }

    #[test]
    fn text() {
        assert_eq!(
            check_text("name", Some("  AWS root ")).unwrap().as_deref(),
            Some("AWS root")
        );
        assert_eq!(check_text("name", Some("  ")).unwrap(), None);
        assert_eq!(check_text("name", None).unwrap(), None);
        assert!(check_text("name", Some(&"é".repeat(128))).is_ok());
        assert!(
            check_text("name", Some(&"é".repeat(129)))
                .unwrap_err()
                .contains("too long")
        );
        assert!(
            check_text("label", Some("a\u{7}b"))
                .unwrap_err()
                .starts_with("label must not")
        );
        // Checked as sent, before trimming: a tab or 129 characters are refused even at the ends.
        assert!(check_text("label", Some("\tab")).is_err());
        assert!(check_text("label", Some(&format!("{} ", "x".repeat(128)))).is_err());
    }

    #[test]
    fn seeds() {
        let (s, p) = parse_vault_seed(VaultSeedInput {
            secret: Some(SEED),
            digits: Some(7),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (s.to_base32().as_str(), p.digits.get(), p.period),
            (SEED, 7, 30)
        );
        let uri = format!("otpauth://totp/A:b?secret={SEED}&algorithm=SHA256&period=60");
        let (s, p) = parse_vault_seed(VaultSeedInput {
            uri: Some(&uri),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            (s.to_base32().as_str(), p.algorithm, p.period),
            (SEED, Algorithm::Sha256, 60)
        );
        for (input, needle) in [
            (VaultSeedInput::default(), "missing seed"),
            (
                VaultSeedInput {
                    secret: Some(SEED),
                    uri: Some(&uri),
                    ..Default::default()
                },
                "not both",
            ),
            (
                VaultSeedInput {
                    uri: Some(&uri),
                    period: Some(30),
                    ..Default::default()
                },
                "come from the uri",
            ),
            (
                VaultSeedInput {
                    uri: Some("otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=0"),
                    ..Default::default()
                },
                "hotp",
            ),
            (
                VaultSeedInput {
                    secret: Some("JBSWY3DPEHPK3PX!"),
                    ..Default::default()
                },
                "secret: invalid base32 character '!'",
            ),
        ] {
            let err = parse_vault_seed(input).unwrap_err();
            assert!(err.contains(needle), "{err}");
            assert!(!err.contains("JBSWY3DP"), "{err}");
        }
    }
}
