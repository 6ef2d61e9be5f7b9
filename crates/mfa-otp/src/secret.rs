//! The shared HMAC key. Kept in one type so it is zeroised on drop and never
//! printed by accident.

use std::fmt;

use data_encoding::{BASE32_NOPAD, Encoding};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Algorithm, OtpError};

/// Secrets we generate are at least 160 bits (RFC 4226 §4, requirement R6).
pub const MIN_GENERATED_LEN: usize = 20;

/// Imported secrets may be 80 bits: some providers still hand those out and we
/// must be able to enrol them.
pub const MIN_IMPORTED_BASE32_LEN: usize = 10;

/// An OTP shared secret (raw key bytes).
///
/// Zeroised when dropped; `Debug` prints `Secret(..)`; equality is constant-time.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Secret {
    bytes: Vec<u8>,
}

impl Secret {
    /// What [`Secret::from_base32`] accepts, as a regular expression (for the OpenAPI
    /// document; mfa-server's tests check the two agree): base32 symbols, any case, with spaces
    /// and dashes anywhere, at least 16 of them ([`MIN_IMPORTED_BASE32_LEN`] bytes), never 1, 3
    /// or 6 more than a multiple of 8, then optional `=` padding.
    pub const BASE32_REGEX: &'static str = "^[ -]*(?:(?:[A-Za-z2-7][ -]*){8}){2,}(?:(?:[A-Za-z2-7][ -]*){2}|(?:[A-Za-z2-7][ -]*){4}|(?:[A-Za-z2-7][ -]*){5}|(?:[A-Za-z2-7][ -]*){7})?[ =-]*$";

    /// `len` random bytes from the OS CSPRNG. `len` must be at least 20.
    pub fn generate(len: usize) -> Result<Secret, OtpError> {
        if len < MIN_GENERATED_LEN {
            return Err(OtpError::SecretTooShort {
                got: len,
                min: MIN_GENERATED_LEN,
            });
        }
        let mut bytes = vec![0u8; len];
        // On error the buffer is still all zeros, so there is nothing to wipe.
        getrandom::fill(&mut bytes).map_err(OtpError::Random)?;
        Ok(Secret { bytes })
    }

    /// A random secret as long as the algorithm's hash output (20, 32 or 64 bytes).
    pub fn generate_for(algorithm: Algorithm) -> Result<Secret, OtpError> {
        Secret::generate(algorithm.recommended_secret_len())
    }

    /// Copies raw key bytes. Any non-empty length is accepted (HMAC takes any key
    /// length); length policy for user-supplied keys is the caller's.
    pub fn from_bytes(bytes: &[u8]) -> Result<Secret, OtpError> {
        if bytes.is_empty() {
            return Err(OtpError::EmptySecret);
        }
        Ok(Secret {
            bytes: bytes.to_vec(),
        })
    }

    /// Decodes RFC 4648 base32 as shown to users: case-insensitive, spaces and
    /// '-' ignored (grouping), '=' padding optional. Must decode to at least 10 bytes.
    pub fn from_base32(s: &str) -> Result<Secret, OtpError> {
        // The cleaned copy is as sensitive as the secret itself.
        let mut symbols = Zeroizing::new(String::with_capacity(s.len()));
        let mut padding_seen = false;
        for (position, ch) in s.chars().enumerate() {
            match ch {
                ' ' | '-' => {}
                '=' => padding_seen = true,
                'a'..='z' | 'A'..='Z' | '2'..='7' if !padding_seen => {
                    symbols.push(ch.to_ascii_uppercase());
                }
                'a'..='z' | 'A'..='Z' | '2'..='7' => return Err(OtpError::MisplacedBase32Padding),
                _ => return Err(OtpError::InvalidBase32Char { ch, position }),
            }
        }
        let bytes = lenient_base32()
            .decode(symbols.as_bytes())
            // The alphabet was checked above, so the only remaining failure is a
            // length of 1, 3 or 6 symbols mod 8, which cannot encode whole bytes.
            .map_err(|_| OtpError::InvalidBase32Length(symbols.len()))?;
        let secret = Secret { bytes };
        if secret.bytes.len() < MIN_IMPORTED_BASE32_LEN {
            return Err(OtpError::SecretTooShort {
                got: secret.bytes.len(),
                min: MIN_IMPORTED_BASE32_LEN,
            });
        }
        Ok(secret)
    }

    /// Uppercase RFC 4648 base32 without padding (what authenticator apps expect).
    pub fn to_base32(&self) -> String {
        BASE32_NOPAD.encode(&self.bytes)
    }

    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Always false for a constructed secret (constructors reject empty keys);
    /// provided because `len` is.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }
}

/// Base32 that ignores non-zero trailing bits, like Google Authenticator: some
/// providers' secrets have them and refusing would block enrolment.
fn lenient_base32() -> Encoding {
    let mut spec = BASE32_NOPAD.specification();
    spec.check_trailing_bits = false;
    // Only fails for inconsistent specifications, and this one is a copy of a
    // valid built-in with one flag relaxed; fall back to the strict built-in.
    spec.encoding().unwrap_or_else(|_| BASE32_NOPAD.clone())
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl PartialEq for Secret {
    /// Constant-time, so comparing a stored secret cannot leak it via timing.
    fn eq(&self, other: &Self) -> bool {
        self.bytes.ct_eq(&other.bytes).into()
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_lengths() {
        assert_eq!(Secret::generate(20).unwrap().len(), 20);
        assert_eq!(Secret::generate(100).unwrap().len(), 100);
        assert_eq!(Secret::generate_for(Algorithm::Sha1).unwrap().len(), 20);
        assert_eq!(Secret::generate_for(Algorithm::Sha256).unwrap().len(), 32);
        assert_eq!(Secret::generate_for(Algorithm::Sha512).unwrap().len(), 64);
    }

    #[test]
    fn generate_is_random() {
        let a = Secret::generate(32).unwrap();
        let b = Secret::generate(32).unwrap();
        assert_ne!(a, b);
        assert_ne!(a.as_bytes(), &[0u8; 32]);
    }

    #[test]
    fn generate_rejects_short() {
        for len in [0, 1, 10, 19] {
            let err = Secret::generate(len).unwrap_err();
            assert!(
                matches!(err, OtpError::SecretTooShort { got, min: 20 } if got == len),
                "{err}"
            );
        }
        assert_eq!(
            Secret::generate(16).unwrap_err().to_string(),
            "secret is too short: 16 bytes (128 bits), need at least 20 bytes"
        );
    }

    #[test]
    fn from_bytes_rejects_empty() {
        assert!(matches!(
            Secret::from_bytes(&[]),
            Err(OtpError::EmptySecret)
        ));
        assert_eq!(Secret::from_bytes(&[7]).unwrap().as_bytes(), &[7]);
    }

    #[test]
    fn base32_rfc4648_and_forms() {
        // "12345678901234567890" is the RFC 4226 seed.
        let canonical = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
        let s = Secret::from_base32(canonical).unwrap();
        assert_eq!(s.as_bytes(), b"12345678901234567890");
        assert_eq!(s.to_base32(), canonical);
        for form in [
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq",
            "GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ",
            "gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq",
            " GeZdGnBvGy3TqOjQgEzDgNbVgY3tQoJq ",
        ] {
            assert_eq!(Secret::from_base32(form).unwrap(), s, "{form}");
        }
        // 11 bytes needs padding: both padded and unpadded forms decode.
        let eleven = Secret::from_bytes(b"hello world").unwrap();
        let b32 = eleven.to_base32();
        assert_eq!(b32, "NBSWY3DPEB3W64TMMQ");
        assert_eq!(Secret::from_base32(&b32).unwrap(), eleven);
        assert_eq!(
            Secret::from_base32("NBSWY3DPEB3W64TMMQ======").unwrap(),
            eleven
        );
    }

    #[test]
    fn base32_ignores_nonzero_trailing_bits() {
        // 'R' instead of 'Q' sets a trailing bit beyond the last byte.
        assert_eq!(
            Secret::from_base32("NBSWY3DPEB3W64TMMR")
                .unwrap()
                .as_bytes(),
            b"hello world"
        );
    }

    #[test]
    fn base32_rejects_invalid_chars() {
        for (input, bad, pos) in [
            ("GEZDGNBVGY3TQOJ1", '1', 15),
            ("GEZDGNBVGY3TQOJ0", '0', 15),
            ("GEZDGNBV8Y3TQOJQ", '8', 8),
            ("GEZDGNBV_Y3TQOJQ", '_', 8),
            ("GEZDGNBVGY3TQOJQé", 'é', 16),
        ] {
            let err = Secret::from_base32(input).unwrap_err();
            assert!(
                matches!(err, OtpError::InvalidBase32Char { ch, position } if ch == bad && position == pos),
                "{input}: {err}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
        }
        assert!(matches!(
            Secret::from_base32("GEZDGNBV=GY3TQOJQ"),
            Err(OtpError::MisplacedBase32Padding)
        ));
    }

    #[test]
    fn base32_rejects_bad_length() {
        // 17, 19 and 22 symbols (1, 3, 6 mod 8) cannot encode whole bytes.
        for input in [
            "GEZDGNBVGY3TQOJQG",
            "GEZDGNBVGY3TQOJQGEZ",
            "GEZDGNBVGY3TQOJQGEZDGN",
        ] {
            let err = Secret::from_base32(input).unwrap_err();
            assert!(
                matches!(err, OtpError::InvalidBase32Length(n) if n == input.len()),
                "{err}"
            );
            assert!(!err.to_string().contains("GEZD"), "{err}");
        }
    }

    #[test]
    fn base32_rejects_short_secret() {
        // 15 symbols = 9 bytes = 72 bits < 80.
        let err = Secret::from_base32("GEZDGNBVGY3TQOA").unwrap_err();
        assert!(
            matches!(err, OtpError::SecretTooShort { got: 9, min: 10 }),
            "{err}"
        );
        assert!(matches!(
            Secret::from_base32("").unwrap_err(),
            OtpError::SecretTooShort { got: 0, .. }
        ));
        // Exactly 80 bits is accepted.
        assert_eq!(Secret::from_base32("GEZDGNBVGY3TQOJQ").unwrap().len(), 10);
    }

    #[test]
    fn debug_hides_bytes() {
        let s = Secret::from_bytes(b"supersecretvalue!!!!").unwrap();
        assert_eq!(format!("{s:?}"), "Secret(..)");
        assert_eq!(format!("{s:#?}"), "Secret(..)");
    }

    #[test]
    fn zeroize_wipes() {
        let mut s = Secret::from_bytes(b"12345678901234567890").unwrap();
        s.zeroize();
        assert!(s.is_empty());
    }
}
