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

/// Texts the person sees. `{number}` is replaced with the number to match.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prompts {
    pub push: String,
    pub push_without_number: String,
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

pub fn parse(text: &str) -> Result<PamConfig, String> {
    let config: PamConfig = toml::from_str(text).map_err(|e| {
        e.to_string()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    })?;
    let url = config.url.trim_end_matches('/');
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(format!(
            "url must start with https:// or http://, not {:?}",
            config.url
        ));
    }
    if config.token.trim().is_empty() {
        return Err("token must not be empty".into());
    }
    if !(5..=600).contains(&config.timeout) || !(1..=60).contains(&config.connect_timeout) {
        return Err("timeout must be 5..=600 and connect_timeout 1..=60 seconds".into());
    }
    Ok(PamConfig {
        url: url.to_owned(),
        ..config
    })
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
