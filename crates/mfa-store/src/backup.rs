//! An online copy of the SQLite database (`mfac backup`): `VACUUM INTO` reads the database in
//! one transaction, so the copy is consistent while mfad keeps serving and writing.

use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::open::Backend;
use crate::{Store, StoreError};

impl Store {
    /// Writes a consistent copy of the database to `path`, a new file only its owner may read
    /// (it holds the sealed seeds and the token hashes); returns its size in bytes. SQLite
    /// only: a PostgreSQL database is copied with `pg_dump`.
    pub async fn backup_into(&self, path: &Path) -> Result<u64, StoreError> {
        if self.backend() != Backend::Sqlite {
            return Err(StoreError::Unsupported(
                "mfac backup copies an SQLite database; back PostgreSQL up with pg_dump".into(),
            ));
        }
        let shown = path.display();
        let text = path
            .to_str()
            .ok_or_else(|| StoreError::Backup(format!("{shown}: the path is not UTF-8")))?;
        // VACUUM INTO takes an empty file: made here first, so it is private from the start
        // and an existing file is never overwritten.
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| StoreError::Backup(format!("cannot create {shown}: {e}")))?;
        if let Err(e) = sqlx::query("VACUUM INTO ?")
            .bind(text)
            .execute(&self.pool)
            .await
        {
            let _ = std::fs::remove_file(path);
            return Err(StoreError::Backup(format!(
                "cannot copy the database to {shown}: {e}"
            )));
        }
        let size = std::fs::metadata(path)
            .map_err(|e| StoreError::Backup(format!("{shown}: {e}")))?
            .len();
        Ok(size)
    }
}
