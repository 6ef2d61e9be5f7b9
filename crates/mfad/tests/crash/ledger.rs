//! What the load was told: acknowledged enrolments, codes and decisions, and every answer that
//! breaks a promise. Only acknowledged facts count: a request whose answer was lost in a kill
//! may or may not have taken effect.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A one-time code made by `POST /v1/otp/codes`.
pub struct MadeCode {
    pub code: String,
    /// A verification was sent (its answer may have been lost).
    pub tried: bool,
}

/// What the load did with a push it was told about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// Nobody answered it: it must never be approved.
    Untouched,
    /// An approval was sent but its answer was lost.
    ApproveSent,
    /// mfad said this approval decided it.
    Approved,
    /// A denial was sent but its answer was lost.
    DenySent,
    /// mfad said this denial decided it.
    Denied,
}

/// An accepted code, to be sent again after the next restart: it must be refused.
#[derive(Clone)]
pub struct Replay {
    pub path: String,
    pub code: String,
    pub what: String,
    /// The restart count when it was accepted.
    pub epoch: u64,
}

#[derive(Default)]
pub struct Books {
    /// Acknowledged credentials: id and type.
    pub credentials: Vec<(String, String)>,
    /// Accepted answers per code ("hotp ID counter N", "totp ID step N", "code ID").
    accepted: HashMap<String, u32>,
    pub replays: Vec<Replay>,
    pub codes: HashMap<String, MadeCode>,
    pub pushes: HashMap<String, (Fate, Option<u8>)>,
    /// Requests per node whose answer was lost (connection refused, reset, timed out).
    pub lost: Vec<u64>,
    /// Lost answers of requests a node had taken (not refused connections): cut by a kill.
    pub cut: u64,
    pub answered: u64,
    /// Replays refused by a node started after the code was accepted.
    pub refused_after_restart: u64,
    pub violations: Vec<String>,
}

pub struct Ledger {
    pub bases: Vec<String>,
    /// Kills so far.
    pub epoch: AtomicU64,
    books: Mutex<Books>,
}

impl Ledger {
    pub fn new(bases: Vec<String>) -> Self {
        let books = Books {
            lost: vec![0; bases.len()],
            ..Books::default()
        };
        Self {
            bases,
            epoch: AtomicU64::new(0),
            books: Mutex::new(books),
        }
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    pub fn books(&self) -> std::sync::MutexGuard<'_, Books> {
        self.books.lock().unwrap()
    }

    pub fn violation(&self, what: String) {
        eprintln!("crash: VIOLATION: {what}");
        self.books().violations.push(what);
    }

    /// mfad said `code` was right for `what`: the first time is fine, a second is a replay
    /// that got through. Either way it is sent again after the next restart.
    pub fn accepted(&self, what: String, path: &str, code: &str) {
        let epoch = self.epoch();
        let mut books = self.books();
        let count = {
            let count = books.accepted.entry(what.clone()).or_default();
            *count += 1;
            *count
        };
        if count > 1 {
            books
                .violations
                .push(format!("{what} accepted {count} times"));
        }
        books.replays.push(Replay {
            path: path.to_owned(),
            code: code.to_owned(),
            what,
            epoch,
        });
    }

    pub fn lost(&self, node: usize, cut: bool) {
        let mut books = self.books();
        books.lost[node] += 1;
        books.cut += u64::from(cut);
    }

    pub fn set_fate(&self, txid: &str, fate: Fate) {
        if let Some(entry) = self.books().pushes.get_mut(txid) {
            entry.0 = fate;
        }
    }

    /// No promise broken, nothing lost on a node that was never killed, and the run did what
    /// it is for: answers lost in kills, accepted codes refused again after a restart.
    pub fn assert_sound(&self, survivors: &[usize]) {
        let books = self.books();
        let fates = |f: Fate| books.pushes.values().filter(|(x, _)| *x == f).count();
        eprintln!(
            "crash: {} answers, lost per node {:?} ({} cut by a kill), {} credentials, {} codes accepted, \
             {} replays refused after a restart, pushes approved {} denied {} untouched {}",
            books.answered,
            books.lost,
            books.cut,
            books.credentials.len(),
            books.accepted.len(),
            books.refused_after_restart,
            fates(Fate::Approved),
            fates(Fate::Denied),
            fates(Fate::Untouched),
        );
        assert!(books.violations.is_empty(), "{:#?}", books.violations);
        for &node in survivors {
            assert_eq!(books.lost[node], 0, "node {node} was never killed");
        }
        assert!(books.cut > 0, "no request was in flight at a kill");
        assert!(
            books.accepted.len() >= 10,
            "too little load to mean anything"
        );
        assert!(
            books.refused_after_restart > 0,
            "no replay crossed a restart"
        );
        assert!(fates(Fate::Approved) > 0 && fates(Fate::Denied) > 0);
    }
}
