//! Policy storage: users (bypass), groups, host groups, rules, passwords, recovery codes,
//! elevated sessions, and the inputs the decision reads.

use std::sync::Arc;

use mfa_core::policy::{Enrolment, HostMatch, Request, Subject, Target};
use mfa_core::{Alias, Methods, Pattern, Timestamp};
use mfa_otp::{Secret, TotpParams};
use mfa_secrets::{PasswordHash, RecoveryCode, Token, recovery_hash};
use mfa_store::{NewApp, NewClient, NewRule, NewSession, RuleHost, Store, StoreError};

use crate::support::backends;

fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_700_000_000 + secs)
}

async fn client(store: &Store, name: &str) {
    store
        .add_client(NewClient {
            alias: &alias(name),
            key_hash: &Token::generate("mfak").unwrap().hash(),
            totp_secret: &Secret::generate(20).unwrap(),
            totp: TotpParams::default(),
            notify: Default::default(),
            now: t(0),
        })
        .await
        .unwrap();
}

fn rule(subject: Subject, host: RuleHost, target: Target, require: &str) -> NewRule {
    NewRule {
        subject,
        host,
        target,
        require: require.parse().unwrap(),
    }
}

#[tokio::test]
async fn bypass_is_a_user_setting() {
    for db in backends().await {
        let s = &db.store;
        assert!(s.user("robot").await.unwrap().is_none(), "{}", db.name);
        assert!(
            !s.set_user_bypass(&alias("robot"), true, t(0))
                .await
                .unwrap()
        );
        assert!(s.user("robot").await.unwrap().unwrap().bypass);
        assert!(
            s.set_user_bypass(&alias("robot"), false, t(1))
                .await
                .unwrap()
        );
        let users = s.users().await.unwrap();
        assert_eq!(users.len(), 1);
        assert!(!users[0].bypass);
        assert_eq!(users[0].created_at, t(0));
        db.finish().await;
    }
}

#[tokio::test]
async fn groups_and_their_members() {
    for db in backends().await {
        let s = &db.store;
        let admins = alias("admins");
        let g = s
            .add_group(&admins, &[alias("tux"), alias("alice"), alias("tux")], t(0))
            .await
            .unwrap();
        assert_eq!(g.members, [alias("alice"), alias("tux")], "{}", db.name);
        assert!(matches!(
            s.add_group(&admins, &[], t(0)).await,
            Err(StoreError::Exists(_))
        ));
        s.add_group(&alias("devs"), &[alias("tux")], t(0))
            .await
            .unwrap();
        assert_eq!(
            s.groups_of("tux").await.unwrap(),
            [alias("admins"), alias("devs")]
        );
        s.add_group_members(&admins, &[alias("bob"), alias("tux")])
            .await
            .unwrap();
        s.remove_group_members(&admins, &[alias("alice")])
            .await
            .unwrap();
        assert_eq!(
            s.group(&admins).await.unwrap().members,
            [alias("bob"), alias("tux")]
        );
        let err = s
            .remove_group_members(&admins, &[alias("bob"), alias("carol")])
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "member carol of group admins does not exist"
        );
        assert_eq!(
            s.group(&admins).await.unwrap().members.len(),
            2,
            "all or nothing"
        );
        s.set_group_members(&admins, &[alias("zed")]).await.unwrap();
        assert_eq!(s.group(&admins).await.unwrap().members, [alias("zed")]);
        assert!(matches!(
            s.add_group_members(&alias("nope"), &[alias("x")]).await,
            Err(StoreError::NotFound(_))
        ));
        // A group a rule names cannot be removed.
        let r = s
            .add_rule(
                &rule(
                    Subject::Group(admins.clone()),
                    RuleHost::Any,
                    Target::Any,
                    "totp",
                ),
                t(0),
            )
            .await
            .unwrap();
        let err = s.remove_group(&admins).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "group admins is still used by rule {}: remove those first",
                r.id
            )
        );
        s.remove_rule(r.id).await.unwrap();
        s.remove_group(&admins).await.unwrap();
        assert!(matches!(
            s.group(&admins).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(s.groups_of("tux").await.unwrap(), [alias("devs")]);
        db.finish().await;
    }
}

#[tokio::test]
async fn host_groups() {
    for db in backends().await {
        let s = &db.store;
        let prod = alias("prod");
        let hosts: Vec<Pattern> = vec![
            "db.example.org".parse().unwrap(),
            "*.prod.example.org".parse().unwrap(),
        ];
        s.add_host_group(&prod, &hosts, t(0)).await.unwrap();
        assert_eq!(
            s.host_group(&prod).await.unwrap().hosts,
            hosts,
            "{}",
            db.name
        );
        assert!(matches!(
            s.add_host_group(&prod, &hosts, t(0)).await,
            Err(StoreError::Exists(_))
        ));
        assert!(s.add_host_group(&alias("empty"), &[], t(0)).await.is_err());
        s.set_host_group_hosts(&prod, &hosts[..1]).await.unwrap();
        assert_eq!(s.host_groups().await.unwrap()[0].hosts.len(), 1);
        let r = s
            .add_rule(
                &rule(
                    Subject::Everyone,
                    RuleHost::Group(prod.clone()),
                    Target::Any,
                    "password",
                ),
                t(0),
            )
            .await
            .unwrap();
        let resolved = s.policy_rules().await.unwrap();
        assert_eq!(
            resolved[0].host,
            HostMatch::Group {
                name: prod.clone(),
                hosts: hosts[..1].to_vec()
            }
        );
        assert!(matches!(
            s.remove_host_group(&prod).await,
            Err(StoreError::InUse { .. })
        ));
        s.remove_rule(r.id).await.unwrap();
        s.remove_host_group(&prod).await.unwrap();
        assert!(matches!(
            s.remove_host_group(&prod).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn rules_one_per_place() {
    for db in backends().await {
        let s = &db.store;
        let tux_sudo = rule(
            Subject::User(alias("tux")),
            RuleHost::Pattern("*.example.org".parse().unwrap()),
            Target::Service("sudo".parse().unwrap()),
            "password,totp",
        );
        let a = s.add_rule(&tux_sudo, t(0)).await.unwrap();
        let b = s
            .add_rule(
                &rule(
                    Subject::Everyone,
                    RuleHost::Any,
                    Target::Action("deploy".parse().unwrap()),
                    "push",
                ),
                t(1),
            )
            .await
            .unwrap();
        assert!(b.id > a.id, "{}", db.name);
        let err = s.add_rule(&tux_sudo, t(2)).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "a rule for user tux, host *.example.org, service sudo (rule {}) exists already",
                a.id
            )
        );
        let err = s
            .add_rule(
                &rule(
                    Subject::Group(alias("ghosts")),
                    RuleHost::Any,
                    Target::Any,
                    "any",
                ),
                t(0),
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "group ghosts does not exist");
        let err = s
            .add_rule(
                &rule(
                    Subject::Everyone,
                    RuleHost::Group(alias("nowhere")),
                    Target::Any,
                    "any",
                ),
                t(0),
            )
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "host group nowhere does not exist");
        let all = s.rules().await.unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0], a);
        assert_eq!(
            all[0].to_string(),
            format!(
                "rule {} (user tux, host *.example.org, service sudo): totp,password",
                a.id
            )
        );
        s.set_rule_requirement(b.id, &"none".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(s.rule(b.id).await.unwrap().require.to_string(), "none");
        s.remove_rule(a.id).await.unwrap();
        assert!(matches!(
            s.remove_rule(a.id).await,
            Err(StoreError::NotFound(_))
        ));
        // Ids are never reused.
        let c = s.add_rule(&tux_sudo, t(3)).await.unwrap();
        assert!(c.id > b.id);
        db.finish().await;
    }
}

#[tokio::test]
async fn passwords_are_hashed_and_change_once() {
    for db in backends().await {
        let s = &db.store;
        client(s, "tux").await;
        let tux = alias("tux");
        assert_eq!(s.client_password(&tux).await.unwrap(), None, "{}", db.name);
        let first = PasswordHash::new("correct horse").unwrap();
        s.set_client_password(&tux, &first, t(10)).await.unwrap();
        let stored = s.client_password(&tux).await.unwrap().unwrap();
        assert!(stored.hash.verify("correct horse"));
        assert_eq!(stored.changed_at, t(10));
        assert_eq!(
            s.clients_with_password(&[tux.clone(), alias("ghost")])
                .await
                .unwrap(),
            std::slice::from_ref(&tux)
        );
        // Two changes from the same old password: one wins.
        let a = PasswordHash::new("battery staple").unwrap();
        let b = PasswordHash::new("other thing").unwrap();
        assert!(
            s.change_client_password(&tux, &first, &a, t(20))
                .await
                .unwrap()
        );
        assert!(
            !s.change_client_password(&tux, &first, &b, t(21))
                .await
                .unwrap()
        );
        let now = s.client_password(&tux).await.unwrap().unwrap();
        assert!(now.hash.verify("battery staple"));
        assert_eq!(now.changed_at, t(20));
        assert!(s.remove_client_password(&tux).await.unwrap());
        assert!(!s.remove_client_password(&tux).await.unwrap());
        assert!(matches!(
            s.set_client_password(&alias("ghost"), &a, t(0)).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_recovery_code_works_once_even_when_raced() {
    for db in backends().await {
        let s = Arc::new(db.store.clone());
        client(&s, "tux").await;
        let tux = alias("tux");
        let codes: Vec<RecoveryCode> = (0..10).map(|_| RecoveryCode::generate().unwrap()).collect();
        let hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
        s.replace_recovery_codes(&tux, &hashes, t(0)).await.unwrap();
        assert_eq!(
            s.recovery_codes_left(&tux).await.unwrap(),
            10,
            "{}",
            db.name
        );
        let typed = recovery_hash(&codes[0].expose().to_ascii_uppercase()).unwrap();
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let s = s.clone();
                let (tux, typed) = (tux.clone(), typed.clone());
                tokio::spawn(async move { s.use_recovery_code(&tux, &typed).await.unwrap() })
            })
            .collect();
        let mut won = 0;
        for r in racers {
            if r.await.unwrap() {
                won += 1;
            }
        }
        assert_eq!(won, 1, "{}: one code used {won} times", db.name);
        assert_eq!(s.recovery_codes_left(&tux).await.unwrap(), 9);
        // A new set replaces the old one entirely.
        let fresh = RecoveryCode::generate().unwrap();
        s.replace_recovery_codes(&tux, &[fresh.hash()], t(1))
            .await
            .unwrap();
        assert!(!s.use_recovery_code(&tux, &hashes[1]).await.unwrap());
        assert!(s.use_recovery_code(&tux, &fresh.hash()).await.unwrap());
        assert!(matches!(
            s.replace_recovery_codes(&alias("ghost"), &hashes, t(0))
                .await,
            Err(StoreError::NotFound(_))
        ));
        // Removing the client removes its codes.
        s.replace_recovery_codes(&tux, &hashes, t(2)).await.unwrap();
        s.remove_client(&tux).await.unwrap();
        client(&s, "tux").await;
        assert_eq!(s.recovery_codes_left(&tux).await.unwrap(), 0);
        db.finish().await;
    }
}

#[tokio::test]
async fn sessions_expire_and_revoke() {
    for db in backends().await {
        let s = &db.store;
        let factors: Methods = "password,totp".parse().unwrap();
        let new = |ip: Option<&'static str>, scope: &'static str, secs: u32| NewSession {
            user: "tux".into(),
            client_ip: ip.map(Into::into),
            scope: scope.into(),
            factors: factors.clone(),
            server: Some("ssh-1".into()),
            txid: None,
            now: t(0),
            seconds: secs,
        };
        let a = s
            .create_session(new(Some("192.0.2.1"), "login:sudo@h", 900))
            .await
            .unwrap();
        s.create_session(new(None, "login:sudo@h", 60))
            .await
            .unwrap();
        s.create_session(new(Some("192.0.2.1"), "action:deploy", 60))
            .await
            .unwrap();
        let found = s
            .sessions_for("tux", Some("192.0.2.1"), "login:sudo@h", t(1))
            .await
            .unwrap();
        assert_eq!(found, std::slice::from_ref(&a), "{}", db.name);
        assert_eq!(found[0].factors, factors);
        assert_eq!(found[0].expires_at, t(900));
        let local = s
            .sessions_for("tux", None, "login:sudo@h", t(1))
            .await
            .unwrap();
        assert_eq!(local.len(), 1);
        assert_eq!(local[0].client_ip, None);
        assert!(
            s.sessions_for("tux", Some("192.0.2.2"), "login:sudo@h", t(1))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            s.sessions_for("alice", Some("192.0.2.1"), "login:sudo@h", t(1))
                .await
                .unwrap()
                .is_empty()
        );
        // Expiry: at expires_at it is over.
        assert!(
            s.sessions_for("tux", Some("192.0.2.1"), "login:sudo@h", t(900))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.sessions(None, t(1)).await.unwrap().len(), 3);
        assert_eq!(s.sessions(Some("tux"), t(100)).await.unwrap().len(), 1);
        assert!(s.revoke_session(&a.id).await.unwrap());
        assert!(!s.revoke_session(&a.id).await.unwrap());
        assert!(
            s.sessions_for("tux", Some("192.0.2.1"), "login:sudo@h", t(1))
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(s.revoke_user_sessions("tux", t(1)).await.unwrap(), 2);
        assert!(s.sessions(None, t(1)).await.unwrap().is_empty());
        db.finish().await;
    }
}

#[tokio::test]
async fn policy_inputs_gather_what_the_decision_needs() {
    for db in backends().await {
        let s = &db.store;
        client(s, "tux-phone").await;
        client(s, "tux-laptop").await;
        s.add_app(
            &NewApp {
                user: alias("tux"),
                host: "*.example.org".parse().unwrap(),
                service: "*".parse().unwrap(),
                methods: "push,totp".parse().unwrap(),
                clients: vec![alias("tux-phone"), alias("tux-laptop")],
            },
            t(0),
        )
        .await
        .unwrap();
        s.add_group(&alias("admins"), &[alias("tux")], t(0))
            .await
            .unwrap();
        s.add_rule(
            &rule(
                Subject::Group(alias("admins")),
                RuleHost::Any,
                Target::Any,
                "totp",
            ),
            t(0),
        )
        .await
        .unwrap();
        let req = Request::login("tux", "h.example.org", "sshd");
        let got = s
            .policy_inputs(&req, Some("192.0.2.1"), t(1))
            .await
            .unwrap();
        assert_eq!(got.rules.len(), 1, "{}", db.name);
        assert_eq!(got.user.groups, [alias("admins")]);
        assert!(!got.user.bypass);
        let Enrolment::Routed(r) = &got.user.enrolment else {
            panic!("{:?}", got.user.enrolment)
        };
        assert!(!r.has_password);
        assert_eq!(r.clients.len(), 2);
        s.set_client_password(
            &alias("tux-laptop"),
            &PasswordHash::new("correct horse").unwrap(),
            t(0),
        )
        .await
        .unwrap();
        s.create_session(NewSession {
            user: "tux".into(),
            client_ip: Some("192.0.2.1".into()),
            scope: req.scope(),
            factors: "totp".parse().unwrap(),
            server: None,
            txid: Some("tx1".into()),
            now: t(0),
            seconds: 60,
        })
        .await
        .unwrap();
        let got = s
            .policy_inputs(&req, Some("192.0.2.1"), t(1))
            .await
            .unwrap();
        assert!(matches!(&got.user.enrolment, Enrolment::Routed(r) if r.has_password));
        assert_eq!(got.user.sessions.len(), 1);
        assert_eq!(
            s.session_for_txid("tx1").await.unwrap().unwrap().scope,
            req.scope()
        );
        let elsewhere = Request::login("tux", "other.net", "sshd");
        let got = s.policy_inputs(&elsewhere, None, t(1)).await.unwrap();
        assert_eq!(got.user.enrolment, Enrolment::NoRoute);
        assert!(got.route.is_none());
        let got = s
            .policy_inputs(&Request::login("bob", "h", "sshd"), None, t(1))
            .await
            .unwrap();
        assert_eq!(got.user.enrolment, Enrolment::NoApps);
        // A step-up routes by its action, as a login by its service.
        let got = s
            .policy_inputs(
                &Request::step_up("tux", "deploy", Some("h.example.org")),
                None,
                t(1),
            )
            .await
            .unwrap();
        assert!(got.route.is_some());
        let got = s
            .policy_inputs(&Request::step_up("tux", "deploy", None), None, t(1))
            .await
            .unwrap();
        assert_eq!(
            got.user.enrolment,
            Enrolment::NoRoute,
            "no host: only '*' apps route"
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn a_push_remembers_what_it_completes() {
    use mfa_store::{AuthRequest, PushState, Remember};
    for db in backends().await {
        let s = &db.store;
        let mut r = AuthRequest {
            txid: "tx-1".into(),
            user: "tux".into(),
            host: "h".into(),
            service: "sudo".into(),
            client_ip: None,
            server: "ssh-1".into(),
            app_id: 1,
            clients: vec![alias("tux")],
            number: Some(42),
            state: PushState::Pending,
            reason: None,
            decided_by: None,
            created_at: t(0),
            expires_at: t(30),
            decided_at: None,
            factors: Some("password,push".parse().unwrap()),
            remember: Some(Remember {
                scope: "login:sudo@h".into(),
                seconds: 900,
            }),
            details: Some("Command: ls -l".into()),
        };
        s.create_request(&r, &[]).await.unwrap();
        assert_eq!(s.request("tx-1").await.unwrap(), r, "{}", db.name);
        r.txid = "tx-2".into();
        r.factors = None;
        r.remember = None;
        r.details = None;
        s.create_request(&r, &[]).await.unwrap();
        assert_eq!(s.request("tx-2").await.unwrap(), r);
        db.finish().await;
    }
}
