//! HMAC algorithm choice and code length: the two knobs every OTP shares.

use std::fmt;
use std::str::FromStr;

use crate::OtpError;

/// Hash function used inside HMAC (RFC 6238 §1.2 allows SHA-1, SHA-256, SHA-512).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA-1: the RFC 4226 original and what nearly every authenticator app supports.
    #[default]
    Sha1,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-512.
    Sha512,
}

impl Algorithm {
    /// All supported algorithms, in the order they are usually listed.
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

    /// Canonical name as used in otpauth URIs ("SHA1", "SHA256", "SHA512").
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Recommended secret length in bytes: the hash output size (RFC 6238 Appendix B seeds,
    /// RFC 4226 §4 R6 asks for at least 160 bits).
    pub const fn recommended_secret_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Algorithm {
    /// What [`Algorithm::from_str`] accepts, as a regular expression (for the OpenAPI document;
    /// mfa-server's tests check the two agree): SHA1, SHA256 or SHA512 in any case, with any
    /// `-` and `_` in between.
    pub const REGEX: &'static str =
        "^[-_]*[Ss][-_]*[Hh][-_]*[Aa][-_]*(1|2[-_]*5[-_]*6|5[-_]*1[-_]*2)[-_]*$";
}

impl FromStr for Algorithm {
    type Err = OtpError;

    /// Case-insensitive; accepts "SHA1", "sha1", "SHA-1", "sha_256", ... because
    /// providers spell it every way.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normalized: String = s
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        match normalized.as_str() {
            "SHA1" => Ok(Algorithm::Sha1),
            "SHA256" => Ok(Algorithm::Sha256),
            "SHA512" => Ok(Algorithm::Sha512),
            _ => Err(OtpError::UnknownAlgorithm(s.to_owned())),
        }
    }
}

/// Number of decimal digits in a code. Only 6, 7 and 8 are allowed: fewer is too
/// guessable (RFC 4226 §5.3 requires at least 6) and 31-bit truncation cannot fill more
/// than about 9, while apps only display up to 8.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digits(u8);

impl Digits {
    /// Smallest accepted value.
    pub const MIN: u8 = 6;
    /// Largest accepted value.
    pub const MAX: u8 = 8;

    /// Validates `n` is 6, 7 or 8.
    pub fn new(n: u8) -> Result<Digits, OtpError> {
        if (Self::MIN..=Self::MAX).contains(&n) {
            Ok(Digits(n))
        } else {
            Err(OtpError::InvalidDigits(n.to_string()))
        }
    }

    /// The number of digits.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// 10^digits, the modulus applied after dynamic truncation.
    pub(crate) const fn modulus(self) -> u32 {
        10u32.pow(self.0 as u32)
    }
}

impl Default for Digits {
    /// 6 digits: the universal default of authenticator apps.
    fn default() -> Self {
        Digits(6)
    }
}

impl TryFrom<u8> for Digits {
    type Error = OtpError;

    fn try_from(n: u8) -> Result<Self, Self::Error> {
        Digits::new(n)
    }
}

impl From<Digits> for u8 {
    fn from(d: Digits) -> u8 {
        d.0
    }
}

impl fmt::Display for Digits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Digits {
    type Err = OtpError;

    /// Plain ASCII decimal only (no sign, no whitespace), then the 6..=8 check.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || OtpError::InvalidDigits(format!("{s:?}"));
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match s.parse::<u8>() {
            Ok(n) => Digits::new(n),
            Err(_) => Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_display_and_parse() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.to_string().parse::<Algorithm>().unwrap(), alg);
        }
        assert_eq!(Algorithm::default(), Algorithm::Sha1);
        assert_eq!(Algorithm::Sha256.to_string(), "SHA256");
        for s in ["sha1", "SHA-1", "Sha1", "sha_1"] {
            assert_eq!(s.parse::<Algorithm>().unwrap(), Algorithm::Sha1, "{s}");
        }
        assert_eq!("sha-512".parse::<Algorithm>().unwrap(), Algorithm::Sha512);
        assert_eq!("Sha256".parse::<Algorithm>().unwrap(), Algorithm::Sha256);
    }

    #[test]
    fn bad_algorithm_names_value_and_lists_valid() {
        for s in ["MD5", "", "SHA3", "SHA-384", "sha 1"] {
            let err = s.parse::<Algorithm>().unwrap_err();
            assert!(
                matches!(err, OtpError::UnknownAlgorithm(ref v) if v == s),
                "{s}"
            );
            let msg = err.to_string();
            assert!(msg.contains(&format!("{s:?}")), "{msg}");
            assert!(msg.contains("SHA1") && msg.contains("SHA256") && msg.contains("SHA512"));
        }
    }

    #[test]
    fn digits_range() {
        assert_eq!(Digits::default().get(), 6);
        for n in 6..=8 {
            assert_eq!(Digits::new(n).unwrap().get(), n);
        }
        for n in [0, 1, 5, 9, 10, 255] {
            let err = Digits::new(n).unwrap_err();
            assert!(matches!(err, OtpError::InvalidDigits(_)));
            assert_eq!(
                err.to_string(),
                format!("digits must be 6, 7 or 8 (got {n})")
            );
        }
        assert!(Digits::try_from(9).is_err());
        assert_eq!(Digits::new(8).unwrap().modulus(), 100_000_000);
    }

    #[test]
    fn digits_from_str() {
        assert_eq!("7".parse::<Digits>().unwrap().get(), 7);
        for s in ["", "+6", " 6", "six", "300", "9", "-6", "6.0"] {
            assert!(
                matches!(s.parse::<Digits>(), Err(OtpError::InvalidDigits(_))),
                "{s:?}"
            );
        }
    }
}
