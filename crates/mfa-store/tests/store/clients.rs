use std::sync::Arc;

use mfa_core::{Alias, Timestamp};
use mfa_otp::{Secret, TotpParams};
use mfa_secrets::Token;
use mfa_store::{NewClient, Store, StoreError};
use sqlx::Row;

use crate::support::backends;

fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

async fn add(store: &Store, name: &str) -> (Token, Secret) {
    let key = Token::generate("mfak").unwrap();
    let secret = Secret::generate(20).unwrap();
    store
        .add_client(NewClient {
            alias: &alias(name),
            key_hash: &key.hash(),
            totp_secret: &secret,
            totp: TotpParams::default(),
            notify: Default::default(),
            now: Timestamp::from_secs(1_700_000_000),
        })
        .await
        .unwrap();
    (key, secret)
}

#[tokio::test]
async fn add_list_show_remove() {
    for db in backends().await {
        let s = &db.store;
        add(s, "tux").await;
        add(s, "alice").await;
        let names: Vec<String> = s
            .clients()
            .await
            .unwrap()
            .iter()
            .map(|c| c.alias.to_string())
            .collect();
        assert_eq!(names, ["alice", "tux"], "{}", db.name);
        let tux = s.client(&alias("tux")).await.unwrap();
        assert_eq!(tux.created_at, Timestamp::from_secs(1_700_000_000));
        assert_eq!(tux.totp, TotpParams::default());
        s.remove_client(&alias("tux")).await.unwrap();
        assert!(matches!(
            s.client(&alias("tux")).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.remove_client(&alias("tux")).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn duplicate_alias_is_refused_and_keeps_the_first() {
    for db in backends().await {
        let (key, _) = add(&db.store, "tux").await;
        let err = db
            .store
            .add_client(NewClient {
                alias: &alias("tux"),
                key_hash: &Token::generate("mfak").unwrap().hash(),
                totp_secret: &Secret::generate(20).unwrap(),
                totp: TotpParams::default(),
                notify: Default::default(),
                now: Timestamp::from_secs(1),
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "client tux exists already", "{}", db.name);
        let found = db.store.client_by_key(&key.hash()).await.unwrap();
        assert_eq!(found.unwrap().alias, alias("tux"));
        db.finish().await;
    }
}

#[tokio::test]
async fn key_lookup_and_rotation() {
    for db in backends().await {
        let s = &db.store;
        let (old, _) = add(s, "tux").await;
        let new = Token::generate("mfak").unwrap();
        s.set_client_key(&alias("tux"), &new.hash()).await.unwrap();
        assert!(
            s.client_by_key(&old.hash()).await.unwrap().is_none(),
            "{}",
            db.name
        );
        assert_eq!(
            s.client_by_key(&new.hash()).await.unwrap().unwrap().alias,
            alias("tux")
        );
        assert!(matches!(
            s.set_client_key(&alias("nobody"), &new.hash()).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn seeds_are_sealed_and_keys_hashed() {
    for db in backends().await {
        let s = &db.store;
        let (key, secret) = add(s, "tux").await;
        let (totp, last) = s.client_totp(&alias("tux")).await.unwrap().unwrap();
        assert_eq!(totp.secret.as_bytes(), secret.as_bytes(), "{}", db.name);
        assert_eq!(last, None);
        // What the database holds: neither the seed nor the key, only a sealed blob and a hash.
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let row = sqlx::query("SELECT key_hash, totp_sealed FROM clients")
            .fetch_one(&raw)
            .await
            .unwrap();
        let hash: String = row.try_get("key_hash").unwrap();
        let sealed: Vec<u8> = row.try_get("totp_sealed").unwrap();
        assert_eq!(hash, key.hash().as_str());
        assert!(!sealed.windows(20).any(|w| w == secret.as_bytes()));
        assert!(!hash.contains(key.expose()));
        raw.close().await;
        db.finish().await;
    }
}

#[tokio::test]
async fn totp_steps_burn_once_and_only_forward() {
    for db in backends().await {
        let s = &db.store;
        add(s, "tux").await;
        let tux = alias("tux");
        assert!(s.accept_totp_step(&tux, 100).await.unwrap(), "{}", db.name);
        assert!(
            !s.accept_totp_step(&tux, 100).await.unwrap(),
            "replay accepted"
        );
        assert!(
            !s.accept_totp_step(&tux, 99).await.unwrap(),
            "older step accepted"
        );
        assert!(s.accept_totp_step(&tux, 101).await.unwrap());
        assert_eq!(s.client_totp(&tux).await.unwrap().unwrap().1, Some(101));
        s.reset_client_totp(&tux, &Secret::generate(20).unwrap(), TotpParams::default())
            .await
            .unwrap();
        assert_eq!(
            s.client_totp(&tux).await.unwrap().unwrap().1,
            None,
            "reset keeps old step"
        );
        assert!(s.accept_totp_step(&tux, 50).await.unwrap());
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submissions_of_one_step_accept_exactly_one() {
    for db in backends().await {
        add(&db.store, "tux").await;
        let store = Arc::new(db.store.clone());
        for step in 1000..1005u64 {
            let racers: Vec<_> = (0..16)
                .map(|_| {
                    let store = store.clone();
                    tokio::spawn(async move { store.accept_totp_step(&alias("tux"), step).await })
                })
                .collect();
            let mut accepted = 0;
            for r in racers {
                if r.await.unwrap().unwrap() {
                    accepted += 1;
                }
            }
            assert_eq!(
                accepted, 1,
                "{}: step {step} accepted {accepted} times",
                db.name
            );
        }
        db.finish().await;
    }
}

/// The seed goes to the client once (`mfa enroll`), so a key stolen later yields no codes.
#[tokio::test]
async fn a_totp_seed_is_delivered_once_until_it_is_reset() {
    for db in backends().await {
        let s = &db.store;
        let (_, secret) = add(s, "tux").await;
        let tux = alias("tux");
        let at = Timestamp::from_secs(1_700_000_100);
        assert_eq!(s.client(&tux).await.unwrap().totp_delivered_at, None);
        let totp = s.deliver_client_totp(&tux, at).await.unwrap();
        let totp = totp.unwrap_or_else(|| panic!("{}: not delivered", db.name));
        assert_eq!(totp.secret, secret, "{}", db.name);
        assert_eq!(totp.params, TotpParams::default());
        assert_eq!(s.client(&tux).await.unwrap().totp_delivered_at, Some(at));
        assert_eq!(
            s.deliver_client_totp(&tux, at.plus_secs(1)).await.unwrap(),
            None,
            "{}: delivered twice",
            db.name
        );
        // mfad still checks codes against it.
        assert_eq!(s.client_totp(&tux).await.unwrap().unwrap().0.secret, secret);
        assert!(matches!(
            s.deliver_client_totp(&alias("nobody"), at).await,
            Err(StoreError::NotFound(_))
        ));

        // A new seed is deliverable again, once.
        let fresh = Secret::generate(20).unwrap();
        s.reset_client_totp(&tux, &fresh, TotpParams::default())
            .await
            .unwrap();
        assert_eq!(s.client(&tux).await.unwrap().totp_delivered_at, None);
        let again = s.deliver_client_totp(&tux, at).await.unwrap().unwrap();
        assert_eq!(again.secret, fresh, "{}", db.name);
        assert_eq!(s.deliver_client_totp(&tux, at).await.unwrap(), None);

        // One already marked delivered (for an authenticator app only) is never handed out.
        let app_only = Secret::generate(20).unwrap();
        s.replace_client_totp(&tux, &app_only, TotpParams::default(), Some(at))
            .await
            .unwrap();
        assert_eq!(s.client(&tux).await.unwrap().totp_delivered_at, Some(at));
        assert_eq!(s.deliver_client_totp(&tux, at).await.unwrap(), None);
        assert_eq!(
            s.client_totp(&tux).await.unwrap().unwrap().0.secret,
            app_only
        );
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_racing_deliveries_hand_out_the_seed_once() {
    for db in backends().await {
        let store = Arc::new(db.store.clone());
        for round in 0..3 {
            let name = format!("racer{round}");
            add(&store, &name).await;
            let racers: Vec<_> = (0..16)
                .map(|_| {
                    let store = store.clone();
                    let name = name.clone();
                    tokio::spawn(async move {
                        store
                            .deliver_client_totp(&alias(&name), Timestamp::from_secs(1))
                            .await
                    })
                })
                .collect();
            let mut delivered = 0;
            for r in racers {
                if r.await.unwrap().unwrap().is_some() {
                    delivered += 1;
                }
            }
            assert_eq!(delivered, 1, "{}: delivered {delivered} times", db.name);
        }
        db.finish().await;
    }
}
