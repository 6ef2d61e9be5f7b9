//! The life of a push, as pure transitions: pending → approved | denied | expired | withdrawn.
//! Who may move it and when — number matching, a fraud report, a lock in force, expiry, its
//! server withdrawing it — is decided here, from a snapshot of the push; the store persists a
//! move with one conditional update on `pending`, so of racing moves the first wins and the
//! others learn the state it left.

use std::fmt;
use std::str::FromStr;

use crate::Timestamp;

/// Where a push stands. Only `Pending` moves, and only once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    Pending,
    Approved,
    Denied,
    Expired,
    /// Its server no longer waits for it (a code was typed, the login gave up or is gone).
    Withdrawn,
}

impl PushState {
    pub fn as_str(self) -> &'static str {
        match self {
            PushState::Pending => "pending",
            PushState::Approved => "approved",
            PushState::Denied => "denied",
            PushState::Expired => "expired",
            PushState::Withdrawn => "withdrawn",
        }
    }
}

impl fmt::Display for PushState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PushState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pending" => Ok(PushState::Pending),
            "approved" => Ok(PushState::Approved),
            "denied" => Ok(PushState::Denied),
            "expired" => Ok(PushState::Expired),
            "withdrawn" => Ok(PushState::Withdrawn),
            other => Err(format!("unknown request state {other:?}")),
        }
    }
}

/// The reason of a push denied because the approval carried the wrong number.
pub const WRONG_NUMBER: &str = "wrong number";

/// The numbers an approval may carry: two digits (pushes show 10..=99; a wrong one denies).
/// Anything larger is not an answer but a malformed request.
pub const ANSWER_NUMBERS: std::ops::RangeInclusive<u8> = 0..=99;
/// The reason a "this was not me" report records; it locks the user until an admin clears it.
pub const FRAUD_REASON: &str = "fraud reported";
/// The reason of a push nobody answered in time.
pub const TIMEOUT: &str = "timeout";

/// What a move does to the failure counts of the login (its user and source address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockoutEffect {
    None,
    /// A success: forget the failures (never a lock in force).
    Success,
    /// A failure nobody counted before: count it, lock at the limit.
    Failure,
    /// The user is locked until an admin clears it.
    LockUserUntilCleared {
        reason: String,
    },
}

/// A move from `Pending`, as the store must persist it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub to: PushState,
    pub reason: Option<String>,
    /// The condition of the conditional update besides `pending`: still open (an answer, a
    /// withdrawal) or overdue (an expiry).
    pub when: When,
    pub lockouts: LockoutEffect,
    /// What the audit log records as the result.
    pub audit: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Pending and before its expiry.
    Open,
    /// Pending and at or past its expiry.
    Overdue,
}

/// A client's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approve { number: Option<u8> },
    Deny,
    Fraud,
}

/// Why an answer cannot move the push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Decided (or expired) already: the answer learns the state it left.
    Closed,
    /// Pending but past its expiry: it must expire first.
    Overdue,
    /// Number matching is on and the approval carries no number.
    NumberMissing,
}

/// Why a server withdraws a push; what clients are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawReason {
    /// The person typed a code at the login instead.
    CodeUsed,
    /// The login gave up (timed out, the connection closed).
    Abandoned,
    /// mfad restarted and the login did not come back for it.
    Restarted,
}

impl WithdrawReason {
    pub fn text(self) -> &'static str {
        match self {
            WithdrawReason::CodeUsed => "withdrawn: a code was used at the login",
            WithdrawReason::Abandoned => "withdrawn: the login gave up",
            WithdrawReason::Restarted => "withdrawn: the login is gone (mfad restarted)",
        }
    }
}

/// What the rules need to know of a push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Push {
    pub state: PushState,
    pub expires_at: Timestamp,
    /// The number to match, when number matching is on.
    pub number: Option<u8>,
}

impl Push {
    /// Pending and not yet past its expiry.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.state == PushState::Pending && now < self.expires_at
    }

    fn check_open(&self, now: Timestamp) -> Result<(), Refusal> {
        match self.state {
            PushState::Pending if now < self.expires_at => Ok(()),
            PushState::Pending => Err(Refusal::Overdue),
            _ => Err(Refusal::Closed),
        }
    }

    /// A client's answer: an approval with the right number approves; a wrong number denies
    /// (guessing is not a way in) and counts as a failure, as a denial does; a fraud report
    /// denies and locks the user. An approval while the user or the login's address is
    /// locked out (`lock`: why) denies without counting anything: a success must never
    /// outrun a lockout.
    pub fn answer(
        &self,
        client: &str,
        answer: Answer,
        lock: Option<&str>,
        now: Timestamp,
    ) -> Result<Move, Refusal> {
        self.check_open(now)?;
        let decide = |to, reason: Option<String>, lockouts, audit| Move {
            to,
            reason,
            when: When::Open,
            lockouts,
            audit,
        };
        Ok(match answer {
            Answer::Approve { number } => {
                let given = match (self.number, number) {
                    (Some(_), None) => return Err(Refusal::NumberMissing),
                    (expected, given) => expected.is_none() || expected == given,
                };
                match (given, lock) {
                    (false, _) => decide(
                        PushState::Denied,
                        Some(WRONG_NUMBER.into()),
                        LockoutEffect::Failure,
                        "denied",
                    ),
                    (true, Some(lock)) => decide(
                        PushState::Denied,
                        Some(lock.to_owned()),
                        LockoutEffect::None,
                        "denied",
                    ),
                    (true, None) => decide(
                        PushState::Approved,
                        None,
                        LockoutEffect::Success,
                        "approved",
                    ),
                }
            }
            Answer::Deny => decide(
                PushState::Denied,
                Some(format!("denied by {client}")),
                LockoutEffect::Failure,
                "denied",
            ),
            Answer::Fraud => decide(
                PushState::Denied,
                Some(FRAUD_REASON.into()),
                LockoutEffect::LockUserUntilCleared {
                    reason: FRAUD_REASON.into(),
                },
                "fraud",
            ),
        })
    }

    /// Expiry: a pending push past its time is denied (reason `timeout`), counted as a failure.
    pub fn expire(&self, now: Timestamp) -> Option<Move> {
        (self.state == PushState::Pending && now >= self.expires_at).then(|| Move {
            to: PushState::Expired,
            reason: Some(TIMEOUT.into()),
            when: When::Overdue,
            lockouts: LockoutEffect::Failure,
            audit: "expired",
        })
    }

    /// Its server withdraws it; not counted: nobody refused anything.
    pub fn withdraw(&self, why: WithdrawReason, now: Timestamp) -> Option<Move> {
        self.is_open(now).then(|| Move {
            to: PushState::Withdrawn,
            reason: Some(why.text().into()),
            when: When::Open,
            lockouts: LockoutEffect::None,
            audit: "withdrawn",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn push(number: Option<u8>) -> Push {
        Push {
            state: PushState::Pending,
            expires_at: Timestamp::from_secs(NOW + 30),
            number,
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_secs(NOW)
    }

    fn approve(n: Option<u8>) -> Answer {
        Answer::Approve { number: n }
    }

    #[test]
    fn number_matching_decides_an_approval() {
        let p = push(Some(42));
        let ok = p.answer("tux", approve(Some(42)), None, now()).unwrap();
        assert_eq!(
            (ok.to, ok.lockouts, ok.audit),
            (PushState::Approved, LockoutEffect::Success, "approved")
        );
        let wrong = p.answer("tux", approve(Some(41)), None, now()).unwrap();
        assert_eq!(
            (wrong.to, wrong.reason.as_deref(), wrong.lockouts),
            (
                PushState::Denied,
                Some(WRONG_NUMBER),
                LockoutEffect::Failure
            )
        );
        assert_eq!(
            p.answer("tux", approve(None), None, now()),
            Err(Refusal::NumberMissing)
        );
        // Without number matching any approval approves (a number sent along is ignored).
        for n in [None, Some(7)] {
            let m = push(None).answer("tux", approve(n), None, now()).unwrap();
            assert_eq!(m.to, PushState::Approved);
        }
    }

    #[test]
    fn denials_and_fraud_reports() {
        let d = push(Some(42))
            .answer("tux", Answer::Deny, None, now())
            .unwrap();
        assert_eq!(
            (d.to, d.reason.as_deref(), d.lockouts, d.audit),
            (
                PushState::Denied,
                Some("denied by tux"),
                LockoutEffect::Failure,
                "denied"
            )
        );
        let f = push(Some(42))
            .answer("tux", Answer::Fraud, None, now())
            .unwrap();
        assert_eq!(
            (f.to, f.reason.as_deref(), f.audit),
            (PushState::Denied, Some(FRAUD_REASON), "fraud")
        );
        assert!(matches!(
            f.lockouts,
            LockoutEffect::LockUserUntilCleared { .. }
        ));
        // A fraud report needs no number: it is never an approval.
        assert!(
            push(Some(42))
                .answer("tux", Answer::Fraud, None, now())
                .is_ok()
        );
    }

    #[test]
    fn a_lock_in_force_turns_an_approval_into_a_denial_that_counts_nothing() {
        let lock = "user tux is locked out until 2027-01-01T00:00:00Z (too many failures)";
        let m = push(Some(42))
            .answer("tux", approve(Some(42)), Some(lock), now())
            .unwrap();
        assert_eq!(
            (m.to, m.reason.as_deref(), m.lockouts),
            (PushState::Denied, Some(lock), LockoutEffect::None)
        );
        // A wrong number under a lock is still a guess, counted as one.
        let m = push(Some(42))
            .answer("tux", approve(Some(1)), Some(lock), now())
            .unwrap();
        assert_eq!(m.lockouts, LockoutEffect::Failure);
        // Denials and reports are not held back by a lock.
        let m = push(Some(42))
            .answer("tux", Answer::Deny, Some(lock), now())
            .unwrap();
        assert_eq!(m.to, PushState::Denied);
    }

    #[test]
    fn only_a_pending_push_moves_and_expiry_comes_at_its_time() {
        let p = push(Some(42));
        let late = Timestamp::from_secs(NOW + 30);
        assert_eq!(
            p.answer("tux", approve(Some(42)), None, late),
            Err(Refusal::Overdue)
        );
        assert_eq!(p.expire(now()), None, "not yet due");
        let e = p.expire(late).unwrap();
        assert_eq!(
            (e.to, e.reason.as_deref(), e.when, e.lockouts),
            (
                PushState::Expired,
                Some(TIMEOUT),
                When::Overdue,
                LockoutEffect::Failure
            )
        );
        assert_eq!(p.withdraw(WithdrawReason::CodeUsed, late), None);
        for state in [
            PushState::Approved,
            PushState::Denied,
            PushState::Expired,
            PushState::Withdrawn,
        ] {
            let closed = Push { state, ..p };
            assert_eq!(
                closed.answer("tux", Answer::Deny, None, now()),
                Err(Refusal::Closed)
            );
            assert_eq!(closed.expire(late), None);
            assert_eq!(closed.withdraw(WithdrawReason::Abandoned, now()), None);
        }
    }

    #[test]
    fn a_withdrawal_says_why_and_counts_nothing() {
        for (why, text) in [
            (
                WithdrawReason::CodeUsed,
                "withdrawn: a code was used at the login",
            ),
            (WithdrawReason::Abandoned, "withdrawn: the login gave up"),
            (
                WithdrawReason::Restarted,
                "withdrawn: the login is gone (mfad restarted)",
            ),
        ] {
            let m = push(None).withdraw(why, now()).unwrap();
            assert_eq!(
                (m.to, m.reason.as_deref(), m.lockouts, m.when),
                (
                    PushState::Withdrawn,
                    Some(text),
                    LockoutEffect::None,
                    When::Open
                )
            );
        }
    }

    #[test]
    fn states_round_trip_through_text() {
        for s in [
            PushState::Pending,
            PushState::Approved,
            PushState::Denied,
            PushState::Expired,
            PushState::Withdrawn,
        ] {
            assert_eq!(s.as_str().parse::<PushState>(), Ok(s));
        }
        assert!("maybe".parse::<PushState>().is_err());
    }
}
