//! `mfad.example.toml` (workspace root) must parse, show the real defaults, and document
//! every key of `Config`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mfa_config::{Config, TlsConfig, parse};

fn example_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../mfad.example.toml")
}

/// Read inside each test (helpers outside `#[test]` may not unwrap).
fn example_text() -> std::io::Result<String> {
    std::fs::read_to_string(example_path())
}

/// The example with every `#key = value` line enabled (prose comments start with `# `).
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix('#') {
            Some(rest) if rest.starts_with(|c: char| c.is_ascii_alphabetic()) => rest,
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Dotted paths of all leaf keys (`listen`, `totp.digits`, ...).
fn leaf_keys(table: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => leaf_keys(inner, &path, out),
            _ => {
                out.insert(path);
            }
        }
    }
}

#[test]
fn example_parses_as_is() {
    let config = parse(&example_text().unwrap(), &example_path()).unwrap();
    assert_eq!(config, Config::default());
}

#[test]
fn example_defaults_are_the_real_defaults() {
    let text = uncommented(&example_text().unwrap());
    let parsed = parse(&text, &example_path()).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let defaults = Config::default();
    // server_name's real default is the host name; the others derive from data_dir.
    assert_eq!(parsed.server_name, "localhost");
    assert_eq!(parsed.database_url(), defaults.database_url());
    assert_eq!(parsed.key_file(), defaults.key_file());
    assert_eq!(parsed.host_addr(), defaults.host_addr());
    assert_eq!(parsed.admin_enabled(), defaults.admin_enabled());
    let comparable = Config {
        server_name: defaults.server_name.clone(),
        database_url: None,
        key_file: None,
        host_addr: None,
        admin_enabled: None,
        tls: defaults.tls.clone(),
        ..parsed
    };
    assert_eq!(comparable, defaults);
}

#[test]
fn example_documents_every_key() {
    // Fill the optional keys so they serialize too.
    let mut config = Config::default();
    config.database_url = Some(config.database_url());
    config.key_file = Some(config.key_file());
    config.host_addr = Some(config.host_addr());
    config.admin_enabled = Some(config.admin_enabled());
    config.tls = TlsConfig::new("cert.pem".into(), "key.pem".into());
    let serialized = toml::to_string(&config).unwrap();
    let serialized: toml::Table = toml::from_str(&serialized).unwrap();
    let mut config_keys = BTreeSet::new();
    leaf_keys(&serialized, "", &mut config_keys);

    let example: toml::Table = toml::from_str(&uncommented(&example_text().unwrap())).unwrap();
    let mut example_keys = BTreeSet::new();
    leaf_keys(&example, "", &mut example_keys);

    assert!(config_keys.contains("totp.digits"), "{config_keys:?}");
    let missing: Vec<_> = config_keys.difference(&example_keys).collect();
    assert!(missing.is_empty(), "not in mfad.example.toml: {missing:?}");
    let extra: Vec<_> = example_keys.difference(&config_keys).collect();
    assert!(
        extra.is_empty(),
        "in mfad.example.toml but not in Config: {extra:?}"
    );
}

#[test]
fn every_documented_key_has_an_explanation() {
    let text = example_text().unwrap();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with('#') && line[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            let above = i.checked_sub(1).map(|j| lines[j]).unwrap_or("");
            assert!(
                above.starts_with("# "),
                "line {}: `{line}` needs a `# explanation` line above it",
                i + 1
            );
        }
    }
}
