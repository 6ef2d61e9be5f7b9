//! `mfac key rotate` on its own (the logins around it, and the crash tests, are in
//! mfad's daemon tests): its answer, the key file it leaves, and its refusal while the
//! database is open elsewhere.

use std::os::unix::fs::PermissionsExt;

use crate::Env;

#[tokio::test]
async fn key_rotate_answers_leaves_a_private_key_file_and_refuses_while_the_database_is_open() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    env.ok(&["vault", "add", "AWS", "--secret", "JBSWY3DPEHPK3PXP"]);
    let key_file = env.data().join("mfa.key");
    let before = std::fs::read_to_string(&key_file).unwrap();

    let store = env.store().await; // what a running mfad holds
    let err = env.fails(&["key", "rotate"]);
    assert!(
        err.contains("in use by mfad") && err.contains("stop"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), before);
    store.close().await;

    let answer = env.json(&["key", "rotate"]);
    assert_eq!(answer["key_file"], key_file.to_str().unwrap());
    assert_eq!(answer["resealed"]["client_totp_seeds"], 1, "{answer}");
    assert_eq!(answer["resealed"]["vault_seeds"], 1, "{answer}");
    assert_eq!(answer["resealed"]["otp_credentials"], 0, "{answer}");
    assert_eq!(answer["invalidated_one_time_codes"], 0);
    let new_id = answer["new_key_id"].as_str().unwrap();
    assert_eq!(new_id.len(), 8, "{answer}");
    assert_ne!(answer["old_key_id"].as_str().unwrap(), new_id);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !env.data().join("mfa.key.old").exists(),
        "mfa.key.old is gone"
    );
    assert!(!env.data().join("mfa.key.new").exists());
    let text = std::fs::read_to_string(&key_file).unwrap();
    assert!(!answer.to_string().contains(text.trim()), "no key material");

    // The vault seed opens under the new key.
    let code = env.json(&["vault", "code", "AWS"]);
    assert!(code["code"].is_string(), "{code}");
    let text = env.ok(&["key", "rotate"]);
    assert!(
        text.contains("Rotated the sealing key") && text.contains(new_id),
        "{text}"
    );
}
