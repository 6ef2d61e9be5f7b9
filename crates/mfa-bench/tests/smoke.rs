//! The bench works (not how fast): `mfa-bench --smoke --no-peer` against the debug binaries
//! beside it, on SQLite and, when `MFA_TEST_POSTGRES_URL` is set, on PostgreSQL; every
//! scenario must give its row, with answers and without errors.
#![allow(clippy::expect_used, clippy::panic)] // a test: fail loudly

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// target/debug: mfa-bench, mfad and mfac side by side.
fn bin_dir() -> PathBuf {
    let bench = Path::new(env!("CARGO_BIN_EXE_mfa-bench"));
    bench.parent().expect("the bench's directory").to_owned()
}

fn installed(program: &str) -> bool {
    ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"]
        .iter()
        .any(|dir| Path::new(dir).join(program).is_file())
}

/// The rows a smoke run must give for one backend.
fn expected(backend: &str) -> Vec<(String, String, String)> {
    let mut rows: Vec<&str> = vec![
        "healthz",
        "preauth",
        "verify hotp",
        "verify totp",
        "reject hotp",
        "reject totp",
        "auth totp",
        "push C=1",
        "push C=10",
        "pending 200",
        "verify hotp large",
    ];
    let mut out: Vec<(String, String, String)> = rows
        .drain(..)
        .map(|s| (s.to_owned(), backend.to_owned(), "mfa-bench".to_owned()))
        .collect();
    if installed("wrk") {
        out.push(("healthz".into(), backend.into(), "wrk".into()));
    }
    out
}

#[test]
fn a_smoke_run_gives_every_row_without_errors() {
    let dir = bin_dir();
    for bin in ["mfad", "mfac"] {
        assert!(
            dir.join(bin).is_file(),
            "{bin} is not built in {}: cargo build -p mfad -p mfac (scripts/test.sh builds the workspace)",
            dir.display()
        );
    }
    let postgres = std::env::var("MFA_TEST_POSTGRES_URL").is_ok_and(|u| !u.is_empty());
    let backends = if postgres {
        "sqlite,postgres"
    } else {
        "sqlite"
    };
    if !postgres {
        eprintln!("MFA_TEST_POSTGRES_URL is not set: the smoke run covers SQLite only");
    }
    let json = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(env!("CARGO_BIN_EXE_mfa-bench"))
        .arg("--smoke")
        .arg("--no-peer")
        .arg("--bin-dir")
        .arg(&dir)
        .args(["--backends", backends, "--pending-backends", backends])
        .arg("--json")
        .arg(json.path())
        .output()
        .expect("run mfa-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    eprintln!("{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "mfa-bench --smoke failed: {stdout}");

    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(json.path()).expect("the JSON report"))
            .expect("JSON");
    let rows = report["rows"].as_array().expect("rows");
    let mut wanted: Vec<(String, String, String)> =
        backends.split(',').flat_map(expected).collect();
    if installed("nginx") {
        wanted.push(("return 200".into(), "nginx".into(), "mfa-bench".into()));
    } else {
        eprintln!("nginx is not installed: no nginx rows expected");
    }
    for (scenario, backend, generator) in wanted {
        let row = rows
            .iter()
            .find(|r| {
                r["scenario"] == scenario && r["backend"] == backend && r["generator"] == generator
            })
            .unwrap_or_else(|| panic!("no row for {scenario} / {backend} / {generator}"));
        assert_eq!(row["errors"], 0, "{scenario} / {backend}: {row}");
        assert!(
            row["count"].as_u64().unwrap_or(0) > 0,
            "{scenario} / {backend} / {generator} got no answers: {row}"
        );
    }
}
