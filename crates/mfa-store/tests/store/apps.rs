use mfa_core::{Alias, Methods, Pattern, Timestamp, best_route};
use mfa_otp::{Secret, TotpParams};
use mfa_secrets::Token;
use mfa_store::{NewApp, NewClient, Store, StoreError};

use crate::support::backends;

fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

async fn add_client(store: &Store, name: &str) {
    store
        .add_client(NewClient {
            alias: &alias(name),
            key_hash: &Token::generate("mfak").unwrap().hash(),
            totp_secret: &Secret::generate(20).unwrap(),
            totp: TotpParams::default(),
            notify: Default::default(),
            now: Timestamp::from_secs(1),
        })
        .await
        .unwrap();
}

fn app(user: &str, host: &str, service: &str, clients: &[&str]) -> NewApp {
    NewApp {
        user: alias(user),
        host: Pattern::new(host).unwrap(),
        service: Pattern::new(service).unwrap(),
        methods: "push,totp".parse::<Methods>().unwrap(),
        clients: clients.iter().map(|c| alias(c)).collect(),
    }
}

#[tokio::test]
async fn add_list_route_remove() {
    for db in backends().await {
        let s = &db.store;
        add_client(s, "tux").await;
        add_client(s, "tux-phone").await;
        let now = Timestamp::from_secs(5);
        let exact = s
            .add_app(
                &app(
                    "tux",
                    "linux.example.org",
                    "sshd",
                    &["tux", "tux-phone", "tux"],
                ),
                now,
            )
            .await
            .unwrap();
        assert_eq!(
            exact.clients,
            [alias("tux"), alias("tux-phone")],
            "{}",
            db.name
        );
        let wild = s
            .add_app(&app("tux", "*", "*", &["tux"]), now)
            .await
            .unwrap();
        let alice = s
            .add_app(&app("alice", "*", "sshd", &["tux"]), now)
            .await
            .unwrap();
        assert!(wild.id > exact.id && alice.id > wild.id);

        assert_eq!(s.apps().await.unwrap().len(), 3);
        let tux_apps = s.apps_for_user("tux").await.unwrap();
        assert_eq!(tux_apps.len(), 2);
        assert_eq!(tux_apps[0], exact);
        assert_eq!(s.app(exact.id).await.unwrap(), exact);
        let best = best_route(&tux_apps, "tux", "linux.example.org", "sshd").unwrap();
        assert_eq!(best.id, exact.id);
        let best = best_route(&tux_apps, "tux", "linux.example.org", "sudo").unwrap();
        assert_eq!(best.id, wild.id);

        s.remove_app(exact.id).await.unwrap();
        assert!(matches!(
            s.app(exact.id).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.remove_app(exact.id).await,
            Err(StoreError::NotFound(_))
        ));
        // A removed app's id is not handed out again.
        let again = s
            .add_app(&app("tux", "linux.example.org", "sshd", &["tux"]), now)
            .await
            .unwrap();
        assert!(again.id > alice.id, "{}: id {} reused", db.name, again.id);
        db.finish().await;
    }
}

#[tokio::test]
async fn duplicate_app_and_unknown_client_leave_nothing_half_written() {
    for db in backends().await {
        let s = &db.store;
        add_client(s, "tux").await;
        let now = Timestamp::from_secs(5);
        s.add_app(&app("tux", "h.example.org", "sshd", &["tux"]), now)
            .await
            .unwrap();
        let dup = s
            .add_app(&app("tux", "H.example.org", "sshd", &["tux"]), now)
            .await
            .unwrap_err();
        assert!(matches!(dup, StoreError::Exists(_)), "{}: {dup}", db.name);
        let missing = s
            .add_app(
                &app("tux", "other.example.org", "sshd", &["tux", "ghost"]),
                now,
            )
            .await
            .unwrap_err();
        assert_eq!(missing.to_string(), "client ghost does not exist");
        let apps = s.apps().await.unwrap();
        assert_eq!(apps.len(), 1, "{}: a failed add left rows behind", db.name);
        db.finish().await;
    }
}

#[tokio::test]
async fn a_client_in_use_is_not_removed() {
    for db in backends().await {
        let s = &db.store;
        add_client(s, "tux").await;
        let now = Timestamp::from_secs(5);
        let a = s
            .add_app(&app("tux", "*", "sshd", &["tux"]), now)
            .await
            .unwrap();
        let err = s.remove_client(&alias("tux")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "client tux is still used by app {}: remove those first",
                a.id
            ),
            "{}",
            db.name
        );
        assert!(s.client(&alias("tux")).await.is_ok());
        s.remove_app(a.id).await.unwrap();
        s.remove_client(&alias("tux")).await.unwrap();
        db.finish().await;
    }
}
