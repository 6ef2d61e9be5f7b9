use std::os::unix::fs::PermissionsExt;

use crate::{config_dir, mfad, start};

#[tokio::test]
async fn serves_healthz_and_json_404s() {
    let (_dir, config) = config_dir("");
    let daemon = start(&config);
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let body: serde_json::Value = health.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let missing = http
        .get(format!("{}/nope", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert!(body["message"].as_str().unwrap().contains("/nope"));
}

#[test]
fn first_start_creates_a_private_key_file_and_database() {
    let (dir, config) = config_dir("");
    drop(start(&config));
    let key = dir.path().join("data/mfa.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let db = std::fs::metadata(dir.path().join("data/mfa.db")).unwrap();
    assert_eq!(db.permissions().mode() & 0o777, 0o600);
}

#[test]
fn refuses_a_key_file_others_can_read() {
    let (dir, config) = config_dir("");
    drop(start(&config));
    let key = dir.path().join("data/mfa.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = mfad()
        .args(["--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("readable by others"), "{stderr}");
    assert!(stderr.contains("chmod 600"), "{stderr}");
}

/// mfad.toml may hold a database password or the ntfy token: mfad (serve and check-config)
/// refuses a file group or others can read, in one line that quotes nothing from it.
#[test]
fn refuses_a_config_file_others_can_read() {
    let (_dir, config) = config_dir("[notify.ntfy]\ntoken = \"tk_sekrit_value\"\n");
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    for args in [vec!["serve"], vec!["check-config"]] {
        let out = mfad()
            .args(["--config", config.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("mode 0644"), "{stderr}");
        assert!(stderr.contains("chmod 600"), "{stderr}");
        assert!(!stderr.contains("tk_sekrit_value"), "{stderr}");
    }
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    drop(start(&config));
}

/// mfad and mfac started at the same moment on a fresh data directory: both succeed (before,
/// one failed in 9 of 10 tries with "table meta already exists" or a half-written key file).
#[test]
fn mfad_and_mfac_starting_together_on_a_fresh_directory_both_succeed() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    for round in 0..6 {
        let (_dir, config) = config_dir("");
        let mut daemon = mfad()
            .args(["--config", config.to_str().unwrap(), "serve"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mfac = std::process::Command::new(mfa_testkit::artefact("mfac"))
            .args(["--config", config.to_str().unwrap(), "client", "list"])
            .output()
            .unwrap();
        let stderr = BufReader::new(daemon.stderr.take().unwrap());
        // mfad either reports ready or exits; its stderr ends only when it exits.
        let mut log = Vec::new();
        let ready = stderr.lines().map_while(Result::ok).any(|line| {
            log.push(line.clone());
            line.contains("mfad ready")
        });
        let _ = daemon.kill();
        let _ = daemon.wait();
        assert!(ready, "round {round}: mfad failed: {log:?}");
        assert!(
            mfac.status.success(),
            "round {round}: mfac failed: {}",
            String::from_utf8_lossy(&mfac.stderr)
        );
    }
}

/// SIGTERM stops mfad promptly even with an idle keep-alive connection open (the serving
/// loop closes idle connections at once and waits only for answers in progress).
#[tokio::test]
async fn sigterm_stops_mfad_with_idle_connections_open() {
    let (_dir, config) = config_dir("");
    let mut daemon = start(&config);
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let status = std::process::Command::new("kill")
        .args(["-TERM", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = daemon.wait_exit(std::time::Duration::from_secs(10));
    assert!(
        exit.is_some_and(|s| s.success()),
        "{exit:?}: {:?}",
        daemon.log()
    );
    assert!(daemon.log().iter().any(|l| l.contains("mfad stopped")));
    drop(http);
}
