//! Enrolment links in the store: a client made with one has no TOTP in force (no code, no
//! delivery) until its link is confirmed; racing attempts are all counted; a link confirms once.

use mfa_core::{Alias, Timestamp};
use mfa_otp::{Secret, TotpParams};
use mfa_secrets::{Token, TokenHash};
use mfa_store::{Confirmation, LinkClosed, MAX_ENROL_ATTEMPTS, NewClient, NewEnrolLink, Store};

use crate::support::backends;

const T0: i64 = 1_700_000_000;

async fn add_with_link(store: &Store, alias: &Alias) -> TokenHash {
    let token = Token::generate("mfae").unwrap().hash();
    let now = Timestamp::from_secs(T0);
    let client = NewClient {
        alias,
        key_hash: &Token::generate("mfak").unwrap().hash(),
        totp_secret: &Secret::generate(20).unwrap(),
        totp: TotpParams::default(),
        notify: Default::default(),
        now,
    };
    let link = NewEnrolLink {
        token_hash: &token,
        totp_secret: &Secret::generate(20).unwrap(),
        now,
        expires_at: now.plus_secs(3600),
    };
    store.add_client_with_link(client, link).await.unwrap();
    token
}

#[tokio::test]
async fn a_linked_client_has_no_totp_in_force_until_its_link_is_confirmed() {
    for db in backends().await {
        let s = &db.store;
        let amy = Alias::new("amy").unwrap();
        let token = add_with_link(s, &amy).await;
        let now = Timestamp::from_secs(T0 + 10);
        assert!(s.client_totp(&amy).await.unwrap().is_none(), "{}", db.name);
        assert!(!s.accept_totp_step(&amy, 5).await.unwrap(), "{}", db.name);
        assert!(s.deliver_client_totp(&amy, now).await.unwrap().is_none());
        assert!(!s.client(&amy).await.unwrap().totp_active);

        let key = Token::generate("mfak").unwrap().hash();
        let codes = [Token::generate("r").unwrap().hash()];
        let confirm = |step| Confirmation {
            step,
            totp: TotpParams::default(),
            key_hash: &key,
            recovery_codes: &codes,
            now,
        };
        assert!(s.confirm_enrolment(&token, confirm(7)).await.unwrap());
        assert!(
            !s.confirm_enrolment(&token, confirm(8)).await.unwrap(),
            "once"
        );
        let (_, last) = s.client_totp(&amy).await.unwrap().unwrap();
        assert_eq!(last, Some(7), "{}: the confirming step is burned", db.name);
        assert!(s.client_by_key(&key).await.unwrap().is_some());
        assert_eq!(s.recovery_codes_left(&amy).await.unwrap(), 1);
        let (link, _) = s.enrol_link(&token).await.unwrap().unwrap();
        assert_eq!(link.closed(now), Some(LinkClosed::Used));
        db.finish().await;
    }
}

#[tokio::test]
async fn racing_attempts_are_all_counted_and_no_more_than_the_limit_get_through() {
    for db in backends().await {
        let amy = Alias::new("amy").unwrap();
        let token = add_with_link(&db.store, &amy).await;
        let now = Timestamp::from_secs(T0 + 10);
        let mut racers = tokio::task::JoinSet::new();
        for _ in 0..12 {
            let (store, token) = (db.store.clone(), token.clone());
            racers.spawn(async move { store.count_enrol_attempt(&token, now).await });
        }
        let mut through = 0;
        while let Some(result) = racers.join_next().await {
            through += usize::from(result.unwrap().unwrap().is_some());
        }
        assert_eq!(through, MAX_ENROL_ATTEMPTS as usize, "{}", db.name);
        let (link, _) = db.store.enrol_link(&token).await.unwrap().unwrap();
        assert_eq!(link.closed(now), Some(LinkClosed::TooManyCodes));
        db.finish().await;
    }
}
