//! Codes as typed (TOTP and HOTP verification: the server API, the OTP service, the vault).
//!
//! An accepted code is exactly `digits` ASCII digits, is the code of the step (counter) it was
//! accepted for, and that step lies in the window and after `last_used`; the right code in the
//! window is always accepted, at its lowest step.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_otp::{Algorithm, Digits, Hotp, Secret, Totp, TotpParams};

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let mut key: Vec<u8> = u.arbitrary()?;
    key.truncate(64);
    if key.is_empty() {
        key.push(1);
    }
    let secret = Secret::from_bytes(&key).unwrap_or_else(|e| panic!("{e}"));
    let algorithm = *u.choose(&Algorithm::ALL)?;
    let digits =
        Digits::new(u.int_in_range(Digits::MIN..=Digits::MAX)?).unwrap_or_else(|e| panic!("{e}"));
    if u.arbitrary()? {
        totp(u, secret, algorithm, digits)
    } else {
        hotp(u, secret, algorithm, digits)
    }
}

/// The typed code: the right one for `offset` steps away, a near miss of it, or anything.
fn typed(u: &mut Unstructured<'_>, right: impl Fn(i8) -> String) -> Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => right(u.int_in_range(-3..=3)?),
        1 => {
            let code = right(0);
            let extra: String = u.arbitrary()?;
            match u.int_in_range(0..=2)? {
                0 => format!("{code}{extra}"),
                1 => format!("{extra}{code}"),
                _ => code.replacen(|c: char| c.is_ascii_digit(), &extra, 1),
            }
        }
        _ => u.arbitrary()?,
    })
}

fn assert_code_shape(code: &str, digits: Digits) {
    assert_eq!(code.len(), usize::from(digits.get()), "{code:?}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code:?}");
}

fn totp(
    u: &mut Unstructured<'_>,
    secret: Secret,
    algorithm: Algorithm,
    digits: Digits,
) -> Result<()> {
    let period = u.int_in_range(1..=mfa_otp::MAX_PERIOD)?;
    let params = TotpParams::new(algorithm, digits, period).unwrap_or_else(|e| panic!("{e}"));
    let totp = Totp::new(secret, params);
    let unix: u64 = u.arbitrary()?;
    let skew = u.int_in_range(0..=3)?;
    let last_used: Option<u64> = u.arbitrary()?;
    let now = totp.step(unix);
    let code = typed(u, |offset| {
        totp.code_for_step(now.saturating_add_signed(i64::from(offset)))
    })?;
    let first = now.saturating_sub(u64::from(skew));
    let last = now.saturating_add(u64::from(skew));
    let fresh = |step: u64| last_used.is_none_or(|used| step > used);
    let lowest_right = (first..=last).find(|&s| fresh(s) && totp.code_for_step(s) == code);
    match totp.verify(&code, unix, skew, last_used) {
        Some(step) => {
            assert_code_shape(&code, digits);
            assert!((first..=last).contains(&step) && fresh(step), "step {step}");
            assert_eq!(totp.code_for_step(step), code);
            assert_eq!(Some(step), lowest_right);
        }
        None => assert_eq!(lowest_right, None, "the right code {code:?} was refused"),
    }
    Ok(())
}

fn hotp(
    u: &mut Unstructured<'_>,
    secret: Secret,
    algorithm: Algorithm,
    digits: Digits,
) -> Result<()> {
    let hotp = Hotp::new(secret, algorithm, digits);
    let counter: u64 = u.arbitrary()?;
    let look_ahead = u.int_in_range(0..=5)?;
    let code = typed(u, |offset| {
        hotp.code(counter.saturating_add_signed(i64::from(offset)))
    })?;
    let last = counter.saturating_add(u64::from(look_ahead));
    let lowest_right = (counter..=last).find(|&c| hotp.code(c) == code);
    match hotp.verify(&code, counter, look_ahead) {
        Some(matched) => {
            assert_code_shape(&code, digits);
            assert!((counter..=last).contains(&matched));
            assert_eq!(Some(matched), lowest_right);
        }
        None => assert_eq!(lowest_right, None, "the right code {code:?} was refused"),
    }
    Ok(())
}
