//! `Store::backup_into` (`mfac backup`): a consistent SQLite copy that opens and holds what was
//! there; never over an existing file; PostgreSQL is pointed to pg_dump.

use mfa_core::{Pattern, Timestamp};
use mfa_secrets::Token;
use mfa_store::{Backend, Store, StoreError};

use crate::support::{backends, sealer};

#[tokio::test]
async fn a_backup_opens_as_a_database_holding_what_was_there() {
    for db in backends().await {
        let hash = Token::generate("mfas").unwrap().hash();
        let hosts = [Pattern::new("*").unwrap()];
        db.store
            .add_server("ssh-1", &hash, &hosts, Timestamp::from_secs(1))
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let copy = dir.path().join("copy.db");
        let made = db.store.backup_into(&copy).await;
        if db.store.backend() == Backend::Postgres {
            let err = made.unwrap_err();
            assert!(matches!(err, StoreError::Unsupported(_)), "{err}");
            assert!(err.to_string().contains("pg_dump"), "{err}");
            assert!(!copy.exists(), "nothing written for PostgreSQL");
            db.finish().await;
            continue;
        }
        assert!(made.unwrap() > 0);
        let err = db.store.backup_into(&copy).await.unwrap_err();
        assert!(err.to_string().contains("exists"), "{err}");
        let url = format!("sqlite://{}", copy.display());
        let restored = Store::open(&url, sealer()).await.unwrap();
        let names: Vec<String> = restored
            .servers()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["ssh-1"]);
        assert!(restored.server_by_token(&hash).await.unwrap().is_some());
        restored.close().await;
        db.finish().await;
    }
}
