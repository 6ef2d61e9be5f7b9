//! Property tests over the public API: verification windows, replay protection,
//! HOTP resynchronisation and otpauth URI round trips.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns; a failure here is a test failure"
)]

use mfa_otp::{Algorithm, Digits, Hotp, OtpAuthUri, OtpKind, Secret, Totp, TotpParams};
use proptest::prelude::*;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop::sample::select(Algorithm::ALL.to_vec())
}

fn digits() -> impl Strategy<Value = Digits> {
    (6u8..=8).prop_map(|n| Digits::new(n).unwrap())
}

fn secret() -> impl Strategy<Value = Secret> {
    prop::collection::vec(any::<u8>(), 10..80).prop_map(|b| Secret::from_bytes(&b).unwrap())
}

fn totp() -> impl Strategy<Value = Totp> {
    (secret(), algorithm(), digits(), 1u32..=3600).prop_map(|(secret, alg, digits, period)| {
        Totp::new(secret, TotpParams::new(alg, digits, period).unwrap())
    })
}

/// Start times far enough from 0 and u64::MAX that step offsets never wrap.
fn time() -> impl Strategy<Value = u64> {
    prop_oneof![1_000_000u64..4_000_000_000, 1_000_000u64..(u64::MAX / 4),]
}

/// True if `m` is a legitimate answer other than the expected one: a different
/// step in `lo..=hi` whose code happens to be the same (probability ~10^-digits).
fn is_collision(t: &Totp, m: u64, lo: u64, hi: u64, code: &str) -> bool {
    (lo..=hi).contains(&m) && t.code_for_step(m) == code
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn code_shape(t in totp(), unix in any::<u64>()) {
        let code = t.code_at(unix);
        prop_assert_eq!(code.len(), usize::from(t.params.digits.get()));
        prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
        prop_assert_eq!(&code, &t.code_for_step(t.step(unix)));
        let rem = t.remaining(unix);
        prop_assert!(rem >= 1 && rem <= u64::from(t.params.period));
        // The code is the same for the rest of its window and the step changes right after.
        if let Some(end) = unix.checked_add(rem - 1) {
            prop_assert_eq!(t.step(end), t.step(unix));
        }
        if let Some(next) = unix.checked_add(rem) {
            prop_assert_eq!(t.step(next), t.step(unix) + 1);
        }
    }

    #[test]
    fn totp_window(
        t in totp(),
        start in time(),
        skew in 0u32..=3,
        delta in -6i64..=6,
        offset_frac in 0.0f64..1.0,
    ) {
        let period = u64::from(t.params.period);
        let made = t.step(start);
        let code = t.code_at(start);
        // A verification time whose step is `made + delta`, anywhere inside that step.
        let vstep = made.checked_add_signed(delta).unwrap();
        let offset = ((period as f64) * offset_frac) as u64 % period;
        let vtime = vstep * period + offset;
        prop_assert_eq!(t.step(vtime), vstep);

        let lo = vstep - u64::from(skew);
        let hi = vstep + u64::from(skew);
        let result = t.verify(&code, vtime, skew, None);
        if delta.unsigned_abs() <= u64::from(skew) {
            let m = result.expect("code must verify inside the skew window");
            // Normally `made`; an earlier colliding step is the only other legal answer.
            prop_assert!(m == made || (m < made && is_collision(&t, m, lo, hi, &code)), "m={m} made={made}");
        } else if let Some(m) = result {
            prop_assert!(is_collision(&t, m, lo, hi, &code), "accepted outside window: m={m} made={made}");
        }
    }

    #[test]
    fn totp_replay_rejected(t in totp(), start in time(), skew in 0u32..=3) {
        let code = t.code_at(start);
        let m = t.verify(&code, start, skew, None).expect("fresh code verifies");
        let again = t.verify(&code, start, skew, Some(m));
        if let Some(m2) = again {
            // Only a later step with an identical code may match.
            prop_assert!(m2 > m);
            prop_assert_eq!(t.code_for_step(m2), code.clone());
        }
        // Anything already used up to and including the current step blocks it too.
        let s = t.step(start);
        let later = t.verify(&code, start, skew, Some(s + u64::from(skew)));
        prop_assert_eq!(later, None);
    }

    #[test]
    fn totp_wrong_length_rejected(t in totp(), start in time(), cut in 1usize..3) {
        let code = t.code_at(start);
        prop_assert_eq!(t.verify(&code[cut..], start, 1, None), None);
        let longer = format!("{code}0");
        prop_assert_eq!(t.verify(&longer, start, 1, None), None);
    }

    #[test]
    fn hotp_look_ahead_resync(
        secret in secret(),
        alg in algorithm(),
        digits in digits(),
        counter in 0u64..(u64::MAX / 2),
        look_ahead in 0u32..20,
        ahead in 0u64..25,
    ) {
        let h = Hotp::new(secret, alg, digits);
        let pressed = counter + ahead;
        let code = h.code(pressed);
        let result = h.verify(&code, counter, look_ahead);
        let hi = counter + u64::from(look_ahead);
        let legal = |m: u64| (counter..=hi).contains(&m) && h.code(m) == code;
        if ahead <= u64::from(look_ahead) {
            let m = result.expect("code within look-ahead must verify");
            prop_assert!(m == pressed || (m < pressed && legal(m)));
            // Resynchronised: the caller stores m + 1 and the next press verifies with no look-ahead.
            let next = h.code(m + 1);
            prop_assert_eq!(h.verify(&next, m + 1, 0), Some(m + 1));
            // And the used code is not accepted again from the new counter (unless it collides).
            if let Some(r) = h.verify(&code, m + 1, look_ahead) {
                prop_assert!(r > m && h.code(r) == code);
            }
        } else if let Some(m) = result {
            prop_assert!(legal(m), "accepted beyond look-ahead: {m}");
        }
    }

    #[test]
    fn base32_round_trip(bytes in prop::collection::vec(any::<u8>(), 10..100), lower in any::<bool>(), group in 0usize..8) {
        let s = Secret::from_bytes(&bytes).unwrap();
        let mut b32 = s.to_base32();
        prop_assert!(!b32.contains('='));
        if lower {
            b32 = b32.to_lowercase();
        }
        if group > 0 {
            // Insert spaces every `group` chars, as apps display secrets.
            b32 = b32
                .chars()
                .collect::<Vec<_>>()
                .chunks(group)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join(" ");
        }
        let back = Secret::from_base32(&b32).unwrap();
        prop_assert_eq!(back.as_bytes(), &bytes[..]);
    }
}

fn issuer() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        "\\PC{1,20}",
        "[a-zA-Z0-9 :@%+&=?#/.~_-]{1,20}",
        Just("ACME Co: Ünïcødé 🔐".to_owned()),
    ])
}

/// Accounts never start with a space: the label format treats leading spaces as
/// padding after the "Issuer:" separator.
fn account() -> impl Strategy<Value = String> {
    prop_oneof![
        "[^ \\pC]\\PC{0,30}",
        "[a-zA-Z0-9:@%+&=?#/.~_-][a-zA-Z0-9 :@%+&=?#/.~_-]{0,20}",
        Just("alice@example.com".to_owned()),
    ]
}

fn kind() -> impl Strategy<Value = OtpKind> {
    prop_oneof![
        (1u32..=3600).prop_map(|period| OtpKind::Totp { period }),
        any::<u64>().prop_map(|counter| OtpKind::Hotp { counter }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn uri_round_trip(
        kind in kind(),
        issuer in issuer(),
        account in account(),
        secret in secret(),
        algorithm in algorithm(),
        digits in digits(),
    ) {
        let uri = OtpAuthUri { kind, issuer, account, secret, algorithm, digits };
        let text = uri.to_uri();
        prop_assert!(text.is_ascii(), "{}", text);
        prop_assert!(!text.contains(' '), "{}", text);
        let parsed = OtpAuthUri::parse(&text).unwrap();
        prop_assert_eq!(&parsed.kind, &uri.kind);
        prop_assert_eq!(&parsed.issuer, &uri.issuer);
        prop_assert_eq!(&parsed.account, &uri.account);
        prop_assert_eq!(parsed.secret.as_bytes(), uri.secret.as_bytes());
        prop_assert_eq!(parsed.algorithm, uri.algorithm);
        prop_assert_eq!(parsed.digits, uri.digits);
        prop_assert_eq!(parsed.to_uri(), text);
    }
}
