//! Interoperability with OATH Toolkit's `oathtool` (Debian package `oathtool`):
//! codes it makes must verify here, ours must equal its output, and it must
//! accept ours. Fails (never skips) when the tool is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] fns; a failure here is a test failure"
)]

use std::io::ErrorKind;
use std::process::{Command, Output};

use mfa_otp::{Algorithm, Digits, Hotp, Secret, Totp, TotpParams};

const MISSING: &str =
    "oathtool not found: run scripts/test.sh (it installs it) or apt-get install oathtool";

fn run(args: &[String]) -> Output {
    match Command::new("oathtool").args(args).output() {
        Ok(out) => out,
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("{MISSING}"),
        Err(e) => panic!("running oathtool {args:?}: {e}"),
    }
}

/// Runs oathtool expecting success and one code on stdout.
fn oathtool(args: &[String]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "oathtool {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_digit()),
        "oathtool {args:?} printed {code:?}"
    );
    code
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn mode(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::Sha1 => "sha1",
        Algorithm::Sha256 => "sha256",
        Algorithm::Sha512 => "sha512",
    }
}

/// Fixed secrets (the RFC 6238 seeds, an odd length, an 80-bit one) plus fresh
/// random ones per algorithm, so the tests are not only about known vectors.
fn secrets() -> Vec<Secret> {
    let seed = b"1234567890".repeat(7);
    let mut v = vec![
        Secret::from_bytes(&seed[..20]).unwrap(),
        Secret::from_bytes(&seed[..32]).unwrap(),
        Secret::from_bytes(&seed[..64]).unwrap(),
        Secret::from_base32("JBSWY3DPEHPK3PXP").unwrap(),
        Secret::from_bytes(b"an odd-length key, 27 bytes").unwrap(),
    ];
    for alg in Algorithm::ALL {
        v.push(Secret::generate_for(alg).unwrap());
    }
    v
}

const TIMES: [u64; 8] = [
    0,
    59,
    1_111_111_109,
    1_234_567_890,
    1_700_000_015,
    2_000_000_000,
    4_102_444_799,
    20_000_000_000,
];

#[test]
fn oathtool_is_installed() {
    let out = run(&["--version".to_owned()]);
    assert!(out.status.success(), "{MISSING}");
}

#[test]
fn totp_matches_oathtool() {
    let secrets = secrets();
    let mut checked = 0;
    for secret in &secrets {
        let b32 = secret.to_base32();
        for alg in Algorithm::ALL {
            for (digits, period) in [(6u8, 30u32), (8, 30), (7, 60), (6, 45)] {
                let params = TotpParams::new(alg, Digits::new(digits).unwrap(), period).unwrap();
                let totp = Totp::new(secret.clone(), params);
                for (i, &now) in TIMES.iter().enumerate() {
                    // Alternate base32 and hex key forms.
                    let key_args = if i % 2 == 0 {
                        vec!["-b".to_owned(), b32.clone()]
                    } else {
                        vec![hex(secret.as_bytes())]
                    };
                    let mut args = vec![
                        format!("--totp={}", mode(alg)),
                        format!("--digits={digits}"),
                        format!("--time-step-size={period}s"),
                        format!("--now=@{now}"),
                    ];
                    args.extend(key_args);
                    let theirs = oathtool(&args);
                    let ctx = format!("{alg} digits={digits} period={period} now={now} key={b32}");
                    assert_eq!(totp.code_at(now), theirs, "{ctx}");
                    assert_eq!(
                        totp.verify(&theirs, now, 0, None),
                        Some(totp.step(now)),
                        "{ctx}"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, secrets.len() * 3 * 4 * TIMES.len());
}

#[test]
fn oathtool_window_codes_verify_with_skew() {
    // `-w 2` prints the codes for steps now..=now+2; each must verify from the
    // later time with skew 2, and not with skew 0 unless it is the current step.
    let secret = Secret::generate_for(Algorithm::Sha256).unwrap();
    let totp = Totp::new(
        secret.clone(),
        TotpParams::new(Algorithm::Sha256, Digits::new(6).unwrap(), 30).unwrap(),
    );
    let now = 1_234_567_890;
    let args = vec![
        "--totp=sha256".to_owned(),
        "-w".to_owned(),
        "2".to_owned(),
        format!("--now=@{now}"),
        "-b".to_owned(),
        secret.to_base32(),
    ];
    let out = run(&args);
    assert!(out.status.success());
    let codes: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(codes.len(), 3, "{codes:?}");
    let step = totp.step(now);
    let later = now + 2 * 30;
    for (i, code) in codes.iter().enumerate() {
        let expected = step + i as u64;
        assert_eq!(totp.code_for_step(expected), *code);
        assert_eq!(totp.verify(code, later, 2, None), Some(expected));
        // Replay protection across the window.
        assert_eq!(totp.verify(code, later, 2, Some(expected)), None);
    }
}

#[test]
fn hotp_matches_oathtool() {
    let counters = [0u64, 1, 9, 10, 255, 65_536, 1 << 32, u64::MAX / 3, u64::MAX];
    let secrets = secrets();
    let mut checked = 0;
    for secret in &secrets {
        for digits in [6u8, 7, 8] {
            let h = Hotp::new(
                secret.clone(),
                Algorithm::Sha1,
                Digits::new(digits).unwrap(),
            );
            for (i, &counter) in counters.iter().enumerate() {
                let mut args = vec![
                    "--hotp".to_owned(),
                    format!("--counter={counter}"),
                    format!("--digits={digits}"),
                ];
                if i % 2 == 0 {
                    args.push(hex(secret.as_bytes()));
                } else {
                    args.extend(["--base32".to_owned(), secret.to_base32()]);
                }
                let theirs = oathtool(&args);
                let ctx = format!(
                    "digits={digits} counter={counter} key={}",
                    secret.to_base32()
                );
                assert_eq!(h.code(counter), theirs, "{ctx}");
                assert_eq!(h.verify(&theirs, counter, 0), Some(counter), "{ctx}");
                // Found again through look-ahead from an earlier counter.
                let from = counter.saturating_sub(3);
                let m = h.verify(&theirs, from, 3).unwrap();
                assert!(m <= counter && h.code(m) == theirs, "{ctx}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, secrets.len() * 3 * counters.len());
}

#[test]
fn rfc4226_vectors_via_oathtool_hex_key() {
    // `oathtool -c N <hex>` for the RFC 4226 seed, compared with our library.
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let h = Hotp::new(secret, Algorithm::Sha1, Digits::default());
    for counter in 0..10u64 {
        let theirs = oathtool(&[
            "-c".to_owned(),
            counter.to_string(),
            "3132333435363738393031323334353637383930".to_owned(),
        ]);
        assert_eq!(h.code(counter), theirs);
    }
}

#[test]
fn oathtool_accepts_our_codes() {
    // Reverse direction: oathtool in validation mode (KEY OTP) must find our code
    // at window position 0, and reject a wrong one.
    for alg in Algorithm::ALL {
        let secret = Secret::generate_for(alg).unwrap();
        let totp = Totp::new(
            secret.clone(),
            TotpParams::new(alg, Digits::new(8).unwrap(), 30).unwrap(),
        );
        for now in [59u64, 1_700_000_000, 2_000_000_000] {
            let ours = totp.code_at(now);
            let base = vec![
                format!("--totp={}", mode(alg)),
                "--digits=8".to_owned(),
                format!("--now=@{now}"),
                "-b".to_owned(),
                secret.to_base32(),
            ];
            let mut ok = base.clone();
            ok.push(ours.clone());
            assert_eq!(oathtool(&ok), "0", "{alg} now={now}");

            let wrong = if ours == "00000000" {
                "00000001"
            } else {
                "00000000"
            };
            let mut bad = base;
            bad.push(wrong.to_owned());
            assert!(!run(&bad).status.success(), "{alg} now={now}");
        }
    }
}
