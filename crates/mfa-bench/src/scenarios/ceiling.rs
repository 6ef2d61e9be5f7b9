//! The ceiling: the cheapest answers mfad and nginx give (`GET /healthz`, `return 200`), with
//! this generator and with wrk side by side. If both generators get about the same from nginx,
//! the generator is not what limits the other rows.

use std::path::Path;
use std::time::Duration;

use hyper::StatusCode;

use crate::http::{self, Req, Target};
use crate::load::{self, Job};
use crate::report::{Row, WRK};
use crate::wrk;

/// `GET PATH`, any 200 will do.
struct Get {
    path: &'static str,
}

impl Job for Get {
    fn next(&mut self, target: &Target) -> Option<Req> {
        Some(http::get(target, self.path, None))
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        if status == StatusCode::OK {
            Ok(())
        } else {
            Err(format!("HTTP {}: {}", status.as_u16(), http::snippet(body)))
        }
    }
}

/// The Rust generator's row for `GET path`.
pub async fn ours(
    scenario: &str,
    backend: &str,
    target: &Target,
    path: &'static str,
    connections: usize,
    seconds: Duration,
) -> Row {
    let jobs = (0..connections).map(|_| Get { path }).collect();
    match load::run(target, jobs, seconds).await {
        Ok((out, _)) => Row::from_outcome(scenario, backend, "req/s", out),
        Err(e) => Row::failed(scenario, backend, format!("{e:#}")),
    }
}

/// wrk's row for the same URL (`-t2 -cN`).
pub async fn theirs(
    wrk_bin: &Path,
    scenario: &str,
    backend: &str,
    url: &str,
    connections: usize,
    seconds: Duration,
) -> Row {
    let mut row = Row::new(scenario, backend, WRK, "req/s");
    match wrk::run(wrk_bin, url, connections, seconds.as_secs_f64()).await {
        Ok(r) => {
            row.rate = r.rate;
            row.p50_ms = r.p50_ms;
            row.p99_ms = r.p99_ms;
            row.count = r.requests;
            row.errors = r.errors;
            row.seconds = seconds.as_secs_f64().ceil().max(1.0);
            if r.errors > 0 {
                row.error_samples
                    .push("wrk counted non-2xx answers or socket errors".into());
            }
        }
        Err(e) => {
            row.errors = 1;
            row.error_samples.push(format!("{e:#}"));
        }
    }
    row
}
