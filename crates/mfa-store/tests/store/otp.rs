use std::sync::Arc;

use mfa_core::Timestamp;
use mfa_otp::{Algorithm, Digits, Hotp, OtpKind, Secret, Totp, TotpParams};
use mfa_store::{
    CodeCheck, NewOneTimeCode, NewOtpCredential, OtpMatch, OtpVerdict, Store, StoreError, Throttle,
};
use sqlx::Row;

use crate::support::backends;

const T0: i64 = 1_700_000_000;
const LOOSE: Throttle = Throttle {
    max_attempts: 1000,
    window_secs: 300,
};

async fn add(store: &Store, id: &str, kind: OtpKind) -> Secret {
    let secret = Secret::generate(20).unwrap();
    store
        .add_otp_credential(NewOtpCredential {
            id,
            owner: "app",
            secret: &secret,
            kind,
            algorithm: Algorithm::Sha1,
            digits: Digits::default(),
            issuer: Some("Example"),
            label: "alice",
            now: Timestamp::from_secs(T0),
        })
        .await
        .unwrap();
    secret
}

/// Counts an attempt without matching any code, and returns what the check was handed.
async fn attempt(
    store: &Store,
    id: &str,
    owner: &str,
    throttle: Throttle,
    now: Timestamp,
) -> Result<Option<(Secret, Option<u64>, OtpKind)>, StoreError> {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = seen.clone();
    let verdict = store
        .verify_otp(
            id,
            owner,
            throttle,
            now,
            move |credential, secret, last_step| {
                *record.lock().unwrap() = Some((secret, last_step, credential.kind));
                None
            },
        )
        .await?;
    let seen = seen.lock().unwrap().take();
    match verdict {
        OtpVerdict::Refused => Ok(Some(seen.expect("the check ran"))),
        OtpVerdict::Throttled { .. } => Ok(None),
        OtpVerdict::Accepted(m) => panic!("nothing matched, yet {m:?} was accepted"),
    }
}

async fn go(
    store: &Store,
    id: &str,
    throttle: Throttle,
    now: Timestamp,
) -> (Secret, Option<u64>, OtpKind) {
    match attempt(store, id, "app", throttle, now).await.unwrap() {
        Some(seen) => seen,
        None => panic!("{id} throttled at {now}"),
    }
}

async fn throttled_until(store: &Store, id: &str, throttle: Throttle, now: Timestamp) -> Timestamp {
    let verdict = store
        .verify_otp(id, "app", throttle, now, |_, _, _| None)
        .await
        .unwrap();
    match verdict {
        OtpVerdict::Throttled { until } => until,
        other => panic!("{id} not throttled at {now}: {other:?}"),
    }
}

/// Presents a code that matched `matched`: true when it was burnt now.
async fn burn(
    store: &Store,
    id: &str,
    matched: OtpMatch,
    throttle: Throttle,
    now: Timestamp,
) -> bool {
    let verdict = store
        .verify_otp(id, "app", throttle, now, move |_, _, _| Some(matched))
        .await
        .unwrap();
    match verdict {
        OtpVerdict::Accepted(m) => {
            assert_eq!(m, matched);
            true
        }
        OtpVerdict::Refused => false,
        OtpVerdict::Throttled { until } => panic!("{id} throttled until {until}"),
    }
}

/// [`burn`] under a throttle that never refuses.
async fn accepts(store: &Store, id: &str, matched: OtpMatch) -> bool {
    burn(store, id, matched, LOOSE, Timestamp::from_secs(T0)).await
}

#[tokio::test]
async fn credentials_belong_to_their_owner_and_seeds_are_sealed() {
    for db in backends().await {
        let s = &db.store;
        let secret = add(s, "c1", OtpKind::Totp { period: 30 }).await;
        let c = s.otp_credential("c1", "app").await.unwrap();
        assert_eq!(c.kind, OtpKind::Totp { period: 30 }, "{}", db.name);
        assert_eq!(
            (c.issuer.as_deref(), c.label.as_str()),
            (Some("Example"), "alice")
        );
        assert!(matches!(
            s.otp_credential("c1", "other").await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            attempt(s, "c1", "other", LOOSE, Timestamp::from_secs(T0)).await,
            Err(StoreError::NotFound(_))
        ));
        assert!(matches!(
            s.remove_otp_credential("c1", "other").await,
            Err(StoreError::NotFound(_))
        ));
        let (got, last, _) = go(s, "c1", LOOSE, Timestamp::from_secs(T0)).await;
        assert_eq!((got, last), (secret.clone(), None));

        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let row = sqlx::query("SELECT secret_sealed FROM otp_credentials")
            .fetch_one(&raw)
            .await
            .unwrap();
        let sealed: Vec<u8> = row.try_get("secret_sealed").unwrap();
        assert!(!sealed.windows(20).any(|w| w == secret.as_bytes()));
        raw.close().await;

        s.remove_otp_credential("c1", "app").await.unwrap();
        assert!(matches!(
            s.otp_credential("c1", "app").await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test]
async fn totp_steps_and_hotp_counters_burn_once_and_only_forward() {
    for db in backends().await {
        let s = &db.store;
        add(s, "t", OtpKind::Totp { period: 30 }).await;
        assert!(accepts(s, "t", OtpMatch::Step(100)).await, "{}", db.name);
        assert!(
            !accepts(s, "t", OtpMatch::Step(100)).await,
            "replay accepted"
        );
        assert!(
            !accepts(s, "t", OtpMatch::Step(99)).await,
            "older step accepted"
        );
        assert!(
            !accepts(s, "t", OtpMatch::Counter(500)).await,
            "a TOTP took a counter"
        );
        let (_, last, _) = go(s, "t", LOOSE, Timestamp::from_secs(T0)).await;
        assert_eq!(last, Some(100));

        add(s, "h", OtpKind::Hotp { counter: 0 }).await;
        assert!(
            accepts(s, "h", OtpMatch::Counter(3)).await,
            "look-ahead match"
        );
        let (_, _, kind) = go(s, "h", LOOSE, Timestamp::from_secs(T0)).await;
        assert_eq!(
            kind,
            OtpKind::Hotp { counter: 4 },
            "resynchronised to matched + 1"
        );
        assert!(
            !accepts(s, "h", OtpMatch::Counter(3)).await,
            "replay accepted"
        );
        assert!(
            !accepts(s, "h", OtpMatch::Counter(2)).await,
            "older counter accepted"
        );
        assert!(accepts(s, "h", OtpMatch::Counter(4)).await);
        assert!(
            !accepts(s, "h", OtpMatch::Step(1)).await,
            "an HOTP took a step"
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn attempts_are_throttled_per_credential_and_a_success_resets() {
    for db in backends().await {
        let s = &db.store;
        add(s, "a", OtpKind::Totp { period: 30 }).await;
        add(s, "b", OtpKind::Totp { period: 30 }).await;
        let rule = Throttle {
            max_attempts: 3,
            window_secs: 60,
        };
        let t = |secs| Timestamp::from_secs(T0 + secs);
        for i in 0..3 {
            go(s, "a", rule, t(i)).await;
        }
        assert_eq!(
            throttled_until(s, "a", rule, t(10)).await,
            t(60),
            "{}",
            db.name
        );
        // Another credential is not affected.
        go(s, "b", rule, t(10)).await;
        // Once the window has passed, attempts count afresh.
        go(s, "a", rule, t(60)).await;
        // A success (the window's second attempt) resets the count.
        assert!(burn(s, "a", OtpMatch::Step(7), rule, t(61)).await);
        for i in 0..3 {
            go(s, "a", rule, t(62 + i)).await;
        }
        throttled_until(s, "a", rule, t(70)).await;
        assert!(matches!(
            attempt(s, "nope", "app", rule, t(70)).await,
            Err(StoreError::NotFound(_))
        ));
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_acceptance_of_one_step_or_counter_succeeds_once() {
    for db in backends().await {
        let store = Arc::new(db.store.clone());
        add(&store, "t", OtpKind::Totp { period: 30 }).await;
        add(&store, "h", OtpKind::Hotp { counter: 0 }).await;
        for round in 0..3u64 {
            for id in ["t", "h"] {
                let racers: Vec<_> = (0..16)
                    .map(|_| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            if id == "t" {
                                accepts(&store, id, OtpMatch::Step(1000 + round)).await
                            } else {
                                accepts(&store, id, OtpMatch::Counter(round)).await
                            }
                        })
                    })
                    .collect();
                let mut accepted = 0;
                for r in racers {
                    if r.await.unwrap() {
                        accepted += 1;
                    }
                }
                assert_eq!(
                    accepted, 1,
                    "{}: {id} round {round} accepted {accepted} times",
                    db.name
                );
            }
        }
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_attempts_cannot_pass_the_throttle() {
    for db in backends().await {
        let store = Arc::new(db.store.clone());
        add(&store, "c", OtpKind::Totp { period: 30 }).await;
        let rule = Throttle {
            max_attempts: 5,
            window_secs: 300,
        };
        let now = Timestamp::from_secs(T0);
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { attempt(&store, "c", "app", rule, now).await })
            })
            .collect();
        let mut admitted = 0;
        for r in racers {
            if r.await.unwrap().unwrap().is_some() {
                admitted += 1;
            }
        }
        assert_eq!(admitted, 5, "{}", db.name);
        db.finish().await;
    }
}

fn code(
    id: &'static str,
    code: &'static str,
    max_attempts: u32,
    now: Timestamp,
) -> NewOneTimeCode<'static> {
    NewOneTimeCode {
        id,
        owner: "app",
        code,
        max_attempts,
        now,
        expires_at: now.plus_secs(300),
    }
}

#[tokio::test]
async fn one_time_codes_verify_once_expire_and_die_after_their_attempts() {
    for db in backends().await {
        let s = &db.store;
        let now = Timestamp::from_secs(T0);
        s.add_one_time_code(code("k1", "123456", 3, now))
            .await
            .unwrap();
        assert_eq!(
            s.check_one_time_code("k1", "app", "000000", now)
                .await
                .unwrap(),
            CodeCheck::Wrong { attempts_left: 2 },
            "{}",
            db.name
        );
        assert!(matches!(
            s.check_one_time_code("k1", "other", "123456", now).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            s.check_one_time_code("k1", "app", "123456", now)
                .await
                .unwrap(),
            CodeCheck::Accepted
        );
        assert_eq!(
            s.check_one_time_code("k1", "app", "123456", now)
                .await
                .unwrap(),
            CodeCheck::Used
        );

        s.add_one_time_code(code("k2", "654321", 2, now))
            .await
            .unwrap();
        for left in [1, 0] {
            assert_eq!(
                s.check_one_time_code("k2", "app", "111111", now)
                    .await
                    .unwrap(),
                CodeCheck::Wrong {
                    attempts_left: left
                }
            );
        }
        assert_eq!(
            s.check_one_time_code("k2", "app", "654321", now)
                .await
                .unwrap(),
            CodeCheck::Exhausted,
            "a dead code came back to life"
        );

        s.add_one_time_code(code("k3", "999999", 3, now))
            .await
            .unwrap();
        assert_eq!(
            s.check_one_time_code("k3", "app", "999999", now.plus_secs(300))
                .await
                .unwrap(),
            CodeCheck::Expired
        );
        assert!(matches!(
            s.check_one_time_code("nope", "app", "999999", now).await,
            Err(StoreError::NotFound(_))
        ));

        // Only a keyed hash is stored, and codes long expired are purged.
        sqlx::any::install_default_drivers();
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let hashes: Vec<String> = sqlx::query_scalar("SELECT code_hash FROM otp_codes")
            .fetch_all(&raw)
            .await
            .unwrap();
        assert_eq!(hashes.len(), 3);
        assert!(
            hashes
                .iter()
                .all(|h| h.len() == 64 && !h.contains("123456"))
        );
        let later = now.plus_secs(2 * 86_400);
        s.add_one_time_code(code("k4", "123123", 3, later))
            .await
            .unwrap();
        let left: Vec<String> = sqlx::query_scalar("SELECT id FROM otp_codes")
            .fetch_all(&raw)
            .await
            .unwrap();
        assert_eq!(left, ["k4"]);
        raw.close().await;
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_checks_of_one_code_accept_once_and_count_every_attempt() {
    for db in backends().await {
        let store = Arc::new(db.store.clone());
        let now = Timestamp::from_secs(T0);
        store
            .add_one_time_code(code("right", "424242", 16, now))
            .await
            .unwrap();
        store
            .add_one_time_code(code("guess", "424242", 5, now))
            .await
            .unwrap();
        let run = |id: &'static str, guess: &'static str| {
            let racers: Vec<_> = (0..16)
                .map(|i| {
                    let store = store.clone();
                    tokio::spawn(async move {
                        let c = if guess.is_empty() {
                            format!("{i:06}")
                        } else {
                            guess.to_owned()
                        };
                        store.check_one_time_code(id, "app", &c, now).await.unwrap()
                    })
                })
                .collect::<Vec<_>>();
            async move {
                let mut out = Vec::new();
                for r in racers {
                    out.push(r.await.unwrap());
                }
                out
            }
        };
        let results = run("right", "424242").await;
        let accepted = results
            .iter()
            .filter(|r| **r == CodeCheck::Accepted)
            .count();
        assert_eq!(accepted, 1, "{}: {results:?}", db.name);
        // 16 concurrent wrong guesses against 5 attempts: exactly 5 are compared.
        let results = run("guess", "").await;
        let compared = results
            .iter()
            .filter(|r| matches!(r, CodeCheck::Wrong { .. }))
            .count();
        assert_eq!(compared, 5, "{}: {results:?}", db.name);
        assert_eq!(
            store
                .check_one_time_code("guess", "app", "424242", now)
                .await
                .unwrap(),
            CodeCheck::Exhausted
        );
        db.finish().await;
    }
}

#[test]
fn otp_crate_helpers_used_here_agree() {
    // The counters and steps the store burns are the ones mfa-otp reports.
    let secret = Secret::generate(20).unwrap();
    let hotp = Hotp::new(secret.clone(), Algorithm::Sha1, Digits::default());
    assert_eq!(hotp.verify(&hotp.code(3), 0, 10), Some(3));
    let totp = Totp::new(secret, TotpParams::default());
    assert_eq!(totp.verify(&totp.code_at(90), 90, 1, None), Some(3));
}
