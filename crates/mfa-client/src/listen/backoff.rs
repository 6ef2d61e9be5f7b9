//! How long to wait before reconnecting: exponential from 1 s, capped at 30 s, with jitter so
//! that many clients of a restarted server do not all come back in the same second.

use std::time::Duration;

const FIRST: Duration = Duration::from_secs(1);
const CAP: Duration = Duration::from_secs(30);

#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// After a connection that worked: start again from the shortest wait.
    pub fn reset(&mut self) {
        self.failures = 0;
    }

    /// The next wait: `min(1 s * 2^n, 30 s)` scaled into its upper half by `jitter` (0..=1).
    pub fn next_with(&mut self, jitter: f64) -> Duration {
        let base = FIRST
            .checked_mul(1u32 << self.failures.min(16))
            .unwrap_or(CAP)
            .min(CAP);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }

    /// The next wait, with random jitter.
    pub fn next(&mut self) -> Duration {
        let jitter = getrandom::u32().map_or(1.0, |r| f64::from(r) / f64::from(u32::MAX));
        self.next_with(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap() {
        let mut b = Backoff::default();
        let waits: Vec<u64> = (0..8).map(|_| b.next_with(1.0).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 30, 30, 30]);
        b.reset();
        assert_eq!(b.next_with(1.0), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let mut b = Backoff::default();
        for _ in 0..100 {
            let d = b.next();
            assert!(d >= Duration::from_millis(500) && d <= CAP, "{d:?}");
        }
        let mut b = Backoff::default();
        assert_eq!(b.next_with(0.0), Duration::from_millis(500));
        assert_eq!(b.next_with(-3.0), Duration::from_secs(1));
        for _ in 0..1000 {
            b.next_with(0.5);
        }
        assert_eq!(b.next_with(1.0), CAP);
    }
}
