//! Opens a fresh store per backend: a new SQLite file, or a new PostgreSQL schema.

use std::sync::atomic::{AtomicU32, Ordering};

use mfa_secrets::{SealKey, Sealer};
use mfa_store::Store;
use sqlx::any::install_default_drivers;
use sqlx::{AnyPool, AssertSqlSafe, Executor};

pub struct TestDb {
    pub name: &'static str,
    pub url: String,
    pub store: Store,
    _dir: Option<tempfile::TempDir>,
    schema: Option<(AnyPool, String)>,
}

impl TestDb {
    /// Drops the PostgreSQL schema (SQLite files go with their temp dir).
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin, schema)) = self.schema {
            admin
                .execute(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .await
                .unwrap();
        }
    }
}

pub fn sealer() -> Sealer {
    Sealer::new(SealKey::from_bytes([42; 32]))
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// SQLite always; PostgreSQL when MFA_TEST_POSTGRES_URL names a server (CI sets it).
pub async fn backends() -> Vec<TestDb> {
    let mut dbs = vec![sqlite().await];
    match std::env::var("MFA_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => dbs.push(postgres(&url).await),
        _ => eprintln!(
            "SKIPPED PostgreSQL half of this test: MFA_TEST_POSTGRES_URL is not set \
             (scripts/test.sh sets it when a server answers on 127.0.0.1:5432)"
        ),
    }
    dbs
}

pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("mfa.db").display());
    let store = Store::open(&url, sealer()).await.unwrap();
    TestDb {
        name: "sqlite",
        url,
        store,
        _dir: Some(dir),
        schema: None,
    }
}

pub async fn postgres(base_url: &str) -> TestDb {
    let (admin, schema, url) = fresh_schema(base_url).await;
    let store = Store::open(&url, sealer()).await.unwrap();
    TestDb {
        name: "postgres",
        url,
        store,
        _dir: None,
        schema: Some((admin, schema)),
    }
}

/// A new, empty schema: its admin pool, its name, and a URL whose search path is that schema.
pub async fn fresh_schema(base_url: &str) -> (AnyPool, String, String) {
    install_default_drivers();
    let admin = AnyPool::connect(base_url)
        .await
        .unwrap_or_else(|e| panic!("MFA_TEST_POSTGRES_URL={base_url} is set but unreachable: {e}"));
    // Process ids repeat across runs and a failed test leaves its schema: add a random part.
    let schema = format!(
        "mfa_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst),
        mfa_secrets::random_id(5).unwrap()
    );
    admin
        .execute(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .await
        .unwrap();
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{sep}options=-c%20search_path%3D{schema}");
    (admin, schema, url)
}
