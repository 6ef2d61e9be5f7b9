use std::fmt;

use mfa_core::Timestamp;
use sqlx::{Executor, Row};

use crate::{Store, StoreError};

/// What a lockout counts failures of. Logins and API callers are counted apart: wrong codes
/// typed at a login must not lock out the host's token, nor bad tokens the logins from there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockKind {
    /// A login user.
    User,
    /// A login's source address (`client_ip`, as the asking server reports it; IPv6 per /64).
    Ip,
    /// The address an HTTP request comes from (after `trusted_reverse_proxies`; IPv6 per /64):
    /// bad tokens and approve links.
    Caller,
}

impl LockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LockKind::User => "user",
            LockKind::Ip => "ip",
            LockKind::Caller => "caller",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(LockKind::User),
            "ip" => Some(LockKind::Ip),
            "caller" => Some(LockKind::Caller),
            _ => None,
        }
    }
}

impl fmt::Display for LockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing failures are counted against: `user tux`, `ip 192.0.2.7`, `caller 2001:db8::/64`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LockSubject {
    pub kind: LockKind,
    pub name: String,
}

impl LockSubject {
    pub fn new(kind: LockKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    pub kind: LockKind,
    pub subject: String,
    pub failures: i64,
    /// `None`: until an admin clears it.
    pub until: Option<Timestamp>,
    pub reason: String,
}

impl Lockout {
    /// Why a login or request is refused, in one line that says what lifts it.
    pub fn message(&self) -> String {
        let (kind, subject) = (self.kind, &self.subject);
        match self.until {
            Some(until) => format!(
                "{kind} {subject} is locked out until {until} ({})",
                self.reason
            ),
            None => format!(
                "{kind} {subject} is locked out ({}); an admin must clear it: mfac lockout clear {kind} {subject}",
                self.reason
            ),
        }
    }
}

/// A lock with no end is stored as the largest time.
const FOREVER: i64 = i64::MAX;

/// The failure-counting rule: at most `max` failures within `window` seconds, then a lock of
/// `block_secs`; each lock that follows another within `max_block_secs` of its end lasts twice
/// as long as that one, up to `max_block_secs`.
#[derive(Debug, Clone, Copy)]
pub struct LockoutRule {
    pub max_failures: u32,
    pub window_secs: i64,
    pub block_secs: i64,
    pub max_block_secs: i64,
}

impl LockoutRule {
    /// How long the `nth` lock in a row lasts (1 for the first).
    pub fn block_for(&self, nth: i64) -> i64 {
        let doublings = u32::try_from(nth.saturating_sub(1).clamp(0, 62)).unwrap_or(62);
        self.block_secs
            .saturating_mul(2i64.saturating_pow(doublings))
            .min(self.lock_memory_secs())
    }

    /// The longest lock (never shorter than the first); also how long after a lock ended the
    /// next one still counts as following it.
    pub fn lock_memory_secs(&self) -> i64 {
        self.max_block_secs.max(self.block_secs)
    }
}

/// Whether a login may compare a secret now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// Counted as a failure in advance: a success forgets it ([`LockoutChange::Success`]), a
    /// failure may lock ([`LockoutChange::AttemptFailed`]).
    Go,
    /// Locked, or out of attempts in this window: compare nothing.
    Refused(Lockout),
}

/// What a decision does to the failure counts; written in the same transaction as its audit
/// entry ([`Store::record`]).
#[derive(Debug, Clone, Default)]
pub enum LockoutChange {
    #[default]
    None,
    /// A failure nobody counted in advance (a denied or expired push, a bad token): count it,
    /// and lock the subjects that reach the limit.
    Failure(Vec<LockSubject>),
    /// An attempt [`Store::begin_attempt`] counted has failed: lock the subjects it used up.
    AttemptFailed(Vec<LockSubject>),
    /// A success forgets the failures of the subjects that are not locked now; it never lifts a
    /// lock in force.
    Success(Vec<LockSubject>),
    /// An attempt [`Store::begin_attempt`] counted did not fail (the secrets that came with a
    /// push were right, an expired password was right): give it back. Never lifts a lock.
    Refund(Vec<LockSubject>),
    /// Locks until an admin clears it (a "this was not me" report).
    LockUntilCleared {
        subject: LockSubject,
        reason: String,
    },
}

type Conn = sqlx::AnyConnection;

impl Store {
    /// Counts an attempt against every subject before a secret is compared, in one
    /// transaction: refused (and nothing counted) when any of them is locked or has had
    /// `max_failures` attempts in the window already. So however many guesses arrive at once,
    /// at most `max_failures` are compared per window.
    pub async fn begin_attempt(
        &self,
        subjects: &[LockSubject],
        rule: LockoutRule,
        now: Timestamp,
    ) -> Result<Attempt, StoreError> {
        self.write(subjects.to_vec(), move |conn, subjects| {
            Box::pin(reserve_all(conn, subjects, rule, now))
        })
        .await
    }

    /// Applies `change` on its own (one that comes with no audit entry).
    pub async fn change_lockouts(
        &self,
        change: &LockoutChange,
        rule: LockoutRule,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write(change.clone(), move |conn, change| {
            Box::pin(async move { apply(conn, change, rule, now).await.map(drop) })
        })
        .await
    }

    /// Counts one failure for `subject`; locks it for the block duration once `max_failures`
    /// fall within the window. Returns the lock's end if this failure locked it.
    pub async fn record_failure(
        &self,
        kind: LockKind,
        subject: &str,
        rule: LockoutRule,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, StoreError> {
        let change = LockoutChange::Failure(vec![LockSubject::new(kind, subject)]);
        let locked = self
            .write(change, move |conn, change| {
                Box::pin(async move { apply(conn, change, rule, now).await })
            })
            .await?;
        Ok(locked.into_iter().next().map(|(_, until)| until))
    }

    /// Locks `subject` until an admin clears it (a "this was not me" report).
    pub async fn lock_until_cleared(
        &self,
        kind: LockKind,
        subject: &str,
        reason: &str,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        lock_forever(&mut conn, &LockSubject::new(kind, subject), reason, now).await
    }

    /// The lock in force on `subject` now, if any.
    pub async fn lockout(
        &self,
        kind: LockKind,
        subject: &str,
        now: Timestamp,
    ) -> Result<Option<Lockout>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        lock_in_force(&mut conn, kind, subject, now).await
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

/// Counts an attempt against each of `subjects`, or none of them (a savepoint undoes the
/// ones counted before a refusal).
async fn reserve_all(
    conn: &mut Conn,
    subjects: &[LockSubject],
    rule: LockoutRule,
    now: Timestamp,
) -> Result<Attempt, StoreError> {
    conn.execute("SAVEPOINT attempt").await?;
    for s in subjects {
        if !reserve(conn, s, rule, now).await? {
            conn.execute("ROLLBACK TO attempt; RELEASE attempt").await?;
            // Out of attempts but not yet locked (the last ones are still being compared):
            // refused all the same, until the window ends.
            let lock = lock_in_force(conn, s.kind, &s.name, now).await?;
            return Ok(Attempt::Refused(lock.unwrap_or_else(|| Lockout {
                kind: s.kind,
                subject: s.name.clone(),
                failures: i64::from(rule.max_failures),
                until: Some(now.plus_secs(rule.window_secs)),
                reason: "too many attempts".into(),
            })));
        }
    }
    conn.execute("RELEASE attempt").await?;
    Ok(Attempt::Go)
}

/// Applies `change`; returns the subjects it locked, with the lock's end.
pub(crate) async fn apply(
    conn: &mut Conn,
    change: &LockoutChange,
    rule: LockoutRule,
    now: Timestamp,
) -> Result<Vec<(LockSubject, Timestamp)>, StoreError> {
    let mut locked = Vec::new();
    match change {
        LockoutChange::None => {}
        LockoutChange::Failure(subjects) | LockoutChange::AttemptFailed(subjects) => {
            for s in subjects {
                if matches!(change, LockoutChange::Failure(_)) {
                    count_failure(conn, s, rule, now).await?;
                }
                if let Some(until) = lock_if_spent(conn, s, rule, now).await? {
                    locked.push((s.clone(), until));
                }
            }
        }
        LockoutChange::Success(subjects) => {
            for s in subjects {
                forget_failures(conn, s, now).await?;
            }
        }
        LockoutChange::Refund(subjects) => {
            for s in subjects {
                refund(conn, s).await?;
            }
        }
        LockoutChange::LockUntilCleared { subject, reason } => {
            lock_forever(conn, subject, reason, now).await?;
        }
    }
    Ok(locked)
}

/// The upsert that counts one failure (a count older than the window starts again).
macro_rules! count_upsert {
    () => {
        "INSERT INTO lockouts (kind, subject, failures, first_failure_at, locked_until, reason) \
         VALUES ($1, $2, 1, $3, 0, '') \
         ON CONFLICT (kind, subject) DO UPDATE SET \
           failures = CASE WHEN lockouts.first_failure_at <= $4 THEN 1 ELSE lockouts.failures + 1 END, \
           first_failure_at = CASE WHEN lockouts.first_failure_at <= $4 THEN $3 ELSE lockouts.first_failure_at END"
    };
}

/// Counts an attempt unless `s` is locked or its attempts in the window are used up, in one
/// statement (so racing attempts are counted exactly). False when refused.
async fn reserve(
    conn: &mut Conn,
    s: &LockSubject,
    rule: LockoutRule,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let counted: Option<i64> = sqlx::query_scalar(concat!(
        count_upsert!(),
        " WHERE lockouts.locked_until <= $3 \
           AND (lockouts.first_failure_at <= $4 OR lockouts.failures < $5) \
         RETURNING failures"
    ))
    .bind(s.kind.as_str())
    .bind(s.name.clone())
    .bind(now.millis())
    .bind(now.plus_secs(-rule.window_secs).millis())
    .bind(i64::from(rule.max_failures))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(counted.is_some())
}

async fn count_failure(
    conn: &mut Conn,
    s: &LockSubject,
    rule: LockoutRule,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(count_upsert!())
        .bind(s.kind.as_str())
        .bind(s.name.clone())
        .bind(now.millis())
        .bind(now.plus_secs(-rule.window_secs).millis())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Locks `s` when its failures in the window reached the limit, for as long as its place in a
/// run of locks says ([`LockoutRule::block_for`]), never shortening a longer lock (a fraud
/// report's say). The lock's end, if this locked it.
async fn lock_if_spent(
    conn: &mut Conn,
    s: &LockSubject,
    rule: LockoutRule,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    let row = sqlx::query(
        "SELECT locks, locked_until FROM lockouts \
         WHERE kind = $1 AND subject = $2 AND failures >= $3 AND first_failure_at > $4",
    )
    .bind(s.kind.as_str())
    .bind(s.name.clone())
    .bind(i64::from(rule.max_failures))
    .bind(now.plus_secs(-rule.window_secs).millis())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let (locks, last_until): (i64, i64) = (row.try_get("locks")?, row.try_get("locked_until")?);
    let follows = last_until > now.plus_secs(-rule.lock_memory_secs()).millis();
    let nth = if follows { locks.saturating_add(1) } else { 1 };
    let until = now.plus_secs(rule.block_for(nth));
    if until.millis() <= last_until {
        return Ok(None);
    }
    // Conditional on the lock read above: of racing writers (PostgreSQL) one locks.
    let done = sqlx::query(
        "UPDATE lockouts SET locked_until = $1, locks = $2, reason = 'too many failures' \
         WHERE kind = $3 AND subject = $4 AND locked_until = $5",
    )
    .bind(until.millis())
    .bind(nth)
    .bind(s.kind.as_str())
    .bind(s.name.clone())
    .bind(last_until)
    .execute(&mut *conn)
    .await?;
    Ok((done.rows_affected() > 0).then_some(until))
}

/// Forgets the failures of `s` unless a lock is in force: a success never lifts a lock, nor
/// shortens the next (the run of locks is kept until the purge forgets it).
async fn forget_failures(
    conn: &mut Conn,
    s: &LockSubject,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE lockouts SET failures = 0 WHERE kind = $1 AND subject = $2 AND locked_until <= $3",
    )
    .bind(s.kind.as_str())
    .bind(s.name.clone())
    .bind(now.millis())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn refund(conn: &mut Conn, s: &LockSubject) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE lockouts SET failures = failures - 1 \
         WHERE kind = $1 AND subject = $2 AND failures > 0",
    )
    .bind(s.kind.as_str())
    .bind(s.name.clone())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn lock_forever(
    conn: &mut Conn,
    s: &LockSubject,
    reason: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO lockouts (kind, subject, failures, first_failure_at, locked_until, reason) \
         VALUES ($1, $2, 0, $3, $4, $5) \
         ON CONFLICT (kind, subject) DO UPDATE SET locked_until = $4, reason = $5",
    )
    .bind(s.kind.as_str())
    .bind(s.name.clone())
    .bind(now.millis())
    .bind(FOREVER)
    .bind(reason.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// On every login: one primary-key lookup, however many addresses are locked.
pub(crate) async fn lock_in_force(
    conn: &mut Conn,
    kind: LockKind,
    subject: &str,
    now: Timestamp,
) -> Result<Option<Lockout>, StoreError> {
    let row = sqlx::query(
        "SELECT kind, subject, failures, locked_until, reason FROM lockouts \
         WHERE kind = $1 AND subject = $2 AND locked_until > $3",
    )
    .bind(kind.as_str())
    .bind(subject.to_owned())
    .bind(now.millis())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(lockout_from_row).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_lock_in_a_run_doubles_up_to_the_longest() {
        let rule = LockoutRule {
            max_failures: 5,
            window_secs: 300,
            block_secs: 300,
            max_block_secs: 86_400,
        };
        let lengths: Vec<i64> = (1..=10).map(|n| rule.block_for(n)).collect();
        assert_eq!(
            lengths,
            [300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 76800, 86400]
        );
        assert_eq!(rule.block_for(0), 300);
        assert_eq!(rule.block_for(i64::MAX), 86_400, "no overflow");
        let shorter = LockoutRule {
            max_block_secs: 60,
            ..rule
        };
        assert_eq!(
            shorter.block_for(3),
            300,
            "never shorter than block_duration"
        );
    }
}
