//! The password policy, as in The Bastion: a password younger than `min_days` cannot be
//! changed; one older than `max_days` has expired and works for `inactive_days` more days, only
//! to change it; after that it is refused. `warn_days` before expiry the answer warns.

use crate::Timestamp;

const DAY_SECS: i64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Days a password must be kept before it may be changed (0: any time).
    pub min_days: u32,
    /// Days a password is valid (0: it never expires).
    pub max_days: u32,
    /// Days before expiry from which answers carry a warning.
    pub warn_days: u32,
    /// Days after expiry during which the old password still works, only to change it.
    pub inactive_days: u32,
    /// The shortest password accepted, in characters.
    pub min_length: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_days: 0,
            max_days: 90,
            warn_days: 15,
            inactive_days: 30,
            min_length: 8,
        }
    }
}

/// Where a password stands in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    Valid,
    /// Valid, but it expires at `expires_at`, within `warn_days`: the answer warns.
    ExpiresSoon {
        expires_at: Timestamp,
    },
    /// Past `max_days`: it works only to change it, until `usable_until`.
    Expired {
        expired_at: Timestamp,
        usable_until: Timestamp,
    },
    /// Past `max_days + inactive_days`: refused; an admin must set a new one.
    Inactive {
        expired_at: Timestamp,
    },
}

fn days(n: u32) -> i64 {
    i64::from(n) * DAY_SECS
}

impl PasswordPolicy {
    /// When a password set at `changed_at` expires (`None`: never).
    pub fn expires_at(&self, changed_at: Timestamp) -> Option<Timestamp> {
        (self.max_days > 0).then(|| changed_at.plus_secs(days(self.max_days)))
    }

    pub fn state(&self, changed_at: Timestamp, now: Timestamp) -> PasswordState {
        let Some(expires_at) = self.expires_at(changed_at) else {
            return PasswordState::Valid;
        };
        let usable_until = expires_at.plus_secs(days(self.inactive_days));
        if now >= usable_until {
            PasswordState::Inactive {
                expired_at: expires_at,
            }
        } else if now >= expires_at {
            PasswordState::Expired {
                expired_at: expires_at,
                usable_until,
            }
        } else if now >= expires_at.plus_secs(-days(self.warn_days)) {
            PasswordState::ExpiresSoon { expires_at }
        } else {
            PasswordState::Valid
        }
    }

    /// Whether the person may change a password set at `changed_at` now: not before
    /// `min_days` (an expired password may always be changed while it is still usable).
    pub fn may_change(&self, changed_at: Timestamp, now: Timestamp) -> Result<(), String> {
        match self.state(changed_at, now) {
            PasswordState::Expired { .. } => Ok(()),
            PasswordState::Inactive { expired_at } => Err(inactive_message(expired_at)),
            PasswordState::Valid | PasswordState::ExpiresSoon { .. } => {
                let from = changed_at.plus_secs(days(self.min_days));
                if now < from {
                    Err(format!(
                        "the password was changed less than {} days ago: it cannot be changed before {from} (min_days)",
                        self.min_days
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// Whether `new` is acceptable as a password.
    pub fn check_new(&self, new: &str) -> Result<(), String> {
        let len = new.chars().count();
        if len < self.min_length as usize {
            return Err(format!(
                "the password is too short: use at least {} characters",
                self.min_length
            ));
        }
        if new.chars().any(char::is_control) {
            return Err("the password must not contain control characters".into());
        }
        if len > 1024 {
            return Err("the password is too long: use at most 1024 characters".into());
        }
        Ok(())
    }
}

impl PasswordState {
    /// The warning an answer carries, if any.
    pub fn warning(&self, now: Timestamp) -> Option<String> {
        match self {
            PasswordState::ExpiresSoon { expires_at } => {
                let left = (expires_at.millis() - now.millis()).max(0) / 1000;
                let days = (left + DAY_SECS - 1) / DAY_SECS;
                Some(format!(
                    "your password expires on {expires_at} (in {days} day{}): change it soon",
                    if days == 1 { "" } else { "s" }
                ))
            }
            _ => None,
        }
    }
}

pub fn inactive_message(expired_at: Timestamp) -> String {
    format!(
        "the password expired on {expired_at} and can no longer be used, not even to change it: ask an admin for a new one (mfac client password)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    fn at_day(d: f64) -> Timestamp {
        Timestamp::from_millis((T0 as f64 * 1000.0 + d * 86_400_000.0) as i64)
    }

    #[test]
    fn life_of_a_password() {
        let p = PasswordPolicy {
            min_days: 1,
            max_days: 90,
            warn_days: 15,
            inactive_days: 30,
            min_length: 8,
        };
        let set = at_day(0.0);
        let expiry = at_day(90.0);
        let end = at_day(120.0);
        // (day, state, may change)
        let table = [
            (0.0, PasswordState::Valid, false),
            (0.99, PasswordState::Valid, false),
            (1.0, PasswordState::Valid, true),
            (74.9, PasswordState::Valid, true),
            (
                75.0,
                PasswordState::ExpiresSoon { expires_at: expiry },
                true,
            ),
            (
                89.9,
                PasswordState::ExpiresSoon { expires_at: expiry },
                true,
            ),
            (
                90.0,
                PasswordState::Expired {
                    expired_at: expiry,
                    usable_until: end,
                },
                true,
            ),
            (
                119.9,
                PasswordState::Expired {
                    expired_at: expiry,
                    usable_until: end,
                },
                true,
            ),
            (120.0, PasswordState::Inactive { expired_at: expiry }, false),
            (400.0, PasswordState::Inactive { expired_at: expiry }, false),
        ];
        for (day, state, may_change) in table {
            assert_eq!(p.state(set, at_day(day)), state, "day {day}");
            assert_eq!(
                p.may_change(set, at_day(day)).is_ok(),
                may_change,
                "day {day}"
            );
        }
    }

    #[test]
    fn min_days_blocks_changes_only_while_the_password_is_young() {
        let p = PasswordPolicy {
            min_days: 7,
            ..PasswordPolicy::default()
        };
        let err = p.may_change(at_day(0.0), at_day(3.0)).unwrap_err();
        assert!(err.contains("less than 7 days"), "{err}");
        assert!(err.contains(&at_day(7.0).to_string()), "{err}");
        assert!(p.may_change(at_day(0.0), at_day(7.0)).is_ok());
        // An expired password may always be changed (min_days longer than max_days, say).
        let odd = PasswordPolicy {
            min_days: 100,
            max_days: 10,
            ..PasswordPolicy::default()
        };
        assert!(odd.may_change(at_day(0.0), at_day(11.0)).is_ok());
    }

    #[test]
    fn max_days_zero_never_expires_and_inactive_zero_refuses_at_expiry() {
        let never = PasswordPolicy {
            max_days: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            never.state(at_day(0.0), at_day(10_000.0)),
            PasswordState::Valid
        );
        assert_eq!(never.expires_at(at_day(0.0)), None);
        let strict = PasswordPolicy {
            max_days: 30,
            inactive_days: 0,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            strict.state(at_day(0.0), at_day(30.0)),
            PasswordState::Inactive {
                expired_at: at_day(30.0)
            }
        );
    }

    #[test]
    fn warnings_count_days_left() {
        let s = PasswordState::ExpiresSoon {
            expires_at: at_day(10.0),
        };
        let w = s.warning(at_day(7.5)).unwrap();
        assert!(w.contains("in 3 days"), "{w}");
        assert!(s.warning(at_day(9.5)).unwrap().contains("in 1 day)"));
        assert_eq!(PasswordState::Valid.warning(at_day(0.0)), None);
    }

    #[test]
    fn new_passwords() {
        let p = PasswordPolicy::default();
        assert!(p.check_new("correct horse").is_ok());
        assert!(p.check_new("short").unwrap_err().contains("at least 8"));
        assert!(p.check_new("tab\there!").is_err());
        assert!(p.check_new(&"x".repeat(2000)).is_err());
    }
}
