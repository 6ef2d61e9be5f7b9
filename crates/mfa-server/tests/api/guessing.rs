//! How many codes an attacker who has a user's password gets to try, with the default settings:
//! the figures docs/SECURITY.md states (and the chance of guessing a 6-digit code in a year it
//! derives from them). The attacker waits out every lock and tries again the moment it ends,
//! from one address or from a new address each time; the clock is the server's, moved on by the
//! test, so days pass in milliseconds.

use std::sync::Arc;

use mfa_core::{FixedClock, Timestamp};
use mfa_store::LockKind;
use serde_json::json;

use crate::support::{TestServer, fixture_on, login};

/// What docs/SECURITY.md states: codes compared on each of the first days, for one user.
const FIRST_DAYS: [u32; 4] = [45, 5, 5, 5];
const DAY: i64 = 86_400;

/// Guesses wrong codes for `days`, each the moment the server would compare one; the codes it
/// compared, per day. `spread`: every guess from an address of its own.
async fn guess_for(days: usize, spread: bool) -> Vec<u32> {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let clock = FixedClock::at(t0);
    let srv = TestServer::start_with_clock("", Arc::new(clock.clone())).await;
    let f = fixture_on(srv).await;
    let config = &f.srv.state.config;
    assert_eq!(
        (
            config.max_failed_attempts,
            config.block_duration,
            config.max_block_duration
        ),
        (5, 300, 86_400),
        "the defaults docs/SECURITY.md assumes"
    );
    let end = t0.plus_secs(DAY * days as i64);
    let mut per_day = vec![0u32; days];
    let mut n = 0u32;
    while f.srv.now() < end {
        n += 1;
        let mut body = login("totp");
        body["passcode"] = json!(f.wrong_code());
        if spread {
            body["client_ip"] = json!(format!("10.{}.{}.{}", n >> 16, (n >> 8) & 255, n & 255));
        }
        let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
        assert_eq!((status, v["result"].as_str()), (200, Some("deny")), "{v}");
        let reason = v["reason"].as_str().unwrap_or_default();
        if reason.contains("locked out") {
            // Wait for the lock to end, to the millisecond.
            let lock = f
                .srv
                .state
                .store
                .lockout(LockKind::User, "tux", f.srv.now());
            let until = lock
                .await
                .unwrap()
                .and_then(|l| l.until)
                .expect("a lock with an end");
            clock.set(until);
        } else {
            assert!(reason.contains("invalid or already used code"), "{v}");
            let day = (f.srv.now().millis() - t0.millis()) / (DAY * 1000);
            per_day[day as usize] += 1;
        }
        assert!(n < 10_000, "the attacker was never stopped: {per_day:?}");
    }
    per_day
}

#[tokio::test]
async fn an_attacker_gets_45_codes_on_the_first_day_and_5_a_day_after_from_one_address() {
    assert_eq!(guess_for(FIRST_DAYS.len(), false).await, FIRST_DAYS);
}

#[tokio::test]
async fn spreading_the_guesses_over_many_addresses_gets_no_more() {
    assert_eq!(guess_for(FIRST_DAYS.len(), true).await, FIRST_DAYS);
}
