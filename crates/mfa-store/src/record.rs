//! A decision written as one: its audit entry, what it does to the lockouts and the elevated
//! session it makes commit together or not at all, so an approved push never lacks its audit
//! row and a failure is never audited without being counted.

use mfa_core::Timestamp;

use crate::audit::insert_audit;
use crate::lockouts::apply;
use crate::sessions::insert_session;
use crate::{
    AuditEntry, LockSubject, LockoutChange, LockoutRule, NewSession, Session, Store, StoreError,
};

/// What a decision writes.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub audit: AuditEntry,
    pub lockouts: LockoutChange,
    pub session: Option<NewSession>,
}

impl Verdict {
    pub fn audit_only(audit: AuditEntry) -> Self {
        Self {
            audit,
            lockouts: LockoutChange::None,
            session: None,
        }
    }
}

/// What writing a verdict did.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Subjects this verdict locked, with the lock's end.
    pub locked: Vec<(LockSubject, Timestamp)>,
    pub session: Option<Session>,
}

impl Store {
    /// Writes `verdict` in one transaction.
    pub async fn record(
        &self,
        verdict: &Verdict,
        rule: LockoutRule,
        now: Timestamp,
    ) -> Result<Recorded, StoreError> {
        self.write(verdict.clone(), move |conn, verdict| {
            Box::pin(async move { write(conn, verdict, rule, now).await })
        })
        .await
    }
}

pub(crate) async fn write(
    conn: &mut sqlx::AnyConnection,
    verdict: &Verdict,
    rule: LockoutRule,
    now: Timestamp,
) -> Result<Recorded, StoreError> {
    let locked = apply(conn, &verdict.lockouts, rule, now).await?;
    let session = match &verdict.session {
        Some(new) => Some(insert_session(conn, new).await?),
        None => None,
    };
    // The audit entry last: it may name the session.
    let mut audit = verdict.audit.clone();
    if let Some(s) = &session
        && audit.reason.is_none()
    {
        audit.reason = Some(format!("elevated session {} until {}", s.id, s.expires_at));
    }
    insert_audit(conn, &audit, now).await?;
    Ok(Recorded { locked, session })
}
