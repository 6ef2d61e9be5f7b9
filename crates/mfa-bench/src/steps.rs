//! TOTP steps handed out once each, oldest first, and only while mfad still accepts them:
//! mfad takes the steps within `skew` of now and burns the matched step and all before it, so
//! a step sent twice, or after a later one, would be refused.

use mfa_core::Clock as _;

use crate::setup::SKEW;

/// A request may take this long to reach mfad: a step is only handed out while it stays
/// acceptable that much longer.
const MARGIN_MS: u64 = 2000;

/// The wall clock in milliseconds (TOTP codes are computed from it, as mfad does).
pub fn now_ms() -> u64 {
    u64::try_from(mfa_core::SystemClock.now().millis()).unwrap_or(0)
}

/// The steps of one TOTP seed used so far.
#[derive(Debug, Clone, Default)]
pub struct Steps {
    last: Option<u64>,
}

impl Steps {
    /// The oldest unused step mfad will accept from now until `MARGIN_MS` later, if any.
    pub fn next(&mut self, period: u32, now_ms: u64) -> Option<u64> {
        let period = u64::from(period.max(1)) * 1000;
        let oldest = ((now_ms + MARGIN_MS) / period).saturating_sub(u64::from(SKEW));
        let newest = now_ms / period + u64::from(SKEW);
        let step = match self.last {
            Some(last) => oldest.max(last + 1),
            None => oldest,
        };
        if step > newest {
            return None;
        }
        self.last = Some(step);
        Some(step)
    }
}

/// Fresh steps one seed yields in a run of `seconds`: about `2 * skew` at once (the margin
/// costs some), then one per period.
pub fn steps_per_seed(period: u32, seconds: f64) -> f64 {
    f64::from(2 * SKEW) + seconds / f64::from(period.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_go_forward_and_stay_acceptable() {
        let mut steps = Steps::default();
        // 5 s into step 100 of 15 s: steps 99, 100 and 101 are within one step of now.
        let now = 100 * 15_000 + 5_000;
        assert_eq!(steps.next(15, now), Some(99));
        assert_eq!(steps.next(15, now), Some(100));
        assert_eq!(steps.next(15, now), Some(101));
        assert_eq!(steps.next(15, now), None);
        // The next period brings one more.
        assert_eq!(steps.next(15, now + 15_000), Some(102));
        assert_eq!(steps.next(15, now + 15_000), None);
    }

    #[test]
    fn a_step_about_to_fall_out_of_the_window_is_skipped() {
        let mut steps = Steps::default();
        // 14 s into step 100: step 99 leaves the window within the margin.
        let now = 100 * 15_000 + 14_000;
        assert_eq!(steps.next(15, now), Some(100));
    }
}
