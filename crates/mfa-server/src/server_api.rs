//! The API trusted servers call: `POST /v1/preauth`, `POST /v1/stepup`, `POST /v1/auth`,
//! `GET /v1/auth/{txid}`. All of them go through one gate (`crate::policy`), so a login, a
//! step-up and the answer to either are decided by the same policy.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use mfa_core::{Method, Methods};
use mfa_secrets::{TokenHash, recovery_hash};
use mfa_store::{AuthRequest, NewSession, Remember, RequestState, Server};
use mfa_wire::{
    AuthMethod, AuthResult, AuthStatus, PreauthRequest, PreauthResponse, PreauthResult,
    ServerAuthRequest, ServerAuthResponse, StepupRequest,
};
use serde::Deserialize;

use crate::extract::{ApiJson, ApiPath, AuthServer};
use crate::factors;
use crate::hub::Event;
use crate::login::{parse_login, parse_step_up};
use crate::policy::Gate;
use crate::push::{self, Completes, Login};
use crate::{ApiError, AppState};

/// The longest a status poll may wait.
pub const MAX_WAIT_SECS: u64 = 60;

/// Recovery codes left at or below which an answer warns.
const FEW_RECOVERY_CODES: i64 = 3;

fn check_covers(server: &Server, host: &str) -> Result<(), ApiError> {
    match (server.covers(host), host.is_empty()) {
        (true, _) => Ok(()),
        (false, false) => Err(ApiError::Forbidden(format!(
            "server {} may not ask about host {host}",
            server.name
        ))),
        (false, true) => Err(ApiError::Forbidden(format!(
            "server {} may not ask about a step-up without a host (only a server allowed '*' may): name the host",
            server.name
        ))),
    }
}

async fn audit(
    state: &AppState,
    login: &Login,
    method: &str,
    result: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let entry = login.audit(method, result, Some(reason.to_owned()));
    state.store.audit(&entry, state.clock.now()).await?;
    Ok(())
}

/// Checks the server may ask about the login's host and runs the gate. An allow, deny or
/// enroll at the gate is audited here, under `step` (a bypass as `bypass`).
async fn admit(
    state: &AppState,
    server: &Server,
    login: &Login,
    step: &str,
) -> Result<Gate, ApiError> {
    check_covers(server, &login.host)?;
    let gate = crate::policy::gate(state, login).await?;
    match &gate {
        Gate::Allow { reason, bypass } => {
            let result = if *bypass { "bypass" } else { "allow" };
            audit(state, login, step, result, reason).await?;
        }
        Gate::Deny(reason) => audit(state, login, step, "deny", reason).await?,
        Gate::Enroll(reason) => audit(state, login, step, "enroll", reason).await?,
        Gate::Auth { .. } => {}
    }
    Ok(gate)
}

fn names(methods: &[Method]) -> Vec<String> {
    methods.iter().map(|m| m.to_string()).collect()
}

fn preauth_answer(gate: Gate) -> PreauthResponse {
    let (result, reason, methods, required) = match gate {
        Gate::Allow { reason, .. } => (PreauthResult::Allow, Some(reason), vec![], vec![]),
        Gate::Deny(reason) => (PreauthResult::Deny, Some(reason), vec![], vec![]),
        Gate::Enroll(reason) => (PreauthResult::Enroll, Some(reason), vec![], vec![]),
        Gate::Auth {
            methods, required, ..
        } => (PreauthResult::Auth, None, names(&methods), names(&required)),
    };
    PreauthResponse {
        result,
        reason,
        methods,
        required,
    }
}

pub async fn preauth(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiJson(body): ApiJson<PreauthRequest>,
) -> Result<Json<PreauthResponse>, ApiError> {
    let login = parse_login(
        &body.user,
        &body.host,
        &body.service,
        body.client_ip.as_deref(),
        &server.name,
    )?;
    let gate = admit(&state, &server, &login, "preauth").await?;
    Ok(Json(preauth_answer(gate)))
}

/// Just-in-time MFA for a sensitive action: `allow` when no MFA is needed or an elevated
/// session covers it, else the same answers as preauth; `auth` is answered with
/// `POST /v1/auth` and the same `action`.
pub async fn stepup(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiJson(body): ApiJson<StepupRequest>,
) -> Result<Json<PreauthResponse>, ApiError> {
    let login = parse_step_up(
        &body.user,
        &body.action,
        body.host.as_deref(),
        body.client_ip.as_deref(),
        &server.name,
    )?;
    let gate = admit(&state, &server, &login, "stepup").await?;
    Ok(Json(preauth_answer(gate)))
}

fn answer(result: AuthResult, reason: impl Into<String>) -> ServerAuthResponse {
    ServerAuthResponse {
        result,
        reason: Some(reason.into()),
        txid: None,
        number: None,
        expires_at: None,
        warning: None,
        change_password: None,
        elevated_until: None,
    }
}

/// A code as typed: TOTP, or a recovery code (which stands in for push or TOTP).
enum Code<'a> {
    Totp(&'a str),
    Recovery(TokenHash),
}

/// What a `POST /v1/auth` offers: a password, a code, a push.
struct Offer<'a> {
    password: Option<&'a str>,
    new_password: Option<&'a str>,
    code: Option<Code<'a>>,
    push: bool,
}

fn non_empty(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

impl<'a> Offer<'a> {
    fn from_body(body: &'a ServerAuthRequest, required: &[Method]) -> Result<Self, ApiError> {
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
    fn factors(&self, required: &[Method]) -> Vec<Method> {
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
    fn recovery_stands_for(&self, required: &[Method]) -> Method {
        required
            .iter()
            .copied()
            .find(|m| m.is_device() && !(self.push && *m == Method::Push))
            .unwrap_or(Method::Totp)
    }

    /// How the audit log names what was offered: `totp`, `password+push`, `recovery`, ...
    fn label(&self) -> String {
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
    fn mismatch(&self, methods: &[Method], required: &[Method]) -> Option<String> {
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
}

/// How long the elevated session a caller asked for lasts (cut to `max_elevated_session`).
fn remember_secs(state: &AppState, asked: Option<mfa_wire::Remember>) -> Option<u32> {
    let want = match asked {
        None | Some(mfa_wire::Remember::Default(false)) => return None,
        Some(mfa_wire::Remember::Default(true)) => state.config.elevated_session,
        Some(mfa_wire::Remember::Seconds(n)) => n,
    };
    let secs = want.min(state.config.max_elevated_session);
    (secs > 0).then_some(secs)
}

fn join_warnings(w: &[String]) -> Option<String> {
    (!w.is_empty()).then(|| w.join("; "))
}

pub async fn auth(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiJson(body): ApiJson<ServerAuthRequest>,
) -> Result<Json<ServerAuthResponse>, ApiError> {
    let login = match body.action.as_deref() {
        Some(action) => {
            if !body.service.trim().is_empty() {
                return Err(ApiError::BadRequest(
                    "give service (for a login) or action (for a step-up), not both".into(),
                ));
            }
            parse_step_up(
                &body.user,
                action,
                Some(&body.host),
                body.client_ip.as_deref(),
                &server.name,
            )?
        }
        None => parse_login(
            &body.user,
            &body.host,
            &body.service,
            body.client_ip.as_deref(),
            &server.name,
        )?,
    };
    let (methods, required, route) = match admit(&state, &server, &login, "auth").await? {
        Gate::Allow { reason, .. } => return Ok(Json(answer(AuthResult::Allow, reason))),
        Gate::Deny(reason) | Gate::Enroll(reason) => {
            return Ok(Json(answer(AuthResult::Deny, reason)));
        }
        Gate::Auth {
            methods,
            required,
            route,
        } => (methods, required, route),
    };
    let offer = Offer::from_body(&body, &required)?;
    if let Some(reason) = offer.mismatch(&methods, &required) {
        audit(&state, &login, &offer.label(), "deny", &reason).await?;
        return Ok(Json(answer(AuthResult::Deny, reason)));
    }
    let mut verified: Vec<Method> = Vec::new();
    let mut warnings: Vec<String> = Vec::new();
    let mut client = None;
    // 1. The password first: a wrong or expired one ends here, before a code is burned or a
    //    push is sent.
    if let Some(password) = offer.password {
        match factors::check_password(&state, &route, password, offer.new_password).await? {
            Ok(ok) => {
                verified.push(Method::Password);
                warnings.extend(ok.warning);
                client = Some(ok.client);
            }
            Err(refusal) => {
                if refusal.failure {
                    login.subjects().failed(&state).await?;
                }
                audit(&state, &login, "password", "deny", &refusal.reason).await?;
                return Ok(Json(ServerAuthResponse {
                    change_password: refusal.change_password.then_some(true),
                    ..answer(AuthResult::Deny, refusal.reason)
                }));
            }
        }
    }
    // 2. The code.
    match &offer.code {
        Some(Code::Totp(code)) => match factors::check_totp(&state, &route, code).await? {
            Some(c) => {
                verified.push(Method::Totp);
                client = Some(c);
            }
            None => return refuse(&state, &login, "totp", "invalid or already used code").await,
        },
        Some(Code::Recovery(hash)) => match factors::check_recovery(&state, &route, hash).await? {
            Some((c, left)) => {
                tracing::info!(client = %c, left, "recovery code used");
                if left <= FEW_RECOVERY_CODES {
                    warnings.push(format!(
                        "{left} recovery code{} left: ask an admin for new ones (mfac client recovery-codes {c})",
                        if left == 1 { "" } else { "s" }
                    ));
                }
                verified.push(offer.recovery_stands_for(&required));
                client = Some(c);
            }
            None => {
                return refuse(
                    &state,
                    &login,
                    "recovery",
                    "invalid or already used recovery code",
                )
                .await;
            }
        },
        None => {}
    }
    let remember = remember_secs(&state, body.remember).map(|seconds| Remember {
        scope: login.policy_request().scope(),
        seconds,
    });
    // 3. The push, last: its approval completes the login.
    if offer.push {
        let number_matching = state.config.number_matching && body.number_matching != Some(false);
        let factors = if verified.is_empty() {
            None
        } else {
            let all = verified.iter().copied().chain([Method::Push]);
            Some(Methods::new(all).map_err(|e| ApiError::Internal(e.to_string()))?)
        };
        let request = push::create(
            &state,
            &login,
            route.id,
            &route.clients,
            number_matching,
            Completes { factors, remember },
        )
        .await?;
        return Ok(Json(ServerAuthResponse {
            result: AuthResult::Pending,
            reason: None,
            txid: Some(request.txid),
            number: request.number,
            expires_at: Some(request.expires_at.to_string()),
            warning: join_warnings(&warnings),
            change_password: None,
            elevated_until: None,
        }));
    }
    // 4. Everything asked for is verified.
    login.subjects().succeeded(&state).await?;
    let now = state.clock.now();
    let mut entry = login.audit(&offer.label(), "allow", None);
    entry.client = client.map(|c| c.to_string());
    let elevated_until = match &remember {
        Some(m) => {
            let factors = Methods::new(verified.iter().copied())
                .map_err(|e| ApiError::Internal(e.to_string()))?;
            let session = state
                .store
                .create_session(NewSession {
                    user: &login.user,
                    client_ip: login.client_ip.as_deref(),
                    scope: &m.scope,
                    factors: &factors,
                    server: Some(&login.server),
                    txid: None,
                    now,
                    seconds: m.seconds,
                })
                .await?;
            entry.reason = Some(format!(
                "elevated session {} until {}",
                session.id, session.expires_at
            ));
            Some(session.expires_at.to_string())
        }
        None => None,
    };
    state.store.audit(&entry, now).await?;
    Ok(Json(ServerAuthResponse {
        result: AuthResult::Allow,
        reason: None,
        txid: None,
        number: None,
        expires_at: None,
        warning: join_warnings(&warnings),
        change_password: None,
        elevated_until,
    }))
}

/// A wrong secret: counted against the user and address, audited, denied.
async fn refuse(
    state: &AppState,
    login: &Login,
    method: &str,
    reason: &str,
) -> Result<Json<ServerAuthResponse>, ApiError> {
    login.subjects().failed(state).await?;
    audit(state, login, method, "deny", reason).await?;
    Ok(Json(answer(AuthResult::Deny, reason)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait for a decision (0..=60); 0 or absent answers at once.
    #[serde(default)]
    #[param(minimum = 0, maximum = 60)]
    wait: Option<u64>,
}

fn status(r: &AuthRequest) -> AuthStatus {
    AuthStatus {
        txid: r.txid.clone(),
        result: match r.state {
            RequestState::Pending => AuthResult::Pending,
            RequestState::Approved => AuthResult::Allow,
            RequestState::Denied | RequestState::Expired => AuthResult::Deny,
        },
        state: r.state.to_string(),
        reason: r.reason.clone(),
        elevated_until: None,
    }
}

/// The push `txid`, if the asking server made it (another server's push is "not found").
async fn own_request(
    state: &AppState,
    server: &Server,
    txid: &str,
) -> Result<AuthRequest, ApiError> {
    match state.store.request(txid).await {
        Ok(r) if r.server == server.name => Ok(r),
        Ok(_) | Err(mfa_store::StoreError::NotFound(_)) => {
            Err(ApiError::NotFound(format!("request {txid} does not exist")))
        }
        Err(e) => Err(e.into()),
    }
}

/// `DELETE /v1/auth/{txid}`: the server withdraws its own pending push; clients see it
/// withdrawn. A push already decided is left as it is. Answers the push's status.
pub async fn cancel(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiPath(txid): ApiPath<String>,
) -> Result<Json<AuthStatus>, ApiError> {
    let request = own_request(&state, &server, &txid).await?;
    if request.is_open(state.clock.now()) {
        push::cancel(&state, &request).await?;
    }
    Ok(Json(status(&own_request(&state, &server, &txid).await?)))
}

/// Long poll: answers the moment the push is decided or expires, or after `wait` seconds.
pub async fn auth_status(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiPath(txid): ApiPath<String>,
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuthStatus>, ApiError> {
    let Query(query) = query?;
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::BadRequest(format!(
            "wait must be 0..={MAX_WAIT_SECS} seconds, got {wait}"
        )));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    // Subscribe before the first read, so a decision between read and wait is not missed.
    let mut events = state.hub.subscribe();
    loop {
        let request = own_request(&state, &server, &txid).await?;
        if request.state == RequestState::Pending && !request.is_open(state.clock.now()) {
            push::expire(&state, &txid).await?;
            continue;
        }
        if request.state != RequestState::Pending || tokio::time::Instant::now() >= deadline {
            let mut answer = status(&request);
            if request.state == RequestState::Approved && request.remember.is_some() {
                answer.elevated_until = state
                    .store
                    .session_for_txid(&txid)
                    .await?
                    .map(|s| s.expires_at.to_string());
            }
            return Ok(Json(answer));
        }
        // Wake on this push's event, at its expiry, or after a second at most (events are best
        // effort across nodes; the database is the truth).
        let until_expiry = request.expires_at.millis() - state.clock.now().millis();
        let nap = Duration::from_millis(u64::try_from(until_expiry.clamp(0, 1000)).unwrap_or(1000));
        let wake = deadline.min(tokio::time::Instant::now() + nap);
        loop {
            tokio::select! {
                event = events.recv() => match event {
                    Ok(Event::Decided { txid: t }) if t == txid => break,
                    Ok(Event::Resync) | Err(_) => break,
                    Ok(_) => continue,
                },
                _ = tokio::time::sleep_until(wake) => break,
            }
        }
    }
}
