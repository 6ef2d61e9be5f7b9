//! `/etc/mfa/pam.toml`: where mfad is, the API token, and how the module behaves.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// What happens when mfad cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    /// Deny the login (the default).
    Secure,
    /// Allow the login and log that MFA was skipped.
    Safe,
}

impl FromStr for FailMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "secure" => Ok(FailMode::Secure),
            "safe" => Ok(FailMode::Safe),
            other => Err(format!("failmode must be secure or safe, not {other:?}")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PamConfig {
    /// mfad's base URL, e.g. https://mfa.example.org.
    pub url: String,
    /// The API token from `mfac server add`.
    pub token: String,
    /// A PEM file of CA certificates to trust instead of the system store.
    #[serde(default)]
    pub cafile: Option<PathBuf>,
    #[serde(default = "default_failmode")]
    pub failmode: FailMode,
    /// Seconds the whole second-factor step may take (keep it under sshd's LoginGraceTime).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Seconds to wait for a TCP/TLS connection to mfad.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// The host name sent to mfad; default: this machine's host name.
    #[serde(default)]
    pub host: Option<String>,
    /// Ask mfad to remember a success for this many seconds (an elevated session for this
    /// user, address and service); 0: never (the default).
    #[serde(default)]
    pub remember: u32,
    #[serde(default)]
    pub prompts: Prompts,
}

/// Texts the person sees. `{number}` is replaced with the number to match, `{url}` with the
/// device link of a push that needs a passkey.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prompts {
    pub push: String,
    pub push_without_number: String,
    pub passkey: String,
    pub totp: String,
    pub password: String,
    pub new_password: String,
    pub retype_password: String,
    pub approved: String,
    pub denied: String,
}

impl Default for Prompts {
    fn default() -> Self {
        Self {
            push: "Push sent to your device (number {number}). Approve it there and press Enter, or type a verification code: ".into(),
            push_without_number: "Push sent to your device. Approve it there and press Enter, or type a verification code: ".into(),
            passkey: "Open {url} and confirm with your passkey, then press Enter: ".into(),
            totp: "Verification code: ".into(),
            password: "Password: ".into(),
            new_password: "Your password has expired. New password: ".into(),
            retype_password: "Retype new password: ".into(),
            approved: "Approved.".into(),
            denied: "Access denied.".into(),
        }
    }
}

fn default_failmode() -> FailMode {
    FailMode::Secure
}
fn default_timeout() -> u64 {
    45
}
fn default_connect_timeout() -> u64 {
    5
}

impl PamConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout)
    }
}

/// Reads and checks the config. It holds an API token: refuse it if group or others may read
/// or write it, or if it is not root's (when we are root).
pub fn load(path: &Path) -> Result<PamConfig, String> {
    let meta = fs::metadata(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{} is readable or writable by others (mode {mode:04o}): chmod 600 it",
            path.display()
        ));
    }
    if is_root() && meta.uid() != 0 {
        return Err(format!("{} is not owned by root", path.display()));
    }
    let text =
        fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses and checks the config. Errors name the line and the key, never the value: a token
/// written without quotes must not end up in the system log.
pub fn parse(text: &str) -> Result<PamConfig, String> {
    let config: PamConfig = toml::from_str(text).map_err(|e| describe(text, &e))?;
    let at = |key: &str| match line_of_key(text, key) {
        Some(n) => format!("line {n}, key `{key}`"),
        None => format!("key `{key}`"),
    };
    let url = config.url.trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!(
            "{}: must start with https:// or http://",
            at("url")
        ));
    }
    if config.token.trim().is_empty() {
        return Err(format!("{}: must not be empty", at("token")));
    }
    if !(5..=600).contains(&config.timeout) {
        return Err(format!("{}: must be 5..=600 seconds", at("timeout")));
    }
    if !(1..=60).contains(&config.connect_timeout) {
        return Err(format!("{}: must be 1..=60 seconds", at("connect_timeout")));
    }
    Ok(PamConfig {
        url: url.to_owned(),
        ..config
    })
}

/// A TOML error as "line N, key `K`: what is expected". toml's own message is not used: it
/// quotes the offending line or value.
fn describe(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message();
    if let Some(key) = between(msg, "missing field `", "`") {
        return format!("missing key `{key}`");
    }
    let line = e.span().map(|span| line_number(text, span.start));
    let key = line.and_then(|n| key_on_line(text, n));
    let what = if let Some(unknown) = between(msg, "unknown field `", "`") {
        format!("unknown key `{unknown}` (see the README for the keys)")
    } else if msg.contains("duplicate key") {
        "the key is set twice".to_owned()
    } else {
        expected(key.as_deref()).to_owned()
    };
    match (line, key) {
        (Some(n), Some(key)) => format!("line {n}, key `{key}`: {what}"),
        (Some(n), None) => format!("line {n}: {what}"),
        (None, _) => what,
    }
}

/// What a key's value must look like.
fn expected(key: Option<&str>) -> &'static str {
    match key {
        Some("url") => "must be a quoted URL: url = \"https://mfa.example.org\"",
        Some("token") => "must be a quoted string: token = \"mfas_...\"",
        Some("cafile") => "must be a quoted path: cafile = \"/etc/mfa/ca.pem\"",
        Some("host") => "must be a quoted host name: host = \"linux.example.org\"",
        Some("failmode") => "must be \"secure\" or \"safe\" (with the quotes)",
        Some("timeout" | "connect_timeout" | "remember") => "must be a whole number of seconds",
        Some(_) => "must be a quoted string",
        None => "not a `key = value` line (strings need quotes)",
    }
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let rest = &text[text.find(start)? + start.len()..];
    Some(&rest[..rest.find(end)?])
}

/// The 1-based line of byte `offset`.
fn line_number(text: &str, offset: usize) -> usize {
    text.get(..offset)
        .unwrap_or(text)
        .bytes()
        .filter(|b| *b == b'\n')
        .count()
        + 1
}

/// The bare key set on line `n` (`key = ...`), if the line is one.
fn key_on_line(text: &str, n: usize) -> Option<String> {
    let line = text.lines().nth(n.checked_sub(1)?)?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    bare.then(|| key.to_owned())
}

/// The line that sets `key` (the first, outside any table, is the one serde read).
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .take_while(|l| !l.trim_start().starts_with('['))
        .position(|l| l.split_once('=').is_some_and(|(k, _)| k.trim() == key))
        .map(|i| i + 1)
}

fn is_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const GOOD: &str = "url = \"https://mfa.example.org/\"\ntoken = \"mfas_x\"\n";

    #[test]
    fn defaults_and_overrides() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.url, "https://mfa.example.org");
        assert_eq!(c.failmode, FailMode::Secure);
        assert_eq!(c.timeout, 45);
        assert!(c.prompts.push.contains("{number}"));
        let c = parse(&format!(
            "{GOOD}failmode = \"safe\"\ntimeout = 20\n[prompts]\ntotp = \"Code: \"\n"
        ))
        .unwrap();
        assert_eq!(
            (c.failmode, c.timeout, c.prompts.totp.as_str()),
            (FailMode::Safe, 20, "Code: ")
        );
    }

    #[test]
    fn refuses_malformed_configs() {
        for bad in [
            "url = \"https://x\"",
            "token = \"t\"",
            "url = \"ftp://x\"\ntoken = \"t\"",
            "url = \"https://x\"\ntoken = \"t\"\nfailmode = \"open\"",
            "url = \"https://x\"\ntoken = \"t\"\ncolour = 1",
            "url = \"https://x\"\ntoken = \"t\"\ntimeout = 1",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_name_the_line_and_key_never_the_value() {
        let secret = "mfas_s3cr3tVALUE";
        for (text, want) in [
            (
                format!("url = \"https://x\"\ntoken = {secret}\n"),
                "line 2, key `token`: must be a quoted string",
            ),
            (
                format!("url = \"https://x\"\ntoken = \"t\"\ntimeout = \"{secret}\"\n"),
                "line 3, key `timeout`: must be a whole number",
            ),
            (
                format!("url = \"https://x\"\ntoken = \"t\"\nfailmode = \"{secret}\"\n"),
                "line 3, key `failmode`: must be \"secure\" or \"safe\"",
            ),
            (
                format!("url = \"https://x\"\ntoken = \"t\"\n{secret}\n"),
                "line 3: not a `key = value` line",
            ),
            (
                format!("url = \"{secret}\"\ntoken = \"t\"\n"),
                "line 1, key `url`: must start with https://",
            ),
            (
                format!("url = \"https://x\"\ntoken = \"t\"\ntoken = \"{secret}\"\n"),
                "line 3, key `token`: the key is set twice",
            ),
            (format!("token = \"{secret}\"\n"), "missing key `url`"),
            (
                format!("url = \"https://x\"\ntoken = \"t\"\n[prompts]\ntotp = {secret}\n"),
                "line 4, key `totp`: must be a quoted string",
            ),
            (
                "url = \"https://x\"\ntoken = \"t\"\ncolour = 1\n".to_owned(),
                "unknown key `colour`",
            ),
        ] {
            let error = parse(&text).unwrap_err();
            assert!(error.contains(want), "{text}: {error}");
            assert!(!error.contains("s3cr3t"), "{text}: {error}");
        }
    }

    #[test]
    fn refuses_a_file_others_can_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pam.toml");
        fs::File::create(&path)
            .unwrap()
            .write_all(GOOD.as_bytes())
            .unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(load(&path).unwrap_err().contains("chmod 600"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(load(&path).is_ok());
    }
}
