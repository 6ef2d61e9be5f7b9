//! What the person is told when a login is refused: one line they can act on. The log gets
//! the details; this line names only the cause and what to do.
//!
//! mfad's answers carry a human reason, not a code, so the causes are recognised from the
//! reasons mfad gives today ("invalid or already used code", "... locked out until T ...").
//! Anything not recognised gets the generic line for its kind, never mfad's text: a reason
//! such as "no app for user x on host y" is for the admin, not for whoever is logging in.

/// Why a login was refused, as far as the person needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A TOTP code that is wrong or was already used.
    WrongCode,
    WrongRecoveryCode,
    WrongPassword,
    /// The new password and its repetition differ.
    PasswordsDiffer,
    /// Denied on the person's device.
    PushDenied,
    /// Approved with a number other than the prompt's.
    WrongNumber,
    /// Reported as fraud: the account stays locked until an admin clears it.
    Fraud,
    /// Nobody approved the push in time (mfad's expiry or the module's own deadline).
    PushTimedOut,
    /// The module's time ran out before it could ask mfad (a prompt answered late).
    OutOfTime,
    /// Locked out after too many failures: until this time (as mfad wrote it), or until an
    /// admin clears the lock.
    LockedOut(Option<String>),
    /// Not enrolled: mfad's reason says how to get enrolled, and is shown.
    NotEnrolled(String),
    /// mfad could not be reached, or stopped answering.
    Unreachable,
    /// mfad refused this host's request (a token, a host not covered, TLS): for an admin.
    HostRefused,
    /// The policy does not allow this login, or needs a factor this program cannot ask for.
    Policy,
    /// The prompt could not be shown or answered.
    Conversation,
}

impl Refusal {
    /// The cause behind one of mfad's deny reasons.
    pub fn from_reason(reason: &str) -> Self {
        if let Some(locked) = reason.find("locked out") {
            let until = reason[locked..]
                .split_once(" until ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
                .map(|t| t.trim_end_matches([',', ';', ')']).to_owned());
            return Refusal::LockedOut(until);
        }
        match reason {
            "invalid or already used recovery code" => Refusal::WrongRecoveryCode,
            "invalid or already used code" => Refusal::WrongCode,
            "wrong password" => Refusal::WrongPassword,
            "the new passwords do not match" => Refusal::PasswordsDiffer,
            r if r.starts_with("fraud") => Refusal::Fraud,
            _ => Refusal::Policy,
        }
    }

    /// The cause behind a decided push (`state`, `reason` of `GET /v1/auth/{txid}`).
    pub fn from_push(state: &str, reason: Option<&str>) -> Self {
        match (state, reason) {
            ("expired", _) => Refusal::PushTimedOut,
            (_, Some("wrong number")) => Refusal::WrongNumber,
            (_, Some(r)) if r.starts_with("fraud") => Refusal::Fraud,
            (_, Some(r)) if r.contains("locked out") => Refusal::from_reason(r),
            _ => Refusal::PushDenied,
        }
    }

    /// One line for the person, after the `denied` prompt ("Access denied.").
    pub fn line(&self) -> String {
        match self {
            Refusal::WrongCode => {
                "The verification code is wrong or was already used: wait for the next code and try again.".into()
            }
            Refusal::WrongRecoveryCode => {
                "The recovery code is wrong or was already used (each works once).".into()
            }
            Refusal::WrongPassword => "The password is wrong.".into(),
            Refusal::PasswordsDiffer => {
                "The new passwords do not match: the password was not changed.".into()
            }
            Refusal::PushDenied => "The push was denied on your device.".into(),
            Refusal::WrongNumber => {
                "The push was answered with the wrong number: approve it with the number shown in the prompt.".into()
            }
            Refusal::Fraud => {
                "The push was reported as fraud: the account is locked until an admin clears it.".into()
            }
            Refusal::PushTimedOut => {
                "The push timed out before it was approved: try again and approve it sooner.".into()
            }
            Refusal::OutOfTime => "The time for the second factor ran out: try again.".into(),
            Refusal::LockedOut(Some(until)) => format!(
                "Locked out after too many failed attempts until {until}: try again then, or ask an admin."
            ),
            Refusal::LockedOut(None) => {
                "Locked out: an admin must clear the lock before you can log in.".into()
            }
            Refusal::NotEnrolled(reason) => capitalised(reason),
            Refusal::Unreachable => {
                "The MFA server cannot be reached: try again later, and tell an admin if it goes on.".into()
            }
            Refusal::HostRefused => {
                "The MFA server refused this host's request: tell an admin (the reason is in this host's system log).".into()
            }
            Refusal::Policy => {
                "The MFA policy does not allow this login: ask an admin (the reason is in this host's system log).".into()
            }
            Refusal::Conversation => "The prompt could not be answered.".into(),
        }
    }
}

/// mfad's reasons start in lower case; a line for the person does not.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mfad_reasons_become_causes() {
        for (reason, want) in [
            ("invalid or already used code", Refusal::WrongCode),
            (
                "invalid or already used recovery code",
                Refusal::WrongRecoveryCode,
            ),
            ("wrong password", Refusal::WrongPassword),
            (
                "user tux is locked out until 2026-12-01T22:51:00Z (5 failed attempts)",
                Refusal::LockedOut(Some("2026-12-01T22:51:00Z".into())),
            ),
            (
                "user tux is locked out (fraud reported); an admin must clear it: mfac lockout clear user tux",
                Refusal::LockedOut(None),
            ),
            ("no app for user tux on host h service ftp", Refusal::Policy),
        ] {
            assert_eq!(Refusal::from_reason(reason), want, "{reason}");
        }
        assert_eq!(
            Refusal::from_push("expired", Some("timeout")),
            Refusal::PushTimedOut
        );
        assert_eq!(
            Refusal::from_push("denied", Some("wrong number")),
            Refusal::WrongNumber
        );
        assert_eq!(
            Refusal::from_push("denied", Some("denied by tux")),
            Refusal::PushDenied
        );
        assert_eq!(
            Refusal::from_push("denied", Some("fraud reported")),
            Refusal::Fraud
        );
    }

    #[test]
    fn each_line_is_one_line_that_says_what_to_do() {
        let all = [
            Refusal::WrongCode,
            Refusal::WrongRecoveryCode,
            Refusal::WrongPassword,
            Refusal::PasswordsDiffer,
            Refusal::PushDenied,
            Refusal::WrongNumber,
            Refusal::Fraud,
            Refusal::PushTimedOut,
            Refusal::OutOfTime,
            Refusal::LockedOut(Some("2026-12-01T22:51:00Z".into())),
            Refusal::LockedOut(None),
            Refusal::NotEnrolled("unknown user bob: ask an admin".into()),
            Refusal::Unreachable,
            Refusal::HostRefused,
            Refusal::Policy,
            Refusal::Conversation,
        ];
        for r in all {
            let line = r.line();
            assert!(!line.contains('\n') && line.len() < 120, "{line}");
            assert!(line.starts_with(|c: char| c.is_uppercase()), "{line}");
        }
        assert!(
            Refusal::LockedOut(Some("2026-12-01T22:51:00Z".into()))
                .line()
                .contains("until 2026-12-01T22:51:00Z")
        );
    }
}
