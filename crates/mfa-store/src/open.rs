use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mfa_secrets::Sealer;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Connection, Executor};

use crate::StoreError;
use crate::lock::{Mode, UseLock};
use crate::writer::{WriteFn, Writer};

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// Connections to an SQLite file: one writes at a time, the others read (WAL).
const SQLITE_POOL_SIZE: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StoreError::Url(redact(url))),
        }
    }
}

/// The database, with the sealer that protects secrets stored in it.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) sealer: Sealer,
    pub(crate) url: String,
    backend: Backend,
    writer: Writer,
    /// The shared use lock, until [`Store::close`] (see [`crate::lock`]).
    lock: Arc<Mutex<Option<UseLock>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.backend)
    }
}

impl Store {
    /// Opens (creating an SQLite file if needed), migrates, and checks that `sealer` holds the key
    /// this database's secrets were sealed with. The store holds the database's shared use
    /// lock ([`crate::lock`]) until it is closed, so `mfac key rotate` cannot run under it.
    pub async fn open(url: &str, sealer: Sealer) -> Result<Self, StoreError> {
        let store = Self::open_unchecked(url, sealer).await?;
        match store.check_seal_key().await? {
            None => Ok(store),
            Some(sealed_with) => {
                let have = store.sealer.key_id_hex();
                store.close().await;
                Err(mfa_secrets::SecretsError::WrongKey { sealed_with, have }.into())
            }
        }
    }

    /// Opens and migrates, holding the shared use lock, without checking the sealing key.
    async fn open_unchecked(url: &str, sealer: Sealer) -> Result<Self, StoreError> {
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite {
            prepare_sqlite_file(url)?;
        }
        let lock = UseLock::take(url, backend, Mode::Shared).await?;
        let pool = connect(url, backend).await?;
        Ok(Self {
            writer: Writer::new(&pool, backend),
            pool,
            sealer,
            url: url.to_owned(),
            backend,
            lock: Arc::new(Mutex::new(Some(lock))),
        })
    }

    /// Opens with the sealing key from `key_file`, creating the key on first start.
    ///
    /// When the database names another key, the key files a key rotation leaves beside
    /// `key_file` are looked at (see [`crate::rotate`]): if the rotation committed but was
    /// interrupted before it moved the new key into place (`<key_file>.new` holds the
    /// database's key), this finishes it — safe, since no rotation can run while this store
    /// holds the use lock, and unambiguous, since the key ids match. Otherwise the error names
    /// the file that holds the right key, if one does.
    pub async fn open_with_key_file(url: &str, key_file: &Path) -> Result<Self, StoreError> {
        let key = mfa_secrets::load_or_create_key(key_file)?;
        let mut store = Self::open_unchecked(url, Sealer::new(key)).await?;
        let Some(sealed_with) = store.check_seal_key().await? else {
            return Ok(store);
        };
        // A rotation that finished between reading the key file and taking the lock.
        if let Ok(key) = mfa_secrets::load_key(key_file)
            && key.id_hex() == sealed_with
        {
            store.sealer = Sealer::new(key);
            return Ok(store);
        }
        let have = store.sealer.key_id_hex();
        match crate::rotate::finish_interrupted(key_file, &sealed_with) {
            Ok(Some(key)) => {
                store.sealer = Sealer::new(key);
                Ok(store)
            }
            Ok(None) => {
                store.close().await;
                Err(StoreError::wrong_key_file(key_file, sealed_with, have))
            }
            Err(e) => {
                store.close().await;
                Err(e)
            }
        }
    }

    /// A transaction for the rare administrative writes (several statements, errors mapped per
    /// statement), beside the group-committing writer of the hot paths ([`Store::write`]).
    /// SQLite's default (deferred) transaction takes the write lock at its first write, and
    /// fails at once if another writer committed since it read; `BEGIN IMMEDIATE` takes the
    /// lock up front and waits for it (`busy_timeout`) instead.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Runs `f` on `data` in a write transaction and answers once it committed; on SQLite
    /// together with the other writes queued meanwhile (group commit, see [`crate::writer`]).
    /// `f` must use only the connection it is given (the pool's connections do not see its
    /// writes until then, and a write through the pool would wait for the writer's lock), and
    /// may run more than once.
    pub(crate) async fn write<D, T, F>(&self, data: D, f: F) -> Result<T, StoreError>
    where
        D: Send + Sync + 'static,
        T: Send + 'static,
        F: WriteFn<D, T>,
    {
        crate::writer::write(&self.pool, &self.writer, data, f).await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool and releases the use lock (other clones of this store stop working).
    pub async fn close(&self) {
        self.pool.close().await;
        let lock = self.lock.lock().ok().and_then(|mut held| held.take());
        if let Some(lock) = lock {
            lock.release().await;
        }
    }

    /// The first start records the key id; later starts with another key file are refused before
    /// anything is sealed under the wrong key. `Some(id)`: the database names key `id`, not
    /// the sealer's.
    async fn check_seal_key(&self) -> Result<Option<String>, StoreError> {
        let have = self.sealer.key_id_hex();
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('seal_key_id', $1) ON CONFLICT (key) DO NOTHING",
        )
        .bind(&have)
        .execute(&self.pool)
        .await?;
        let sealed_with: String =
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'seal_key_id'")
                .fetch_one(&self.pool)
                .await?;
        Ok((sealed_with != have).then_some(sealed_with))
    }
}

/// A pool on `url` (SQLite: WAL, FULL sync, foreign keys), migrated.
pub(crate) async fn connect(url: &str, backend: Backend) -> Result<AnyPool, StoreError> {
    install_default_drivers();
    let open_err = |source| StoreError::Open {
        url: redact(url),
        source,
    };
    let url_with_mode = match backend {
        Backend::Sqlite if !url.contains("mode=") => {
            let sep = if url.contains('?') { '&' } else { '?' };
            format!("{url}{sep}mode=rwc")
        }
        _ => url.to_owned(),
    };
    let pool = AnyPoolOptions::new()
        .max_connections(match backend {
            Backend::Sqlite => SQLITE_POOL_SIZE,
            Backend::Postgres => 16,
        })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers proceed while one writer commits. FULL syncs the
                    // log at every commit: with NORMAL a power loss can undo the last
                    // commits, and with them a burnt code or a decided push.
                    conn.execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
                        .await?;
                }
                Ok(())
            })
        })
        .connect(&url_with_mode)
        .await
        .map_err(open_err)?;
    migrate(&pool, backend)
        .await
        .map_err(|source| StoreError::Migrate {
            url: redact(url),
            source,
        })?;
    Ok(pool)
}

/// Runs the migrations once, even when several processes open a fresh database at once.
/// sqlx holds an advisory lock for PostgreSQL but takes none for SQLite, where two first
/// starts would both create the tables ("table meta already exists"). There the whole run is
/// one `BEGIN IMMEDIATE` transaction: the database's own write lock, so the second process
/// waits (busy_timeout) and then finds every migration applied. Each migration becomes a
/// savepoint inside it; a migration needing `PRAGMA foreign_keys = OFF` would not work here.
async fn migrate(pool: &AnyPool, backend: Backend) -> Result<(), sqlx::migrate::MigrateError> {
    match backend {
        Backend::Postgres => POSTGRES_MIGRATIONS.run(pool).await,
        Backend::Sqlite => {
            let mut conn = pool.acquire().await?;
            let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
            // `run(&mut *tx)` trips "Acquire is not general enough" in a Send future;
            // `run_direct` is what sqlx provides for that (and what `run` calls).
            SQLITE_MIGRATIONS.run_direct(None, &mut *tx, false).await?;
            tx.commit().await?;
            Ok(())
        }
    }
}

/// The embedded default lives in a directory of its own (`./mfa-data`): on first start make
/// it, and the database file, private (SQLite gives its -wal and -shm files the same mode).
pub(crate) fn prepare_sqlite_file(url: &str) -> Result<(), StoreError> {
    let path = sqlite_path(url);
    let io_err = |e| StoreError::Open {
        url: url.to_owned(),
        source: sqlx::Error::Io(e),
    };
    if path.as_os_str().is_empty() || path == Path::new(":memory:") || path.exists() {
        return Ok(());
    }
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_err)?;
    }
    match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io_err(e)),
        _ => Ok(()),
    }
}

/// The file an SQLite URL names (empty or `:memory:` for an in-memory database).
pub(crate) fn sqlite_path(url: &str) -> &Path {
    Path::new(
        url.trim_start_matches("sqlite:")
            .trim_start_matches("//")
            .split('?')
            .next()
            .unwrap_or_default(),
    )
}

/// A URL fit for messages: without its password.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..start + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://mfa:hunter2@db/mfa"),
            "postgres://mfa:***@db/mfa"
        );
        assert_eq!(redact("postgres://mfa@db/mfa"), "postgres://mfa@db/mfa");
        assert_eq!(redact("sqlite://./x.db"), "sqlite://./x.db");
    }

    #[test]
    fn backend_from_scheme() {
        assert_eq!(Backend::from_url("sqlite://a.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgresql://h/d").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://h/d").is_err());
    }

    /// A burnt code or a decided push must survive power loss: in WAL mode only
    /// `synchronous = FULL` (2) syncs the log at each commit. Checked on every connection the
    /// pool holds at once, since the pragma is per connection.
    #[tokio::test]
    async fn every_sqlite_connection_syncs_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("mfa.db").display());
        let key = mfa_secrets::SealKey::from_bytes([1; 32]);
        let store = Store::open(&url, Sealer::new(key)).await.unwrap();
        let mut held = Vec::new();
        for _ in 0..SQLITE_POOL_SIZE {
            held.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut held {
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(sync, 2, "synchronous must be FULL (2) on every connection");
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
        }
        drop(held);
        store.close().await;
    }
}
