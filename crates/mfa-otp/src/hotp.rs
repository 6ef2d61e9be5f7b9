//! RFC 4226 HOTP: HMAC over a counter, dynamically truncated to a short decimal code.

use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

use crate::{Algorithm, Digits, Secret};

/// The HOTP code for `counter`, zero-padded to `digits` characters (RFC 4226 §5.3).
pub fn hotp(secret: &Secret, counter: u64, algorithm: Algorithm, digits: Digits) -> String {
    match hotp_value(secret, counter, algorithm, digits) {
        Some(value) => format!("{value:0width$}", width = usize::from(digits.get())),
        // Unreachable (HMAC accepts any key length); an empty string never
        // verifies, so failing closed is safe.
        None => String::new(),
    }
}

/// The code as a number below 10^digits; `None` only if HMAC refused the key.
pub(crate) fn hotp_value(
    secret: &Secret,
    counter: u64,
    algorithm: Algorithm,
    digits: Digits,
) -> Option<u32> {
    let key = secret.as_bytes();
    let msg = counter.to_be_bytes();
    let truncated = match algorithm {
        Algorithm::Sha1 => mac_truncated::<Hmac<sha1::Sha1>>(key, &msg),
        Algorithm::Sha256 => mac_truncated::<Hmac<sha2::Sha256>>(key, &msg),
        Algorithm::Sha512 => mac_truncated::<Hmac<sha2::Sha512>>(key, &msg),
    }?;
    Some(truncated % digits.modulus())
}

fn mac_truncated<M: Mac + KeyInit>(key: &[u8], msg: &[u8]) -> Option<u32> {
    // HMAC takes keys of any length (RFC 2104), so this never fails in practice.
    let mut mac = <M as KeyInit>::new_from_slice(key).ok()?;
    mac.update(msg);
    let out = mac.finalize().into_bytes();
    Some(dynamic_truncate(&out))
}

/// RFC 4226 §5.3: offset from the low nibble of the last byte, 31 bits from there.
fn dynamic_truncate(mac: &[u8]) -> u32 {
    let offset = usize::from(mac.last().copied().unwrap_or(0) & 0x0f);
    // Every supported MAC is >= 20 bytes and offset + 4 <= 19, so `get` always succeeds.
    let mut word = [0u8; 4];
    if let Some(bytes) = mac.get(offset..offset + 4) {
        word.copy_from_slice(bytes);
    }
    u32::from_be_bytes(word) & 0x7fff_ffff
}

/// Parses a user-entered code: exactly `digits` ASCII digits, else `None`.
/// Nothing secret is involved yet, so early exit here is fine.
pub(crate) fn parse_code(code: &str, digits: Digits) -> Option<u32> {
    let bytes = code.as_bytes();
    if bytes.len() != usize::from(digits.get()) || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    // At most 8 digits: fits in u32 without overflow.
    Some(
        bytes
            .iter()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0')),
    )
}

/// Constant-time comparison of the expected code with the entered one, so timing
/// does not reveal how many leading digits were right.
pub(crate) fn matches(
    secret: &Secret,
    counter: u64,
    algorithm: Algorithm,
    digits: Digits,
    entered: u32,
) -> bool {
    match hotp_value(secret, counter, algorithm, digits) {
        Some(expected) => expected.ct_eq(&entered).into(),
        None => false,
    }
}

/// An HOTP credential: secret plus the parameters codes are made with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hotp {
    /// Shared key.
    pub secret: Secret,
    /// HMAC hash.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: Digits,
}

impl Hotp {
    /// Bundles a secret with its parameters.
    pub fn new(secret: Secret, algorithm: Algorithm, digits: Digits) -> Hotp {
        Hotp {
            secret,
            algorithm,
            digits,
        }
    }

    /// The code for `counter`.
    pub fn code(&self, counter: u64) -> String {
        hotp(&self.secret, counter, self.algorithm, self.digits)
    }

    /// Checks `code` against counters `counter..=counter + look_ahead` (saturating) and
    /// returns the first that matches. The caller stores `matched + 1` (checked: there
    /// is nothing after `u64::MAX`) as the next
    /// counter; that both prevents replay and resynchronises a token that was
    /// pressed without logging in (RFC 4226 §7.4). Keep `look_ahead` small: each
    /// step costs one HMAC. Malformed input returns `None` without any HMAC.
    pub fn verify(&self, code: &str, counter: u64, look_ahead: u32) -> Option<u64> {
        let entered = parse_code(code, self.digits)?;
        let last = counter.saturating_add(u64::from(look_ahead));
        (counter..=last).find(|&c| matches(&self.secret, c, self.algorithm, self.digits, entered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rfc_secret() -> Secret {
        Secret::from_bytes(b"12345678901234567890").unwrap()
    }

    /// RFC 4226 Appendix D: all ten codes.
    const RFC4226: [&str; 10] = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];

    /// RFC 4226 Appendix D intermediate values: truncated 31-bit integers.
    const RFC4226_TRUNCATED: [u32; 10] = [
        1284755224, 1094287082, 137359152, 1726969429, 1640338314, 868254676, 1918287922, 82162583,
        673399871, 645520489,
    ];

    #[test]
    fn rfc4226_appendix_d() {
        let secret = rfc_secret();
        for (counter, expected) in RFC4226.iter().enumerate() {
            let counter = counter as u64;
            assert_eq!(
                hotp(&secret, counter, Algorithm::Sha1, Digits::default()),
                *expected,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc4226_truncated_values() {
        let secret = rfc_secret();
        for (counter, expected) in RFC4226_TRUNCATED.iter().enumerate() {
            let got = mac_truncated::<Hmac<sha1::Sha1>>(
                secret.as_bytes(),
                &(counter as u64).to_be_bytes(),
            );
            assert_eq!(got, Some(*expected), "counter {counter}");
        }
    }

    #[test]
    fn rfc4226_dynamic_truncation_example() {
        // RFC 4226 §5.4 worked example.
        let mac = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19,
            0xda, 0x8e, 0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(dynamic_truncate(&mac), 0x50ef7f19);
        assert_eq!(0x50ef7f19 % 1_000_000, 872921);
    }

    #[test]
    fn other_lengths_use_same_truncation() {
        // Same truncated integers as Appendix D, reduced mod 10^7 and 10^8.
        let secret = rfc_secret();
        for (counter, truncated) in RFC4226_TRUNCATED.iter().enumerate() {
            let counter = counter as u64;
            for n in [7u8, 8] {
                let expected = format!(
                    "{:0w$}",
                    truncated % 10u32.pow(u32::from(n)),
                    w = usize::from(n)
                );
                assert_eq!(
                    hotp(&secret, counter, Algorithm::Sha1, Digits::new(n).unwrap()),
                    expected
                );
            }
        }
    }

    #[test]
    fn format_pads_with_zeros() {
        // Search a few counters for a value < 10^5 and check the string keeps 6 chars.
        let secret = rfc_secret();
        let digits = Digits::default();
        let found = (0..100_000u64)
            .find(|&c| hotp_value(&secret, c, Algorithm::Sha1, digits).unwrap() < 100_000)
            .unwrap();
        let code = hotp(&secret, found, Algorithm::Sha1, digits);
        assert_eq!(code.len(), 6);
        assert!(code.starts_with('0'), "{code}");
        // And it verifies as entered, leading zero included.
        let h = Hotp::new(secret, Algorithm::Sha1, digits);
        assert_eq!(h.verify(&code, found, 0), Some(found));
        assert_eq!(h.verify(&code[1..], found, 0), None);
    }

    #[test]
    fn verify_counter_and_look_ahead() {
        let h = Hotp::new(rfc_secret(), Algorithm::Sha1, Digits::default());
        assert_eq!(h.code(3), "969429");
        assert_eq!(h.verify("969429", 3, 0), Some(3));
        assert_eq!(h.verify("969429", 0, 3), Some(3));
        assert_eq!(h.verify("969429", 0, 2), None);
        // Replay: after using counter 3 the caller stores 4.
        assert_eq!(h.verify("969429", 4, 10), None);
    }

    #[test]
    fn verify_rejects_malformed_codes() {
        let h = Hotp::new(rfc_secret(), Algorithm::Sha1, Digits::default());
        for bad in [
            "",
            "75522",
            "7552240",
            " 755224",
            "755224 ",
            "75522a",
            "７５５２２４",
            "+55224",
            "-55224",
        ] {
            assert_eq!(h.verify(bad, 0, 5), None, "{bad:?}");
        }
        let h8 = Hotp::new(rfc_secret(), Algorithm::Sha1, Digits::new(8).unwrap());
        assert_eq!(h8.verify("755224", 0, 0), None);
        assert_eq!(h8.verify("84755224", 0, 0), Some(0));
    }

    #[test]
    fn verify_saturates_at_counter_max() {
        let h = Hotp::new(rfc_secret(), Algorithm::Sha1, Digits::default());
        let code = h.code(u64::MAX);
        assert_eq!(h.verify(&code, u64::MAX - 1, u32::MAX), Some(u64::MAX));
        assert_eq!(h.verify(&code, u64::MAX, 0), Some(u64::MAX));
    }

    #[test]
    fn parse_code_values() {
        let d6 = Digits::default();
        assert_eq!(parse_code("000000", d6), Some(0));
        assert_eq!(parse_code("999999", d6), Some(999_999));
        assert_eq!(
            parse_code("99999999", Digits::new(8).unwrap()),
            Some(99_999_999)
        );
        assert_eq!(parse_code("99999", d6), None);
    }
}
