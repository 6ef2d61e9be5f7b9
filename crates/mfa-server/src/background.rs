//! What a serving node does on its own: expiring pushes nobody answered, purging the tables,
//! withdrawing the pushes an earlier run left behind.

use std::time::Duration;

use mfa_core::push::WithdrawReason;
use mfa_store::Retention;

use crate::AppState;
use crate::push::{expire, withdraw};

/// How often the tables are purged of what no decision needs any more.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Expires overdue pushes every second, so a push nobody answers (and nobody polls) is still
/// denied, counted and audited on time; purges the tables once a minute.
pub async fn sweep_forever(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut next_purge = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = state.clock.now();
        match state.store.overdue_requests(now).await {
            Ok(txids) => {
                for txid in txids {
                    if let Err(e) = expire(&state, &txid).await {
                        tracing::warn!(%txid, error = %e, "cannot expire push");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot look for overdue pushes"),
        }
        if tokio::time::Instant::now() >= next_purge {
            next_purge += PURGE_EVERY;
            purge(&state).await;
        }
    }
}

async fn purge(state: &AppState) {
    let keep = Retention {
        failure_window_secs: i64::from(state.config.block_duration),
        lock_memory_secs: crate::guard::rule(state).lock_memory_secs(),
        audit_days: state.config.audit_retention_days,
    };
    match state.store.purge(keep, state.clock.now()).await {
        Ok(purged) if purged.total() > 0 => tracing::info!(?purged, "purged"),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot purge old rows"),
    }
}

/// How long after a start a push made before it waits for its login to poll again.
const RESTART_GRACE: Duration = Duration::from_secs(5);

/// After a start, withdraws the pushes made before it that no server waits for: their logins
/// were answered "denied" when the node serving them went away, and a push nobody waits for
/// must not stay approvable.
pub async fn withdraw_abandoned(state: AppState) {
    let started = state.clock.now();
    tokio::time::sleep(RESTART_GRACE).await;
    let abandoned = match state.store.abandoned_requests(started, started).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for pushes left by an earlier run");
            return;
        }
    };
    for request in abandoned {
        match withdraw(&state, &request, WithdrawReason::Restarted).await {
            Ok(true) => {
                tracing::info!(txid = %request.txid, "push withdrawn: its login did not come back after the restart")
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(txid = %request.txid, error = %e, "cannot withdraw push"),
        }
    }
}

/// How often recorded histogram samples are folded into their buckets between scrapes.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// Keeps the metrics' memory flat: histogram samples wait in a queue until folded.
pub async fn metrics_upkeep(metrics: std::sync::Arc<crate::metrics::Metrics>) {
    let mut tick = tokio::time::interval(METRICS_UPKEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        metrics.upkeep();
    }
}
