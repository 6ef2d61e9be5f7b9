use crate::{config_dir, mfad, start};

/// `mfad openapi` prints the document `GET /openapi.json` serves, without a config, a database
/// or a running server.
#[tokio::test]
async fn prints_the_document_the_server_serves() {
    let out = mfad()
        .args(["--config", "/nonexistent/mfad.toml", "openapi"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(printed["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(printed["info"]["title"], "mfa");
    assert!(printed["paths"]["/v1/auth/{txid}"]["delete"].is_object());

    let (_dir, config) = config_dir("");
    let daemon = start(&config);
    let served: serde_json::Value = reqwest::get(format!("{}/openapi.json", daemon.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(printed, served);
}
