//! What a `POST /v1/auth` offers (a password, a code, a push), and whether that can satisfy
//! what the gate asked for, before anything is checked.

use mfa_core::Method;
use mfa_secrets::{TokenHash, recovery_hash};
use mfa_wire::{AuthMethod, ServerAuthRequest};

use crate::ApiError;

pub fn names(methods: &[Method]) -> Vec<String> {
    methods.iter().map(|m| m.to_string()).collect()
}

/// A code as typed: TOTP, or a recovery code (which stands in for push or TOTP).
pub enum Code<'a> {
    Totp(&'a str),
    Recovery(TokenHash),
}

/// What a `POST /v1/auth` offers: a password, a code, a push.
pub struct Offer<'a> {
    pub password: Option<&'a str>,
    pub new_password: Option<&'a str>,
    pub code: Option<Code<'a>>,
    pub push: bool,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

impl<'a> Offer<'a> {
    pub fn from_body(body: &'a ServerAuthRequest, required: &[Method]) -> Result<Self, ApiError> {
        let password = non_empty(body.password.as_ref().map(|p| p.expose()));
        let new_password = non_empty(body.new_password.as_ref().map(|p| p.expose()));
        let passcode = non_empty(body.passcode.as_deref()).map(str::trim);
        if new_password.is_some() && password.is_none() {
            return Err(ApiError::BadRequest(
                "new_password goes with password (the current one)".into(),
            ));
        }
        let push = match body.method {
            AuthMethod::Push => true,
            AuthMethod::Totp if passcode.is_none() => {
                return Err(ApiError::BadRequest("method totp needs a passcode".into()));
            }
            AuthMethod::Password if password.is_none() => {
                return Err(ApiError::BadRequest(
                    "method password needs a password".into(),
                ));
            }
            AuthMethod::Totp | AuthMethod::Password => false,
            // TOTP when a code is typed; else a push, unless a password is all that is needed.
            AuthMethod::Auto => {
                passcode.is_none()
                    && if required.is_empty() {
                        password.is_none()
                    } else {
                        required.contains(&Method::Push)
                    }
            }
        };
        let code = passcode.map(|c| match recovery_hash(c) {
            Some(hash) => Code::Recovery(hash),
            None => Code::Totp(c),
        });
        Ok(Self {
            password,
            new_password,
            code,
            push,
        })
    }

    /// The factors offered, a recovery code counted as the device factor it stands in for.
    pub fn factors(&self, required: &[Method]) -> Vec<Method> {
        let mut f = Vec::new();
        if self.password.is_some() {
            f.push(Method::Password);
        }
        if self.push {
            f.push(Method::Push);
        }
        match &self.code {
            Some(Code::Totp(_)) => f.push(Method::Totp),
            Some(Code::Recovery(_)) => f.push(self.recovery_stands_for(required)),
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
        if self.password.is_some() {
            parts.push("password");
        }
        match &self.code {
            Some(Code::Totp(_)) => parts.push("totp"),
            Some(Code::Recovery(_)) => parts.push("recovery"),
            None => {}
        }
        if self.push {
            parts.push("push");
        }
        parts.join("+")
    }

    /// Why the offer cannot satisfy the gate's answer, if it cannot (before anything is checked,
    /// so no code is burned and no push is sent for a request that would fail anyway).
    pub fn mismatch(&self, methods: &[Method], required: &[Method]) -> Option<String> {
        let allowed = names(methods).join(",");
        let not_allowed =
            |m: &str| format!("method {m} is not allowed for this login (allowed: {allowed})");
        if self.password.is_some() && !methods.contains(&Method::Password) {
            return Some(not_allowed("password"));
        }
        match &self.code {
            Some(Code::Totp(_)) if !methods.contains(&Method::Totp) => {
                return Some(not_allowed("totp"));
            }
            Some(Code::Recovery(_)) if !methods.iter().any(|m| m.is_device()) => {
                return Some(format!(
                    "a recovery code stands in for push or totp, which this login does not use (allowed: {allowed})"
                ));
            }
            _ => {}
        }
        if self.push && !methods.contains(&Method::Push) {
            return Some(not_allowed("push"));
        }
        let offered = self.factors(required);
        if offered.is_empty() {
            return Some("nothing to check: send a passcode, a password, or method push".into());
        }
        let missing: Vec<&str> = required
            .iter()
            .filter(|m| !offered.contains(m))
            .map(|m| m.as_str())
            .collect();
        (!missing.is_empty()).then(|| {
            format!(
                "this login needs all of {} in one request; missing: {}",
                names(required).join(","),
                missing.join(",")
            )
        })
    }

    /// Whether checking it compares a secret (a password or a code): such an attempt is
    /// counted before it is compared.
    pub fn compares_secret(&self) -> bool {
        self.password.is_some() || self.code.is_some()
    }
}
