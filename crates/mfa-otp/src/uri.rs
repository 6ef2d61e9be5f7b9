//! `otpauth://` URIs (Google Authenticator "Key Uri Format"): what QR codes carry.
//!
//! Written by hand rather than with a URL crate because the format is tiny and its
//! quirks (label split on ':', lenient parameter names) matter more than generic
//! URL rules.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::totp::validate_period;
use crate::{Algorithm, Digits, OtpError, Secret};

/// Everything except RFC 3986 unreserved characters is encoded, so ':' inside an
/// issuer or account can never be mistaken for the label separator and space
/// becomes %20 (not '+').
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// TOTP or HOTP, with the parameter only that kind has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtpKind {
    /// Time-based; `period` in seconds.
    Totp {
        /// Time step in seconds.
        period: u32,
    },
    /// Counter-based; `counter` is the initial counter.
    Hotp {
        /// Next counter value.
        counter: u64,
    },
}

/// A parsed or to-be-rendered `otpauth://` URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtpAuthUri {
    /// TOTP (with period) or HOTP (with counter).
    pub kind: OtpKind,
    /// Provider name. An empty issuer is treated as absent.
    pub issuer: Option<String>,
    /// Account name (user). Leading spaces are not preserved by `parse`, which
    /// strips them as the format allows "Issuer: account".
    pub account: String,
    /// Shared key.
    pub secret: Secret,
    /// HMAC hash.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: Digits,
}

impl OtpAuthUri {
    /// Renders the URI, e.g.
    /// `otpauth://totp/Issuer:account?secret=..&issuer=Issuer&algorithm=SHA1&digits=6&period=30`.
    /// Always writes algorithm/digits/period so no app has to guess defaults.
    /// The result contains the secret: treat it as sensitive.
    pub fn to_uri(&self) -> String {
        let (kind, extra) = match self.kind {
            OtpKind::Totp { period } => ("totp", format!("period={period}")),
            OtpKind::Hotp { counter } => ("hotp", format!("counter={counter}")),
        };
        let account = utf8_percent_encode(&self.account, COMPONENT);
        let mut uri = format!("otpauth://{kind}/");
        let issuer = self.issuer.as_deref().filter(|i| !i.is_empty());
        match issuer {
            Some(issuer) => {
                let _ = write!(uri, "{}:{account}", utf8_percent_encode(issuer, COMPONENT));
            }
            // An account containing ':' would read as "issuer:rest"; an empty
            // prefix keeps it unambiguous for our parser.
            None if self.account.contains(':') => {
                let _ = write!(uri, ":{account}");
            }
            None => {
                let _ = write!(uri, "{account}");
            }
        }
        let _ = write!(uri, "?secret={}", self.secret.to_base32());
        if let Some(issuer) = issuer {
            let _ = write!(uri, "&issuer={}", utf8_percent_encode(issuer, COMPONENT));
        }
        let _ = write!(
            uri,
            "&algorithm={}&digits={}&{extra}",
            self.algorithm, self.digits
        );
        uri
    }

    /// Parses what Google Authenticator, FreeOTP, Aegis, pyotp and friends emit.
    ///
    /// * scheme `otpauth` and type `totp`/`hotp`, case-insensitive;
    /// * label `Issuer:account` (separator literal or `%3A`) or just `account`;
    ///   the `issuer` parameter wins over the label prefix;
    /// * parameter names case-insensitive; unknown ones (`image`, ...) ignored;
    ///   a repeated known one is an error;
    /// * missing algorithm/digits/period take the defaults SHA1/6/30;
    /// * `hotp` requires `counter`.
    ///
    /// '+' in parameter values decodes to a space (form encoding, as some
    /// libraries emit); in the label it stays '+'.
    pub fn parse(s: &str) -> Result<OtpAuthUri, OtpError> {
        let s = s.trim();
        let Some((scheme, rest)) = s.split_once("://") else {
            return Err(OtpError::MalformedUri("missing \"otpauth://\""));
        };
        if !scheme.eq_ignore_ascii_case("otpauth") {
            return Err(OtpError::InvalidScheme(scheme.to_owned()));
        }
        // A fragment has no meaning here.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let Some((otp_type, raw_label)) = path.split_once('/') else {
            return Err(OtpError::MalformedUri(
                "missing \"/\" and label after the type",
            ));
        };

        let params = Params::parse(query)?;

        let kind = if otp_type.eq_ignore_ascii_case("totp") {
            let period = match params.period {
                Some(p) => parse_period(&p)?,
                None => 30,
            };
            OtpKind::Totp { period }
        } else if otp_type.eq_ignore_ascii_case("hotp") {
            let raw = params.counter.ok_or(OtpError::MissingCounter)?;
            OtpKind::Hotp {
                counter: parse_u64(&raw).ok_or(OtpError::InvalidCounter(raw))?,
            }
        } else {
            return Err(OtpError::UnknownOtpType(otp_type.to_owned()));
        };

        let (label_issuer, account) = parse_label(raw_label)?;
        // The parameter wins; an empty one counts as absent.
        let issuer = params.issuer.filter(|i| !i.is_empty()).or(label_issuer);

        let secret = match params.secret.as_ref().map(|s| s.as_str()) {
            None | Some("") => return Err(OtpError::MissingSecret),
            Some(b32) => Secret::from_base32(b32)?,
        };
        let algorithm = match params.algorithm {
            Some(a) => a.parse()?,
            None => Algorithm::default(),
        };
        let digits = match params.digits {
            Some(d) => d.parse()?,
            None => Digits::default(),
        };

        Ok(OtpAuthUri {
            kind,
            issuer,
            account,
            secret,
            algorithm,
            digits,
        })
    }
}

/// Known query parameters, still as decoded text.
#[derive(Default)]
struct Params {
    secret: Option<zeroize::Zeroizing<String>>,
    issuer: Option<String>,
    algorithm: Option<String>,
    digits: Option<String>,
    period: Option<String>,
    counter: Option<String>,
}

impl Params {
    fn parse(query: &str) -> Result<Params, OtpError> {
        let mut p = Params::default();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode(raw_key, false, "parameter name")?.to_ascii_lowercase();
            let slot = match key.as_str() {
                "secret" => {
                    let value = decode(raw_value, true, "secret")?;
                    set_once(&mut p.secret, zeroize::Zeroizing::new(value), &key)?;
                    continue;
                }
                "issuer" => &mut p.issuer,
                "algorithm" => &mut p.algorithm,
                "digits" => &mut p.digits,
                "period" => &mut p.period,
                "counter" => &mut p.counter,
                _ => continue,
            };
            let value = decode(raw_value, true, "parameter value")?;
            set_once(slot, value, &key)?;
        }
        Ok(p)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, key: &str) -> Result<(), OtpError> {
    if slot.is_some() {
        return Err(OtpError::DuplicateParameter(key.to_owned()));
    }
    *slot = Some(value);
    Ok(())
}

/// Splits the label into (issuer prefix, account). Splits on the first literal
/// ':' before decoding, so an encoded ':' inside a part stays part of it; only when
/// there is no literal ':' is an encoded one (`%3A`) taken as the separator, as the
/// format allows either.
fn parse_label(raw: &str) -> Result<(Option<String>, String), OtpError> {
    let split = raw.split_once(':').or_else(|| {
        let lower = raw.to_ascii_lowercase();
        lower.find("%3a").map(|i| (&raw[..i], &raw[i + 3..]))
    });
    let (issuer, account) = match split {
        Some((issuer, account)) => (Some(decode(issuer, false, "label issuer")?), account),
        None => (None, raw),
    };
    let account = decode(account, false, "label account")?;
    // The format allows spaces after the separator ("Issuer: account").
    let account = account.trim_start_matches(' ').to_owned();
    if account.is_empty() {
        return Err(OtpError::MissingAccount);
    }
    Ok((issuer.filter(|i| !i.is_empty()), account))
}

/// Percent-decodes to UTF-8; with `plus_is_space`, '+' means space first.
fn decode(raw: &str, plus_is_space: bool, what: &'static str) -> Result<String, OtpError> {
    let raw: Cow<'_, str> = if plus_is_space && raw.contains('+') {
        Cow::Owned(raw.replace('+', " "))
    } else {
        Cow::Borrowed(raw)
    };
    percent_decode_str(&raw)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| OtpError::InvalidUtf8(what))
}

fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_period(s: &str) -> Result<u32, OtpError> {
    let period = parse_u64(s)
        .and_then(|p| u32::try_from(p).ok())
        .ok_or_else(|| OtpError::InvalidPeriod(format!("{s:?}")))?;
    validate_period(period)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B32: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    fn secret() -> Secret {
        Secret::from_base32(B32).unwrap()
    }

    fn example() -> OtpAuthUri {
        OtpAuthUri {
            kind: OtpKind::Totp { period: 30 },
            issuer: Some("ACME Co".into()),
            account: "john.doe@email.com".into(),
            secret: secret(),
            algorithm: Algorithm::Sha1,
            digits: Digits::default(),
        }
    }

    #[test]
    fn renders_key_uri_format() {
        assert_eq!(
            example().to_uri(),
            format!(
                "otpauth://totp/ACME%20Co:john.doe%40email.com?secret={B32}&issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
            )
        );
        let hotp = OtpAuthUri {
            kind: OtpKind::Hotp { counter: 42 },
            issuer: None,
            algorithm: Algorithm::Sha512,
            digits: Digits::new(8).unwrap(),
            ..example()
        };
        assert_eq!(
            hotp.to_uri(),
            format!(
                "otpauth://hotp/john.doe%40email.com?secret={B32}&algorithm=SHA512&digits=8&counter=42"
            )
        );
    }

    #[test]
    fn parses_google_example() {
        let u = OtpAuthUri::parse(
            "otpauth://totp/Example:alice@google.com?secret=JBSWY3DPEHPK3PXP&issuer=Example",
        )
        .unwrap();
        assert_eq!(u.kind, OtpKind::Totp { period: 30 });
        assert_eq!(u.issuer.as_deref(), Some("Example"));
        assert_eq!(u.account, "alice@google.com");
        assert_eq!(u.secret.to_base32(), "JBSWY3DPEHPK3PXP");
        assert_eq!(u.algorithm, Algorithm::Sha1);
        assert_eq!(u.digits.get(), 6);
    }

    #[test]
    fn parses_variants() {
        // Encoded separator, space after it, no issuer param.
        let u =
            OtpAuthUri::parse(&format!("otpauth://totp/ACME%20Co%3A%20john?secret={B32}")).unwrap();
        assert_eq!(u.issuer.as_deref(), Some("ACME Co"));
        assert_eq!(u.account, "john");
        // Param wins over label prefix.
        let u =
            OtpAuthUri::parse(&format!("otpauth://totp/Old:john?secret={B32}&issuer=New")).unwrap();
        assert_eq!(u.issuer.as_deref(), Some("New"));
        assert_eq!(u.account, "john");
        // Plain account, issuer only as param, '+' as space in params, mixed case everywhere.
        let u = OtpAuthUri::parse(&format!(
            "OTPAUTH://TOTP/john?SECRET={}&Issuer=My+Bank&ALGORITHM=sha256&Digits=8&PERIOD=60&image=https%3A%2F%2Fx",
            B32.to_lowercase()
        ))
        .unwrap();
        assert_eq!(u.issuer.as_deref(), Some("My Bank"));
        assert_eq!(u.account, "john");
        assert_eq!(u.secret, secret());
        assert_eq!(u.algorithm, Algorithm::Sha256);
        assert_eq!(u.digits.get(), 8);
        assert_eq!(u.kind, OtpKind::Totp { period: 60 });
        // HOTP.
        let u = OtpAuthUri::parse(&format!(
            "otpauth://hotp/john?secret={B32}&counter=18446744073709551615"
        ))
        .unwrap();
        assert_eq!(u.kind, OtpKind::Hotp { counter: u64::MAX });
        // Padded secret (encoded '=') and a '+' in the label that stays '+'.
        let u = OtpAuthUri::parse("otpauth://totp/a+b?secret=NBSWY3DPEB3W64TMMQ%3D%3D%3D%3D%3D%3D")
            .unwrap();
        assert_eq!(u.account, "a+b");
        assert_eq!(u.secret.as_bytes(), b"hello world");
        // Empty issuer param falls back to the label prefix.
        let u = OtpAuthUri::parse(&format!("otpauth://totp/X:y?secret={B32}&issuer=")).unwrap();
        assert_eq!(u.issuer.as_deref(), Some("X"));
    }

    #[test]
    fn account_with_colon_and_no_issuer_round_trips() {
        let u = OtpAuthUri {
            issuer: None,
            account: "a:b".into(),
            ..example()
        };
        let s = u.to_uri();
        assert!(s.starts_with("otpauth://totp/:a%3Ab?"), "{s}");
        assert_eq!(OtpAuthUri::parse(&s).unwrap(), u);
    }

    fn err(s: &str) -> OtpError {
        OtpAuthUri::parse(s).unwrap_err()
    }

    #[test]
    fn wrong_scheme() {
        assert!(
            matches!(err(&format!("http://totp/a?secret={B32}")), OtpError::InvalidScheme(ref s) if s == "http")
        );
        assert!(matches!(err("otpauth:totp/a"), OtpError::MalformedUri(_)));
        assert!(matches!(err(""), OtpError::MalformedUri(_)));
        assert_eq!(
            err(&format!("https://totp/a?secret={B32}")).to_string(),
            "URI scheme must be otpauth:// (got \"https\")"
        );
    }

    #[test]
    fn unknown_type() {
        let e = err(&format!("otpauth://motp/a?secret={B32}"));
        assert!(
            matches!(e, OtpError::UnknownOtpType(ref t) if t == "motp"),
            "{e}"
        );
        assert!(e.to_string().contains("\"motp\""));
        assert!(matches!(
            err(&format!("otpauth://totp?secret={B32}")),
            OtpError::MalformedUri(_)
        ));
    }

    #[test]
    fn missing_or_bad_secret() {
        assert!(matches!(err("otpauth://totp/a"), OtpError::MissingSecret));
        assert!(matches!(
            err("otpauth://totp/a?issuer=x"),
            OtpError::MissingSecret
        ));
        assert!(matches!(
            err("otpauth://totp/a?secret="),
            OtpError::MissingSecret
        ));
        assert!(matches!(
            err("otpauth://totp/a?secret=JBSWY3DPEHPK3PX1"),
            OtpError::InvalidBase32Char { ch: '1', .. }
        ));
        assert!(matches!(
            err("otpauth://totp/a?secret=JBSWY3DP"),
            OtpError::SecretTooShort { got: 5, min: 10 }
        ));
    }

    #[test]
    fn secret_never_in_error_messages() {
        let e = err(&format!("otpauth://totp/a?secret={B32}!"));
        assert!(!e.to_string().contains("JBSWY3DP"), "{e}");
        let e = err(&format!("ftp://totp/a?secret={B32}"));
        assert!(!e.to_string().contains("JBSWY3DP"), "{e}");
    }

    #[test]
    fn hotp_needs_counter() {
        assert!(matches!(
            err(&format!("otpauth://hotp/a?secret={B32}")),
            OtpError::MissingCounter
        ));
        for (raw, bad) in [
            ("", ""),
            ("-1", "-1"),
            ("x", "x"),
            ("18446744073709551616", "18446744073709551616"),
            ("%2B1", "+1"),
            ("+1", " 1"),
            ("1.0", "1.0"),
        ] {
            let e = err(&format!("otpauth://hotp/a?secret={B32}&counter={raw}"));
            assert!(
                matches!(e, OtpError::InvalidCounter(ref v) if v == bad),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn bad_algorithm_digits_period() {
        let e = err(&format!("otpauth://totp/a?secret={B32}&algorithm=MD5"));
        assert!(
            matches!(e, OtpError::UnknownAlgorithm(ref a) if a == "MD5"),
            "{e}"
        );
        for bad in ["9", "5", "x", "", "256"] {
            let e = err(&format!("otpauth://totp/a?secret={B32}&digits={bad}"));
            assert!(matches!(e, OtpError::InvalidDigits(_)), "{bad}: {e}");
        }
        for bad in ["0", "3601", "-30", "x", "", "99999999999"] {
            let e = err(&format!("otpauth://totp/a?secret={B32}&period={bad}"));
            assert!(matches!(e, OtpError::InvalidPeriod(_)), "{bad}: {e}");
            assert!(
                e.to_string()
                    .starts_with("period must be between 1 and 3600 seconds")
            );
        }
        // period is irrelevant for hotp and counter for totp.
        assert!(
            OtpAuthUri::parse(&format!("otpauth://hotp/a?secret={B32}&counter=1&period=0")).is_ok()
        );
        assert!(OtpAuthUri::parse(&format!("otpauth://totp/a?secret={B32}&counter=x")).is_ok());
    }

    #[test]
    fn label_and_param_problems() {
        assert!(matches!(
            err(&format!("otpauth://totp/?secret={B32}")),
            OtpError::MissingAccount
        ));
        assert!(matches!(
            err(&format!("otpauth://totp/Issuer:?secret={B32}")),
            OtpError::MissingAccount
        ));
        assert!(matches!(
            err(&format!("otpauth://totp/Issuer:%20?secret={B32}")),
            OtpError::MissingAccount
        ));
        assert!(matches!(
            err(&format!("otpauth://totp/a?secret={B32}&SECRET={B32}")),
            OtpError::DuplicateParameter(ref k) if k == "secret"
        ));
        assert!(matches!(
            err(&format!("otpauth://totp/a?secret={B32}&digits=6&digits=8")),
            OtpError::DuplicateParameter(ref k) if k == "digits"
        ));
        assert!(matches!(
            err(&format!("otpauth://totp/%FF?secret={B32}")),
            OtpError::InvalidUtf8("label account")
        ));
    }
}
