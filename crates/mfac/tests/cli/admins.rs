//! `mfac admin`: console admins. The password comes from stdin (never an argument), the TOTP
//! secret is printed once, and the store can check both.

use mfa_otp::{OtpAuthUri, TotpParams};

use crate::Env;
use crate::policy::run_with_stdin;

#[test]
fn add_takes_the_password_from_stdin_and_prints_the_totp_secret_once() {
    let env = Env::with("host_addr = \"https://mfa.example.org\"");
    let (ok, out, err) = run_with_stdin(
        &env,
        &["admin", "add", "root", "--json"],
        "a long passphrase\n",
    );
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["name"], "root");
    assert_eq!(v["console_url"], "https://mfa.example.org/admin");
    let uri = OtpAuthUri::parse(v["otpauth_uri"].as_str().unwrap()).unwrap();
    assert_eq!(uri.secret.to_base32(), v["totp_secret"].as_str().unwrap());
    assert!(
        !out.contains("a long passphrase"),
        "the password is never printed"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = env.store().await;
        let creds = store
            .admin_credentials("root", TotpParams::default())
            .await
            .unwrap()
            .unwrap();
        assert!(creds.password.verify("a long passphrase"));
        assert_eq!(creds.totp.secret.as_bytes(), uri.secret.as_bytes());
        store.close().await;
    });

    let list = env.json(&["admin", "list"]);
    assert_eq!(list[0]["name"], "root");
    assert_eq!(list[0]["last_login_at"], serde_json::Value::Null);
    let (ok, _, err) = run_with_stdin(&env, &["admin", "add", "root"], "another passphrase\n");
    assert!(!ok && err.contains("exists already"), "{err}");
    env.ok(&["admin", "remove", "root"]);
    assert_eq!(env.json(&["admin", "list"]), serde_json::json!([]));
    assert!(env.fails(&["admin", "remove", "root"]).contains("root"));
}

#[test]
fn a_missing_or_weak_password_is_refused_and_adds_nobody() {
    let env = Env::with("");
    let (ok, _, err) = run_with_stdin(&env, &["admin", "add", "root"], "");
    assert!(!ok && err.contains("no password on stdin"), "{err}");
    assert!(err.contains("mfac admin add root"), "{err}");
    let (ok, _, err) = run_with_stdin(&env, &["admin", "add", "root"], "short\n");
    assert!(!ok, "{err}");
    assert_eq!(env.json(&["admin", "list"]), serde_json::json!([]));
}
