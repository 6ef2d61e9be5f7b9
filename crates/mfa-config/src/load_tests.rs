use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::*;
use crate::model::{TotpConfig, default_server_name};
use mfa_otp::{Algorithm, Digits, TotpParams};

const FILE: &str = "mfad.toml";

fn parse_ok(text: &str) -> Config {
    match parse(text, Path::new(FILE)) {
        Ok(config) => config,
        Err(err) => panic!("{text:?} should parse: {err}"),
    }
}

/// Parses `text`, expects an `Invalid` error and returns its one-line rendering.
fn parse_err(text: &str) -> (Option<usize>, Option<String>, String) {
    match parse(text, Path::new(FILE)) {
        Ok(config) => panic!("{text:?} should not parse, got {config:?}"),
        Err(err @ ConfigError::Invalid { .. }) => {
            let rendered = err.to_string();
            assert!(!rendered.contains('\n'), "not one line: {rendered:?}");
            let ConfigError::Invalid { line, key, .. } = err else {
                unreachable!()
            };
            (line, key, rendered)
        }
        Err(other) => panic!("expected Invalid, got {other:?}"),
    }
}

#[track_caller]
fn assert_invalid(text: &str, line: usize, key: &str, message: &str) {
    let (got_line, got_key, rendered) = parse_err(text);
    assert_eq!(got_line, Some(line), "{rendered}");
    assert_eq!(got_key.as_deref(), Some(key), "{rendered}");
    let prefix = format!("{FILE}:{line}: {key}: ");
    assert!(
        rendered.starts_with(&prefix),
        "{rendered:?} should start with {prefix:?}"
    );
    assert!(
        rendered.contains(message),
        "{rendered:?} should mention {message:?}"
    );
}

#[test]
fn empty_text_gives_defaults() {
    let config = parse_ok("");
    assert_eq!(config, Config::default());
    assert_eq!(config.server_name, default_server_name());
    assert!(!config.server_name.is_empty());
    assert_eq!(
        config.listen,
        "127.0.0.1:8420".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.data_dir, PathBuf::from("./mfa-data"));
    assert_eq!(config.database_url, None);
    assert_eq!(config.database_url(), "sqlite://./mfa-data/mfa.db");
    assert_eq!(config.key_file, None);
    assert_eq!(config.key_file(), PathBuf::from("./mfa-data/mfa.key"));
    assert_eq!(config.log, "info");
    assert_eq!(config.totp.algorithm, Algorithm::Sha1);
    assert_eq!(config.totp.digits, Digits::new(6).unwrap());
    assert_eq!(config.totp.period, 30);
    assert_eq!(config.totp.skew, 1);
    assert_eq!(config.totp.params(), TotpParams::default());
    // Comments and an empty [totp] table change nothing either.
    assert_eq!(parse_ok("# nothing\n\n[totp]\n"), config);
}

#[test]
fn every_key_parses() {
    let config = parse_ok(
        r#"
server_name = "mfa.example.com"
listen = "[::1]:9000"
data_dir = "/var/lib/mfa"
database_url = "postgres://mfa@db/mfa"
key_file = "/etc/mfa/seal.key"
log = "mfad=debug,info"

[totp]
algorithm = "sha256"
digits = 8
period = 60
skew = 0
"#,
    );
    assert_eq!(config.server_name, "mfa.example.com");
    assert_eq!(config.listen, "[::1]:9000".parse::<SocketAddr>().unwrap());
    assert_eq!(config.data_dir, PathBuf::from("/var/lib/mfa"));
    assert_eq!(config.database_url(), "postgres://mfa@db/mfa");
    assert_eq!(config.key_file(), PathBuf::from("/etc/mfa/seal.key"));
    assert_eq!(config.log, "mfad=debug,info");
    assert_eq!(
        config.totp,
        TotpConfig {
            algorithm: Algorithm::Sha256,
            digits: Digits::new(8).unwrap(),
            period: 60,
            skew: 0,
        }
    );
    let params = config.totp.params();
    assert_eq!(params.algorithm, Algorithm::Sha256);
    assert_eq!(params.digits.get(), 8);
    assert_eq!(params.period, 60);
}

#[test]
fn derived_paths_follow_data_dir() {
    let config = parse_ok("data_dir = \"/srv/mfa\"");
    assert_eq!(config.database_url(), "sqlite:///srv/mfa/mfa.db");
    assert_eq!(config.key_file(), PathBuf::from("/srv/mfa/mfa.key"));
}

#[test]
fn dotted_and_inline_tables_parse_too() {
    assert_eq!(
        parse_ok("totp.digits = 7").totp.digits,
        Digits::new(7).unwrap()
    );
    assert_eq!(
        parse_ok("totp = { period = 15, skew = 10 }").totp.period,
        15
    );
}

#[test]
fn range_boundaries() {
    for ok in [
        "period = 15",
        "period = 120",
        "skew = 0",
        "skew = 10",
        "digits = 6",
        "digits = 8",
    ] {
        parse_ok(&format!("[totp]\n{ok}"));
    }
    for (bad, key) in [
        ("period = 14", "totp.period"),
        ("period = 121", "totp.period"),
        ("skew = -1", "totp.skew"),
        ("skew = 11", "totp.skew"),
        ("digits = 5", "totp.digits"),
        ("digits = 9", "totp.digits"),
    ] {
        assert_invalid(&format!("[totp]\n{bad}"), 2, key, "must be between");
    }
}

#[test]
fn invalid_listen() {
    let err = parse(
        "server_name = \"x\"\n\nlisten = \"localhost\"\n",
        Path::new(FILE),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mfad.toml:3: listen: invalid socket address syntax"
    );
}

#[test]
fn unknown_top_level_key() {
    assert_invalid(
        "log = \"warn\"\nbogus = 1\n",
        2,
        "bogus",
        "unknown field `bogus`",
    );
}

#[test]
fn unknown_key_in_totp() {
    let text = "log = \"warn\"\n\n[totp]\ndigits = 6\nbogus = true\n";
    assert_invalid(text, 5, "totp.bogus", "unknown field `bogus`");
}

#[test]
fn unknown_table() {
    assert_invalid("[smtp]\nhost = \"x\"\n", 1, "smtp", "unknown field `smtp`");
}

#[test]
fn bad_digits() {
    assert_invalid(
        "[totp]\n\ndigits = 10\n",
        3,
        "totp.digits",
        "between 6 and 8, got 10",
    );
    assert_invalid("totp.digits = \"six\"", 1, "totp.digits", "invalid type");
}

#[test]
fn period_out_of_range() {
    assert_invalid(
        "[totp]\nperiod = 900 # 15 minutes\n",
        2,
        "totp.period",
        "must be between 15 and 120 seconds, got 900",
    );
}

#[test]
fn bad_algorithm() {
    assert_invalid(
        "[totp]\nalgorithm = \"MD5\"\n",
        2,
        "totp.algorithm",
        "unknown algorithm \"MD5\"",
    );
    assert_eq!(
        parse_ok("totp.algorithm = \"sha512\"").totp.algorithm,
        Algorithm::Sha512
    );
}

#[test]
fn bad_database_url_scheme() {
    assert_invalid(
        "data_dir = \"d\"\ndatabase_url = \"mysql://root:hunter2@db/mfa\"\n",
        2,
        "database_url",
        "unsupported database URL scheme `mysql`",
    );
    let (_, _, rendered) = parse_err("database_url = \"mysql://root:hunter2@db/mfa\"");
    assert!(!rendered.contains("hunter2"), "{rendered}");
}

#[test]
fn bad_server_name_and_paths() {
    assert_invalid("server_name = \"a:b\"", 1, "server_name", "`:`");
    assert_invalid("\ndata_dir = \"\"", 2, "data_dir", "must not be empty");
    assert_invalid("key_file = \"\"", 1, "key_file", "must not be empty");
}

#[test]
fn wrong_type() {
    assert_invalid("log = 3", 1, "log", "invalid type: integer `3`");
    assert_invalid("totp = 3", 1, "totp", "invalid type");
}

#[test]
fn duplicate_key() {
    assert_invalid("log = \"a\"\nlog = \"b\"\n", 2, "log", "duplicate key");
}

#[test]
fn syntax_error_after_a_key() {
    assert_invalid("[totp]\ndigits = \n", 2, "totp.digits", "");
    assert_invalid("listen = \"127.0.0.1:1\n", 1, "listen", "");
}

#[test]
fn syntax_error_without_a_key() {
    let (line, key, rendered) = parse_err("log = \"info\"\n[totp\ndigits = 6\n");
    assert_eq!(line, Some(2), "{rendered}");
    assert_eq!(key, None, "{rendered}");
    assert_eq!(rendered, "mfad.toml:2: unclosed table, expected `]`");
}

#[test]
fn error_path_is_the_given_path() {
    let err = parse("bogus = 1", Path::new("/etc/mfa/mfad.toml")).unwrap_err();
    assert!(
        err.to_string().starts_with("/etc/mfa/mfad.toml:1: bogus: "),
        "{err}"
    );
}

// ---- environment overlay --------------------------------------------------------------

#[test]
fn env_database_url_overrides_file() {
    let mut config = parse_ok("database_url = \"sqlite://./a.db\"");
    apply_env(&mut config, Some("postgres://mfa@db/mfa")).unwrap();
    assert_eq!(config.database_url(), "postgres://mfa@db/mfa");
}

#[test]
fn env_database_url_absent_keeps_file() {
    let mut config = parse_ok("database_url = \"sqlite://./a.db\"");
    apply_env(&mut config, None).unwrap();
    assert_eq!(config.database_url(), "sqlite://./a.db");
}

#[test]
fn env_database_url_is_validated() {
    let mut config = Config::default();
    let err = apply_env(&mut config, Some("mysql://x")).unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Env {
            var: "MFA_DATABASE_URL",
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "environment variable MFA_DATABASE_URL: unsupported database URL scheme `mysql`, \
         expected a URL starting with sqlite:, postgres: or postgresql:"
    );
}

#[test]
fn empty_env_vars_count_as_unset() {
    let env = Env::from_vars(Some("".into()), Some("".into())).unwrap();
    assert_eq!(env.config, None);
    assert_eq!(env.database_url, None);
    let env = Env::from_vars(Some("/x.toml".into()), Some("sqlite::memory:".into())).unwrap();
    assert_eq!(env.config, Some(PathBuf::from("/x.toml")));
    assert_eq!(env.database_url.as_deref(), Some("sqlite::memory:"));
}

#[cfg(unix)]
#[test]
fn non_utf8_database_url_is_an_error() {
    use std::os::unix::ffi::OsStringExt;
    let bad = std::ffi::OsString::from_vec(vec![b's', 0xff]);
    let err = Env::from_vars(None, Some(bad)).unwrap_err();
    assert!(matches!(err, ConfigError::Env { .. }), "{err:?}");
}

// ---- discovery ------------------------------------------------------------------------

/// Writes a config file as an admin should: mode 0600.
fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// mfad.toml may hold a database password, the ntfy token, webhook credentials: a file that
/// group or others may read (or write) is refused, like the key file, without quoting it.
#[test]
fn config_file_others_can_read_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let secret = "postgres://mfa:hunter2@db/mfa";
    let path = write(
        dir.path(),
        DEFAULT_FILE_NAME,
        &format!("database_url = \"{secret}\"\n[notify.ntfy]\ntoken = \"tk_sekrit\"\n"),
    );
    for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o660] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = load_with(None, &Env::default(), dir.path()).unwrap_err();
        assert!(
            matches!(err, ConfigError::Mode { mode: m, .. } if m == mode),
            "mode {mode:o}: {err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("{mode:04o}")), "{text}");
        assert!(text.contains("chmod 600"), "{text}");
        assert!(
            !text.contains("hunter2") && !text.contains("tk_sekrit"),
            "{text}"
        );
        assert!(!text.contains('\n'), "{text}");
    }
    for mode in [0o600, 0o400] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let loaded = load_with(Some(&path), &Env::default(), dir.path()).unwrap();
        assert_eq!(loaded.config.database_url.as_deref(), Some(secret));
    }
}

#[test]
fn explicit_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.toml");
    write(dir.path(), DEFAULT_FILE_NAME, "");
    let err = load_with(Some(&missing), &Env::default(), dir.path()).unwrap_err();
    let ConfigError::Io { path, source } = &err else {
        panic!("expected Io, got {err:?}")
    };
    assert_eq!(path, &missing);
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(
        err.to_string()
            .starts_with(&format!("cannot read config file {}: ", missing.display())),
        "{err}"
    );
}

#[test]
fn public_load_with_missing_explicit_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let err = load(Some(&dir.path().join("nope.toml"))).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
}

#[test]
fn env_config_missing_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), DEFAULT_FILE_NAME, "");
    let env = Env {
        config: Some(dir.path().join("nope.toml")),
        database_url: None,
    };
    let err = load_with(None, &env, dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
}

#[test]
fn explicit_beats_env_beats_working_dir() {
    let dir = tempfile::tempdir().unwrap();
    let explicit = write(dir.path(), "explicit.toml", "log = \"explicit\"");
    let from_env = write(dir.path(), "env.toml", "log = \"env\"");
    write(dir.path(), DEFAULT_FILE_NAME, "log = \"cwd\"");
    let env = Env {
        config: Some(from_env.clone()),
        database_url: None,
    };

    let loaded = load_with(Some(&explicit), &env, dir.path()).unwrap();
    assert_eq!(loaded.config.log, "explicit");
    assert_eq!(loaded.source, Some(explicit));

    let loaded = load_with(None, &env, dir.path()).unwrap();
    assert_eq!(loaded.config.log, "env");
    assert_eq!(loaded.source, Some(from_env));

    let loaded = load_with(None, &Env::default(), dir.path()).unwrap();
    assert_eq!(loaded.config.log, "cwd");
    assert_eq!(loaded.source, Some(dir.path().join(DEFAULT_FILE_NAME)));
}

#[test]
fn no_file_anywhere_gives_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load_with(None, &Env::default(), dir.path()).unwrap();
    assert_eq!(loaded.source, None);
    assert_eq!(loaded.config, Config::default());
}

#[test]
fn env_overlay_applies_to_files_and_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let env = Env {
        config: None,
        database_url: Some("postgresql://db/mfa".into()),
    };
    let loaded = load_with(None, &env, dir.path()).unwrap();
    assert_eq!(loaded.config.database_url(), "postgresql://db/mfa");

    write(
        dir.path(),
        DEFAULT_FILE_NAME,
        "database_url = \"sqlite://x.db\"",
    );
    let loaded = load_with(None, &env, dir.path()).unwrap();
    assert_eq!(loaded.config.database_url(), "postgresql://db/mfa");
}

#[test]
fn errors_in_a_found_file_name_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), DEFAULT_FILE_NAME, "\n[totp]\nskew = 99\n");
    let err = load_with(None, &Env::default(), dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:3: totp.skew: must be between 0 and 10 steps, got 99",
            path.display()
        )
    );
}

#[test]
fn non_utf8_file_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, [b'l', b'o', b'g', 0xff]).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let err = load_with(Some(&path), &Env::default(), dir.path()).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }), "{err:?}");
}

#[test]
fn policy_keys_parse_and_are_checked() {
    use mfa_core::policy::MfaPolicy;
    let config = parse_ok(
        "mfa_policy = \"totp-required\"\nelevated_session = 60\nmax_elevated_session = 0\n\
         [password]\nmin_days = 1\nmax_days = 0\nwarn_days = 3\ninactive_days = 7\nmin_length = 12\n",
    );
    assert_eq!(config.mfa_policy, MfaPolicy::TotpRequired);
    assert_eq!(
        (config.elevated_session, config.max_elevated_session),
        (60, 0)
    );
    let p = config.password.policy();
    assert_eq!(
        (
            p.min_days,
            p.max_days,
            p.warn_days,
            p.inactive_days,
            p.min_length
        ),
        (1, 0, 3, 7, 12)
    );
    assert_eq!(Config::default().mfa_policy, MfaPolicy::AnyRequired);
    assert_invalid(
        "\nmfa_policy = \"sometimes\"\n",
        2,
        "mfa_policy",
        "any-required",
    );
    assert_invalid(
        "elevated_session = 0\n",
        1,
        "elevated_session",
        "between 1 and",
    );
    assert_invalid(
        "[password]\nmax_days = -1\n",
        2,
        "password.max_days",
        "between 0 and 3650 days",
    );
    assert_invalid(
        "[password]\nmin_length = 0\n",
        2,
        "password.min_length",
        "between 1 and",
    );
    assert_invalid(
        "[password]\nlength = 8\n",
        2,
        "password.length",
        "unknown field",
    );
}

#[test]
fn connection_limits_parse_and_are_checked() {
    let config = parse_ok("max_connections = 4000\nmax_connections_per_ip = 16\n");
    assert_eq!(
        (config.max_connections, config.max_connections_per_ip),
        (4000, 16)
    );
    assert_invalid(
        "max_connections = 5\n",
        1,
        "max_connections",
        "must be between 16 and 1000000 connections, got 5",
    );
    assert_invalid(
        "\nmax_connections_per_ip = 0\n",
        2,
        "max_connections_per_ip",
        "must be between 1 and 1000000 connections, got 0",
    );
}

#[test]
fn tls_needs_both_files_or_neither() {
    assert_eq!(parse_ok("").tls.files(), None);
    let config = parse_ok("[tls]\ncert = \"/etc/mfa/cert.pem\"\nkey = \"/etc/mfa/key.pem\"\n");
    assert_eq!(
        config.tls.files(),
        Some((
            Path::new("/etc/mfa/cert.pem"),
            Path::new("/etc/mfa/key.pem")
        ))
    );
    assert!(config.host_addr().starts_with("https://"), "{config:?}");
    assert_eq!(config.host_authority(), "127.0.0.1:8420");
    assert_invalid(
        "[tls]\ncert = \"/etc/mfa/cert.pem\"\n",
        1,
        "tls",
        "`key` is not",
    );
    assert_invalid("\n[tls]\nkey = \"/k.pem\"\n", 2, "tls", "`cert` is not");
    assert_invalid(
        "[tls]\ncert = \"\"\nkey = \"/k.pem\"\n",
        2,
        "tls.cert",
        "must not be empty",
    );
    assert_invalid("[tls]\ncrt = \"/c.pem\"\n", 2, "tls.crt", "unknown field");
}

#[test]
fn log_format_parses_and_is_checked() {
    assert_eq!(parse_ok("").log_format, crate::LogFormat::Text);
    assert_eq!(
        parse_ok("log_format = \"json\"\n").log_format,
        crate::LogFormat::Json
    );
    assert_eq!(
        parse_ok("log_format = \"text\"\n").log_format,
        crate::LogFormat::Text
    );
    assert_invalid(
        "log = \"info\"\nlog_format = \"xml\"\n",
        2,
        "log_format",
        "unknown variant `xml`",
    );
}

/// The metrics token is a secret: a bad one is refused without being quoted.
#[test]
fn metrics_token_parses_and_errors_never_echo_it() {
    assert!(!parse_ok("").metrics_token.is_set());
    assert!(!parse_ok("metrics_token = \"\"\n").metrics_token.is_set());
    let config = parse_ok("metrics_token = \"s3cret-metrics-token-value\"\n");
    assert_eq!(
        config.metrics_token.expose(),
        Some("s3cret-metrics-token-value")
    );
    assert!(!format!("{config:?}").contains("s3cret"));
    for (bad, message) in [
        ("tooShortS3cret", "at least 16 characters, got 14"),
        (
            "a s3cret with spaces in it",
            "printable ASCII without spaces",
        ),
    ] {
        let text = format!("\nmetrics_token = \"{bad}\"\n");
        assert_invalid(&text, 2, "metrics_token", message);
        let (_, _, rendered) = parse_err(&text);
        assert!(
            !rendered.contains("S3cret") && !rendered.contains("s3cret"),
            "{rendered}"
        );
    }
}

#[test]
fn host_authority_is_host_addr_without_scheme_or_path() {
    assert_eq!(parse_ok("").host_authority(), "127.0.0.1:8420");
    assert_eq!(
        parse_ok("listen = \"[::1]:9000\"\n").host_authority(),
        "[::1]:9000"
    );
    for (host_addr, authority) in [
        ("https://mfa.example.org", "mfa.example.org"),
        ("https://mfa.example.org/", "mfa.example.org"),
        ("https://mfa.example.org:8443/mfa/x", "mfa.example.org:8443"),
        ("http://mfa.example.org?x=1", "mfa.example.org"),
        ("https://admin@mfa.example.org#top", "mfa.example.org"),
        ("https://[2001:db8::1]:8420/", "[2001:db8::1]:8420"),
    ] {
        let config = parse_ok(&format!("host_addr = \"{host_addr}\"\n"));
        assert_eq!(config.host_authority(), authority, "{host_addr}");
    }
}

#[test]
fn the_admin_console_is_on_by_default_only_on_loopback_or_with_tls() {
    assert!(parse_ok("").admin_enabled(), "127.0.0.1 by default");
    assert!(parse_ok("listen = \"[::1]:8420\"").admin_enabled());
    assert!(!parse_ok("listen = \"0.0.0.0:8420\"").admin_enabled());
    assert!(!parse_ok("listen = \"192.0.2.1:8420\"").admin_enabled());
    let tls = "listen = \"0.0.0.0:8443\"\n[tls]\ncert = \"c.pem\"\nkey = \"k.pem\"";
    assert!(parse_ok(tls).admin_enabled());
    assert!(parse_ok("listen = \"0.0.0.0:8420\"\nadmin_enabled = true").admin_enabled());
    assert!(!parse_ok("admin_enabled = false").admin_enabled());
}
