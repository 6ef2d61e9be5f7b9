//! What the module decides, free of PAM and of HTTP: preauth, then a push (with the number in
//! the prompt's text, since sshd holds back informational messages), a TOTP code (or a
//! recovery code typed in its place), a password, or several of them when the policy requires
//! them all: then the password is asked first, then the code (or the push goes out), and all
//! are sent in one request.

use std::time::{Duration, Instant};

use mfa_wire::{
    AuthMethod, AuthResult, AuthStatus, Password, PreauthRequest, PreauthResponse, PreauthResult,
    Remember, ServerAuthRequest, ServerAuthResponse,
};

use crate::config::{FailMode, Prompts};
use crate::refusal::Refusal;

/// The PAM conversation, as the flow needs it.
pub trait Conversation {
    /// Shows `text` as a prompt and returns the answer (`echo`: whether typing is visible).
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String>;
    /// An error message for the person (PAM_ERROR_MSG).
    fn error(&mut self, text: &str);
    /// Something the person should know (PAM_TEXT_INFO): a password about to expire.
    fn info(&mut self, text: &str);
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// mfad could not be reached or failed (connection, timeout, 5xx): `failmode` decides.
    Unreachable(String),
    /// mfad answered and refused, or answered nonsense: always a denial.
    Refused(String),
}

/// Why the flow stopped before mfad decided.
#[derive(Debug)]
enum Stop {
    Api(ApiError),
    /// The module's deadline passed before it could ask mfad (a prompt answered late).
    OutOfTime,
    /// The conversation failed (no terminal, the client went away): a denial, not an outage.
    Conversation(String),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Api(e)
    }
}

/// mfad's server API. `limit` is the longest the whole call may take (the time left before
/// the module's deadline, at most).
pub trait MfaApi {
    fn preauth(&self, req: &PreauthRequest, limit: Duration) -> Result<PreauthResponse, ApiError>;
    fn auth(
        &self,
        req: &ServerAuthRequest,
        limit: Duration,
    ) -> Result<ServerAuthResponse, ApiError>;
    /// A long poll: mfad answers when the push is decided, or after `wait`.
    fn status(&self, txid: &str, wait: Duration, limit: Duration) -> Result<AuthStatus, ApiError>;
    /// Withdraws a pending push the module no longer waits for.
    fn cancel(&self, txid: &str, why: Withdrawal, limit: Duration) -> Result<AuthStatus, ApiError>;
}

/// Why a push is withdrawn (`DELETE /v1/auth/{txid}?reason=...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// The person typed a code instead.
    CodeUsed,
    /// The module gave up: its deadline, or too many polls.
    Abandoned,
}

impl Withdrawal {
    pub fn as_str(self) -> &'static str {
        match self {
            Withdrawal::CodeUsed => "code_used",
            Withdrawal::Abandoned => "abandoned",
        }
    }
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
    /// Seconds mfad should remember a success for (an elevated session); 0: never.
    pub remember: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(String),
    /// mfad never answered this login and `failmode = "safe"`: allowed without MFA.
    AllowFailSafe(String),
    /// `why` goes to the log; the person is told `tell`.
    Deny {
        why: String,
        tell: Refusal,
    },
}

fn deny(why: impl Into<String>, tell: Refusal) -> Outcome {
    Outcome::Deny {
        why: why.into(),
        tell,
    }
}

/// The longest single status poll (mfad's limit).
const MAX_POLL: Duration = Duration::from_secs(60);

/// The longest any other call may take, when the deadline is further away.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest the withdrawal of a push may take.
const WITHDRAW_TIMEOUT: Duration = Duration::from_secs(3);

/// The most status polls one login makes: `timeout` (at most 600 s) in polls of up to 60 s
/// needs 10 of them.
pub const MAX_POLLS: u32 = 12;

pub struct Flow<'a, C: Conversation, A: MfaApi> {
    pub login: &'a Login,
    pub settings: Settings<'a>,
    pub conv: &'a mut C,
    pub api: &'a A,
    pub now: &'a dyn Fn() -> Instant,
}

impl<C: Conversation, A: MfaApi> Flow<'_, C, A> {
    /// Decides, and tells the person: why, when refused; `approved`, after a factor.
    pub fn run(&mut self) -> Outcome {
        let outcome = self.outcome();
        if let Outcome::Deny { tell, .. } = &outcome {
            let line = format!("{} {}", self.settings.prompts.denied, tell.line());
            self.conv.error(line.trim());
        }
        outcome
    }

    fn outcome(&mut self) -> Outcome {
        let req = PreauthRequest {
            user: self.login.user.clone(),
            host: self.login.host.clone(),
            service: self.login.service.clone(),
            client_ip: self.login.client_ip.clone(),
        };
        let pre = self
            .budget(CALL_TIMEOUT)
            .and_then(|limit| Ok(self.api.preauth(&req, limit)?));
        // Safe mode is only for an mfad that has answered nothing for this login: once it
        // has (a preauth, a pending push), losing it denies, or killing mfad during a push
        // would be a way in.
        let pre = match pre {
            Ok(pre) => pre,
            Err(Stop::Api(ApiError::Unreachable(why))) => {
                return match self.settings.failmode {
                    FailMode::Secure => deny(
                        format!("mfad unreachable, failmode secure: {why}"),
                        Refusal::Unreachable,
                    ),
                    FailMode::Safe => {
                        Outcome::AllowFailSafe(format!("mfad unreachable, failmode safe: {why}"))
                    }
                };
            }
            Err(stop) => return stopped(stop),
        };
        match self.decide(pre) {
            Ok(outcome) => outcome,
            Err(Stop::Api(ApiError::Unreachable(why))) => deny(
                format!(
                    "mfad lost after it answered this login (failmode safe does not apply): {why}"
                ),
                Refusal::Unreachable,
            ),
            Err(stop) => stopped(stop),
        }
    }

    /// The time a call may take: `natural`, or what is left before the deadline if that is
    /// less. Nothing left: no call.
    fn budget(&self, natural: Duration) -> Result<Duration, Stop> {
        let left = self
            .settings
            .deadline
            .saturating_duration_since((self.now)());
        if left.is_zero() {
            return Err(Stop::OutOfTime);
        }
        Ok(left.min(natural))
    }

    /// Withdraws a push, best effort, within the time left (and briefly: nothing waits on it).
    fn withdraw(&self, txid: &str, why: Withdrawal) {
        if let Ok(limit) = self.budget(WITHDRAW_TIMEOUT) {
            let _ = self.api.cancel(txid, why, limit);
        }
    }

    fn decide(&mut self, pre: PreauthResponse) -> Result<Outcome, Stop> {
        let reason = pre.reason.clone().unwrap_or_default();
        match pre.result {
            PreauthResult::Allow => return Ok(Outcome::Allow(format!("preauth: {reason}"))),
            PreauthResult::Deny => {
                let tell = Refusal::from_reason(&reason);
                return Ok(deny(format!("preauth: {reason}"), tell));
            }
            PreauthResult::Enroll => {
                // The reason says how to get enrolled: the person must read it.
                return Ok(deny(
                    format!("preauth: not enrolled: {reason}"),
                    Refusal::NotEnrolled(reason),
                ));
            }
            PreauthResult::Auth => {}
        }
        if !pre.required.is_empty() {
            return self.all_of(&pre.required);
        }
        let allows = |m: &str| pre.methods.iter().any(|x| x == m);
        if self.settings.push_only {
            if !allows("push") {
                return Ok(deny(
                    "push_only, but this login does not allow push",
                    Refusal::Policy,
                ));
            }
            return self.push(false, None);
        }
        if allows("push") {
            self.push(true, None)
        } else if allows("passkey") {
            self.passkey(None)
        } else if allows("totp") {
            let code = self.ask(&self.settings.prompts.totp.clone())?;
            self.code(&code, None)
        } else if allows("password") {
            let password = self.ask(&self.settings.prompts.password.clone())?;
            self.finish(self.request(AuthMethod::Password, None, Some(password), None))
        } else {
            Ok(deny(
                format!("no method this module can use (offered: {:?})", pre.methods),
                Refusal::Policy,
            ))
        }
    }

    /// Every one of `required`, in one request: the password first, then the code or the push.
    fn all_of(&mut self, required: &[String]) -> Result<Outcome, Stop> {
        let needs = |m: &str| required.iter().any(|x| x == m);
        if let Some(other) = required
            .iter()
            .find(|m| !["push", "totp", "password", "passkey"].contains(&m.as_str()))
        {
            return Ok(deny(
                format!("this login needs {other}, which this module cannot ask for"),
                Refusal::Policy,
            ));
        }
        if self.settings.push_only && (needs("password") || needs("totp")) {
            return Ok(deny(
                format!(
                    "push_only, but this login needs {} (which need a prompt)",
                    required.join(" and ")
                ),
                Refusal::Policy,
            ));
        }
        let password = if needs("password") {
            Some(self.ask(&self.settings.prompts.password.clone())?)
        } else {
            None
        };
        if needs("passkey") {
            self.passkey(password)
        } else if needs("push") {
            self.push(!self.settings.push_only, password)
        } else if needs("totp") {
            let code = self.ask(&self.settings.prompts.totp.clone())?;
            self.code(&code, password)
        } else {
            self.finish(self.request(AuthMethod::Password, None, password, None))
        }
    }

    fn ask(&mut self, text: &str) -> Result<String, Stop> {
        self.conv.prompt(text, false).map_err(Stop::Conversation)
    }

    /// A factor the person gave was accepted: say so (`approved`; empty: say nothing).
    fn verified(&mut self, why: &str) -> Outcome {
        let approved = &self.settings.prompts.approved;
        if !approved.is_empty() {
            self.conv.info(approved);
        }
        Outcome::Allow(why.to_owned())
    }

    fn request(
        &self,
        method: AuthMethod,
        passcode: Option<String>,
        password: Option<String>,
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
            password: password.map(Password),
            new_password: None,
            remember: (self.settings.remember > 0)
                .then_some(Remember::Seconds(self.settings.remember)),
            action: None,
        }
    }

    /// Sends `req`; when mfad says the password has expired, asks for a new one (twice) and
    /// sends it again with the change.
    fn send(&mut self, mut req: ServerAuthRequest) -> Result<ServerAuthResponse, Stop> {
        let answer = self.api.auth(&req, self.budget(CALL_TIMEOUT)?)?;
        if answer.change_password != Some(true)
            || req.password.is_none()
            || req.new_password.is_some()
        {
            return Ok(answer);
        }
        let prompts = self.settings.prompts;
        let new = self.ask(&prompts.new_password.clone())?;
        let again = self.ask(&prompts.retype_password.clone())?;
        if new != again {
            return Ok(ServerAuthResponse {
                result: AuthResult::Deny,
                reason: Some("the new passwords do not match".into()),
                ..answer
            });
        }
        req.new_password = Some(Password(new));
        Ok(self.api.auth(&req, self.budget(CALL_TIMEOUT)?)?)
    }

    fn warn(&mut self, answer: &ServerAuthResponse) {
        if let Some(w) = &answer.warning {
            self.conv.info(w);
        }
    }

    /// Sends a request that is decided at once (no push).
    fn finish(&mut self, req: ServerAuthRequest) -> Result<Outcome, Stop> {
        let answer = self.send(req)?;
        self.warn(&answer);
        Ok(match answer.result {
            AuthResult::Allow => self.verified("verified"),
            _ => refused(answer.reason, "refused"),
        })
    }

    fn push(&mut self, interactive: bool, password: Option<String>) -> Result<Outcome, Stop> {
        let req = self.request(
            AuthMethod::Push,
            None,
            password.clone(),
            (!interactive).then_some(false),
        );
        let sent = self.send(req)?;
        self.warn(&sent);
        let txid = match pending(&sent)? {
            Ok(txid) => txid,
            Err(decided) => return Ok(decided),
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
                // The person chose a code: withdraw the push so it neither lingers on their
                // devices nor expires into a counted failure. Best effort, and after the
                // check, so a slow withdrawal cannot use up the check's time.
                let outcome = self.code(code, password);
                self.withdraw(&txid, Withdrawal::CodeUsed);
                return outcome;
            }
        }
        self.wait_for(&txid)
    }

    /// A push only a passkey approves: the prompt shows its device link, to open on any device
    /// (a typed code cannot stand in for it). Under `push_only` nothing is shown: the push's
    /// approve link reaches the person's devices as any push's does.
    fn passkey(&mut self, password: Option<String>) -> Result<Outcome, Stop> {
        if self.settings.push_only {
            return self.push(false, password);
        }
        let sent = self.send(self.request(AuthMethod::Push, None, password, None))?;
        self.warn(&sent);
        let txid = match pending(&sent)? {
            Ok(txid) => txid,
            Err(decided) => return Ok(decided),
        };
        let Some(url) = sent.device_url.as_deref() else {
            self.withdraw(&txid, Withdrawal::Abandoned);
            return Ok(deny(
                "mfad sent no device link for a push that needs a passkey",
                Refusal::Policy,
            ));
        };
        let text = self.settings.prompts.passkey.replace("{url}", url);
        self.ask(&text)?;
        self.wait_for(&txid)
    }

    /// A typed code: TOTP, or a recovery code (mfad tells them apart).
    fn code(&mut self, code: &str, password: Option<String>) -> Result<Outcome, Stop> {
        let req = self.request(
            AuthMethod::Totp,
            Some(code.trim().to_owned()),
            password,
            None,
        );
        let answer = self.send(req)?;
        self.warn(&answer);
        Ok(match answer.result {
            AuthResult::Allow => self.verified("verification code accepted"),
            _ => refused(answer.reason, "code refused"),
        })
    }

    fn wait_for(&mut self, txid: &str) -> Result<Outcome, Stop> {
        // A well-behaved mfad holds each poll for its whole wait, so MAX_POLLS is more than
        // any login needs; it bounds the requests even against one that answers at once.
        for _ in 0..MAX_POLLS {
            let left = self
                .settings
                .deadline
                .saturating_duration_since((self.now)());
            // Whole seconds, never 0 (a sub-second remainder rounded down to `wait=0` is a
            // busy loop), and a second to spare for the answer to come back in.
            let wait = left.saturating_sub(Duration::from_secs(1)).as_secs();
            if wait == 0 {
                self.withdraw(txid, Withdrawal::Abandoned);
                return Ok(deny(
                    "timed out waiting for the push to be approved",
                    Refusal::PushTimedOut,
                ));
            }
            let wait = Duration::from_secs(wait).min(MAX_POLL);
            let status = self
                .api
                .status(txid, wait, self.budget(wait + CALL_TIMEOUT)?)?;
            match status.result {
                AuthResult::Allow => return Ok(self.verified("push approved")),
                AuthResult::Deny => {
                    let tell = Refusal::from_push(&status.state, status.reason.as_deref());
                    return Ok(deny(
                        format!(
                            "push {}: {}",
                            status.state,
                            status.reason.unwrap_or_default()
                        ),
                        tell,
                    ));
                }
                AuthResult::Pending => {}
            }
        }
        self.withdraw(txid, Withdrawal::Abandoned);
        Ok(deny(
            format!(
                "mfad answered \"pending\" {MAX_POLLS} times before the push's deadline; gave up"
            ),
            Refusal::HostRefused,
        ))
    }
}

/// A push's first answer: `Ok(txid)` while it waits, or the outcome mfad decided at once.
fn pending(sent: &ServerAuthResponse) -> Result<Result<String, Outcome>, Stop> {
    match (sent.result, &sent.txid) {
        (AuthResult::Allow, _) => Ok(Err(Outcome::Allow(sent.reason.clone().unwrap_or_default()))),
        (AuthResult::Deny, _) => Ok(Err(refused(sent.reason.clone(), "push refused"))),
        (AuthResult::Pending, Some(txid)) => Ok(Ok(txid.clone())),
        (AuthResult::Pending, None) => {
            Err(ApiError::Refused("pending push without txid".into()).into())
        }
    }
}

/// A denial by mfad, with its reason (or `otherwise`) for the log.
fn refused(reason: Option<String>, otherwise: &str) -> Outcome {
    let why = reason.unwrap_or_else(|| otherwise.to_owned());
    let tell = Refusal::from_reason(&why);
    deny(why, tell)
}

/// A stop that is a denial whatever failmode says (an outage after mfad answered is handled
/// by the caller).
fn stopped(stop: Stop) -> Outcome {
    match stop {
        Stop::Api(ApiError::Refused(why)) => {
            let tell = match Refusal::from_reason(&why) {
                locked @ Refusal::LockedOut(_) => locked,
                _ => Refusal::HostRefused,
            };
            deny(format!("mfad refused: {why}"), tell)
        }
        Stop::Api(ApiError::Unreachable(why)) => {
            deny(format!("mfad unreachable: {why}"), Refusal::Unreachable)
        }
        Stop::OutOfTime => deny(
            "timeout passed before mfad could be asked (a prompt answered too late)",
            Refusal::OutOfTime,
        ),
        Stop::Conversation(e) => deny(format!("conversation failed: {e}"), Refusal::Conversation),
    }
}

#[cfg(test)]
mod tests;
