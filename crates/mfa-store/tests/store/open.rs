use mfa_secrets::{SealKey, Sealer, SecretsError};
use mfa_store::{Store, StoreError};

use crate::support::{backends, sealer};

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
