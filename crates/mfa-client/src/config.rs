//! The client's config file: which server, and this client's key. A secret, so it is written
//! with mode 0600 in a 0700 directory, and refused when anyone but its owner may read it.

use std::fs::{DirBuilder, File};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
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
}

impl ClientConfig {
    /// Checks both fields; the endpoint the server URL names.
    pub fn validate(&self) -> anyhow::Result<Endpoint> {
        check_key(&self.key)?;
        Endpoint::parse(&self.server)
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

/// Writes the config atomically (a temp file in the same directory, renamed over the old one),
/// mode 0600; missing directories are created 0700.
pub fn save(path: &Path, config: &ClientConfig) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let text = toml::to_string(config).context("cannot encode the config")?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".client.toml.")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    // The umask cannot widen 0600, but say it explicitly rather than trust the default.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot set the mode of a file in {}", dir.display()))?;
    let header = "# mfa client config (mfa enroll). Holds this client's key: keep it mode 0600.\n";
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
        }
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
