//! Many pushes waiting at once: P pushes made (spread over the users), each with its own long
//! poll open (`wait=60`, asked again if it runs out); mfad's resident memory is sampled while
//! they wait; then every push is approved over the clients' WebSockets, and the time is taken
//! from the first approval sent until every long poll has answered `approved`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::Bed;
use super::push::{ask_push, poll};
use crate::fleet::Fleet;
use crate::http::{Conn, Target};
use crate::load::Outcome;
use crate::procs::cpu_ticks;
use crate::report::Row;

const WAIT_SECS: u64 = 60;
/// Long polls connecting at once (the listen backlog must not overflow).
const CONNECTING_AT_ONCE: usize = 256;
/// The longest the bench waits for mfad to settle with everything open, and for every long
/// poll to answer after the approvals.
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
const ANSWER_LIMIT: Duration = Duration::from_secs(180);
/// How long everything waits once open, and how often mfad's RSS is read meanwhile.
const HOLD: Duration = Duration::from_secs(2);
const SAMPLE: Duration = Duration::from_millis(100);

/// A push waiting: its txid, number and the client (index) that approves it.
#[derive(Clone)]
struct Waiting {
    txid: String,
    number: Option<u8>,
    client: usize,
}

/// Makes `n` pushes on `connections` connections, users taken in turn.
async fn make_pushes(bed: &Bed, n: usize, connections: usize) -> (Vec<Waiting>, Outcome) {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..connections.min(n) {
        let (next, target, token) = (
            next.clone(),
            bed.mfad.target.clone(),
            bed.server_token.clone(),
        );
        let users = bed.users.clone();
        workers.spawn(async move {
            let mut made = Vec::new();
            let mut out = Outcome::default();
            let Ok(mut conn) = Conn::open(&target).await else {
                out.error("cannot connect to make pushes");
                return (made, out);
            };
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= n {
                    break;
                }
                let client = k % users.len();
                let sent = Instant::now();
                match ask_push(&mut conn, &target, &token, &users[client]).await {
                    Ok((txid, number)) => {
                        out.record(sent.elapsed());
                        made.push(Waiting {
                            txid,
                            number,
                            client,
                        });
                    }
                    Err(e) => out.error(e),
                }
            }
            (made, out)
        });
    }
    let mut all = Vec::with_capacity(n);
    let mut total = Outcome::default();
    while let Some(Ok((made, out))) = workers.join_next().await {
        all.extend(made);
        total.merge(out);
    }
    total.elapsed = started.elapsed();
    (all, total)
}

/// What the long polls saw: when each answered approved, and every failure.
struct Polls {
    connected: Arc<AtomicUsize>,
    results: tokio::sync::mpsc::UnboundedReceiver<Result<Instant, String>>,
}

fn open_polls(target: &Target, token: &Arc<str>, pushes: &[Waiting]) -> Polls {
    let connected = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(CONNECTING_AT_ONCE));
    let (tx, results) = tokio::sync::mpsc::unbounded_channel();
    let hard_stop = Instant::now() + SETTLE_LIMIT + ANSWER_LIMIT + Duration::from_secs(60);
    for push in pushes {
        let (target, token, txid) = (target.clone(), token.clone(), push.txid.clone());
        let (gate, connected, tx) = (gate.clone(), connected.clone(), tx.clone());
        tokio::spawn(async move {
            let conn = {
                let _turn = gate.acquire_owned().await;
                Conn::open(&target).await
            };
            connected.fetch_add(1, Ordering::Relaxed);
            let answer = match conn {
                Ok(mut conn) => {
                    wait_for_decision(&mut conn, &target, &token, &txid, hard_stop).await
                }
                Err(e) => Err(format!("long poll: {e:#}")),
            };
            let _ = tx.send(answer);
        });
    }
    Polls { connected, results }
}

/// Long polls until the push is decided (a poll that runs out while pending is asked again).
async fn wait_for_decision(
    conn: &mut Conn,
    target: &Target,
    token: &str,
    txid: &str,
    hard_stop: Instant,
) -> Result<Instant, String> {
    loop {
        let state = poll(conn, target, token, txid, WAIT_SECS).await?;
        match state.as_str() {
            "approved" => return Ok(Instant::now()),
            "pending" if Instant::now() < hard_stop => continue,
            other => return Err(format!("push {txid} ended {other}")),
        }
    }
}

/// How mfad held up while everything waited.
struct Waited {
    /// The largest RSS seen, in bytes.
    rss: u64,
    /// mfad's CPU use during the hold, in percent of one core.
    cpu_percent: f64,
    notes: Vec<String>,
}

/// Waits until every long poll is connected and the clients have been told of every push (or
/// the limit passes), then holds [`HOLD`] longer; samples mfad's RSS all along.
async fn settle(bed: &Bed, fleet: &Fleet, polls: &Polls, n: usize) -> Waited {
    let mut waited = Waited {
        rss: bed.mfad.rss().unwrap_or(0),
        cpu_percent: 0.0,
        notes: Vec::new(),
    };
    let deadline = Instant::now() + SETTLE_LIMIT;
    let settled = || polls.connected.load(Ordering::Relaxed) >= n && fleet.seen() >= n as u64;
    while !settled() && Instant::now() < deadline {
        tokio::time::sleep(SAMPLE).await;
        waited.rss = waited.rss.max(bed.mfad.rss().unwrap_or(0));
    }
    if !settled() {
        waited.notes.push(format!(
            "not all open after {} s: {} of {n} long polls connected, clients told of {}",
            SETTLE_LIMIT.as_secs(),
            polls.connected.load(Ordering::Relaxed),
            fleet.seen()
        ));
    }
    let (ticks, held) = (cpu_ticks(bed.mfad.pid).unwrap_or(0), Instant::now());
    while held.elapsed() < HOLD {
        tokio::time::sleep(SAMPLE).await;
        waited.rss = waited.rss.max(bed.mfad.rss().unwrap_or(0));
    }
    let used = cpu_ticks(bed.mfad.pid).unwrap_or(0).saturating_sub(ticks);
    // Linux counts CPU time in ticks of 1/100 s: ticks per second are percent of a core.
    waited.cpu_percent = used as f64 / held.elapsed().as_secs_f64();
    waited
}

/// Approves every push and waits for every long poll; the answers' times after the first
/// approval, and the failures.
async fn approve_all(fleet: &Fleet, pushes: &[Waiting], polls: &mut Polls) -> (Outcome, f64) {
    let started = Instant::now();
    for p in pushes {
        fleet.approve(&p.txid, p.number, p.client);
    }
    let mut out = Outcome::default();
    let mut last = started;
    let deadline = started + ANSWER_LIMIT;
    for _ in 0..pushes.len() {
        match tokio::time::timeout_at(deadline.into(), polls.results.recv()).await {
            Ok(Some(Ok(at))) => {
                out.record(at.saturating_duration_since(started));
                last = last.max(at);
            }
            Ok(Some(Err(e))) => out.error(e),
            Ok(None) => break,
            Err(_) => {
                out.error(format!(
                    "long polls still open {} s after the approvals",
                    ANSWER_LIMIT.as_secs()
                ));
                break;
            }
        }
    }
    out.elapsed = last.saturating_duration_since(started);
    let all_answered = out.elapsed.as_secs_f64();
    (out, all_answered)
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

pub async fn pending(bed: &Bed, fleet: &Fleet, n: usize, connections: usize) -> Row {
    let scenario = format!("pending {n}");
    fleet.hold(true);
    let _ = fleet.take_errors();
    let idle = bed.mfad.rss().unwrap_or(0);
    let (pushes, made) = make_pushes(bed, n, connections).await;
    let made_rate = made.rate();
    let mut polls = open_polls(&bed.mfad.target, &bed.server_token, &pushes);
    let waited = settle(bed, fleet, &polls, pushes.len()).await;
    let (mut out, all_answered) = approve_all(fleet, &pushes, &mut polls).await;
    fleet.hold(false);
    out.errors += made.errors;
    out.samples.extend(made.samples);
    out.merge(fleet.take_errors());
    let mut row = Row::from_outcome(&scenario, bed.backend, "approvals/s", out);
    if all_answered > 0.0 {
        row.rate = pushes.len() as f64 / all_answered;
    }
    let waiting = pushes.len().max(1) as f64;
    let per_push_kb = waited.rss.saturating_sub(idle) as f64 / 1024.0 / waiting;
    row.notes.push(format!(
        "RSS {:.0} MB idle, {:.0} MB with {} waiting ({per_push_kb:.1} KB each), {:.0}% CPU \
         while they wait; all answered {all_answered:.2} s after the first approval; made \
         at {made_rate:.0}/s",
        mb(idle),
        mb(waited.rss),
        pushes.len(),
        waited.cpu_percent
    ));
    row.notes.extend(waited.notes);
    let figures = [
        ("rss_idle_mb", mb(idle)),
        ("rss_pending_mb", mb(waited.rss)),
        ("rss_per_pending_kb", per_push_kb),
        ("cpu_while_waiting_pct", waited.cpu_percent),
        ("all_answered_s", all_answered),
        ("made_per_s", made_rate),
    ];
    row.extra
        .extend(figures.into_iter().map(|(k, v)| (k.to_owned(), v)));
    row
}
