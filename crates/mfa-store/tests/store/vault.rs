use mfa_core::Timestamp;
use mfa_otp::{Algorithm, Digits, Secret, TotpParams};
use mfa_store::StoreError;
use sqlx::Row;

use crate::support::backends;

#[tokio::test]
async fn add_list_code_remove_and_ids_are_not_reused() {
    for db in backends().await {
        let s = &db.store;
        let now = Timestamp::from_secs(1_700_000_000);
        let seed = Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap();
        let params = TotpParams::new(Algorithm::Sha256, Digits::new(8).unwrap(), 60).unwrap();
        let a = s
            .add_vault_app("AWS root", Some("ops@example.org"), &seed, params, now)
            .await
            .unwrap();
        let b = s
            .add_vault_app(
                "GitHub",
                None,
                &Secret::generate(20).unwrap(),
                TotpParams::default(),
                now,
            )
            .await
            .unwrap();
        assert!(b.id > a.id, "{}", db.name);
        let apps = s.vault_apps().await.unwrap();
        assert_eq!(apps, [a.clone(), b.clone()]);
        assert_eq!(
            s.vault_app(a.id).await.unwrap().attribute.as_deref(),
            Some("ops@example.org")
        );
        let (app, totp) = s.vault_totp(a.id).await.unwrap();
        assert_eq!(app.totp, params);
        assert_eq!(totp.secret, seed);

        // The seed is sealed and bound to its row.
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let row = sqlx::query("SELECT secret_sealed FROM vault_apps WHERE id = $1")
            .bind(a.id)
            .fetch_one(&raw)
            .await
            .unwrap();
        let sealed: Vec<u8> = row.try_get("secret_sealed").unwrap();
        assert!(!sealed.windows(seed.len()).any(|w| w == seed.as_bytes()));
        sqlx::query("UPDATE vault_apps SET secret_sealed = $1 WHERE id = $2")
            .bind(sealed)
            .bind(b.id)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        assert!(
            matches!(s.vault_totp(b.id).await, Err(StoreError::Secrets(_))),
            "a seed copied to another row opened"
        );

        s.remove_vault_app(b.id).await.unwrap();
        assert!(matches!(
            s.vault_app(b.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.remove_vault_app(b.id).await,
            Err(StoreError::NotFound(_))
        ));
        let c = s
            .add_vault_app(
                "GitLab",
                None,
                &Secret::generate(20).unwrap(),
                TotpParams::default(),
                now,
            )
            .await
            .unwrap();
        assert!(c.id > b.id, "{}: id {} reused", db.name, b.id);
        db.finish().await;
    }
}
