//! Duo's calls as mfa logins. preauth and auth go through the same gate, factors, lockouts,
//! audit and push as `POST /v1/preauth` and `POST /v1/auth`; a status poll waits as
//! `GET /v1/auth/{txid}` does. Whatever goes wrong while a login is decided, the answer is a
//! `deny` (HTTP 200): Duo's clients, left at `failmode = safe`, let a login through on a 5xx.

use std::time::Duration;

use mfa_core::Method;
use mfa_core::push::WithdrawReason;
use mfa_duo::Dialect;
use mfa_duo::reply::{Choice, Decision, Preauth, Prompt};
use mfa_store::{AuthRequest, DuoAnswer, DuoLogin, PushState};
use mfa_wire::{AuthMethod, AuthResult, ServerAuthRequest};

use super::call::{DuoCall, DuoFail};
use crate::login::{Login, parse_login};
use crate::policy::Gate;
use crate::push::{self, Shows};
use crate::server_api::{self, Holder};
use crate::{ApiError, AppState};

/// The service Duo's logins are known by in the policy and the audit log: Duo's clients do
/// not say which PAM service they run in.
pub const SERVICE: &str = "duo";
/// How long a preauth's number waits for the auth that follows (the person reads the prompt
/// and answers it).
const NUMBER_KEEP_SECS: i64 = 300;
/// What an approved login is told.
const ALLOWED: &str = "Success. Logging you in...";
/// How long an asynchronous auth's immediate decision is kept for its status poll.
const ANSWER_KEEP_SECS: i64 = 300;

/// The login a call is about: user, host and source address from its parameters.
fn login_of(call: &DuoCall) -> Result<Login, DuoFail> {
    let dialect = call.dialect;
    let user_key = match dialect {
        Dialect::Legacy => "user",
        Dialect::AuthV2 => "username",
    };
    let user = call.required(user_key)?;
    let host = match call.param("hostname")? {
        Some(host) => host.to_owned(),
        // duo_client sends no hostname: the integration's one exact host, if it names one.
        None => only_host(call).ok_or_else(|| {
            DuoFail::param(
                dialect,
                "hostname",
                "is missing (and the integration names more than one host, or a pattern)",
            )
        })?,
    };
    let client_ip = call.param("ipaddr")?;
    parse_login(user, &host, SERVICE, client_ip, &call.server().name).map_err(|e| match e {
        ApiError::BadRequest(why) => DuoFail::param(dialect, user_key, &why),
        other => DuoFail::from_api(dialect, other),
    })
}

fn only_host(call: &DuoCall) -> Option<String> {
    match call.integration.hosts.as_slice() {
        [mfa_core::Pattern::Exact(host)] => Some(host.clone()),
        _ => None,
    }
}

fn duo_login<'a>(call: &'a DuoCall, login: &'a Login) -> DuoLogin<'a> {
    DuoLogin {
        integration: &call.integration.name,
        user: &login.user,
        client_ip: login.client_ip.as_deref(),
    }
}

/// `preauth`: the gate's answer; for `auth`, the prompt, with the number the push will carry.
pub async fn preauth(state: &AppState, call: &DuoCall) -> Result<Preauth, DuoFail> {
    let login = login_of(call)?;
    let gate = match server_api::admit(state, &call.server(), &login, "preauth").await {
        Ok(gate) => gate,
        Err(e) => return Ok(Preauth::Deny(refusal(e))),
    };
    Ok(match gate {
        Gate::Allow { reason, .. } => Preauth::Allow(reason),
        Gate::Deny(reason) => Preauth::Deny(reason),
        Gate::Enroll(reason) => Preauth::Enroll(reason),
        Gate::Auth {
            methods, required, ..
        } => match prompt(state, call, &login, &methods, &required).await {
            Ok(prompt) => Preauth::Auth(prompt),
            Err(e) => Preauth::Deny(refusal(e)),
        },
    })
}

async fn prompt(
    state: &AppState,
    call: &DuoCall,
    login: &Login,
    methods: &[Method],
    required: &[Method],
) -> Result<Prompt, ApiError> {
    // A push only a passkey approves (on its approve page) has no number, and no code
    // stands in for it.
    let passkey = mfa_core::login::passkey_push(methods, required);
    let push = methods.contains(&Method::Push) || passkey;
    let number = if push && !passkey && state.config.number_matching {
        let n = push::new_number()?;
        let until = state.clock.now().plus_secs(NUMBER_KEEP_SECS);
        state
            .store
            .reserve_duo_number(&duo_login(call, login), n, until)
            .await?;
        Some(n)
    } else {
        None
    };
    Ok(Prompt {
        push,
        // A recovery code stands in for a push or a TOTP code.
        passcode: !passkey
            && methods
                .iter()
                .any(|m| matches!(m, Method::Push | Method::Totp)),
        number,
    })
}

/// What an auth answers: a decision, or (`async=1`) the transaction to poll.
pub enum AuthAnswer {
    Decided(Decision),
    Pending(String),
}

/// `auth`: the typed choice checked, or the push sent; a synchronous call waits for it. An
/// asynchronous one always answers a txid (duo_unix polls whatever it is told): a decision
/// made at once (a passcode, a refusal) is kept under one for the status poll.
pub async fn auth(state: &AppState, call: &DuoCall) -> Result<AuthAnswer, DuoFail> {
    let login = login_of(call)?;
    let choice = choice(call)?;
    let asynchronous = call.param("async")? == Some("1");
    let details = call.param("pushinfo")?.map(describe_pushinfo);
    let answer = match decide(state, call, &login, choice, details, asynchronous).await {
        Ok(answer) => answer,
        Err(e) => AuthAnswer::Decided(Decision::Deny(refusal(e))),
    };
    Ok(match answer {
        AuthAnswer::Decided(decision) if asynchronous => match keep(state, call, decision).await {
            Ok(txid) => AuthAnswer::Pending(txid),
            Err(e) => AuthAnswer::Decided(Decision::Deny(refusal(e))),
        },
        answer => answer,
    })
}

async fn keep(state: &AppState, call: &DuoCall, decision: Decision) -> Result<String, ApiError> {
    let answer = match decision {
        Decision::Allow(message) => DuoAnswer {
            allowed: true,
            message,
        },
        Decision::Deny(message) => DuoAnswer {
            allowed: false,
            message,
        },
        Decision::Waiting => DuoAnswer {
            allowed: false,
            message: "not decided".into(),
        },
    };
    let txid = mfa_secrets::random_id(16).map_err(|e| ApiError::Internal(e.to_string()))?;
    let until = state.clock.now().plus_secs(ANSWER_KEEP_SECS);
    state
        .store
        .keep_duo_answer(&txid, &call.integration.name, &answer, until)
        .await?;
    Ok(txid)
}

async fn decide(
    state: &AppState,
    call: &DuoCall,
    login: &Login,
    choice: Choice<'_>,
    details: Option<String>,
    asynchronous: bool,
) -> Result<AuthAnswer, ApiError> {
    // Taken whatever was chosen: a reservation serves one login.
    let number = state
        .store
        .take_duo_number(&duo_login(call, login), state.clock.now())
        .await?;
    let (method, passcode, number_matching) = match choice {
        // Nobody saw a number when the client pushed without showing the prompt.
        Choice::Push { prompted } => (AuthMethod::Push, None, (!prompted).then_some(false)),
        Choice::Passcode(code) => (AuthMethod::Totp, Some(code.to_owned()), None),
        Choice::Unsupported(what) => {
            let why = format!("mfa sends pushes and checks codes; it cannot use {what:?}");
            server_api::audit(state, login, "auth", "deny", &why).await?;
            return Ok(AuthAnswer::Decided(Decision::Deny(why)));
        }
    };
    let body = ServerAuthRequest {
        user: login.user.clone(),
        host: login.host.clone(),
        service: login.service.clone(),
        client_ip: login.client_ip.clone(),
        method,
        passcode,
        number_matching,
        password: None,
        new_password: None,
        remember: None,
        action: None,
    };
    let server = call.server();
    let answer =
        server_api::decide(state, &server, login, &body, Shows { number, details }).await?;
    Ok(match (answer.result, answer.txid) {
        (AuthResult::Allow, _) => AuthAnswer::Decided(Decision::Allow(ALLOWED.into())),
        (AuthResult::Pending, Some(txid)) if asynchronous => AuthAnswer::Pending(txid),
        (AuthResult::Pending, Some(txid)) => AuthAnswer::Decided(wait(state, call, &txid).await?),
        (_, _) => AuthAnswer::Decided(Decision::Deny(
            answer.reason.unwrap_or_else(|| "denied".into()),
        )),
    })
}

/// The person's choice: the legacy `factor=auto&auto=...`, v2's `factor=prompt&prompt=...`,
/// or duo_client's `factor=auto|push|passcode`.
fn choice(call: &DuoCall) -> Result<Choice<'_>, DuoFail> {
    let dialect = call.dialect;
    let factor = call.required("factor")?;
    Ok(match (dialect, factor) {
        (Dialect::Legacy, "auto") => Choice::parse(call.param("auto")?.unwrap_or_default()),
        (Dialect::AuthV2, "prompt") => Choice::parse(call.param("prompt")?.unwrap_or_default()),
        // duo_client's callers get the prompt text but need not show it.
        (Dialect::AuthV2, "auto" | "push") => Choice::Push { prompted: false },
        (Dialect::AuthV2, "passcode") => Choice::Passcode(call.required("passcode")?.trim()),
        (Dialect::AuthV2, "phone" | "sms") => Choice::Unsupported(factor),
        _ => {
            return Err(DuoFail::param(
                dialect,
                "factor",
                "is not one mfa takes (prompt, auto, push or passcode; auto in /rest/v1)",
            ));
        }
    })
}

/// `status` / `auth_status`: the decision, once there is one. It waits for as long as the push
/// can stay open, so every answer carries a result and a client never polls 20 times (duo_unix
/// 1.x lets the login in after 20 answers without one).
pub async fn status(state: &AppState, call: &DuoCall) -> Result<Decision, DuoFail> {
    let txid = call.required("txid")?;
    let now = state.clock.now();
    match state
        .store
        .duo_answer(txid, &call.integration.name, now)
        .await
    {
        Ok(Some(kept)) if kept.allowed => return Ok(Decision::Allow(kept.message)),
        Ok(Some(kept)) => return Ok(Decision::Deny(kept.message)),
        Ok(None) => {}
        Err(e) => return Ok(Decision::Deny(refusal(e.into()))),
    }
    match wait(state, call, txid).await {
        Ok(decision) => Ok(decision),
        Err(ApiError::NotFound(_)) => Err(DuoFail::param(
            call.dialect,
            "txid",
            "is not a transaction of this integration",
        )),
        Err(e) => Ok(Decision::Deny(refusal(e))),
    }
}

async fn wait(state: &AppState, call: &DuoCall, txid: &str) -> Result<Decision, ApiError> {
    let server = call.server();
    // No push stays open longer than auth_timeout; the margin covers a slow expiry.
    let longest = Duration::from_secs(u64::from(state.config.auth_timeout) + 2);
    let deadline = tokio::time::Instant::now() + longest;
    let holder = Holder::Duo(&call.integration);
    let request = server_api::wait_for_decision(state, &server, txid, deadline, holder).await?;
    if request.state == PushState::Pending {
        // Still open past its lifetime (a clock jump): end it rather than answer "waiting".
        push::withdraw(state, &request, WithdrawReason::Abandoned).await?;
        return Ok(Decision::Deny("the push was not answered in time".into()));
    }
    Ok(decision_of(&request))
}

fn decision_of(request: &AuthRequest) -> Decision {
    match request.state {
        PushState::Approved => Decision::Allow(ALLOWED.into()),
        state => Decision::Deny(
            request
                .reason
                .clone()
                .unwrap_or_else(|| format!("login request {state}")),
        ),
    }
}

/// The reason shown for a refusal that came from an error: what it says, never more (an
/// internal error's detail stays in the log).
fn refusal(e: ApiError) -> String {
    if let ApiError::Internal(detail) = &e {
        tracing::error!(%detail, "internal error while deciding a Duo login: denied");
    }
    format!("denied: {e}")
}

/// duo_unix's `pushinfo` (`Server+IP=192.0.2.7&Command=ls%20-l`, itself form-encoded) as the
/// approver reads it: `Server IP: 192.0.2.7, Command: ls -l`. Control characters go, and it is
/// cut to a length a notification can show.
pub fn describe_pushinfo(pushinfo: &str) -> String {
    const MAX_CHARS: usize = 300;
    let pairs = mfa_duo::Params::parse_form(pushinfo.as_bytes()).unwrap_or_default();
    let mut parts = Vec::new();
    for (k, v) in pairs.pairs() {
        let (k, v) = (String::from_utf8_lossy(k), String::from_utf8_lossy(v));
        if !v.trim().is_empty() {
            parts.push(format!("{}: {}", k.trim(), v.trim()));
        }
    }
    let text: String = parts
        .join(", ")
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match text.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::describe_pushinfo;

    #[test]
    fn pushinfo_reads_as_the_approver_sees_it() {
        assert_eq!(
            describe_pushinfo("Server+IP=192.0.2.7&Command=ls%20-l"),
            "Server IP: 192.0.2.7, Command: ls -l"
        );
        assert_eq!(
            describe_pushinfo("Command=&Server+IP=10.0.0.1"),
            "Server IP: 10.0.0.1"
        );
        assert_eq!(describe_pushinfo("Command=a%0Ab"), "Command: a b");
        assert!(describe_pushinfo(&format!("Command={}", "x".repeat(1000))).ends_with("..."));
    }
}
