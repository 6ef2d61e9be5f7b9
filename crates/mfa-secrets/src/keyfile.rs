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

/// Reads an existing key file (never creates one), with the same checks as
/// [`load_or_create_key`].
pub fn load_key(path: &Path) -> Result<SealKey, SecretsError> {
    read_key(path)
}

/// Writes `key` to `path`, a new file (mode 0600; an existing file is an error), and makes it
/// durable: the file and then its directory entry are synced before this returns.
pub fn write_new_key(path: &Path, key: &SealKey) -> Result<(), SecretsError> {
    let write_err = |source| SecretsError::KeyFileWrite {
        path: path.to_owned(),
        source,
    };
    let text = Zeroizing::new(format!(
        "{}\n",
        data_encoding::BASE64.encode(key.as_bytes())
    ));
    write_new(path, text.as_bytes()).map_err(write_err)?;
    sync_dir(parent_dir(path)).map_err(write_err)
}

/// Renames key file `from` onto `to` (atomically replacing it) and syncs the directory, so
/// that after a crash `to` holds either the old key or the new one, whole.
pub fn replace_key_file(from: &Path, to: &Path) -> Result<(), SecretsError> {
    let write_err = |source| SecretsError::KeyFileWrite {
        path: to.to_owned(),
        source,
    };
    fs::rename(from, to).map_err(write_err)?;
    sync_dir(parent_dir(to)).map_err(write_err)
}

/// Removes a key file if it is there (and syncs its directory); true if it was.
pub fn remove_key_file(path: &Path) -> Result<bool, SecretsError> {
    let write_err = |source| SecretsError::KeyFileWrite {
        path: path.to_owned(),
        source,
    };
    match fs::remove_file(path) {
        Ok(()) => {
            sync_dir(parent_dir(path)).map_err(write_err)?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
        Err(e) => Err(write_err(e)),
    }
}

fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
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

/// Creates the key so that nobody ever sees a partial file: the key is written and synced
/// under a temporary name in the same directory, then linked to `path`. A link never replaces
/// an existing file, so when several processes start at once exactly one key wins and the
/// others read it.
fn create_key(path: &Path) -> Result<SealKey, SecretsError> {
    let create_err = |source| SecretsError::KeyFileCreate {
        path: path.to_owned(),
        source,
    };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
    if let Some(dir) = dir
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
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", crate::random_id(8)?));
    let written = write_new(&tmp, text.as_bytes());
    let linked = written.and_then(|()| fs::hard_link(&tmp, path));
    // The temporary name goes whatever happened; the key (if linked) lives on under `path`.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            sync_dir(dir.unwrap_or(Path::new("."))).map_err(create_err)?;
            Ok(key)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(create_err(e)),
    }
}

fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the new directory entry itself survive a power loss.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    fs::File::open(dir)?.sync_all()
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

    /// mfad and mfac started at once on a fresh data directory: every racer must get the one
    /// key that ends up in the file, never a half-written file.
    #[test]
    fn racing_first_starts_agree_on_one_key() {
        for round in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("data/mfa.key");
            let barrier = std::sync::Barrier::new(8);
            let ids: Vec<_> = std::thread::scope(|s| {
                let racers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            load_or_create_key(&path).map(|k| k.id())
                        })
                    })
                    .collect();
                racers.into_iter().map(|r| r.join().unwrap()).collect()
            });
            let on_disk = load_or_create_key(&path).unwrap().id();
            for id in ids {
                match id {
                    Ok(id) => assert_eq!(id, on_disk, "round {round}"),
                    Err(e) => panic!("round {round}: {e}"),
                }
            }
            let names: Vec<_> = fs::read_dir(dir.path().join("data"))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, ["mfa.key"], "round {round}: no temporary files left");
        }
    }

    #[test]
    fn new_key_file_is_private_durable_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mfa.key.new");
        let key = SealKey::generate().unwrap();
        write_new_key(&path, &key).unwrap();
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_key(&path).unwrap().id(), key.id());
        let err = write_new_key(&path, &SealKey::generate().unwrap()).unwrap_err();
        assert!(matches!(err, SecretsError::KeyFileWrite { .. }), "{err}");
        assert_eq!(load_key(&path).unwrap().id(), key.id(), "not overwritten");
        let target = dir.path().join("mfa.key");
        load_or_create_key(&target).unwrap();
        replace_key_file(&path, &target).unwrap();
        assert_eq!(load_key(&target).unwrap().id(), key.id());
        assert!(!path.exists());
        assert!(remove_key_file(&target).unwrap());
        assert!(!remove_key_file(&target).unwrap());
        assert!(matches!(
            load_key(&target),
            Err(SecretsError::KeyFileRead { .. })
        ));
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
