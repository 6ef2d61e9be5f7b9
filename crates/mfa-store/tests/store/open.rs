use mfa_secrets::{SealKey, Sealer, SecretsError};
use mfa_store::{Store, StoreError};

use crate::support::{backends, fresh_schema, sealer};

const RACERS: usize = 6;

/// Opens `RACERS` stores on `url` at once and returns what each open said.
async fn open_at_once(url: &str, key_file: &std::path::Path) -> Vec<Result<Store, StoreError>> {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|_| {
            let (url, key_file, barrier) = (url.to_owned(), key_file.to_owned(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                Store::open_with_key_file(&url, &key_file).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for racer in racers {
        results.push(racer.await.unwrap());
    }
    results
}

/// mfad and mfac started at once on a fresh SQLite file: both must migrate (once) and open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_opens_of_a_fresh_sqlite_file_all_succeed() {
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("data/mfa.db").display());
        let key_file = dir.path().join("data/mfa.key");
        for result in open_at_once(&url, &key_file).await {
            match result {
                Ok(store) => {
                    store.ping().await.unwrap();
                    store.close().await;
                }
                Err(e) => panic!("round {round}: {e}"),
            }
        }
    }
}

/// The same race on a fresh PostgreSQL schema (sqlx holds an advisory lock while it migrates).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_first_opens_of_a_fresh_postgres_schema_all_succeed() {
    let Ok(base) = std::env::var("MFA_TEST_POSTGRES_URL") else {
        eprintln!("SKIPPED: MFA_TEST_POSTGRES_URL is not set");
        return;
    };
    for round in 0..5 {
        let (admin, schema, url) = fresh_schema(&base).await;
        let dir = tempfile::tempdir().unwrap();
        let results = open_at_once(&url, &dir.path().join("mfa.key")).await;
        for result in results {
            match result {
                Ok(store) => store.close().await,
                Err(e) => panic!("round {round}: {e}"),
            }
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&admin)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn reopening_migrates_idempotently() {
    for db in backends().await {
        let again = Store::open(&db.url, sealer()).await;
        assert!(again.is_ok(), "{}: {:?}", db.name, again.err());
        again.unwrap().ping().await.unwrap();
        db.finish().await;
    }
}

#[tokio::test]
async fn another_key_file_is_refused() {
    for db in backends().await {
        let other = Sealer::new(SealKey::from_bytes([7; 32]));
        match Store::open(&db.url, other).await {
            Err(StoreError::Secrets(SecretsError::WrongKey { sealed_with, have })) => {
                assert_eq!(sealed_with, sealer().key_id_hex(), "{}", db.name);
                assert_ne!(have, sealed_with);
            }
            other => panic!("{}: expected WrongKey, got {other:?}", db.name),
        }
        db.finish().await;
    }
}

#[tokio::test]
async fn unsupported_url_is_named() {
    let err = Store::open("mysql://localhost/x", sealer())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Url(_)));
    assert!(err.to_string().contains("mysql://localhost/x"));
}
