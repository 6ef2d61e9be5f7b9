use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch. Stored as an integer in every backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub const fn from_millis(ms: i64) -> Self {
        Self(ms)
    }
    pub fn from_secs(s: i64) -> Self {
        Self(s.saturating_mul(1000))
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    /// Whole seconds, never negative (what TOTP steps are computed from).
    pub fn unix_secs(self) -> u64 {
        u64::try_from(self.0.div_euclid(1000)).unwrap_or(0)
    }
    pub fn plus_secs(self, s: i64) -> Self {
        Self(self.0.saturating_add(s.saturating_mul(1000)))
    }

    /// Parses an RFC 3339 time such as `2026-11-26T09:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        let t: jiff::Timestamp = s
            .trim()
            .parse()
            .map_err(|e| format!("invalid time {s:?}: {e} (expected e.g. 2026-11-26T09:00:00Z)"))?;
        Ok(Self(t.as_millisecond()))
    }
}

/// RFC 3339 in UTC with whole seconds: what people and JSON consumers read.
impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(t) => write!(f, "{t:.0}"),
            Err(_) => write!(f, "@{}ms", self.0),
        }
    }
}

/// The source of "now". Injected everywhere so windows and expiries test deterministically.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Timestamp;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place that reads the wall clock
    fn now(&self) -> Timestamp {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp(i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock tests move by hand. Clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct FixedClock(Arc<AtomicI64>);

impl FixedClock {
    pub fn at(t: Timestamp) -> Self {
        Self(Arc::new(AtomicI64::new(t.millis())))
    }
    pub fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }
    pub fn advance_secs(&self, s: i64) {
        self.0.fetch_add(s.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_clones_share_time() {
        let c = FixedClock::at(Timestamp::from_secs(59));
        let d = c.clone();
        d.advance_secs(1);
        assert_eq!(c.now().unix_secs(), 60);
        assert_eq!(Timestamp::from_millis(-1).unix_secs(), 0);
    }

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_secs(1_234_567_890);
        assert_eq!(t.to_string(), "2009-02-13T23:31:30Z");
        assert_eq!(Timestamp::parse_rfc3339("2009-02-13T23:31:30Z").unwrap(), t);
        assert!(
            Timestamp::parse_rfc3339("yesterday")
                .unwrap_err()
                .contains("yesterday")
        );
    }

    #[test]
    fn system_clock_is_after_2020() {
        assert!(SystemClock.now().unix_secs() > 1_577_836_800);
    }
}
