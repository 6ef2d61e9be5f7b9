//! Gateway protections: lockouts per user and per source IP, trusted networks.

use mfa_store::{LockKind, LockoutRule};

use crate::{ApiError, AppState};

pub fn rule(state: &AppState) -> LockoutRule {
    LockoutRule {
        max_failures: state.config.max_failed_attempts,
        window_secs: i64::from(state.config.block_duration),
        block_secs: i64::from(state.config.block_duration),
    }
}

/// Why `subject` may not log in now, if it is locked out.
pub async fn lock_reason(
    state: &AppState,
    kind: LockKind,
    subject: &str,
) -> Result<Option<String>, ApiError> {
    let now = state.clock.now();
    Ok(state
        .store
        .lockout(kind, subject, now)
        .await?
        .map(|l| match l.until {
            Some(until) => format!("{kind} {subject} is locked out until {until} ({})", l.reason),
            None => format!(
                "{kind} {subject} is locked out ({}); an admin must clear it: mfac lockout clear {kind} {subject}",
                l.reason
            ),
        }))
}

/// For HTTP callers: a locked peer gets 429 before anything else is looked at.
pub async fn refuse_if_locked(
    state: &AppState,
    kind: LockKind,
    subject: &str,
) -> Result<(), ApiError> {
    match lock_reason(state, kind, subject).await? {
        Some(reason) => Err(ApiError::LockedOut(reason)),
        None => Ok(()),
    }
}

pub async fn record_failure(
    state: &AppState,
    kind: LockKind,
    subject: &str,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    if let Some(until) = state
        .store
        .record_failure(kind, subject, rule(state), now)
        .await?
    {
        tracing::warn!(%kind, %subject, %until, "locked out after too many failures");
    }
    Ok(())
}

/// A login's user and source IP: each failure counts against both.
pub struct LoginSubjects<'a> {
    pub user: &'a str,
    pub ip: Option<&'a str>,
}

impl LoginSubjects<'_> {
    fn each(&self) -> impl Iterator<Item = (LockKind, &str)> {
        std::iter::once((LockKind::User, self.user)).chain(self.ip.map(|ip| (LockKind::Ip, ip)))
    }

    /// The first lock in force on the user or the IP.
    pub async fn lock_reason(&self, state: &AppState) -> Result<Option<String>, ApiError> {
        for (kind, subject) in self.each() {
            if let Some(reason) = lock_reason(state, kind, subject).await? {
                return Ok(Some(reason));
            }
        }
        Ok(None)
    }

    pub async fn failed(&self, state: &AppState) -> Result<(), ApiError> {
        for (kind, subject) in self.each() {
            record_failure(state, kind, subject).await?;
        }
        Ok(())
    }

    /// A success forgets earlier failures.
    pub async fn succeeded(&self, state: &AppState) -> Result<(), ApiError> {
        for (kind, subject) in self.each() {
            state.store.clear_failures(kind, subject).await?;
        }
        Ok(())
    }
}
