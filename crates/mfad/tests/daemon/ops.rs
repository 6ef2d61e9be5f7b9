//! Operating mfad: `log_format = "json"`, and `metrics_token` as a secret of the config file.

use crate::{config_dir, mfad, start};

const TOKEN: &str = "d43m0n-metrics-t0ken-0123456789abcdef";

/// With `log_format = "json"` every line mfad writes to stderr is one JSON object, from the
/// start (the "mfad ready" line the test kit finds, with its `listen` field) to the end.
#[tokio::test]
async fn json_logs_are_one_json_object_a_line_and_mfad_still_serves() {
    let (_dir, config) = config_dir(&format!(
        "log = \"debug\"\nlog_format = \"json\"\nmetrics_token = \"{TOKEN}\"\n"
    ));
    let mut daemon = start(&config);
    let http = reqwest::Client::new();
    let health = http
        .get(format!("{}/healthz", daemon.base))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let scrape = |token: Option<&'static str>| {
        let mut req = http.get(format!("{}/metrics", daemon.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    assert_eq!(scrape(None).await.unwrap().status(), 401);
    let metrics = scrape(Some(TOKEN)).await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(
        text.contains("mfa_http_requests_total{route=\"/healthz\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("mfa_http_requests_total{route=\"/metrics\",status=\"401\"} 1"),
        "{text}"
    );

    let status = std::process::Command::new("kill")
        .args(["-TERM", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = daemon.wait_exit(std::time::Duration::from_secs(10));
    assert!(exit.is_some_and(|s| s.success()), "{exit:?}");
    // The reader thread may still be taking the last lines.
    for _ in 0..100 {
        if daemon.log().iter().any(|l| l.contains("mfad stopped")) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let log = daemon.log();
    assert!(log.len() >= 2, "{log:?}");
    let mut messages = Vec::new();
    for line in &log {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert!(event["level"].is_string(), "{line}");
        assert!(event["timestamp"].is_string(), "{line}");
        messages.push(event["message"].as_str().unwrap_or_default().to_owned());
        assert!(
            !line.contains(TOKEN),
            "the metrics token was logged: {line}"
        );
    }
    assert!(messages.iter().any(|m| m == "mfad ready"), "{log:?}");
    assert!(messages.iter().any(|m| m == "mfad stopped"), "{log:?}");
}

/// A failure after logging started is a JSON line too (here: the port is taken).
#[test]
fn json_logs_report_a_failure_to_start_as_json() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mfad.toml");
    let text = format!(
        "listen = \"{}\"\ndata_dir = \"{}\"\nlog_format = \"json\"\n",
        taken.local_addr().unwrap(),
        dir.path().join("data").display()
    );
    mfa_testkit::write_private(&config, &text);
    let out = mfad()
        .args(["--config", config.to_str().unwrap(), "serve"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.trim().is_empty());
    for line in stderr.lines() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}"));
        assert_eq!(event["level"], "ERROR", "{line}");
        assert!(
            event["error"].as_str().unwrap().contains("cannot listen"),
            "{line}"
        );
    }
}

/// `mfad check-config` never shows the metrics token, and a bad one is refused without it.
#[test]
fn check_config_never_shows_the_metrics_token() {
    let (_dir, config) = config_dir(&format!("metrics_token = \"{TOKEN}\"\n"));
    let out = mfad()
        .args(["check-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains(": OK"), "{all}");
    assert!(!all.contains(TOKEN), "{all}");

    for (bad, want) in [
        (
            "metrics_token = \"sh0rt-s3cret\"\n",
            "mfad.toml:3: metrics_token: must be at least 16",
        ),
        (
            "metrics_token = \"s3cret with spaces\"\n",
            "mfad.toml:3: metrics_token: must be printable",
        ),
        (
            "log_format = \"xml\"\n",
            "mfad.toml:3: log_format: unknown variant `xml`",
        ),
    ] {
        let (_dir, config) = config_dir(bad);
        let out = mfad()
            .args(["check-config", "--config", config.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{bad}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(want), "{bad:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!stderr.contains("s3cret"), "{stderr}");
    }
}
