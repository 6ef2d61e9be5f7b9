//! Gateway protections: lockouts per login user, per login source address and per caller
//! address (kept apart: wrong codes typed at a login must not lock the host's API token out,
//! nor bad tokens the logins from that host), and trusted networks.

use std::net::IpAddr;

use mfa_store::{AuditEntry, LockKind, LockSubject, LockoutChange, LockoutRule, Recorded, Verdict};

use crate::metrics::Query;
use crate::{ApiError, AppState};

pub fn rule(state: &AppState) -> LockoutRule {
    LockoutRule {
        max_failures: state.config.max_failed_attempts,
        window_secs: i64::from(state.config.block_duration),
        block_secs: i64::from(state.config.block_duration),
        max_block_secs: i64::from(state.config.max_block_duration),
    }
}

/// An address as lockouts count it: IPv4 as is, IPv6 per /64.
fn address(kind: LockKind, ip: IpAddr) -> LockSubject {
    LockSubject::new(kind, mfa_core::lockout_subject(ip))
}

/// What a login's failures count against: its user and its source address (`client_ip`).
pub fn login_subjects(user: &str, client_ip: Option<&str>) -> Vec<LockSubject> {
    let mut subjects = vec![LockSubject::new(LockKind::User, user)];
    if let Some(text) = client_ip {
        // Stored requests hold canonical addresses; anything else counts as written.
        subjects.push(match mfa_core::parse_client_ip(text) {
            Some(ip) => address(LockKind::Ip, ip),
            None => LockSubject::new(LockKind::Ip, text),
        });
    }
    subjects
}

/// What an HTTP caller's failures (bad tokens, bad approve links) count against.
pub fn caller_subject(peer: IpAddr) -> LockSubject {
    address(LockKind::Caller, peer)
}

/// Why one of `subjects` may not go on now, if one is locked out.
pub async fn lock_reason(
    state: &AppState,
    subjects: &[LockSubject],
) -> Result<Option<String>, ApiError> {
    let now = state.clock.now();
    for s in subjects {
        if let Some(lock) = state.store.lockout(s.kind, &s.name, now).await? {
            return Ok(Some(lock.message()));
        }
    }
    Ok(None)
}

/// Writes a decision: its audit entry and lockout change in one transaction.
pub async fn record(state: &AppState, verdict: &Verdict) -> Result<Recorded, ApiError> {
    let write = state.store.record(verdict, rule(state), state.clock.now());
    let recorded = state.metrics.time(Query::Record, write).await?;
    log_locks(&recorded);
    Ok(recorded)
}

pub fn log_locks(recorded: &Recorded) {
    for (s, until) in &recorded.locked {
        tracing::warn!(kind = %s.kind, subject = %s.name, %until, "locked out after too many failures");
    }
}

/// A caller that presented a bad credential (`what`: "API token", "approve link", ...): counted
/// against its address, and audited with it.
pub async fn caller_failed(state: &AppState, peer: IpAddr, what: &str) -> Result<(), ApiError> {
    let audit = caller_audit(peer, what, format!("invalid {what}"));
    record(
        state,
        &Verdict {
            audit,
            lockouts: LockoutChange::Failure(vec![caller_subject(peer)]),
            session: None,
        },
    )
    .await?;
    Ok(())
}

/// A caller refused for what it sent (no credential at all, say): audited, not counted.
pub async fn caller_refused(
    state: &AppState,
    peer: IpAddr,
    what: &str,
    reason: &str,
) -> Result<(), ApiError> {
    record(
        state,
        &Verdict::audit_only(caller_audit(peer, what, reason.to_owned())),
    )
    .await?;
    Ok(())
}

/// For callers with a bad credential: a locked address gets 429 (audited) without its
/// credential being looked at again.
pub async fn refuse_locked_caller(
    state: &AppState,
    peer: IpAddr,
    what: &str,
) -> Result<(), ApiError> {
    let Some(reason) = lock_reason(state, &[caller_subject(peer)]).await? else {
        return Ok(());
    };
    record(
        state,
        &Verdict::audit_only(caller_audit(peer, what, reason.clone())),
    )
    .await?;
    Err(ApiError::LockedOut(reason))
}

/// An audit entry for a caller nobody is known of yet: no user, its address.
fn caller_audit(peer: IpAddr, what: &str, reason: String) -> AuditEntry {
    AuditEntry {
        client_ip: Some(peer.to_string()),
        method: Some(what.to_owned()),
        result: "deny".into(),
        reason: Some(reason),
        ..AuditEntry::default()
    }
}
