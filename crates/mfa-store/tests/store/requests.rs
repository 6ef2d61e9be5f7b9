use mfa_core::push::{Answer, LockoutEffect, Move, When, WithdrawReason};
use mfa_core::{Alias, Timestamp};
use mfa_secrets::Token;
use mfa_store::{
    ApproveLink, Attempt, AuditEntry, AuthRequest, LockKind, LockSubject, LockoutChange,
    LockoutRule, PushState, Retention, Store,
};

use crate::support::backends;

fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

pub fn request(txid: &str, clients: &[&str], now: Timestamp) -> AuthRequest {
    AuthRequest {
        txid: txid.to_owned(),
        user: "tux".into(),
        host: "linux.example.org".into(),
        service: "sshd".into(),
        client_ip: Some("192.0.2.10".into()),
        server: "ssh-1".into(),
        app_id: 1,
        clients: clients.iter().map(|c| alias(c)).collect(),
        number: Some(42),
        state: PushState::Pending,
        reason: None,
        decided_by: None,
        created_at: now,
        expires_at: now.plus_secs(30),
        decided_at: None,
        factors: None,
        remember: None,
        details: None,
    }
}

pub fn links(clients: &[&str]) -> Vec<ApproveLink> {
    clients
        .iter()
        .map(|c| ApproveLink {
            token_hash: Token::generate("mfaa").unwrap().hash(),
            client: alias(c),
        })
        .collect()
}

/// `_` is legal in aliases and a LIKE wildcard, and SQLite's LIKE ignores case: a client is
/// shown exactly the pushes sent to it, never another alias's that merely looks alike.
#[tokio::test]
async fn pending_requests_match_the_alias_exactly() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let s = &db.store;
        for (txid, clients) in [("t1", &["tux"][..]), ("t2", &["tux", "alice"][..])] {
            s.create_request(&request(txid, clients, now), &links(clients))
                .await
                .unwrap();
        }
        for lookalike in ["t_x", "tu_", "TUX", "Tux", "tux_phone"] {
            let seen = s
                .pending_requests_for(&alias(lookalike), now)
                .await
                .unwrap();
            assert!(
                seen.is_empty(),
                "{}: {lookalike} sees {:?}",
                db.name,
                seen.iter().map(|r| &r.txid).collect::<Vec<_>>()
            );
        }
        let tux: Vec<String> = s
            .pending_requests_for(&alias("tux"), now)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.txid)
            .collect();
        assert_eq!(tux, ["t1", "t2"], "{}", db.name);
        let alice = s.pending_requests_for(&alias("alice"), now).await.unwrap();
        assert_eq!(alice.len(), 1, "{}", db.name);
        db.finish().await;
    }
}

/// The audit entry a denial writes.
fn denied(r: &AuthRequest) -> AuditEntry {
    AuditEntry {
        user: r.user.clone(),
        result: "denied".into(),
        txid: Some(r.txid.clone()),
        ..AuditEntry::default()
    }
}

fn rule() -> LockoutRule {
    LockoutRule {
        max_failures: 5,
        window_secs: 300,
        block_secs: 300,
        max_block_secs: 86_400,
    }
}

/// tux's denial of a pending push, as `mfa_core::push` makes it.
fn deny_answer() -> Move {
    let now = Timestamp::from_secs(1_800_000_000);
    request("any", &["tux"], now)
        .push()
        .answer("tux", Answer::Deny, None, now)
        .unwrap()
}

/// Makes every audit insert for user `boom` fail, as a full disk or a lost connection would.
async fn fail_audits_of_boom(db: &crate::support::TestDb) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let statements: &[&str] = if db.name == "sqlite" {
        &[
            "CREATE TRIGGER fail_boom BEFORE INSERT ON audit WHEN NEW.user_name = 'boom' \
           BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
        ]
    } else {
        &[
            "CREATE FUNCTION fail_boom() RETURNS trigger AS $$ BEGIN \
               IF NEW.user_name = 'boom' THEN RAISE EXCEPTION 'audit refused'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_boom BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION fail_boom()",
        ]
    };
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(*s))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
}

/// A decision, its audit entry and its lockout change commit together: when the audit entry
/// cannot be written, the push stays pending and nothing is counted.
#[tokio::test]
async fn a_decision_is_written_with_its_audit_entry_or_not_at_all() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let s = &db.store;
        let mut r = request("t1", &["tux"], now);
        r.user = "boom".into();
        s.create_request(&r, &links(&["tux"])).await.unwrap();
        fail_audits_of_boom(&db).await;
        let user = LockSubject::new(LockKind::User, "boom");
        let counted_as = user.clone();
        let verdict =
            move |r: &AuthRequest| (denied(r), LockoutChange::Failure(vec![counted_as.clone()]));
        let failed = s
            .settle_request("t1", &deny_answer(), None, rule(), now, verdict)
            .await;
        assert!(failed.is_err(), "{}: the audit insert should fail", db.name);
        assert_eq!(
            s.request("t1").await.unwrap().state,
            PushState::Pending,
            "{}",
            db.name
        );
        let counted = failures(&db, &user).await;
        assert_eq!(
            counted, 0,
            "{}: a failure was counted without its audit entry",
            db.name
        );

        // The same for a user whose audit entries can be written: all three land.
        s.create_request(&request("t2", &["tux"], now), &links(&["tux"]))
            .await
            .unwrap();
        let tux = LockSubject::new(LockKind::User, "tux");
        let (decided, _) = s
            .settle_request("t2", &deny_answer(), None, rule(), now, {
                let tux = tux.clone();
                move |r| (denied(r), LockoutChange::Failure(vec![tux.clone()]))
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(decided.state, PushState::Denied);
        assert_eq!(failures(&db, &tux).await, 1, "{}", db.name);
        let audit = s.audit_entries(&Default::default()).await.unwrap();
        assert_eq!(audit.len(), 1, "{}", db.name);
        assert_eq!(audit[0].txid.as_deref(), Some("t2"));
        db.finish().await;
    }
}

/// Writes that arrive together share a transaction (SQLite's group commit), yet each commits
/// or fails on its own: the failing decisions leave nothing, the others all land.
#[tokio::test]
async fn concurrent_decisions_commit_each_except_the_failing_ones() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let s = &db.store;
        for i in 0..40 {
            let mut r = request(&format!("t{i}"), &["tux"], now);
            if i % 2 == 0 {
                r.user = "boom".into();
            }
            s.create_request(&r, &links(&["tux"])).await.unwrap();
        }
        fail_audits_of_boom(&db).await;
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..40 {
            let s = s.clone();
            racers.spawn(async move {
                let verdict = |r: &AuthRequest| {
                    let user = LockSubject::new(LockKind::User, &r.user);
                    (denied(r), LockoutChange::Failure(vec![user]))
                };
                let txid = format!("t{i}");
                let settled = s
                    .settle_request(&txid, &deny_answer(), None, rule(), now, verdict)
                    .await;
                (i, settled.is_ok())
            });
        }
        while let Some(joined) = racers.join_next().await {
            let (i, ok) = joined.unwrap();
            assert_eq!(ok, i % 2 == 1, "{}: t{i}", db.name);
        }
        for i in 0..40 {
            let state = s.request(&format!("t{i}")).await.unwrap().state;
            let want = if i % 2 == 0 {
                PushState::Pending
            } else {
                PushState::Denied
            };
            assert_eq!(state, want, "{}: t{i}", db.name);
        }
        let boom = LockSubject::new(LockKind::User, "boom");
        let tux = LockSubject::new(LockKind::User, "tux");
        assert_eq!(failures(&db, &boom).await, 0, "{}", db.name);
        assert_eq!(failures(&db, &tux).await, 20, "{}", db.name);
        let audit = s.audit_entries(&Default::default()).await.unwrap();
        assert_eq!(audit.len(), 20, "{}", db.name);
        db.finish().await;
    }
}

/// Each move is one conditional UPDATE: the first wins, later ones (an answer after a
/// withdrawal, an expiry before its time) change nothing.
#[tokio::test]
async fn a_push_moves_once_and_only_as_its_condition_allows() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let s = &db.store;
        let r = request("t1", &["tux"], now);
        s.create_request(&r, &links(&["tux"])).await.unwrap();
        let none = |r: &AuthRequest| (denied(r), LockoutChange::None);
        let expire = Move {
            to: PushState::Expired,
            reason: Some("timeout".into()),
            when: When::Overdue,
            lockouts: LockoutEffect::Failure,
            audit: "expired",
        };
        assert!(
            s.settle_request("t1", &expire, None, rule(), now, none)
                .await
                .unwrap()
                .is_none(),
            "{}: expired before its time",
            db.name
        );
        let withdraw = r.push().withdraw(WithdrawReason::CodeUsed, now).unwrap();
        let (moved, _) = s
            .settle_request("t1", &withdraw, Some("server:ssh-1"), rule(), now, none)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (
                moved.state,
                moved.reason.as_deref(),
                moved.decided_by.as_deref()
            ),
            (
                PushState::Withdrawn,
                Some("withdrawn: a code was used at the login"),
                Some("server:ssh-1")
            )
        );
        assert!(
            s.settle_request("t1", &deny_answer(), Some("client:tux"), rule(), now, none)
                .await
                .unwrap()
                .is_none(),
            "{}: a second move won",
            db.name
        );
        // Past its expiry an answer cannot land, an expiry can.
        s.create_request(&request("t2", &["tux"], now), &links(&["tux"]))
            .await
            .unwrap();
        let late = now.plus_secs(30);
        assert!(
            s.settle_request("t2", &deny_answer(), None, rule(), late, none)
                .await
                .unwrap()
                .is_none()
        );
        let (moved, _) = s
            .settle_request("t2", &expire, None, rule(), late, none)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(moved.state, PushState::Expired, "{}", db.name);
        db.finish().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_attempts_are_counted_before_any_is_compared() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let store = std::sync::Arc::new(db.store.clone());
        let subjects = vec![
            LockSubject::new(LockKind::User, "tux"),
            LockSubject::new(LockKind::Ip, "192.0.2.1"),
        ];
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let (store, subjects) = (store.clone(), subjects.clone());
                tokio::spawn(async move { store.begin_attempt(&subjects, rule(), now).await })
            })
            .collect();
        let mut go = 0;
        for t in tasks {
            if t.await.unwrap().unwrap() == Attempt::Go {
                go += 1;
            }
        }
        assert_eq!(go, 5, "{}: {go} of 64 attempts may compare", db.name);
        // After the window, attempts are allowed again (nothing locked them: none failed).
        let later = now.plus_secs(301);
        assert_eq!(
            store.begin_attempt(&subjects, rule(), later).await.unwrap(),
            Attempt::Go
        );
        db.finish().await;
    }
}

#[tokio::test]
async fn a_success_forgets_failures_but_never_a_lock_in_force() {
    let now = Timestamp::from_secs(1_800_000_000);
    for db in backends().await {
        let s = &db.store;
        let tux = vec![LockSubject::new(LockKind::User, "tux")];
        for _ in 0..5 {
            s.record_failure(LockKind::User, "tux", rule(), now)
                .await
                .unwrap();
        }
        assert!(
            s.lockout(LockKind::User, "tux", now)
                .await
                .unwrap()
                .is_some()
        );
        s.change_lockouts(&LockoutChange::Success(tux.clone()), rule(), now)
            .await
            .unwrap();
        assert!(
            s.lockout(LockKind::User, "tux", now)
                .await
                .unwrap()
                .is_some(),
            "{}: a success lifted the lock",
            db.name
        );
        // Without a lock, a success forgets the count.
        s.record_failure(LockKind::User, "alice", rule(), now)
            .await
            .unwrap();
        let alice = LockSubject::new(LockKind::User, "alice");
        s.change_lockouts(&LockoutChange::Success(vec![alice.clone()]), rule(), now)
            .await
            .unwrap();
        assert_eq!(failures(&db, &alice).await, 0);
        db.finish().await;
    }
}

/// Fails `user` until locked at `at`; the lock's length in seconds.
async fn lock_by_failing(s: &Store, user: &str, rule: LockoutRule, at: Timestamp) -> i64 {
    let mut locked = None;
    for _ in 0..rule.max_failures {
        locked = s
            .record_failure(LockKind::User, user, rule, at)
            .await
            .unwrap();
    }
    let until = locked.expect("the last failure locks");
    (until.millis() - at.millis()) / 1000
}

#[tokio::test]
async fn locks_one_after_another_double_up_to_the_longest_and_a_success_does_not_reset_them() {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let rule = LockoutRule {
        max_block_secs: 3_000,
        ..rule()
    };
    for db in backends().await {
        let s = &db.store;
        let mut at = t0;
        let mut lengths = Vec::new();
        for round in 0..6 {
            let length = lock_by_failing(s, "tux", rule, at).await;
            lengths.push(length);
            at = at.plus_secs(length);
            if round == 2 {
                // The person logs in between two locks: the run goes on all the same.
                let tux = vec![LockSubject::new(LockKind::User, "tux")];
                s.change_lockouts(&LockoutChange::Success(tux), rule, at)
                    .await
                    .unwrap();
            }
        }
        assert_eq!(lengths, [300, 600, 1200, 2400, 3000, 3000], "{}", db.name);
        // A lock long after the last one ended starts the run again.
        let quiet = at.plus_secs(rule.lock_memory_secs() + 1);
        assert_eq!(
            lock_by_failing(s, "tux", rule, quiet).await,
            300,
            "{}",
            db.name
        );
        // Another user's run is their own.
        assert_eq!(lock_by_failing(s, "alice", rule, at).await, 300);
        db.finish().await;
    }
}

#[tokio::test]
async fn purging_keeps_the_tables_bounded() {
    let t0 = Timestamp::from_secs(1_800_000_000);
    let keep = Retention {
        failure_window_secs: 300,
        lock_memory_secs: 86_400,
        audit_days: 400,
    };
    for db in backends().await {
        let s = &db.store;
        // 100,000 addresses with one failure each, as record_failure leaves them.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000) \
             INSERT INTO lockouts (kind, subject, failures, first_failure_at, locked_until, reason) \
             SELECT 'ip', 'addr-' || CAST(i AS TEXT), 1, $1, 0, '' FROM n",
        )
        .bind(t0.millis())
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
        // And some the real way: counted, one of them locked.
        for i in 0..50 {
            s.record_failure(LockKind::Ip, &format!("198.51.100.{i}"), rule(), t0)
                .await
                .unwrap();
        }
        for _ in 0..4 {
            s.record_failure(LockKind::Ip, "198.51.100.0", rule(), t0)
                .await
                .unwrap();
        }
        s.lock_until_cleared(LockKind::User, "alice", mfa_core::push::FRAUD_REASON, t0)
            .await
            .unwrap();
        assert_eq!(lockout_rows(&db).await, 100_051, "{}", db.name);

        // Within the window, nothing goes.
        assert_eq!(s.purge(keep, t0.plus_secs(299)).await.unwrap().lockouts, 0);
        // Once it has passed: only the locks still in force stay (the fraud lock), and the
        // failure lock that ended, remembered for lock_memory_secs (a next lock would double).
        let purged = s.purge(keep, t0.plus_secs(301)).await.unwrap();
        assert_eq!(purged.lockouts, 100_049, "{}", db.name);
        assert_eq!(lockout_rows(&db).await, 2, "{}", db.name);
        assert!(
            s.lockout(LockKind::User, "alice", t0.plus_secs(301))
                .await
                .unwrap()
                .is_some()
        );
        let forgotten = t0.plus_secs(300 + keep.lock_memory_secs);
        let purged = s.purge(keep, forgotten.plus_secs(-1)).await.unwrap();
        assert_eq!(purged.lockouts, 0, "{}", db.name);
        assert_eq!(s.purge(keep, forgotten).await.unwrap().lockouts, 1);
        assert_eq!(lockout_rows(&db).await, 1, "{}", db.name);

        // Decided requests go a day after their decision, pending ones never.
        s.create_request(&request("old", &["tux"], t0), &links(&["tux"]))
            .await
            .unwrap();
        s.create_request(&request("open", &["tux"], t0), &links(&["tux"]))
            .await
            .unwrap();
        s.settle_request("old", &deny_answer(), None, rule(), t0, |r| {
            (denied(r), LockoutChange::None)
        })
        .await
        .unwrap()
        .unwrap();
        let day = mfa_store::KEEP_DECIDED_SECS;
        assert_eq!(
            s.purge(keep, t0.plus_secs(day - 1)).await.unwrap().requests,
            0
        );
        assert_eq!(
            s.purge(keep, t0.plus_secs(day + 1)).await.unwrap().requests,
            1
        );
        assert!(s.request("old").await.is_err());
        assert!(s.request("open").await.is_ok());
        // The audit log keeps audit_days.
        let later = t0.plus_secs(400 * 86_400 + 1);
        assert_eq!(s.purge(keep, later).await.unwrap().audit, 1, "{}", db.name);
        db.finish().await;
    }
}

async fn pool(db: &crate::support::TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&db.url).await.unwrap()
}

/// The failures counted against `s` (0 when it has no row).
async fn failures(db: &crate::support::TestDb, s: &LockSubject) -> i64 {
    let pool = pool(db).await;
    let n: Option<i64> =
        sqlx::query_scalar("SELECT failures FROM lockouts WHERE kind = $1 AND subject = $2")
            .bind(s.kind.as_str())
            .bind(s.name.clone())
            .fetch_optional(&pool)
            .await
            .unwrap();
    pool.close().await;
    n.unwrap_or(0)
}

async fn lockout_rows(db: &crate::support::TestDb) -> i64 {
    let pool = pool(db).await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM lockouts")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}
