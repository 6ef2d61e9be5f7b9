use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::{SealKey, SecretsError};

/// Reads the sealing key, creating it (mode 0600, in a 0700 directory if that is new) on first
/// start. Refuses a key file that group or others may read or write.
pub fn load_or_create_key(path: &Path) -> Result<SealKey, SecretsError> {
    match fs::metadata(path) {
        Ok(_) => read_key(path),
        Err(e) if e.kind() == ErrorKind::NotFound => create_key(path),
        Err(source) => Err(SecretsError::KeyFileRead {
            path: path.to_owned(),
            source,
        }),
    }
}

fn read_key(path: &Path) -> Result<SealKey, SecretsError> {
    let read_err = |source| SecretsError::KeyFileRead {
        path: path.to_owned(),
        source,
    };
    let mode = fs::metadata(path).map_err(read_err)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretsError::KeyFileMode {
            path: path.to_owned(),
            mode,
        });
    }
    let text = Zeroizing::new(fs::read_to_string(path).map_err(read_err)?);
    let bytes = Zeroizing::new(
        data_encoding::BASE64
            .decode(text.trim().as_bytes())
            .map_err(|_| SecretsError::KeyFileFormat {
                path: path.to_owned(),
            })?,
    );
    let key: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| SecretsError::KeyFileFormat {
            path: path.to_owned(),
        })?;
    Ok(SealKey::from_bytes(key))
}

fn create_key(path: &Path) -> Result<SealKey, SecretsError> {
    let create_err = |source| SecretsError::KeyFileCreate {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(create_err)?;
    }
    let key = SealKey::generate()?;
    let text = Zeroizing::new(format!(
        "{}\n",
        data_encoding::BASE64.encode(key.as_bytes())
    ));
    // create_new: if two processes start at once, one creates and the other reads.
    let mut file = match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return read_key(path),
        Err(e) => return Err(create_err(e)),
    };
    file.write_all(text.as_bytes()).map_err(create_err)?;
    file.sync_all().map_err(create_err)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_mode_0600_then_reads_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/mfa.key");
        let first = load_or_create_key(&path).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = fs::metadata(dir.path().join("sub"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(dir_mode, 0o700);
        let second = load_or_create_key(&path).unwrap();
        assert_eq!(first.id(), second.id());
    }

    #[test]
    fn refuses_key_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa.key");
        load_or_create_key(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let err = load_or_create_key(&path).unwrap_err();
        assert!(matches!(err, SecretsError::KeyFileMode { mode: 0o644, .. }));
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }

    #[test]
    fn refuses_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa.key");
        fs::write(&path, "not a key\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            load_or_create_key(&path),
            Err(SecretsError::KeyFileFormat { .. })
        ));
    }
}
