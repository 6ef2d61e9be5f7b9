//! A login's second factor, once the policy has asked for factors: what the request offers,
//! whether that can satisfy the policy, what to check next, and what each result means (allow,
//! deny with a reason, send the push, change the password), which failures to count and what
//! to audit. Pure: the caller performs the I/O each [`Step`] asks for and reports back.
//!
//! The order is the rule: the attempt is counted before anything is compared; the password is
//! checked first (a wrong one burns no code and bothers no phone), then the code (burned on
//! success), and the push goes out last, its approval completing the login.

use crate::policy::{PasswordPolicy, PasswordState, inactive_message};
use crate::{Method, Methods, Timestamp};

/// Recovery codes left at or below which an answer warns.
pub const FEW_RECOVERY_CODES: i64 = 3;

/// A code as typed: a TOTP code, or a recovery code (which stands in for push or TOTP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeKind {
    Totp,
    Recovery,
}

/// What a request offers, without the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offer {
    pub password: bool,
    /// A new password comes with the current one (to replace an expired password).
    pub new_password: bool,
    pub code: Option<CodeKind>,
    pub push: bool,
}

fn names(methods: &[Method]) -> String {
    methods
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether a push for this login must be approved with a passkey: when the policy requires a
/// passkey, or allows one and not a plain push. The push then carries `passkey` among the
/// factors its approval completes, and only a passkey approval decides it.
pub fn passkey_push(methods: &[Method], required: &[Method]) -> bool {
    required.contains(&Method::Passkey)
        || (methods.contains(&Method::Passkey) && !methods.contains(&Method::Push))
}

impl Offer {
    /// The factors offered, a recovery code counted as the device factor it stands in for.
    pub fn factors(&self, required: &[Method]) -> Vec<Method> {
        let mut f = Vec::new();
        if self.password {
            f.push(Method::Password);
        }
        if self.push {
            f.push(Method::Push);
            if required.contains(&Method::Passkey) {
                f.push(Method::Passkey);
            }
        }
        match self.code {
            Some(CodeKind::Totp) => f.push(Method::Totp),
            Some(CodeKind::Recovery) => f.push(self.recovery_stands_for(required)),
            None => {}
        }
        f
    }

    /// The device factor a recovery code counts as: the first one required that the offer
    /// does not already include (TOTP when any one factor will do).
    pub fn recovery_stands_for(&self, required: &[Method]) -> Method {
        required
            .iter()
            .copied()
            .find(|m| m.is_device() && !(self.push && *m == Method::Push))
            .unwrap_or(Method::Totp)
    }

    /// How the audit log names what was offered: `totp`, `password+push`, `recovery`, ...
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if self.password {
            parts.push("password");
        }
        match self.code {
            Some(CodeKind::Totp) => parts.push("totp"),
            Some(CodeKind::Recovery) => parts.push("recovery"),
            None => {}
        }
        if self.push {
            parts.push("push");
        }
        parts.join("+")
    }

    /// Whether checking it compares a secret: such an attempt is counted first.
    pub fn compares_secret(&self) -> bool {
        self.password || self.code.is_some()
    }

    /// Why the offer cannot satisfy `methods` (any one of) and `required` (all of), if it
    /// cannot: decided before anything is checked, so no code is burned and no push is sent
    /// for a request that would fail anyway.
    pub fn mismatch(&self, methods: &[Method], required: &[Method]) -> Option<String> {
        let allowed = names(methods);
        let not_allowed =
            |m: &str| format!("method {m} is not allowed for this login (allowed: {allowed})");
        if self.password && !methods.contains(&Method::Password) {
            return Some(not_allowed("password"));
        }
        match self.code {
            Some(CodeKind::Totp) if !methods.contains(&Method::Totp) => {
                return Some(not_allowed("totp"));
            }
            Some(CodeKind::Recovery) if !methods.iter().any(|m| m.is_device()) => {
                return Some(format!(
                    "a recovery code stands in for push or totp, which this login does not use (allowed: {allowed})"
                ));
            }
            _ => {}
        }
        if self.push && !methods.contains(&Method::Push) && !methods.contains(&Method::Passkey) {
            return Some(not_allowed("push"));
        }
        let offered = self.factors(required);
        if offered.is_empty() {
            return Some("nothing to check: send a passcode, a password, or method push".into());
        }
        let missing: Vec<Method> = required
            .iter()
            .copied()
            .filter(|m| !offered.contains(m))
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "this login needs all of {} in one request; missing: {}",
                names(required),
                names(&missing)
            )
        })
    }
}

/// What an ending does to the failure counts of the login (its user and source address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Nothing was counted, nothing changes.
    None,
    /// The attempt counted in advance failed: lock the subjects it used up.
    Failed,
    /// The attempt counted in advance did not fail (the secrets that came with a push were
    /// right, a right password had expired): give it back.
    Refund,
    /// Everything was verified: forget the failures (never a lock in force).
    Success,
}

/// The next thing to do for the login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Count the attempt against the user and the source address; report with
    /// [`Flow::counted`].
    CountAttempt,
    /// Find the routed client whose password this is; report with [`Flow::password_found`].
    CheckPassword,
    /// Replace `client`'s password with the new one (one conditional update); report with
    /// [`Flow::password_changed`].
    ChangePassword {
        client: String,
    },
    /// Check and burn the code; report with [`Flow::code_checked`].
    CheckCode(CodeKind),
    /// Send the push: its approval completes the login with `factors` (`None`: the push alone).
    /// `counting`: what to do with the attempt counted for the factors that came with it.
    SendPush {
        factors: Option<Methods>,
        counting: Counting,
        warnings: Vec<String>,
    },
    Done(Ending),
}

/// How the login ends here (a push ends later, when it is decided).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    Allow {
        factors: Methods,
        warnings: Vec<String>,
        /// The client whose factor was verified, for the audit log.
        client: Option<String>,
        /// How the audit log names what was offered.
        method: String,
    },
    Deny {
        reason: String,
        /// The factor refused, as the audit log names it.
        method: String,
        counting: Counting,
        /// The password was right but has expired: send it again with `new_password`.
        change_password: bool,
    },
}

/// What [`Step::CheckPassword`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordFound {
    /// No routed client has this password.
    None,
    /// `client`'s password, set at `changed_at`.
    Match {
        client: String,
        changed_at: Timestamp,
    },
}

/// What [`Step::CheckCode`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeChecked {
    Wrong,
    /// Right and burned; for a recovery code, how many `left`.
    Right {
        client: String,
        left: Option<i64>,
    },
}

/// The login's progress through its steps.
#[derive(Debug, Clone)]
pub struct Flow {
    offer: Offer,
    required: Vec<Method>,
    policy: PasswordPolicy,
    now: Timestamp,
    /// The push must be approved with a passkey (see [`passkey_push`]).
    passkey_push: bool,
    counted: bool,
    password_done: bool,
    code_done: bool,
    change: Option<String>,
    verified: Vec<Method>,
    warnings: Vec<String>,
    client: Option<String>,
    ending: Option<Ending>,
}

impl Flow {
    /// Starts a login the policy answered with `methods` (any one of) and `required` (all
    /// of); an offer that cannot satisfy them ends at once (nothing counted).
    pub fn new(
        offer: Offer,
        methods: &[Method],
        required: &[Method],
        policy: PasswordPolicy,
        now: Timestamp,
    ) -> Self {
        let ending = offer
            .mismatch(methods, required)
            .map(|reason| Ending::Deny {
                reason,
                method: offer.label(),
                counting: Counting::None,
                change_password: false,
            });
        Self {
            offer,
            required: required.to_vec(),
            policy,
            now,
            passkey_push: passkey_push(methods, required),
            counted: !offer.compares_secret(),
            password_done: !offer.password,
            code_done: offer.code.is_none(),
            change: None,
            verified: Vec::new(),
            warnings: Vec::new(),
            client: None,
            ending,
        }
    }

    pub fn next(&self) -> Step {
        if let Some(ending) = &self.ending {
            return Step::Done(ending.clone());
        }
        if !self.counted {
            return Step::CountAttempt;
        }
        if let Some(client) = &self.change {
            return Step::ChangePassword {
                client: client.clone(),
            };
        }
        if !self.password_done {
            return Step::CheckPassword;
        }
        if !self.code_done
            && let Some(kind) = self.offer.code
        {
            return Step::CheckCode(kind);
        }
        let counting = if self.offer.compares_secret() {
            Counting::Refund
        } else {
            Counting::None
        };
        if self.offer.push {
            let passkey = self.passkey_push.then_some(Method::Passkey);
            let factors = (!self.verified.is_empty() || self.passkey_push)
                .then(|| {
                    Methods::new(
                        self.verified
                            .iter()
                            .copied()
                            .chain([Method::Push])
                            .chain(passkey),
                    )
                })
                .and_then(Result::ok);
            return Step::SendPush {
                factors,
                counting,
                warnings: self.warnings.clone(),
            };
        }
        match Methods::new(self.verified.iter().copied()) {
            Ok(factors) => Step::Done(Ending::Allow {
                factors,
                warnings: self.warnings.clone(),
                client: self.client.clone(),
                method: self.offer.label(),
            }),
            // Nothing verified: cannot happen for an offer that passed `mismatch`.
            Err(_) => Step::Done(self.deny("nothing was verified".into(), "none", Counting::None)),
        }
    }

    fn deny(&self, reason: String, method: &str, counting: Counting) -> Ending {
        Ending::Deny {
            reason,
            method: method.to_owned(),
            counting,
            change_password: false,
        }
    }

    /// The attempt was counted (`None`), or refused because a subject is locked out or out
    /// of attempts (`Some(why)`): then nothing is compared.
    pub fn counted(&mut self, refused: Option<String>) {
        self.counted = true;
        if let Some(reason) = refused {
            self.ending = Some(self.deny(reason, &self.offer.label(), Counting::None));
        }
    }

    /// The result of looking for `password`: wrong, or right and judged by the password
    /// policy (expired: change it; inactive: refused; a change to `new_password` asked for:
    /// allowed or not). The secrets are looked at, not kept.
    pub fn password_found(
        &mut self,
        found: PasswordFound,
        password: &str,
        new_password: Option<&str>,
    ) {
        self.password_done = true;
        let PasswordFound::Match { client, changed_at } = found else {
            self.ending = Some(self.deny("wrong password".into(), "password", Counting::Failed));
            return;
        };
        let age = self.policy.state(changed_at, self.now);
        let refuse = |reason: String| Ending::Deny {
            reason,
            method: "password".into(),
            counting: Counting::Refund,
            change_password: false,
        };
        if let PasswordState::Inactive { expired_at } = age {
            self.ending = Some(refuse(inactive_message(expired_at)));
            return;
        }
        let Some(new) = new_password else {
            if let PasswordState::Expired {
                expired_at,
                usable_until,
            } = age
            {
                self.ending = Some(Ending::Deny {
                    reason: format!(
                        "the password expired on {expired_at}: send it again with new_password to change it (possible until {usable_until})"
                    ),
                    method: "password".into(),
                    counting: Counting::Refund,
                    change_password: true,
                });
                return;
            }
            self.warnings.extend(age.warning(self.now));
            self.password_verified(client);
            return;
        };
        if let Err(why) = self.policy.may_change(changed_at, self.now) {
            self.ending = Some(refuse(why));
        } else if let Err(why) = self.policy.check_new(new) {
            self.ending = Some(refuse(format!("new_password: {why}")));
        } else if new == password {
            self.ending = Some(refuse(
                "new_password: the new password must differ from the old one".into(),
            ));
        } else {
            self.change = Some(client);
        }
    }

    fn password_verified(&mut self, client: String) {
        self.verified.push(Method::Password);
        self.client = Some(client);
    }

    /// The result of [`Step::ChangePassword`]: false when another change won the race.
    pub fn password_changed(&mut self, changed: bool) {
        let Some(client) = self.change.take() else {
            return;
        };
        if changed {
            self.password_verified(client);
        } else {
            self.ending = Some(Ending::Deny {
                reason: "the password was changed meanwhile: try again with the new one".into(),
                method: "password".into(),
                counting: Counting::Refund,
                change_password: false,
            });
        }
    }

    /// The result of [`Step::CheckCode`].
    pub fn code_checked(&mut self, checked: CodeChecked) {
        self.code_done = true;
        let kind = self.offer.code.unwrap_or(CodeKind::Totp);
        let CodeChecked::Right { client, left } = checked else {
            let (method, reason) = match kind {
                CodeKind::Totp => ("totp", "invalid or already used code"),
                CodeKind::Recovery => ("recovery", "invalid or already used recovery code"),
            };
            self.ending = Some(self.deny(reason.into(), method, Counting::Failed));
            return;
        };
        match kind {
            CodeKind::Totp => self.verified.push(Method::Totp),
            CodeKind::Recovery => {
                self.verified
                    .push(self.offer.recovery_stands_for(&self.required));
                if let Some(left) = left.filter(|n| *n <= FEW_RECOVERY_CODES) {
                    self.warnings.push(format!(
                        "{left} recovery code{} left: ask an admin for new ones (mfac client recovery-codes {client})",
                        if left == 1 { "" } else { "s" }
                    ));
                }
            }
        }
        self.client = Some(client);
    }
}

#[cfg(test)]
mod tests;
