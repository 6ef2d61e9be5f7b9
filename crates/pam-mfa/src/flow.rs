//! What the module decides, free of PAM and of HTTP: preauth, then a push (with the number in
//! the prompt's text, since sshd holds back informational messages), a TOTP code, or both.

use std::time::{Duration, Instant};

use mfa_wire::{
    AuthMethod, AuthResult, AuthStatus, PreauthRequest, PreauthResponse, PreauthResult,
    ServerAuthRequest, ServerAuthResponse,
};

use crate::config::{FailMode, Prompts};

/// The PAM conversation, as the flow needs it.
pub trait Conversation {
    /// Shows `text` as a prompt and returns the answer (`echo`: whether typing is visible).
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String>;
    /// An error message for the person (PAM_ERROR_MSG).
    fn error(&mut self, text: &str);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// mfad could not be reached or failed (connection, timeout, 5xx): `failmode` decides.
    Unreachable(String),
    /// mfad answered and refused, or answered nonsense: always a denial.
    Refused(String),
}

/// mfad's server API.
pub trait MfaApi {
    fn preauth(&self, req: &PreauthRequest) -> Result<PreauthResponse, ApiError>;
    fn auth(&self, req: &ServerAuthRequest) -> Result<ServerAuthResponse, ApiError>;
    fn status(&self, txid: &str, wait: Duration) -> Result<AuthStatus, ApiError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub host: String,
    pub service: String,
    pub client_ip: Option<String>,
}

pub struct Settings<'a> {
    pub failmode: FailMode,
    pub push_only: bool,
    /// The module's own deadline: a client that gives up does not stop PAM, so we stop.
    pub deadline: Instant,
    pub prompts: &'a Prompts,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(String),
    Deny(String),
}

/// The longest single status poll (mfad's limit).
const MAX_POLL: Duration = Duration::from_secs(60);

pub struct Flow<'a, C: Conversation, A: MfaApi> {
    pub login: &'a Login,
    pub settings: Settings<'a>,
    pub conv: &'a mut C,
    pub api: &'a A,
    pub now: &'a dyn Fn() -> Instant,
}

impl<C: Conversation, A: MfaApi> Flow<'_, C, A> {
    pub fn run(&mut self) -> Outcome {
        match self.decide() {
            Ok(outcome) => outcome,
            Err(ApiError::Refused(why)) => Outcome::Deny(format!("mfad refused: {why}")),
            Err(ApiError::Unreachable(why)) => match self.settings.failmode {
                FailMode::Secure => {
                    Outcome::Deny(format!("mfad unreachable, failmode secure: {why}"))
                }
                FailMode::Safe => Outcome::Allow(format!("mfad unreachable, failmode safe: {why}")),
            },
        }
    }

    fn decide(&mut self) -> Result<Outcome, ApiError> {
        let pre = self.api.preauth(&PreauthRequest {
            user: self.login.user.clone(),
            host: self.login.host.clone(),
            service: self.login.service.clone(),
            client_ip: self.login.client_ip.clone(),
        })?;
        let reason = pre.reason.clone().unwrap_or_default();
        match pre.result {
            PreauthResult::Allow => return Ok(Outcome::Allow(format!("preauth: {reason}"))),
            PreauthResult::Deny => return Ok(Outcome::Deny(format!("preauth: {reason}"))),
            PreauthResult::Auth => {}
        }
        let allows = |m: &str| pre.methods.iter().any(|x| x == m);
        if self.settings.push_only {
            if !allows("push") {
                return Ok(Outcome::Deny(
                    "push_only, but this login does not allow push".into(),
                ));
            }
            return self.push(false);
        }
        if allows("push") {
            self.push(true)
        } else if allows("totp") {
            let code = self.ask(&self.settings.prompts.totp.clone())?;
            self.totp(&code)
        } else {
            Ok(Outcome::Deny(format!(
                "no method this module can use (offered: {:?})",
                pre.methods
            )))
        }
    }

    fn ask(&mut self, text: &str) -> Result<String, ApiError> {
        // A conversation that fails (no terminal, client gone) is a denial, not an outage.
        self.conv
            .prompt(text, false)
            .map_err(|e| ApiError::Refused(format!("conversation failed: {e}")))
    }

    fn request(
        &self,
        method: AuthMethod,
        passcode: Option<String>,
        number_matching: Option<bool>,
    ) -> ServerAuthRequest {
        ServerAuthRequest {
            user: self.login.user.clone(),
            host: self.login.host.clone(),
            service: self.login.service.clone(),
            client_ip: self.login.client_ip.clone(),
            method,
            passcode,
            number_matching,
        }
    }

    fn push(&mut self, interactive: bool) -> Result<Outcome, ApiError> {
        let sent = self.api.auth(&self.request(
            AuthMethod::Push,
            None,
            (!interactive).then_some(false),
        ))?;
        let txid = match (sent.result, sent.txid) {
            (AuthResult::Allow, _) => return Ok(Outcome::Allow(sent.reason.unwrap_or_default())),
            (AuthResult::Deny, _) => return Ok(Outcome::Deny(sent.reason.unwrap_or_default())),
            (AuthResult::Pending, Some(txid)) => txid,
            (AuthResult::Pending, None) => {
                return Err(ApiError::Refused("pending push without txid".into()));
            }
        };
        if interactive {
            let prompts = self.settings.prompts;
            let text = match sent.number {
                Some(n) => prompts.push.replace("{number}", &n.to_string()),
                None => prompts.push_without_number.clone(),
            };
            let answer = self.ask(&text)?;
            let code = answer.trim();
            if !code.is_empty() {
                return self.totp(code);
            }
        }
        self.wait_for(&txid)
    }

    fn totp(&mut self, code: &str) -> Result<Outcome, ApiError> {
        let answer =
            self.api
                .auth(&self.request(AuthMethod::Totp, Some(code.trim().to_owned()), None))?;
        Ok(match answer.result {
            AuthResult::Allow => Outcome::Allow("verification code accepted".into()),
            _ => Outcome::Deny(answer.reason.unwrap_or_else(|| "code refused".into())),
        })
    }

    fn wait_for(&mut self, txid: &str) -> Result<Outcome, ApiError> {
        loop {
            let left = self
                .settings
                .deadline
                .saturating_duration_since((self.now)());
            if left.is_zero() {
                return Ok(Outcome::Deny(
                    "timed out waiting for the push to be approved".into(),
                ));
            }
            let status = self.api.status(txid, left.min(MAX_POLL))?;
            match status.result {
                AuthResult::Allow => return Ok(Outcome::Allow("push approved".into())),
                AuthResult::Deny => {
                    return Ok(Outcome::Deny(format!(
                        "push {}: {}",
                        status.state,
                        status.reason.unwrap_or_default()
                    )));
                }
                AuthResult::Pending => {}
            }
        }
    }
}

#[cfg(test)]
mod tests;
