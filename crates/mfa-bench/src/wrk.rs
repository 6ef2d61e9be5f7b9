//! wrk, the reference generator: `wrk -t2 -cN -dS --latency URL` on the same URL as ours,
//! so the table shows what the Rust generator can drive next to a known C one.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use tokio::process::Command;

/// What wrk printed, as numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct WrkResult {
    pub rate: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub requests: u64,
    /// Non-2xx answers plus socket errors.
    pub errors: u64,
}

pub async fn run(
    bin: &Path,
    url: &str,
    connections: usize,
    seconds: f64,
) -> anyhow::Result<WrkResult> {
    let secs = seconds.ceil().max(1.0) as u64;
    let threads = connections.clamp(1, 2);
    let run = Command::new(bin)
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg(url)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(secs + 30), run)
        .await
        .map_err(|_| anyhow!("wrk did not finish"))?
        .context("cannot run wrk")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {} {}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse(&text).ok_or_else(|| anyhow!("cannot read wrk's output:\n{text}"))
}

/// Reads `Requests/sec:`, the `50%` and `99%` latency lines, the request count and the error
/// lines of wrk's `--latency` report.
pub fn parse(text: &str) -> Option<WrkResult> {
    let mut result = WrkResult {
        rate: 0.0,
        p50_ms: None,
        p99_ms: None,
        requests: 0,
        errors: 0,
    };
    let mut saw_rate = false;
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", rate, ..] => {
                result.rate = rate.parse().ok()?;
                saw_rate = true;
            }
            ["50%", value] => result.p50_ms = duration_ms(value),
            ["99%", value] => result.p99_ms = duration_ms(value),
            [count, "requests", "in", ..] => result.requests = count.parse().ok()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => result.errors += n.parse::<u64>().ok()?,
            ["Socket", "errors:", rest @ ..] => result.errors += socket_errors(rest),
            _ => {}
        }
    }
    saw_rate.then_some(result)
}

/// `connect 0, read 1, write 0, timeout 2` -> 3.
fn socket_errors(words: &[&str]) -> u64 {
    words
        .iter()
        .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
        .sum()
}

/// wrk's `380.00us`, `3.20ms`, `1.02s`, `2.00m` in milliseconds.
fn duration_ms(value: &str) -> Option<f64> {
    let split = value.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = value.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit {
        "us" => 0.001,
        "ms" => 1.0,
        "s" => 1000.0,
        "m" => 60_000.0,
        _ => return None,
    };
    Some(number * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_latency_report() {
        let text = "Running 5s test @ http://127.0.0.1:8080/healthz
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   412.15us  306.11us   9.82ms   92.11%
    Req/Sec    19.51k     1.20k   22.05k    71.00%
  Latency Distribution
     50%  380.00us
     75%  452.00us
     90%  551.00us
     99%    1.45ms
  194097 requests in 5.00s, 28.32MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:  38819.40
Transfer/sec:      5.66MB
";
        let r = parse(text).unwrap();
        assert_eq!(r.rate, 38819.40);
        assert_eq!(r.p50_ms, Some(0.38));
        assert_eq!(r.p99_ms, Some(1.45));
        assert_eq!(r.requests, 194097);
        assert_eq!(r.errors, 7);
    }

    #[test]
    fn output_without_a_rate_is_not_a_result() {
        assert_eq!(
            parse("unable to connect to 127.0.0.1:1 Connection refused"),
            None
        );
        assert_eq!(duration_ms("2.00m"), Some(120_000.0));
    }
}
