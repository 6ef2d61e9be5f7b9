//! Keeping tables bounded: what no decision needs any more goes on a schedule.

use mfa_core::Timestamp;

use crate::{Store, StoreError};

/// Decided pushes (with their approve tokens) are kept this long, so a late status poll or a
/// late click on a link still gets the answer; the audit log keeps them for good.
pub const KEEP_DECIDED_SECS: i64 = 86_400;

/// What to keep.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// The lockout window: a count older than this no longer counts.
    pub failure_window_secs: i64,
    /// How long a run of locks is remembered after the last one ended
    /// ([`crate::LockoutRule::lock_memory_secs`]).
    pub lock_memory_secs: i64,
    pub audit_days: u32,
}

/// How many rows a purge removed, per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub requests: u64,
    pub sessions: u64,
    pub lockouts: u64,
    pub audit: u64,
    /// Numbers Duo preauths kept for logins that never came, and answers kept for Duo's
    /// status polls.
    pub duo: u64,
    /// Enrolment and passkey links expired or used more than a day ago (until then their
    /// pages say so), and passkey ceremonies nobody finished.
    pub enrol_links: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.requests + self.sessions + self.lockouts + self.audit + self.duo + self.enrol_links
    }
}

impl Store {
    /// Removes decided pushes older than a day (their approve tokens go with them), expired
    /// elevated sessions, failure counts with no lock in force and no failure in the window,
    /// and audit entries older than `audit_days`.
    pub async fn purge(&self, keep: Retention, now: Timestamp) -> Result<Purged, StoreError> {
        let decided_before = now.plus_secs(-KEEP_DECIDED_SECS).millis();
        // Approve tokens first: SQLite runs ON DELETE CASCADE only with foreign keys on, and
        // this must not depend on it.
        sqlx::query(
            "DELETE FROM approve_tokens WHERE txid IN (SELECT txid FROM auth_requests \
             WHERE state <> 'pending' AND decided_at < $1)",
        )
        .bind(decided_before)
        .execute(&self.pool)
        .await?;
        let requests =
            sqlx::query("DELETE FROM auth_requests WHERE state <> 'pending' AND decided_at < $1")
                .bind(decided_before)
                .execute(&self.pool)
                .await?
                .rows_affected();
        let sessions = sqlx::query("DELETE FROM elevated_sessions WHERE expires_at <= $1")
            .bind(now.millis())
            .execute(&self.pool)
            .await?
            .rows_affected();
        let lockouts =
            sqlx::query("DELETE FROM lockouts WHERE locked_until <= $1 AND first_failure_at <= $2")
                .bind(now.plus_secs(-keep.lock_memory_secs).millis())
                .bind(now.plus_secs(-keep.failure_window_secs).millis())
                .execute(&self.pool)
                .await?
                .rows_affected();
        let audit_days = i64::from(keep.audit_days);
        let audit = sqlx::query("DELETE FROM audit WHERE at < $1")
            .bind(now.plus_secs(-audit_days * 86_400).millis())
            .execute(&self.pool)
            .await?
            .rows_affected();
        let mut duo = 0;
        for delete in [
            "DELETE FROM duo_numbers WHERE expires_at <= $1",
            "DELETE FROM duo_answers WHERE expires_at <= $1",
        ] {
            duo += sqlx::query(delete)
                .bind(now.millis())
                .execute(&self.pool)
                .await?
                .rows_affected();
        }
        let enrol_links =
            sqlx::query("DELETE FROM enrol_links WHERE expires_at <= $1 OR used_at <= $1")
                .bind(decided_before)
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(Purged {
            requests,
            sessions,
            lockouts,
            audit,
            duo,
            enrol_links,
        })
    }
}
