//! Crash safety: a mixed load (OTP enrolments, HOTP and TOTP verifications, one-time codes,
//! pushes approved and denied) against the real mfad while it is killed with SIGKILL at random
//! moments and restarted each time. Afterwards: every acknowledged enrolment and code is there,
//! no code was accepted twice (also not across a restart), no push is approved that nobody
//! approved, acknowledged decisions stand, nothing answered 5xx, and SQLite's
//! `PRAGMA integrity_check` says ok. On PostgreSQL also with two nodes, one of them killed
//! while the other keeps serving.
//!
//! `MFA_CRASH_ROUNDS` (default 12) sets the kills per scenario and `MFA_CRASH_SEED` replays a
//! run (each scenario prints its seed); for a long run: `MFA_CRASH_ROUNDS=500 cargo nextest run
//! -p mfad --test crash`. The binaries must be built (`cargo build --workspace`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// TOTP codes follow the wall clock mfad reads; the killer waits in real time.
#![allow(clippy::disallowed_methods)]

mod cluster;
mod ledger;
mod load;
mod rng;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use cluster::{Cluster, Database};
use ledger::Ledger;
use rng::Rng;

fn rounds() -> u32 {
    std::env::var("MFA_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12)
}

/// Kills `victims` (node indexes) at random moments `rounds()` times under load, then checks.
async fn crash_under_load(database: Database, nodes: usize, victims: &[usize]) {
    let mut rng = Rng::from_env();
    eprintln!(
        "crash: seed {} (MFA_CRASH_SEED replays it), {} rounds",
        rng.seed(),
        rounds()
    );
    let mut cluster = Cluster::start(database, nodes);
    let ledger = Arc::new(Ledger::new(cluster.bases()));
    let workers = load::start(&cluster, ledger.clone(), rng.fork());
    for _ in 0..rounds() {
        tokio::time::sleep(Duration::from_millis(rng.between(150, 900))).await;
        let victim = victims[rng.below(victims.len() as u64) as usize];
        cluster.kill(victim);
        ledger.epoch.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(rng.between(0, 200))).await;
        cluster = tokio::task::spawn_blocking(move || {
            cluster.restart(victim);
            cluster
        })
        .await
        .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let load = load::stop(workers).await;
    load::check_after(&load).await;
    let survivors: Vec<usize> = (0..nodes).filter(|n| !victims.contains(n)).collect();
    ledger.assert_sound(&survivors);
    cluster.stop_all();
    cluster.assert_integrity().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_sigkill_under_load() {
    crash_under_load(Database::sqlite(), 1, &[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_survives_sigkill_under_load() {
    let Some(database) = Database::postgres() else {
        return;
    };
    crash_under_load(database, 1, &[0]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_two_nodes_one_killed_the_other_keeps_serving() {
    let Some(database) = Database::postgres() else {
        return;
    };
    crash_under_load(database, 2, &[0]).await;
}
