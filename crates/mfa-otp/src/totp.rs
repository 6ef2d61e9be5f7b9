//! RFC 6238 TOTP: HOTP with the counter derived from unix time.
//!
//! Time is always a parameter (unix seconds) so callers inject a clock and tests
//! are deterministic. T0 is fixed at the unix epoch, as every authenticator app assumes.

use crate::hotp::{matches, parse_code};
use crate::{Algorithm, Digits, OtpError, Secret, hotp};

/// Longest accepted period: an hour. Longer makes codes effectively static.
pub const MAX_PERIOD: u32 = 3600;

/// Everything about a TOTP except the secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TotpParams {
    /// HMAC hash.
    pub algorithm: Algorithm,
    /// Code length.
    pub digits: Digits,
    /// Time step in seconds, 1..=3600. The fields are public, so a 0 written
    /// directly is treated as 1 rather than dividing by zero.
    pub period: u32,
}

impl TotpParams {
    /// Validates `period` (1..=3600 seconds); algorithm and digits are valid by type.
    pub fn new(algorithm: Algorithm, digits: Digits, period: u32) -> Result<TotpParams, OtpError> {
        validate_period(period)?;
        Ok(TotpParams {
            algorithm,
            digits,
            period,
        })
    }
}

impl Default for TotpParams {
    /// SHA1, 6 digits, 30 seconds: what authenticator apps assume when unspecified.
    fn default() -> Self {
        TotpParams {
            algorithm: Algorithm::Sha1,
            digits: Digits::default(),
            period: 30,
        }
    }
}

pub(crate) fn validate_period(period: u32) -> Result<u32, OtpError> {
    if (1..=MAX_PERIOD).contains(&period) {
        Ok(period)
    } else {
        Err(OtpError::InvalidPeriod(period.to_string()))
    }
}

/// A TOTP credential.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Totp {
    /// Shared key.
    pub secret: Secret,
    /// Algorithm, digits, period.
    pub params: TotpParams,
}

impl Totp {
    /// Bundles a secret with its parameters.
    pub fn new(secret: Secret, params: TotpParams) -> Totp {
        Totp { secret, params }
    }

    fn period(&self) -> u64 {
        u64::from(self.params.period.max(1))
    }

    /// The time step (HOTP counter) for `unix` seconds: `unix / period`.
    pub fn step(&self, unix: u64) -> u64 {
        unix / self.period()
    }

    /// The code valid at `unix`.
    pub fn code_at(&self, unix: u64) -> String {
        self.code_for_step(self.step(unix))
    }

    /// The code for a given time step.
    pub fn code_for_step(&self, step: u64) -> String {
        hotp(
            &self.secret,
            step,
            self.params.algorithm,
            self.params.digits,
        )
    }

    /// Seconds the code valid at `unix` stays valid, counting `unix` itself: 1..=period.
    pub fn remaining(&self, unix: u64) -> u64 {
        self.period() - unix % self.period()
    }

    /// Checks `code` against steps `step(unix) - skew ..= step(unix) + skew`
    /// (saturating), skipping any step `<= last_used` so a code cannot be replayed.
    /// Returns the lowest matching step; the caller must persist it atomically as
    /// the new `last_used`. Candidates are compared in constant time; input that is
    /// not exactly `digits` ASCII digits returns `None` without any HMAC.
    pub fn verify(&self, code: &str, unix: u64, skew: u32, last_used: Option<u64>) -> Option<u64> {
        let entered = parse_code(code, self.params.digits)?;
        let now = self.step(unix);
        let mut first = now.saturating_sub(u64::from(skew));
        let last = now.saturating_add(u64::from(skew));
        if let Some(used) = last_used {
            // u64::MAX used means nothing later can exist.
            first = first.max(used.checked_add(1)?);
        }
        if first > last {
            return None;
        }
        let TotpParams {
            algorithm, digits, ..
        } = self.params;
        (first..=last).find(|&step| matches(&self.secret, step, algorithm, digits, entered))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(alg: Algorithm) -> Secret {
        // RFC 6238 Appendix B seeds: "1234567890" repeated to the hash length.
        let ascii = b"1234567890".repeat(7);
        Secret::from_bytes(&ascii[..alg.recommended_secret_len()]).unwrap()
    }

    /// RFC 6238 Appendix B, all 18 rows (time, algorithm, 8-digit code).
    const RFC6238: [(u64, Algorithm, &str); 18] = [
        (59, Algorithm::Sha1, "94287082"),
        (59, Algorithm::Sha256, "46119246"),
        (59, Algorithm::Sha512, "90693936"),
        (1111111109, Algorithm::Sha1, "07081804"),
        (1111111109, Algorithm::Sha256, "68084774"),
        (1111111109, Algorithm::Sha512, "25091201"),
        (1111111111, Algorithm::Sha1, "14050471"),
        (1111111111, Algorithm::Sha256, "67062674"),
        (1111111111, Algorithm::Sha512, "99943326"),
        (1234567890, Algorithm::Sha1, "89005924"),
        (1234567890, Algorithm::Sha256, "91819424"),
        (1234567890, Algorithm::Sha512, "93441116"),
        (2000000000, Algorithm::Sha1, "69279037"),
        (2000000000, Algorithm::Sha256, "90698825"),
        (2000000000, Algorithm::Sha512, "38618901"),
        (20000000000, Algorithm::Sha1, "65353130"),
        (20000000000, Algorithm::Sha256, "77737706"),
        (20000000000, Algorithm::Sha512, "47863826"),
    ];

    /// Appendix B also lists T (hex step) for each time.
    const RFC6238_STEPS: [(u64, u64); 6] = [
        (59, 0x1),
        (1111111109, 0x23523EC),
        (1111111111, 0x23523ED),
        (1234567890, 0x273EF07),
        (2000000000, 0x3F940AA),
        (20000000000, 0x27BC86AA),
    ];

    fn rfc_totp(alg: Algorithm) -> Totp {
        Totp::new(
            seed(alg),
            TotpParams::new(alg, Digits::new(8).unwrap(), 30).unwrap(),
        )
    }

    #[test]
    fn rfc6238_appendix_b() {
        for (time, alg, expected) in RFC6238 {
            let totp = rfc_totp(alg);
            assert_eq!(totp.code_at(time), expected, "{alg} at {time}");
            assert_eq!(totp.verify(expected, time, 0, None), Some(totp.step(time)));
        }
    }

    #[test]
    fn rfc6238_steps() {
        let totp = rfc_totp(Algorithm::Sha1);
        for (time, step) in RFC6238_STEPS {
            assert_eq!(totp.step(time), step, "{time}");
        }
    }

    #[test]
    fn params_validation() {
        assert_eq!(
            TotpParams::default(),
            TotpParams::new(Algorithm::Sha1, Digits::default(), 30).unwrap()
        );
        assert!(TotpParams::new(Algorithm::Sha1, Digits::default(), 1).is_ok());
        assert!(TotpParams::new(Algorithm::Sha1, Digits::default(), 3600).is_ok());
        for bad in [0, 3601, u32::MAX] {
            let err = TotpParams::new(Algorithm::Sha1, Digits::default(), bad).unwrap_err();
            assert!(matches!(err, OtpError::InvalidPeriod(ref v) if *v == bad.to_string()));
            assert_eq!(
                err.to_string(),
                format!("period must be between 1 and 3600 seconds (got {bad})")
            );
        }
    }

    #[test]
    fn zero_period_written_directly_does_not_panic() {
        let mut totp = rfc_totp(Algorithm::Sha1);
        totp.params.period = 0;
        assert_eq!(totp.step(100), 100);
        assert_eq!(totp.remaining(100), 1);
    }

    #[test]
    fn remaining_counts_down() {
        let totp = rfc_totp(Algorithm::Sha1);
        assert_eq!(totp.remaining(0), 30);
        assert_eq!(totp.remaining(1), 29);
        assert_eq!(totp.remaining(29), 1);
        assert_eq!(totp.remaining(30), 30);
        assert_eq!(totp.remaining(u64::MAX), 30 - u64::MAX % 30);
    }

    #[test]
    fn verify_window_and_replay() {
        let totp = rfc_totp(Algorithm::Sha1);
        let t = 1111111109; // step 0x23523EC
        let s = totp.step(t);
        let code = totp.code_at(t);
        assert_eq!(totp.verify(&code, t, 0, None), Some(s));
        // One step later: needs skew 1.
        assert_eq!(totp.verify(&code, t + 30, 0, None), None);
        assert_eq!(totp.verify(&code, t + 30, 1, None), Some(s));
        assert_eq!(totp.verify(&code, t - 30, 1, None), Some(s));
        assert_eq!(totp.verify(&code, t + 60, 1, None), None);
        // Replay of the same step, and of an older one.
        assert_eq!(totp.verify(&code, t, 1, Some(s)), None);
        assert_eq!(totp.verify(&code, t, 1, Some(s + 1)), None);
        assert_eq!(totp.verify(&code, t, 1, Some(s - 1)), Some(s));
        // Wrong code.
        let wrong = if code == "00000000" {
            "00000001"
        } else {
            "00000000"
        };
        assert_eq!(totp.verify(wrong, t, 1, None), None);
    }

    #[test]
    fn verify_rejects_malformed() {
        let totp = rfc_totp(Algorithm::Sha1);
        for bad in [
            "",
            "0708180",
            "070818040",
            "0708 1804",
            "0708180x",
            "07081804\n",
        ] {
            assert_eq!(totp.verify(bad, 1111111109, 2, None), None, "{bad:?}");
        }
    }

    #[test]
    fn verify_saturates_at_extremes() {
        let totp = rfc_totp(Algorithm::Sha1);
        // Step 0 with skew: no underflow.
        let code0 = totp.code_for_step(0);
        assert_eq!(totp.verify(&code0, 0, 3, None), Some(0));
        // Last representable step with skew: no overflow.
        let max_step = totp.step(u64::MAX);
        let code_max = totp.code_for_step(max_step);
        assert_eq!(totp.verify(&code_max, u64::MAX, 3, None), Some(max_step));
        assert_eq!(totp.verify(&code_max, u64::MAX, 3, Some(u64::MAX)), None);
        // Period 1: step == unix, so step + skew reaches u64::MAX.
        let mut t1 = totp.clone();
        t1.params.period = 1;
        let c = t1.code_for_step(u64::MAX);
        assert_eq!(
            t1.verify(&c, u64::MAX, u32::MAX, Some(u64::MAX - 1)),
            Some(u64::MAX)
        );
    }
}
