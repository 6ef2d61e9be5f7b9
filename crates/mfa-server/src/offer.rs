//! What a `POST /v1/auth` offers (a password, a code, a push), read from its body. Whether that
//! can satisfy the policy is the login's rule (`mfa_core::login`).

use mfa_config::MAX_ELEVATED_SESSION;
use mfa_core::{Method, login};
use mfa_secrets::{TokenHash, recovery_hash};
use mfa_wire::{AuthMethod, Remember, ServerAuthRequest};

use crate::ApiError;

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
    /// Refuses a body that offers what its `method` cannot use, before anything is looked up:
    /// the answer to a malformed request is the same 400 whatever the policy says.
    pub fn check(body: &ServerAuthRequest) -> Result<(), ApiError> {
        let given = |s: Option<&str>| non_empty(s).is_some();
        let password = given(body.password.as_ref().map(|p| p.expose()));
        if given(body.new_password.as_ref().map(|p| p.expose())) && !password {
            return Err(ApiError::BadRequest(
                "new_password goes with password (the current one)".into(),
            ));
        }
        if let Some(Remember::Seconds(n)) = body.remember
            && n > MAX_ELEVATED_SESSION
        {
            return Err(ApiError::BadRequest(format!(
                "remember must be at most {MAX_ELEVATED_SESSION} seconds (a week), got {n}"
            )));
        }
        match body.method {
            AuthMethod::Totp if !given(body.passcode.as_deref()) => {
                Err(ApiError::BadRequest("method totp needs a passcode".into()))
            }
            AuthMethod::Password if !password => Err(ApiError::BadRequest(
                "method password needs a password".into(),
            )),
            _ => Ok(()),
        }
    }

    pub fn from_body(body: &'a ServerAuthRequest, required: &[Method]) -> Result<Self, ApiError> {
        Self::check(body)?;
        let password = non_empty(body.password.as_ref().map(|p| p.expose()));
        let new_password = non_empty(body.new_password.as_ref().map(|p| p.expose()));
        let passcode = non_empty(body.passcode.as_deref()).map(str::trim);
        let push = match body.method {
            AuthMethod::Push => true,
            AuthMethod::Totp | AuthMethod::Password => false,
            // TOTP when a code is typed; else a push, unless a password is all that is needed.
            AuthMethod::Auto => {
                passcode.is_none()
                    && if required.is_empty() {
                        password.is_none()
                    } else {
                        required.contains(&Method::Push) || required.contains(&Method::Passkey)
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

    /// What it offers, as the login's rules see it (no secrets).
    pub fn shape(&self) -> login::Offer {
        login::Offer {
            password: self.password.is_some(),
            new_password: self.new_password.is_some(),
            code: self.code.as_ref().map(|c| match c {
                Code::Totp(_) => login::CodeKind::Totp,
                Code::Recovery(_) => login::CodeKind::Recovery,
            }),
            push: self.push,
        }
    }
}
