//! The closed-loop load generator: one task per connection, each sending its next request as
//! soon as the answer to the last one is read and judged, until the deadline (or until its job
//! has nothing left to send, which stops every worker: the figures then cover the time used).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;

use crate::http::{Conn, Req, Target};

/// How long one request may take before it counts as an error.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Distinct error messages kept per run, for the report.
const SAMPLES: usize = 3;

/// What one connection's worker sends and how it judges the answers.
pub trait Job: Send + 'static {
    /// The next request; `None` when this worker has nothing valid left to send.
    fn next(&mut self, target: &Target) -> Option<Req>;
    /// Judges the answer to the request `next` gave last.
    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String>;
}

/// Counts, latencies and errors of a run (or of several, merged).
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Microseconds, one per accepted answer.
    pub latencies_us: Vec<u32>,
    pub errors: u64,
    pub samples: Vec<String>,
    /// From the start until the last worker's last answer.
    pub elapsed: Duration,
    /// A worker ran out of valid requests (TOTP steps) before the deadline.
    pub ran_out: bool,
    /// Milliseconds from the start to each accepted answer (closed-loop runs), for the rates of
    /// the run's first and last seconds.
    pub done_ms: Vec<u32>,
}

impl Outcome {
    pub fn ok(&self) -> u64 {
        self.latencies_us.len() as u64
    }

    /// Accepted answers per second.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok() as f64 / secs
        } else {
            0.0
        }
    }

    pub fn record(&mut self, latency: Duration) {
        self.latencies_us
            .push(u32::try_from(latency.as_micros()).unwrap_or(u32::MAX));
    }

    /// Notes when an accepted answer came, `since` the run's start.
    pub fn done_at(&mut self, since: Duration) {
        self.done_ms
            .push(u32::try_from(since.as_millis()).unwrap_or(u32::MAX));
    }

    /// Accepted answers per second in the first and in the last `window` of the run, when the
    /// run lasted at least three windows (does it slow down as its data grows?).
    pub fn window_rates(&self, window: Duration) -> Option<(f64, f64)> {
        let (w, total) = (window.as_millis(), self.elapsed.as_millis());
        if self.done_ms.is_empty() || w == 0 || total < 3 * w {
            return None;
        }
        let count = |from: u128, to: u128| {
            self.done_ms
                .iter()
                .filter(|&&t| (from..to).contains(&u128::from(t)))
                .count() as f64
        };
        let secs = window.as_secs_f64();
        Some((count(0, w) / secs, count(total - w, total) / secs))
    }

    pub fn error(&mut self, message: impl Into<String>) {
        self.errors += 1;
        let message = message.into();
        if self.samples.len() < SAMPLES && !self.samples.contains(&message) {
            self.samples.push(message);
        }
    }

    pub fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.done_ms.extend(other.done_ms);
        self.errors += other.errors;
        for s in other.samples {
            if self.samples.len() < SAMPLES && !self.samples.contains(&s) {
                self.samples.push(s);
            }
        }
        self.elapsed = self.elapsed.max(other.elapsed);
        self.ran_out |= other.ran_out;
    }

    /// The `p`-th percentile latency (0..=100) in milliseconds; `None` without answers.
    pub fn percentile_ms(&mut self, p: f64) -> Option<f64> {
        if self.latencies_us.is_empty() {
            return None;
        }
        self.latencies_us.sort_unstable();
        let last = self.latencies_us.len() - 1;
        let index = ((p / 100.0) * last as f64).round() as usize;
        Some(f64::from(self.latencies_us[index.min(last)]) / 1000.0)
    }
}

/// Runs one worker per job, each on a connection of its own opened before the clock starts;
/// the merged figures, and the jobs back (with what they learnt: counters, steps used).
pub async fn run<J: Job>(
    target: &Target,
    jobs: Vec<J>,
    duration: Duration,
) -> anyhow::Result<(Outcome, Vec<J>)> {
    let mut conns = Vec::with_capacity(jobs.len());
    for _ in &jobs {
        conns.push(Conn::open(target).await?);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let deadline = start + duration;
    let mut workers = tokio::task::JoinSet::new();
    for (job, conn) in jobs.into_iter().zip(conns) {
        let (target, stop) = (target.clone(), stop.clone());
        workers.spawn(worker(job, conn, target, start, deadline, stop));
    }
    let mut total = Outcome::default();
    let mut jobs = Vec::new();
    while let Some(done) = workers.join_next().await {
        let (out, job) = done?;
        total.merge(out);
        jobs.push(job);
    }
    Ok((total, jobs))
}

async fn worker<J: Job>(
    mut job: J,
    mut conn: Conn,
    target: Target,
    start: Instant,
    deadline: Instant,
    stop: Arc<AtomicBool>,
) -> (Outcome, J) {
    let mut out = Outcome::default();
    while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
        let Some(req) = job.next(&target) else {
            out.ran_out = true;
            stop.store(true, Ordering::Relaxed);
            break;
        };
        if !conn.is_open() {
            // The server ended a keep-alive connection between requests: not an error.
            conn = reconnect(&target, conn).await;
        }
        let sent = Instant::now();
        match conn.send(req, REQUEST_TIMEOUT).await {
            Ok((status, body)) => match job.check(status, &body) {
                Ok(()) => {
                    out.record(sent.elapsed());
                    out.done_at(start.elapsed());
                }
                Err(e) => out.error(e),
            },
            Err(e) => {
                out.error(format!("{e:#}"));
                conn = reconnect(&target, conn).await;
            }
        }
    }
    out.elapsed = start.elapsed();
    (out, job)
}

/// Items dealt round-robin into `n` piles, one per worker.
pub fn deal<T>(items: Vec<T>, n: usize) -> Vec<Vec<T>> {
    let mut piles: Vec<Vec<T>> = (0..n.max(1)).map(|_| Vec::new()).collect();
    let count = piles.len();
    for (i, item) in items.into_iter().enumerate() {
        piles[i % count].push(item);
    }
    piles.retain(|p| !p.is_empty());
    piles
}

/// A fresh connection after a failed one (the old one is kept if none can be opened, and the
/// next request fails fast on it).
pub async fn reconnect(target: &Target, old: Conn) -> Conn {
    match Conn::open(target).await {
        Ok(conn) => conn,
        Err(_) => {
            tokio::time::sleep(Duration::from_millis(100)).await;
            old
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_rates_compare_the_first_and_last_seconds() {
        let mut out = Outcome {
            elapsed: Duration::from_secs(15),
            ..Outcome::default()
        };
        assert_eq!(out.window_rates(Duration::from_secs(5)), None, "no answers");
        // 10 answers a second in the first 5 s, 5 a second in the last 5 s.
        for ms in (0..5000).step_by(100).chain((10_000..15_000).step_by(200)) {
            out.done_at(Duration::from_millis(ms));
        }
        assert_eq!(out.window_rates(Duration::from_secs(5)), Some((10.0, 5.0)));
        out.elapsed = Duration::from_secs(14);
        assert_eq!(
            out.window_rates(Duration::from_secs(5)),
            None,
            "shorter than 3 windows"
        );
    }
}
