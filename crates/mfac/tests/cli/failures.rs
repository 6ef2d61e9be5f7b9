//! Bad input: one clear line on stderr, a non-zero exit, and nothing half-written.

use std::os::unix::fs::PermissionsExt;

use crate::{Env, run_with_config};

fn app_add<'a>(client: &'a str, methods: &'a str) -> Vec<&'a str> {
    vec![
        "app",
        "add",
        "--user",
        "tux",
        "--host",
        "h.example.org",
        "--service",
        "sshd",
        "--client",
        client,
        "--methods",
        methods,
    ]
}

#[test]
fn unknown_and_duplicate_aliases() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    assert_eq!(
        env.fails(&["client", "add", "tux"]),
        "mfac: client tux exists already"
    );
    assert_eq!(
        env.fails(&["client", "show", "ghost"]),
        "mfac: client ghost does not exist"
    );
    assert_eq!(
        env.fails(&["client", "remove", "ghost"]),
        "mfac: client ghost does not exist"
    );
    assert_eq!(
        env.fails(&["client", "rotate-key", "ghost"]),
        "mfac: client ghost does not exist"
    );
    assert_eq!(
        env.fails(&["client", "reset-totp", "ghost"]),
        "mfac: client ghost does not exist"
    );
    assert!(
        env.fails(&["client", "add", "bad alias"])
            .contains("invalid alias")
    );
    assert_eq!(
        env.fails(&["app", "show", "99"]),
        "mfac: app 99 does not exist"
    );
    assert_eq!(
        env.fails(&["app", "remove", "99"]),
        "mfac: app 99 does not exist"
    );
    // The failed add did not replace tux's key: there is still exactly one tux.
    assert_eq!(env.json(&["client", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn app_errors_leave_no_app_behind() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    assert_eq!(
        env.fails(&app_add("tux,ghost", "push")),
        "mfac: client ghost does not exist"
    );
    assert_eq!(
        env.fails(&app_add("tux", "push,sms")),
        "mfac: unknown method \"sms\": expected one of push, totp, password, passkey"
    );
    assert!(env.fails(&app_add("tux", ",")).contains("no methods given"));
    assert_eq!(env.json(&["app", "list"]), serde_json::json!([]));
    env.ok(&app_add("tux", "push"));
    assert!(
        env.fails(&app_add("tux", "totp"))
            .contains("exists already")
    );
    assert_eq!(env.json(&["app", "list"]).as_array().unwrap().len(), 1);
    assert!(
        env.fails(&["client", "remove", "tux"])
            .contains("still used by app")
    );
}

#[test]
fn wrong_key_file_is_refused_before_anything_changes() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    let key = env.data().join("mfa.key");
    std::fs::write(
        &key,
        format!("{}\n", data_encoding::BASE64.encode(&[9u8; 32])),
    )
    .unwrap();
    let err = env.fails(&["client", "add", "alice"]);
    assert!(err.contains("sealed with key"), "{err}");
    assert!(
        err.contains("use the key file this database was created with"),
        "{err}"
    );
}

#[test]
fn key_file_readable_by_others_is_refused() {
    let env = Env::with("");
    env.ok(&["client", "list"]);
    let key = env.data().join("mfa.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = env.fails(&["client", "list"]);
    assert!(err.contains("readable by others"), "{err}");
}

/// mfac reads the same mfad.toml, and is no weaker than mfad: a config file group or others
/// can read is refused before anything is opened.
#[test]
fn config_file_readable_by_others_is_refused() {
    let env = Env::with("database_url = \"postgres://mfa:hunter2@127.0.0.1:1/none\"\n");
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = env.fails(&["client", "list"]);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("mode 0640") && err.contains("chmod 600"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn unreadable_database_is_one_clear_line() {
    let env = Env::with("");
    // A database path under a regular file can be neither created nor opened.
    let blocker = env.dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let config = env.dir.path().join("bad.toml");
    mfa_testkit::write_private(
        &config,
        &format!(
            "database_url = \"sqlite://{}/mfa.db\"\nkey_file = \"{}\"\n",
            blocker.display(),
            env.dir.path().join("k/mfa.key").display()
        ),
    );
    let (ok, _, err) = run_with_config(&config, &["client", "list"]);
    assert!(!ok);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot open the mfa database"), "{err}");

    // A file that is not a database at all.
    let garbage = env.dir.path().join("garbage.db");
    std::fs::write(&garbage, vec![0x5a; 8192]).unwrap();
    mfa_testkit::write_private(
        &config,
        &format!(
            "database_url = \"sqlite://{}\"\nkey_file = \"{}\"\n",
            garbage.display(),
            env.dir.path().join("k/mfa.key").display()
        ),
    );
    let (ok, _, err) = run_with_config(&config, &["client", "list"]);
    assert!(!ok);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("cannot open the mfa database"), "{err}");
}

#[test]
fn bad_config_names_key_and_line() {
    let env = Env::with("[totp]\ndigits = 9\n");
    let err = env.fails(&["client", "list"]);
    assert!(err.contains("mfad.toml:4: totp.digits:"), "{err}");
}

/// Root on an installation another user owns (the package's `mfa`) would leave root's files
/// in it that mfad cannot open: refused, naming the owner and what to run instead.
#[test]
fn root_is_refused_on_a_data_directory_another_user_owns() {
    use std::os::unix::fs::MetadataExt as _;
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("SKIPPED: needs root (the refusal is for root only)");
        return;
    }
    let env = Env::with("");
    env.ok(&["client", "list"]);
    std::os::unix::fs::chown(env.data(), Some(65534), None).unwrap();
    for args in [&["client", "list"][..], &["key", "rotate"]] {
        let err = env.fails(args);
        assert!(err.contains("belongs to the user"), "{err}");
        assert!(err.contains("sudo -u"), "{err}");
    }
    std::os::unix::fs::chown(env.data(), Some(0), None).unwrap();
    env.ok(&["client", "list"]);
}
