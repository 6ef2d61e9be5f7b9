use std::fmt;

use mfa_core::Timestamp;
use sqlx::Row;

use crate::{Store, StoreError};

/// What a lockout counts failures of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    User,
    Ip,
}

impl LockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::User => "user",
            LockKind::Ip => "ip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(LockKind::User),
            "ip" => Some(LockKind::Ip),
            _ => None,
        }
    }
}

impl fmt::Display for LockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason a "this was not me" report locks a user; such locks last until an admin clears them.
pub const FRAUD_REASON: &str = "fraud reported";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub kind: LockKind,
    pub subject: String,
    pub failures: i64,
    /// `None`: until an admin clears it.
    pub until: Option<Timestamp>,
    pub reason: String,
}

/// A lock with no end is stored as the largest time.
const FOREVER: i64 = i64::MAX;

/// The failure-counting rule: at most `max` failures within `window` seconds.
#[derive(Debug, Clone, Copy)]
pub struct LockoutRule {
    pub max_failures: u32,
    pub window_secs: i64,
    pub block_secs: i64,
}

impl Store {
    /// Counts one failure for `subject`; locks it for the block duration once `max_failures`
    /// fall within the window. Returns the lock's end if this failure locked it.
    pub async fn record_failure(
        &self,
        kind: LockKind,
        subject: &str,
        rule: LockoutRule,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let window_start = now.plus_secs(-rule.window_secs).millis();
        // One upsert: a failure outside the window starts a new count.
        let failures: i64 = sqlx::query_scalar(
            "INSERT INTO lockouts (kind, subject, failures, first_failure_at, locked_until, reason) \
             VALUES ($1, $2, 1, $3, 0, '') \
             ON CONFLICT (kind, subject) DO UPDATE SET \
               failures = CASE WHEN lockouts.first_failure_at <= $4 THEN 1 ELSE lockouts.failures + 1 END, \
               first_failure_at = CASE WHEN lockouts.first_failure_at <= $4 THEN $3 ELSE lockouts.first_failure_at END \
             RETURNING failures",
        )
        .bind(kind.as_str())
        .bind(subject.to_owned())
        .bind(now.millis())
        .bind(window_start)
        .fetch_one(&self.pool)
        .await?;
        if failures < i64::from(rule.max_failures) {
            return Ok(None);
        }
        let until = now.plus_secs(rule.block_secs);
        // Never shorten a longer lock (a fraud report's, say).
        sqlx::query(
            "UPDATE lockouts SET locked_until = $1, reason = 'too many failures' \
             WHERE kind = $2 AND subject = $3 AND locked_until < $1",
        )
        .bind(until.millis())
        .bind(kind.as_str())
        .bind(subject.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(Some(until))
    }

    /// A success forgets the failures of `subject` (but not a lock an admin must clear).
    pub async fn clear_failures(&self, kind: LockKind, subject: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE kind = $1 AND subject = $2 AND locked_until <> $3")
            .bind(kind.as_str())
            .bind(subject.to_owned())
            .bind(FOREVER)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Locks `subject` until an admin clears it (a "this was not me" report).
    pub async fn lock_until_cleared(
        &self,
        kind: LockKind,
        subject: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO lockouts (kind, subject, failures, first_failure_at, locked_until, reason) \
             VALUES ($1, $2, 0, $3, $4, $5) \
             ON CONFLICT (kind, subject) DO UPDATE SET locked_until = $4, reason = $5",
        )
        .bind(kind.as_str())
        .bind(subject.to_owned())
        .bind(now.millis())
        .bind(FOREVER)
        .bind(reason.to_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The lock in force on `subject` now, if any.
    pub async fn lockout(
        &self,
        kind: LockKind,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<Lockout>, StoreError> {
        // On every login: one primary-key lookup, however many addresses are locked.
        let row = sqlx::query(
            "SELECT kind, subject, failures, locked_until, reason FROM lockouts \
             WHERE kind = $1 AND subject = $2 AND locked_until > $3",
        )
        .bind(kind.as_str())
        .bind(subject.to_owned())
        .bind(now.millis())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(lockout_from_row).transpose()
    }

    /// Every lock in force now.
    pub async fn lockouts(&self, now: Timestamp) -> Result<Vec<Lockout>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, subject, failures, locked_until, reason FROM lockouts \
             WHERE locked_until > $1 ORDER BY kind, subject",
        )
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lockout_from_row).collect()
    }

    /// Lifts a lock and forgets its failures. False when there was nothing to clear.
    pub async fn clear_lockout(&self, kind: LockKind, subject: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM lockouts WHERE kind = $1 AND subject = $2")
            .bind(kind.as_str())
            .bind(subject.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }
}

fn lockout_from_row(row: &sqlx::any::AnyRow) -> Result<Lockout, StoreError> {
    let kind: String = row.try_get("kind")?;
    let until: i64 = row.try_get("locked_until")?;
    Ok(Lockout {
        kind: LockKind::parse(&kind)
            .ok_or_else(|| StoreError::Invalid(format!("lockout kind {kind:?}")))?,
        subject: row.try_get("subject")?,
        failures: row.try_get("failures")?,
        until: (until != FOREVER).then(|| Timestamp::from_millis(until)),
        reason: row.try_get("reason")?,
    })
}
