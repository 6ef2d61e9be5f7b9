//! The client's config file: which server, this client's key, and its TOTP seed (handed out
//! once by `mfa enroll`). Secrets, so it is written with mode 0600 in a 0700 directory, and
//! refused when anyone but its owner may read it.

use std::fs::{DirBuilder, File};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use mfa_wire::EnrollResponse;
use serde::{Deserialize, Serialize};

use crate::endpoint::Endpoint;

/// `client.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// Base URL of mfad, e.g. `https://mfa.example.org` (http:// or https://).
    pub server: String,
    /// This client's key (`mfak_...`), from `mfac client add`.
    pub key: String,
    /// `[totp]`: the seed `mfa code` computes codes from; absent until the server handed it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpSeed>,
}

impl ClientConfig {
    /// Checks every field; the endpoint the server URL names.
    pub fn validate(&self) -> anyhow::Result<Endpoint> {
        check_key(&self.key)?;
        if let Some(seed) = &self.totp {
            seed.totp().context("[totp]")?;
        }
        Endpoint::parse(&self.server)
    }
}

/// `[totp]`: the TOTP seed as `POST /v1/client/enroll` answered it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpSeed {
    /// Base32.
    pub secret: String,
    /// `SHA1`, `SHA256` or `SHA512`.
    pub algorithm: String,
    pub digits: u8,
    /// Seconds per code.
    pub period: u32,
}

/// Never prints the seed.
impl std::fmt::Debug for TotpSeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TotpSeed")
            .field("secret", &"<redacted>")
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("period", &self.period)
            .finish()
    }
}

impl From<EnrollResponse> for TotpSeed {
    fn from(r: EnrollResponse) -> Self {
        Self {
            secret: r.totp_secret,
            algorithm: r.algorithm,
            digits: r.digits,
            period: r.period,
        }
    }
}

impl TotpSeed {
    /// The code generator; an error names the field that is wrong (never the secret).
    pub fn totp(&self) -> anyhow::Result<Totp> {
        let secret = Secret::from_base32(&self.secret)
            .map_err(|e| anyhow::anyhow!("secret is not a valid TOTP secret: {e}"))?;
        let algorithm: Algorithm = self
            .algorithm
            .parse()
            .map_err(|e| anyhow::anyhow!("algorithm: {e}"))?;
        let digits = Digits::new(self.digits).map_err(|e| anyhow::anyhow!("digits: {e}"))?;
        let params = TotpParams::new(algorithm, digits, self.period)
            .map_err(|e| anyhow::anyhow!("period: {e}"))?;
        Ok(Totp::new(secret, params))
    }
}

/// A key goes in an HTTP header: printable ASCII without spaces.
pub fn check_key(key: &str) -> anyhow::Result<()> {
    if key.is_empty() {
        bail!("the client key is empty: give the key `mfac client add` printed");
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("the client key has spaces or unprintable characters: copy it again");
    }
    Ok(())
}

/// Where the config lives: `--config`/`$MFA_CLIENT_CONFIG`, else
/// `$XDG_CONFIG_HOME/mfa/client.toml`, else `~/.config/mfa/client.toml`.
pub fn default_path(
    xdg_config_home: Option<&std::ffi::OsStr>,
    home: Option<&std::ffi::OsStr>,
) -> anyhow::Result<PathBuf> {
    // The XDG spec says a relative $XDG_CONFIG_HOME is invalid and to be ignored.
    if let Some(xdg) = xdg_config_home.map(Path::new).filter(|p| p.is_absolute()) {
        return Ok(xdg.join("mfa").join("client.toml"));
    }
    match home.map(Path::new).filter(|p| p.is_absolute()) {
        Some(home) => Ok(home.join(".config").join("mfa").join("client.toml")),
        None => bail!(
            "cannot tell where your config directory is ($HOME is not set): use --config PATH"
        ),
    }
}

/// The config path to use: the one given, else the default for this user.
pub fn resolve_path(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match given.filter(|p| !p.as_os_str().is_empty()) {
        Some(path) => Ok(path),
        None => default_path(
            std::env::var_os("XDG_CONFIG_HOME").as_deref(),
            std::env::var_os("HOME").as_deref(),
        ),
    }
}

/// Reads the config, refusing one that group or others may read or write.
pub fn load(path: &Path) -> anyhow::Result<ClientConfig> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no client config at {}: enrol first with `mfa enroll --server URL --key KEY`",
            path.display()
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    let meta = file
        .metadata()
        .with_context(|| format!("cannot read {}", path.display()))?;
    if !meta.is_file() {
        bail!("{} is not a file", path.display());
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} is readable by others (mode {mode:03o}) and holds your client key: run chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    let mut text = String::new();
    file.read_to_string(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let config: ClientConfig = toml::from_str(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: {}",
            path.display(),
            e.message().split_whitespace().collect::<Vec<_>>().join(" ")
        )
    })?;
    config
        .validate()
        .with_context(|| format!("{}", path.display()))?;
    Ok(config)
}

/// Creates the config's directory (0700) and checks a file can be written there, so that a
/// seed the server hands out once is not lost to a directory that cannot be written.
pub fn check_writable(path: &Path) -> anyhow::Result<()> {
    temp_file(path).map(drop)
}

/// An empty 0600 temp file next to `path` (its directory created 0700 if missing).
fn temp_file(path: &Path) -> anyhow::Result<(PathBuf, tempfile::NamedTempFile)> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = tempfile::Builder::new()
        .prefix(".client.toml.")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    Ok((dir, tmp))
}

/// Writes the config atomically (a temp file in the same directory, renamed over the old one),
/// mode 0600; missing directories are created 0700.
pub fn save(path: &Path, config: &ClientConfig) -> anyhow::Result<()> {
    let text = toml::to_string(config).context("cannot encode the config")?;
    let (dir, mut tmp) = temp_file(path)?;
    // The umask cannot widen 0600, but say it explicitly rather than trust the default.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set the mode of a file in {}", dir.display()))?;
    let header = "# mfa client config (mfa enroll). Holds this client's key and TOTP secret: \
                  keep it mode 0600.\n";
    tmp.write_all(header.as_bytes())
        .and_then(|()| tmp.write_all(text.as_bytes()))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::ffi::OsStr;

    fn sample() -> ClientConfig {
        ClientConfig {
            server: "http://127.0.0.1:8420".into(),
            key: "mfak_abc".into(),
            totp: None,
        }
    }

    fn seed() -> TotpSeed {
        TotpSeed {
            // RFC 6238's SHA-1 test seed, "12345678901234567890".
            secret: "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ".into(),
            algorithm: "SHA1".into(),
            digits: 8,
            period: 30,
        }
    }

    #[test]
    fn the_seed_is_saved_in_a_totp_table_and_makes_the_rfc_codes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        let config = ClientConfig {
            totp: Some(seed()),
            ..sample()
        };
        save(&path, &config).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("[totp]\nsecret = \"GEZDGNBV"), "{text}");
        let loaded = load(&path).unwrap();
        assert_eq!(loaded, config);
        // RFC 6238 appendix B: T = 59 s gives 94287082 with SHA-1 and 8 digits.
        assert_eq!(loaded.totp.unwrap().totp().unwrap().code_at(59), "94287082");
        // A config without [totp] (an older mfa, or `--no-check`) still loads.
        save(&path, &sample()).unwrap();
        assert_eq!(load(&path).unwrap().totp, None);
    }

    #[test]
    fn a_bad_seed_is_one_line_without_the_secret() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        for (change, expect) in [
            (
                TotpSeed {
                    secret: "not base32 at all!".into(),
                    ..seed()
                },
                "secret",
            ),
            (
                TotpSeed {
                    algorithm: "MD5".into(),
                    ..seed()
                },
                "algorithm",
            ),
            (
                TotpSeed {
                    digits: 4,
                    ..seed()
                },
                "digits",
            ),
            (
                TotpSeed {
                    period: 0,
                    ..seed()
                },
                "period",
            ),
        ] {
            let bad = ClientConfig {
                totp: Some(change),
                ..sample()
            };
            save(&path, &bad).unwrap();
            let err = format!("{:#}", load(&path).unwrap_err());
            assert!(err.contains(expect) && err.contains("[totp]"), "{err}");
            assert!(!err.contains('\n'), "{err}");
            assert!(
                !err.contains("not base32 at all"),
                "the secret leaked: {err}"
            );
        }
        assert!(!format!("{:?}", seed()).contains("GEZDGNBV"));
    }

    #[test]
    fn check_writable_creates_the_directory_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/client.toml");
        check_writable(&path).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("new")).unwrap().count(),
            0
        );
        let mode = std::fs::metadata(dir.path().join("new"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn saves_0600_in_a_new_0700_directory_and_reads_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new/mfa/client.toml");
        save(&path, &sample()).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(mode(&dir.path().join("new")), 0o700);
        assert_eq!(load(&path).unwrap(), sample());
        // Saving again replaces it and leaves no temp file behind.
        let other = ClientConfig {
            key: "mfak_new".into(),
            ..sample()
        };
        save(&path, &other).unwrap();
        assert_eq!(load(&path).unwrap(), other);
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
    }

    #[test]
    fn refuses_a_config_others_or_the_group_may_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        save(&path, &sample()).unwrap();
        for mode in [0o644, 0o640, 0o604, 0o620] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = load(&path).unwrap_err().to_string();
            assert!(err.contains("readable by others"), "{err}");
            assert!(err.contains("chmod 600"), "{err}");
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(load(&path).unwrap(), sample());
    }

    #[test]
    fn a_missing_config_says_how_to_enrol() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(&dir.path().join("nope.toml")).unwrap_err().to_string();
        assert!(err.contains("mfa enroll --server"), "{err}");
    }

    #[test]
    fn bad_contents_are_one_line_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("client.toml");
        for (text, expect) in [
            ("server = \"http://x\"\n", "missing field `key`"),
            (
                "server = \"http://x\"\nkey = \"k\"\nextra = 1\n",
                "unknown field",
            ),
            ("server = \"ftp://x\"\nkey = \"k\"\n", "http:// or https://"),
            ("server = \"http://x\"\nkey = \"a b\"\n", "spaces"),
            ("server = \n", "client.toml"),
        ] {
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            let err = format!("{:#}", load(&path).unwrap_err());
            assert!(err.contains(expect), "{text:?}: {err}");
            assert!(err.contains("client.toml"), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn default_path_follows_xdg_then_home() {
        assert_eq!(
            default_path(Some(OsStr::new("/x/cfg")), Some(OsStr::new("/home/tux"))).unwrap(),
            PathBuf::from("/x/cfg/mfa/client.toml")
        );
        // Empty or relative XDG_CONFIG_HOME is ignored, as the spec says.
        for xdg in [None, Some(OsStr::new("")), Some(OsStr::new("rel/cfg"))] {
            assert_eq!(
                default_path(xdg, Some(OsStr::new("/home/tux"))).unwrap(),
                PathBuf::from("/home/tux/.config/mfa/client.toml")
            );
        }
        let err = default_path(None, None).unwrap_err().to_string();
        assert!(err.contains("--config"), "{err}");
    }

    #[test]
    fn keys_must_fit_in_a_header() {
        assert!(check_key("mfak_abc123").is_ok());
        for bad in ["", "a b", "a\nb", "é"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }
}
