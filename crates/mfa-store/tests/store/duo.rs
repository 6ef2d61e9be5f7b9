//! Duo integrations: an ikey and a sealed skey per integration, scoped to hosts like a server
//! token; found by ikey on the request path, listed without skeys, removed and rotated.

use mfa_core::{Alias, Pattern, Timestamp};
use mfa_duo::Skey;
use mfa_secrets::SecretsError;
use mfa_store::{DuoLogin, NewDuoIntegration, StoreError, is_duo_ikey};
use sqlx::Row;

use crate::support::backends;

const T0: i64 = 1_700_000_000;

fn name(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

fn hosts(list: &[&str]) -> Vec<Pattern> {
    list.iter().map(|h| Pattern::new(h).unwrap()).collect()
}

#[tokio::test]
async fn add_list_lookup_rotate_remove_round_trip() {
    for db in backends().await {
        let s = &db.store;
        let now = Timestamp::from_secs(T0);
        let ssh = hosts(&[
            "bastion.example.com",
            "*.prod.example.com",
            "bastion.example.com",
        ]);
        let (added, skey) = s
            .add_duo_integration(NewDuoIntegration {
                name: &name("ssh-hosts"),
                hosts: &ssh,
                legacy: true,
                now,
            })
            .await
            .unwrap();
        assert!(is_duo_ikey(&added.ikey), "{}: {}", db.name, added.ikey);
        assert_eq!(skey.expose().len(), 40);
        assert!(skey.expose().bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_eq!(added.hosts, ssh[..2], "{}: repeats dropped", db.name);
        assert!(added.legacy && added.skey_rotated_at.is_none());
        assert!(added.covers("web1.prod.example.com") && added.covers("BASTION.example.com"));
        assert!(!added.covers("web1.dev.example.com"), "{}", db.name);

        let (other, other_skey) = s
            .add_duo_integration(NewDuoIntegration {
                name: &name("dev"),
                hosts: &hosts(&["*"]),
                legacy: false,
                now,
            })
            .await
            .unwrap();
        assert_ne!(other.ikey, added.ikey);
        assert_ne!(other_skey, skey);

        let listed = s.duo_integrations().await.unwrap();
        assert_eq!(
            listed,
            [other.clone(), added.clone()],
            "{}: by name",
            db.name
        );
        assert_eq!(s.duo_integration(&name("ssh-hosts")).await.unwrap(), added);

        let (found, found_skey) = s
            .duo_integration_by_ikey(&added.ikey)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, added, "{}", db.name);
        assert_eq!(found_skey, skey, "{}: the skey opens as it was", db.name);
        let (found, found_skey) = s
            .duo_integration_by_ikey(&other.ikey)
            .await
            .unwrap()
            .unwrap();
        assert!(!found.legacy && found.covers("anything"));
        assert_eq!(found_skey, other_skey);
        assert!(
            s.duo_integration_by_ikey("DIXXXXXXXXXXXXXXXXXX")
                .await
                .unwrap()
                .is_none()
        );

        let epoch = s.credential_epoch().await.unwrap();
        let later = Timestamp::from_secs(T0 + 60);
        let new_skey = s.rotate_duo_skey(&name("ssh-hosts"), later).await.unwrap();
        assert_ne!(new_skey, skey, "{}", db.name);
        assert_eq!(new_skey.expose().len(), 40);
        assert_eq!(
            s.credential_epoch().await.unwrap(),
            epoch + 1,
            "{}",
            db.name
        );
        let (found, found_skey) = s
            .duo_integration_by_ikey(&added.ikey)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.ikey, added.ikey, "{}: the ikey stays", db.name);
        assert_eq!(found.skey_rotated_at, Some(later));
        assert_eq!(found_skey, new_skey, "{}: only the new skey", db.name);
        let err = s.rotate_duo_skey(&name("nope"), later).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        assert_eq!(err.to_string(), "duo integration nope does not exist");

        s.remove_duo_integration(&name("ssh-hosts")).await.unwrap();
        assert_eq!(
            s.credential_epoch().await.unwrap(),
            epoch + 2,
            "{}",
            db.name
        );
        assert!(
            s.duo_integration_by_ikey(&added.ikey)
                .await
                .unwrap()
                .is_none(),
            "{}: a removed integration is not found by its ikey",
            db.name
        );
        assert_eq!(
            s.duo_integrations().await.unwrap(),
            std::slice::from_ref(&other)
        );
        let err = s
            .remove_duo_integration(&name("ssh-hosts"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        assert!(matches!(
            s.duo_integration(&name("ssh-hosts")).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

fn new<'a>(name: &'a Alias, hosts: &'a [Pattern]) -> NewDuoIntegration<'a> {
    NewDuoIntegration {
        name,
        hosts,
        legacy: false,
        now: Timestamp::from_secs(T0),
    }
}

#[tokio::test]
async fn a_repeated_name_or_ikey_and_no_hosts_are_refused() {
    for db in backends().await {
        let s = &db.store;
        let (one, two, three, four) = (name("one"), name("two"), name("three"), name("four"));
        let any = hosts(&["*"]);
        let any = &any[..];
        let skey = Skey::generate().unwrap();
        let ikey = "DIAAAAAAAAAAAAAAAAAA";
        s.add_duo_integration_with_keys(new(&one, any), ikey, &skey)
            .await
            .unwrap();

        let err = s.add_duo_integration(new(&one, any)).await.unwrap_err();
        assert!(matches!(err, StoreError::Exists(_)), "{}: {err}", db.name);
        assert_eq!(err.to_string(), "duo integration one exists already");

        let err = s
            .add_duo_integration_with_keys(new(&two, any), ikey, &Skey::generate().unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Exists(_)), "{}: {err}", db.name);
        assert_eq!(
            err.to_string(),
            format!("a duo integration with ikey {ikey} exists already")
        );
        // Neither refused add changed the first one.
        let (found, found_skey) = s.duo_integration_by_ikey(ikey).await.unwrap().unwrap();
        assert_eq!(found.name.as_str(), "one");
        assert_eq!(found_skey, skey);
        assert_eq!(s.duo_integrations().await.unwrap().len(), 1, "{}", db.name);

        let err = s.add_duo_integration(new(&three, &[])).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Invalid(ref m) if m.contains("names no host")),
            "{err}"
        );
        for bad in ["diaaaaaaaaaaaaaaaaaa", "DIAAAA", "XXAAAAAAAAAAAAAAAAAA"] {
            let err = s
                .add_duo_integration_with_keys(new(&four, any), bad, &skey)
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Invalid(_)), "{bad}: {err}");
        }
        assert!(Skey::parse("short").is_none());
        db.finish().await;
    }
}

#[tokio::test]
async fn the_skey_is_sealed_at_rest_and_bound_to_its_row() {
    for db in backends().await {
        let s = &db.store;
        let now = Timestamp::from_secs(T0);
        let mut made = Vec::new();
        for n in ["a", "b"] {
            made.push(
                s.add_duo_integration(NewDuoIntegration {
                    name: &name(n),
                    hosts: &hosts(&["*"]),
                    legacy: false,
                    now,
                })
                .await
                .unwrap(),
            );
        }
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let row = sqlx::query("SELECT * FROM duo_integrations WHERE name = 'a'")
            .fetch_one(&raw)
            .await
            .unwrap();
        let sealed: Vec<u8> = row.try_get("skey_sealed").unwrap();
        let skey = made[0].1.expose().as_bytes();
        assert!(sealed.len() > skey.len(), "{}", db.name);
        assert!(
            !sealed.windows(8).any(|w| skey.windows(8).any(|k| k == w)),
            "{}: no piece of the skey in the clear",
            db.name
        );
        for col in ["name", "ikey", "hosts"] {
            let v: String = row.try_get(col).unwrap();
            assert!(!v.contains(made[0].1.expose()), "{col}");
        }

        // a's sealed skey copied onto b: bound to a's ikey, it does not open as b's.
        sqlx::query("UPDATE duo_integrations SET skey_sealed = $1 WHERE name = 'b'")
            .bind(sealed)
            .execute(&raw)
            .await
            .unwrap();
        raw.close().await;
        let err = s
            .duo_integration_by_ikey(&made[1].0.ikey)
            .await
            .unwrap_err();
        assert!(
            matches!(err, StoreError::Secrets(SecretsError::Corrupt)),
            "{}: {err:?}",
            db.name
        );
        let (_, still) = s
            .duo_integration_by_ikey(&made[0].0.ikey)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(still, made[0].1);
        db.finish().await;
    }
}

/// A preauth's number serves the one auth that follows, for that (integration, user, ipaddr)
/// only, until it expires; a newer preauth replaces it; a purge drops the expired.
#[tokio::test]
async fn a_reserved_number_is_taken_once_by_the_same_login() {
    for db in backends().await {
        let s = &db.store;
        let (a, b) = (name("pam"), name("other"));
        let t = |secs: i64| Timestamp::from_millis(1_000_000 + secs * 1000);
        let login = |integration, user, ip| DuoLogin {
            integration,
            user,
            client_ip: ip,
        };
        s.reserve_duo_number(&login(&a, "tux", Some("192.0.2.7")), 42, t(60))
            .await
            .unwrap();
        s.reserve_duo_number(&login(&a, "tux", None), 17, t(60))
            .await
            .unwrap();
        for other in [
            login(&b, "tux", Some("192.0.2.7")),
            login(&a, "root", Some("192.0.2.7")),
            login(&a, "tux", Some("192.0.2.8")),
        ] {
            assert_eq!(
                s.take_duo_number(&other, t(1)).await.unwrap(),
                None,
                "{}",
                db.name
            );
        }
        let mine = login(&a, "tux", Some("192.0.2.7"));
        s.reserve_duo_number(&mine, 43, t(60)).await.unwrap();
        assert_eq!(
            s.take_duo_number(&mine, t(1)).await.unwrap(),
            Some(43),
            "{}",
            db.name
        );
        assert_eq!(s.take_duo_number(&mine, t(2)).await.unwrap(), None);
        assert_eq!(
            s.take_duo_number(&login(&a, "tux", None), t(2))
                .await
                .unwrap(),
            Some(17)
        );
        // Expired: not handed out, and purged.
        s.reserve_duo_number(&mine, 50, t(60)).await.unwrap();
        s.reserve_duo_number(&login(&b, "tux", None), 51, t(5))
            .await
            .unwrap();
        let keep = mfa_store::Retention {
            failure_window_secs: 600,
            lock_memory_secs: 600,
            audit_days: 30,
        };
        assert_eq!(s.purge(keep, t(10)).await.unwrap().duo_numbers, 1);
        assert_eq!(s.take_duo_number(&mine, t(61)).await.unwrap(), None);
    }
}
