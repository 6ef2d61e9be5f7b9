//! `mfac backup` while mfad serves, then the README's restore: the copy brings back what it
//! held (and nothing later), and a client enrolled before it logs in with its authenticator.

use std::os::unix::fs::PermissionsExt;

use mfa_core::{Clock, SystemClock};
use mfa_otp::{Secret, Totp, TotpParams};
use mfa_testkit::Install;

use crate::totp_login;

#[tokio::test]
async fn a_backup_taken_while_mfad_serves_restores_and_its_clients_log_in() {
    let install = Install::new("");
    let data = install.dir.path().join("data");
    let enrolled = install.mfac_json(&["client", "add", "tux", "--notify", "none"]);
    let secret = Secret::from_base32(enrolled["totp_secret"].as_str().unwrap()).unwrap();
    install.mfac(&[
        "app",
        "add",
        "--user",
        "tux",
        "--host",
        "h.example.org",
        "--service",
        "sshd",
        "--client",
        "tux",
        "--methods",
        "totp",
    ]);
    let token = install.mfac_field(&["server", "add", "ssh-1", "--hosts", "*"], "api_token");

    let daemon = install.start();
    let copy = install.dir.path().join("mfa-backup.db");
    let copy_arg = copy.to_str().unwrap();
    let answer = install.mfac_json(&["backup", copy_arg]);
    assert_eq!(answer["path"], copy_arg);
    assert!(answer["bytes"].as_u64().unwrap() > 4096, "{answer}");
    let key_file = data.join("mfa.key");
    assert_eq!(answer["key_file"], key_file.to_str().unwrap());
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds sealed seeds and token hashes");
    let again = install.mfac_output(&["backup", copy_arg]);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.starts_with("mfac: ") && err.contains("exists"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // Made after the backup: the restore must not bring it back.
    install.mfac(&["client", "add", "later", "--notify", "none"]);
    daemon.stop();

    // The README's restore.
    for name in ["mfa.db", "mfa.db-wal", "mfa.db-shm"] {
        let _ = std::fs::remove_file(data.join(name));
    }
    std::fs::copy(&copy, data.join("mfa.db")).unwrap();
    std::fs::set_permissions(data.join("mfa.db"), std::fs::Permissions::from_mode(0o600)).unwrap();

    let daemon = install.start();
    let now = SystemClock.now().unix_secs();
    let code = Totp::new(secret, TotpParams::default()).code_at(now);
    let login = totp_login(&daemon.base, &token, "tux", &code).await;
    assert_eq!(login["result"], "allow", "{login}");
    let clients = install.mfac_json(&["client", "list"]);
    let aliases: Vec<&str> = clients
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["alias"].as_str())
        .collect();
    assert_eq!(
        aliases,
        ["tux"],
        "the copy holds what was there when it was taken"
    );
}
