use mfa_core::{Alias, Scope, Scopes, Timestamp};
use mfa_otp::{Secret, TotpParams};
use mfa_secrets::Token;
use mfa_store::{NewApiToken, StoreError};
use sqlx::Row;

use crate::support::backends;

fn name(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

#[tokio::test]
async fn add_find_list_remove_and_hash_only() {
    for db in backends().await {
        let s = &db.store;
        let now = Timestamp::from_secs(1_700_000_000);
        let app = s
            .add_vault_app(
                "aws",
                None,
                &Secret::generate(20).unwrap(),
                TotpParams::default(),
                now,
            )
            .await
            .unwrap();
        let token = Token::generate("mfat").unwrap();
        let scopes: Scopes = "vault:read,otp".parse().unwrap();
        let added = s
            .add_api_token(NewApiToken {
                name: &name("ci"),
                token_hash: &token.hash(),
                scopes: &scopes,
                vault_apps: Some(&[app.id, app.id]),
                now,
            })
            .await
            .unwrap();
        assert_eq!(added.vault_apps, Some(vec![app.id]), "{}", db.name);
        let found = s.api_token_by_hash(&token.hash()).await.unwrap().unwrap();
        assert_eq!(found, added);
        assert!(found.has(Scope::Otp) && found.has(Scope::VaultRead));
        assert!(!found.has(Scope::VaultWrite));
        assert!(found.may_use_vault_app(app.id) && !found.may_use_vault_app(app.id + 1));

        let all = Token::generate("mfat").unwrap();
        s.add_api_token(NewApiToken {
            name: &name("admin"),
            token_hash: &all.hash(),
            scopes: &"vault:write".parse().unwrap(),
            vault_apps: None,
            now,
        })
        .await
        .unwrap();
        let admin = s.api_token_by_hash(&all.hash()).await.unwrap().unwrap();
        assert!(admin.may_use_vault_app(12345));
        let names: Vec<String> = s
            .api_tokens()
            .await
            .unwrap()
            .iter()
            .map(|t| t.name.to_string())
            .collect();
        assert_eq!(names, ["admin", "ci"]);

        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let rows = sqlx::query("SELECT token_hash FROM api_tokens")
            .fetch_all(&raw)
            .await
            .unwrap();
        for row in rows {
            let hash: String = row.try_get("token_hash").unwrap();
            assert!(!hash.contains(&token.expose()[5..]) && !hash.contains(&all.expose()[5..]));
        }
        raw.close().await;

        s.remove_api_token(&name("ci")).await.unwrap();
        assert!(s.api_token_by_hash(&token.hash()).await.unwrap().is_none());
        assert!(matches!(
            s.remove_api_token(&name("ci")).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn duplicate_names_and_unknown_vault_apps_leave_nothing() {
    for db in backends().await {
        let s = &db.store;
        let now = Timestamp::from_secs(1);
        let scopes: Scopes = "otp".parse().unwrap();
        let first = Token::generate("mfat").unwrap();
        s.add_api_token(NewApiToken {
            name: &name("ci"),
            token_hash: &first.hash(),
            scopes: &scopes,
            vault_apps: None,
            now,
        })
        .await
        .unwrap();
        let err = s
            .add_api_token(NewApiToken {
                name: &name("ci"),
                token_hash: &Token::generate("mfat").unwrap().hash(),
                scopes: &scopes,
                vault_apps: None,
                now,
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "api token ci exists already",
            "{}",
            db.name
        );

        let second = Token::generate("mfat").unwrap();
        let err = s
            .add_api_token(NewApiToken {
                name: &name("reader"),
                token_hash: &second.hash(),
                scopes: &"vault:read".parse().unwrap(),
                vault_apps: Some(&[77]),
                now,
            })
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "vault app 77 does not exist",
            "{}",
            db.name
        );
        assert!(s.api_token_by_hash(&second.hash()).await.unwrap().is_none());
        assert_eq!(s.api_tokens().await.unwrap().len(), 1);
        db.finish().await;
    }
}
