//! Who uses the database, for `mfac key rotate`: every open [`Store`](crate::Store) (mfad,
//! each mfac command) holds a *shared* lock for as long as it is open, and a key rotation
//! takes the same lock *exclusively*, with a try-lock: it refuses while anything else has the
//! database open, and everything else refuses to open while it runs. mfad keeps its
//! [`Sealer`](mfa_secrets::Sealer) in memory, so a rotation under a running mfad would leave
//! it sealing new secrets with a key the database no longer names.
//!
//! - SQLite: an `flock` on `<database>.lock`, a file beside the database (mode 0600). The
//!   kernel drops it when the process dies, kill -9 included.
//! - PostgreSQL: a session-level advisory lock on a dedicated connection, keyed by the
//!   schema (`current_schema()`), so several mfads sharing one database all hold it shared,
//!   and a crash (the connection closing) releases it. Advisory locks are per database, so
//!   the schema in the key keeps databases in different schemas apart.
//!
//! Both go when the store is closed ([`Store::close`](crate::Store::close)) or dropped.

use std::fs::{File, OpenOptions, TryLockError};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use sqlx::{AnyConnection, Connection};

use crate::StoreError;
use crate::open::{Backend, redact};

/// The first key of the two-key advisory lock ("mfa!"); the second is the schema's hash.
const ADVISORY_KEY: i32 = 0x6d66_6121;

/// How long a rotation waits for the others to let go before it says the database is in use.
const EXCLUSIVE_GRACE: std::time::Duration = std::time::Duration::from_secs(3);
const RETRY_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// An ordinary user of the database (mfad, an mfac command).
    Shared,
    /// A key rotation: nobody else may have the database open.
    Exclusive,
}

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub(crate) enum UseLock {
    File(#[allow(dead_code)] File),
    Postgres(AnyConnection),
    /// An in-memory SQLite database: nobody else can open it anyway.
    Memory,
}

impl UseLock {
    /// Takes the lock in `mode`; [`StoreError::Locked`] says who is in the way. A shared lock
    /// does not wait. An exclusive one (a rotation) retries for [`EXCLUSIVE_GRACE`]: when a
    /// holder dies, PostgreSQL drops its lock only once the server notices the closed
    /// connection, a moment later, and a rotation right after `mfad` was killed was refused.
    pub(crate) async fn take(url: &str, backend: Backend, mode: Mode) -> Result<Self, StoreError> {
        let deadline = tokio::time::Instant::now() + EXCLUSIVE_GRACE;
        loop {
            match Self::try_take(url, backend, mode).await? {
                Some(lock) => return Ok(lock),
                None if mode == Mode::Exclusive && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                None => return Err(StoreError::Locked(busy_message(mode))),
            }
        }
    }

    /// One try; `None`: someone else holds it in a conflicting mode.
    async fn try_take(url: &str, backend: Backend, mode: Mode) -> Result<Option<Self>, StoreError> {
        Ok(match backend {
            Backend::Sqlite => match sqlite_lock_file(url) {
                Some(path) => lock_file(&path, mode)?.map(UseLock::File),
                None => Some(UseLock::Memory),
            },
            Backend::Postgres => lock_postgres(url, mode).await?.map(UseLock::Postgres),
        })
    }

    /// Releases the lock now. PostgreSQL: unlocks, then closes the connection. Closing alone
    /// is not enough: the server drops the lock only when its backend process exits, a moment
    /// after `close` returns, and a rotation started in that moment was refused.
    pub(crate) async fn release(self) {
        if let UseLock::Postgres(mut conn) = self {
            // Wrapped: the Any driver cannot carry a `void` column.
            let _ = sqlx::query("SELECT 1 FROM (SELECT pg_advisory_unlock_all()) AS unlocked")
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

fn busy_message(mode: Mode) -> String {
    match mode {
        Mode::Exclusive => "the database is in use by mfad (or another mfac command): stop \
                            every mfad using it first (mfad keeps the sealing key in memory), \
                            then run `mfac key rotate` again"
            .into(),
        Mode::Shared => "`mfac key rotate` is re-sealing this database's secrets: wait for it \
                         to finish, then try again"
            .into(),
    }
}

/// `<database file>.lock`, or `None` for an in-memory database.
fn sqlite_lock_file(url: &str) -> Option<PathBuf> {
    let path = crate::open::sqlite_path(url);
    if path.as_os_str().is_empty() || path == Path::new(":memory:") || url.contains("mode=memory") {
        return None;
    }
    let mut name = path.file_name()?.to_os_string();
    name.push(".lock");
    Some(path.with_file_name(name))
}

/// `None`: someone else holds it in a conflicting mode.
fn lock_file(path: &Path, mode: Mode) -> Result<Option<File>, StoreError> {
    let io_err = |e: std::io::Error| {
        StoreError::Locked(format!("cannot open the lock file {}: {e}", path.display()))
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err)?;
    let locked = match mode {
        Mode::Shared => file.try_lock_shared(),
        Mode::Exclusive => file.try_lock(),
    };
    match locked {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io_err(e)),
    }
}

/// `None`: someone else holds it in a conflicting mode.
async fn lock_postgres(url: &str, mode: Mode) -> Result<Option<AnyConnection>, StoreError> {
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(url)
        .await
        .map_err(|source| StoreError::Open {
            url: redact(url),
            source,
        })?;
    let sql = match mode {
        Mode::Shared => {
            "SELECT pg_try_advisory_lock_shared($1, hashtext(coalesce(current_schema(), '')))"
        }
        Mode::Exclusive => {
            "SELECT pg_try_advisory_lock($1, hashtext(coalesce(current_schema(), '')))"
        }
    };
    let got: bool = sqlx::query_scalar(sql)
        .bind(ADVISORY_KEY)
        .fetch_one(&mut conn)
        .await?;
    if got {
        Ok(Some(conn))
    } else {
        let _ = conn.close().await;
        Ok(None)
    }
}
