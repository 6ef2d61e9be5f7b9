use mfa_core::{Clock, SystemClock};
use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use mfa_store::AuditFilter;
use serde_json::json;

use crate::Env;

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

#[tokio::test]
async fn add_list_code_remove() {
    let env = Env::with("");
    let text = env.ok(&[
        "vault",
        "add",
        "AWS root",
        "--secret",
        "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp",
        "--attribute",
        "ops@example.org",
        "--algorithm",
        "sha256",
        "--digits",
        "8",
        "--period",
        "60",
    ]);
    assert_eq!(
        text.trim(),
        "Added vault app 1: AWS root (ops@example.org), SHA256 8 digits every 60 s."
    );
    let gh = env.json(&[
        "vault",
        "add",
        "GitHub",
        "--uri",
        &format!("otpauth://totp/GitHub:team?secret={SEED}&issuer=GitHub"),
    ]);
    assert_eq!(
        gh,
        json!({"id": 2, "name": "GitHub", "attribute": null, "algorithm": "SHA1", "digits": 6,
               "period": 30, "created_at": gh["created_at"]})
    );

    let list = env.json(&["vault", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["attribute"], "ops@example.org");
    assert_eq!(list[1], gh);
    let text = env.ok(&["vault", "list"]);
    assert!(text.starts_with("ID"), "{text}");
    assert!(
        text.contains("AWS root") && text.contains("ops@example.org"),
        "{text}"
    );
    assert!(
        !text.contains("JBSW") && !list.to_string().contains("JBSW"),
        "a seed was listed"
    );

    // By id or by name; the code is the one any authenticator app shows.
    let secret = Secret::from_base32(SEED).unwrap();
    let aws = Totp::new(
        secret.clone(),
        TotpParams::new(Algorithm::Sha256, Digits::new(8).unwrap(), 60).unwrap(),
    );
    let gh_totp = Totp::new(secret, TotpParams::default());
    for (arg, totp) in [("1", &aws), ("AWS root", &aws), ("GitHub", &gh_totp)] {
        let before = SystemClock.now().unix_secs();
        let c = env.json(&["vault", "code", arg]);
        let after = SystemClock.now().unix_secs();
        let code = c["code"].as_str().unwrap();
        assert!(
            code == totp.code_at(before) || code == totp.code_at(after),
            "{arg}: {c}"
        );
        let left = c["valid_for_seconds"].as_u64().unwrap();
        assert!((1..=totp.params.period as u64).contains(&left), "{c}");
    }
    let text = env.ok(&["vault", "code", "2"]);
    assert!(text.contains("valid for"), "{text}");

    // Each fetch is in the audit log.
    let store = env.store().await;
    let entries = store.audit_entries(&AuditFilter::default()).await.unwrap();
    store.close().await;
    assert_eq!(entries.len(), 4, "{entries:?}");
    assert!(
        entries.iter().all(|e| e.user == "mfac"
            && e.method.as_deref() == Some("vault")
            && e.result == "code")
    );
    assert!(
        entries[0]
            .reason
            .as_deref()
            .unwrap()
            .starts_with("vault app 1 (AWS root)"),
        "{entries:?}"
    );
    let audit = env.json(&["audit", "--user", "mfac"]);
    assert_eq!(audit.as_array().unwrap().len(), 4);

    assert_eq!(
        env.json(&["vault", "remove", "GitHub"]),
        json!({"id": 2, "name": "GitHub", "result": "removed"})
    );
    let text = env.ok(&["vault", "remove", "1"]);
    assert_eq!(text.trim(), "Vault app 1 (AWS root) removed.");
    assert_eq!(env.json(&["vault", "list"]), json!([]));
}

#[test]
fn bad_vault_input_is_one_line_and_changes_nothing() {
    let env = Env::with("");
    env.json(&["vault", "add", "dup", "--secret", SEED]);
    env.json(&["vault", "add", "dup", "--secret", SEED]);
    let uri = |q: &str| format!("otpauth://totp/X:y?secret={SEED}{q}");
    for (args, needle) in [
        (
            vec!["--secret", "JBSWY3DPEHPK3PX1"],
            "mfac: --secret: invalid base32 character '1' at position 15",
        ),
        (
            vec!["--secret", SEED, "--algorithm", "MD5"],
            "mfac: --algorithm: unknown algorithm \"MD5\"",
        ),
        (
            vec!["--secret", SEED, "--digits", "9"],
            "mfac: --digits must be 6, 7 or 8 (got 9)",
        ),
        (
            vec!["--secret", SEED, "--digits", "six"],
            "mfac: --digits must be a whole number (got \"six\")",
        ),
        (
            vec!["--secret", SEED, "--period", "10"],
            "mfac: --period must be between 15 and 120 seconds (got 10)",
        ),
        (
            vec!["--uri", "otpauth://totp"],
            "mfac: --uri: malformed otpauth URI",
        ),
        (
            vec!["--uri", "https://example.org"],
            "mfac: --uri: URI scheme must be otpauth://",
        ),
        (
            vec!["--uri", &uri("&period=300")],
            "mfac: --uri: period must be between 15 and 120 seconds",
        ),
        (
            vec![
                "--uri",
                "otpauth://hotp/a?secret=JBSWY3DPEHPK3PXP&counter=0",
            ],
            "the vault keeps TOTP seeds",
        ),
        (vec!["--uri", &uri(""), "--digits", "8"], "come from --uri"),
    ] {
        let mut full = vec!["vault", "add", "x"];
        full.extend(args.iter().copied());
        let err = env.fails(&full);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("JBSWY3DPEHPK"), "a seed in an error: {err}");
    }
    assert!(
        env.fails(&["vault", "add", " ", "--secret", SEED])
            .contains("name must not be empty")
    );
    assert_eq!(
        env.fails(&["vault", "code", "9"]),
        "mfac: vault app 9 does not exist"
    );
    assert_eq!(
        env.fails(&["vault", "remove", "9"]),
        "mfac: vault app 9 does not exist"
    );
    assert_eq!(
        env.fails(&["vault", "code", "ghost"]),
        "mfac: vault app \"ghost\" does not exist (see mfac vault list)"
    );
    assert_eq!(
        env.fails(&["vault", "code", "dup"]),
        "mfac: several vault apps are called \"dup\" (ids 1, 2): give the id"
    );
    assert_eq!(env.json(&["vault", "list"]).as_array().unwrap().len(), 2);
}
