//! `mfac import google-authenticator` with files written by Debian's `google-authenticator`
//! itself (package libpam-google-authenticator): the person's existing secret and scratch
//! codes then log in through pam_mfa.so.

use std::path::Path;
use std::process::Command;

use crate::cases::authenticate;
use crate::harness::Setup;

/// Runs `google-authenticator` non-interactively, writing `file`.
fn google_authenticator(file: &Path, args: &[&str]) {
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let status = Command::new("google-authenticator")
        .args(["--force", "--quiet", "--no-confirm"])
        .args(args)
        .arg(format!("--secret={}", file.display()))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .status()
        .expect("google-authenticator: run scripts/test.sh (apt-get install libpam-google-authenticator)");
    assert!(status.success(), "google-authenticator {args:?}");
}

/// The current code for the file's secret, by oathtool (another implementation).
fn oathtool_code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let secret = text.lines().next().unwrap();
    let out = Command::new("oathtool")
        .args(["--totp", "-b", secret])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn scratch_codes(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .filter(|l| l.len() == 8 && l.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

fn logs_in_with(setup: &Setup, code: &str) -> (bool, String) {
    authenticate(setup, "", "", "192.0.2.1", |pam, _| {
        pam.expect("Verification code:");
        pam.type_line(code);
    })
}

#[test]
fn a_google_authenticator_home_moves_in_with_its_secret_and_scratch_codes() {
    let setup = Setup::new("", "totp");
    let home = setup.install.dir.path().join("home");
    let tux = home.join("tux/.google_authenticator");
    google_authenticator(
        &tux,
        &[
            "--time-based",
            "--disallow-reuse",
            "--rate-limit=3",
            "--rate-time=30",
            "--window-size=17",
            "--emergency-codes=3",
        ],
    );
    google_authenticator(
        &home.join("bob/.google_authenticator"),
        &["--counter-based", "--no-rate-limit", "--window-size=5"],
    );
    google_authenticator(
        &home.join("carol/.google_authenticator"),
        &[
            "--time-based",
            "--allow-reuse",
            "--no-rate-limit",
            "--step-size=60",
            "--window-size=3",
            "--emergency-codes=1",
        ],
    );
    std::fs::create_dir_all(home.join("dave")).unwrap(); // no file: not a user to import

    let out = setup.install.mfac_output(&[
        "import",
        "google-authenticator",
        "--users-from-home",
        home.to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success(), "bob's HOTP file fails the run");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let imported = report["imported"].as_array().unwrap();
    let users: Vec<&str> = imported
        .iter()
        .map(|i| i["user"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["carol", "tux"], "{report}");
    let failed = &report["failed"][0];
    assert_eq!(failed["user"], "bob", "{report}");
    assert!(
        failed["error"].as_str().unwrap().contains("HOTP_COUNTER"),
        "{report}"
    );

    let tux_report = &imported[1];
    assert_eq!(
        tux_report["created"], false,
        "tux was a client already: {report}"
    );
    assert_eq!(tux_report["recovery_codes"], 3);
    let not: Vec<&str> = tux_report["not_carried"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert!(
        not.iter().any(|n| n.starts_with("RATE_LIMIT 3 30")),
        "{not:?}"
    );
    assert!(
        not.iter().any(|n| n.starts_with("WINDOW_SIZE 17")),
        "{not:?}"
    );
    let carol = &imported[0];
    assert_eq!(carol["created"], true);
    assert!(
        carol["client_key"].as_str().unwrap().starts_with("mfak_"),
        "{carol}"
    );
    assert!(
        carol["carried"].to_string().contains("60 s steps"),
        "{carol}"
    );
    assert!(
        carol["not_carried"].to_string().contains("reused"),
        "{carol}"
    );
    // No secret in the report.
    let secret = std::fs::read_to_string(&tux).unwrap();
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret.lines().next().unwrap()));

    // tux's authenticator app keeps working, and a scratch code works once.
    let (ok, out) = logs_in_with(&setup, &oathtool_code(&tux));
    assert!(ok, "the app's code: {out}");
    let scratch = &scratch_codes(&tux)[0];
    let (ok, out) = logs_in_with(&setup, scratch);
    assert!(ok, "a scratch code: {out}");
    let (ok, out) = logs_in_with(&setup, scratch);
    assert!(!ok, "a scratch code works once: {out}");
    // The old seed mfac made for tux is gone.
    let (ok, _) = logs_in_with(&setup, &setup.totp_code());
    assert!(!ok, "the replaced seed no longer works");
}
