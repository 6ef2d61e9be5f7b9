use crate::{config_dir, mfad};

fn check(config: &std::path::Path) -> (bool, String, String) {
    let out = mfad()
        .args(["check-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_good_config_is_ok() {
    let (_dir, config) = config_dir("[totp]\ndigits = 8\n");
    let (ok, stdout, _) = check(&config);
    assert!(ok);
    assert!(stdout.contains(": OK"), "{stdout}");
}

#[test]
fn reports_the_first_problem_with_key_and_line() {
    // Line 3 is the first extra line (after listen and data_dir).
    let cases = [
        ("bogus = 1\n", "mfad.toml:3: bogus: unknown field"),
        ("[totp]\nperiod = 900\n", "mfad.toml:4: totp.period:"),
        ("server_name = \"a:b\"\n", "mfad.toml:3: server_name:"),
        (
            "database_url = \"mysql://x\"\n",
            "mfad.toml:3: database_url:",
        ),
    ];
    for (extra, want) in cases {
        let (_dir, config) = config_dir(extra);
        let (ok, _, stderr) = check(&config);
        assert!(!ok, "{extra}");
        assert!(stderr.contains(want), "{extra:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    }
}

#[test]
fn a_missing_explicit_config_is_an_error() {
    let out = mfad()
        .args(["check-config", "--config", "/nonexistent/mfad.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/mfad.toml"));
}
