//! The API trusted servers call: `POST /v1/preauth`, `POST /v1/stepup`, `POST /v1/auth`,
//! `GET /v1/auth/{txid}`. All of them go through one gate (`crate::policy`), so a login, a
//! step-up and the answer to either are decided by the same policy.

use std::time::Duration;

use axum::Json;
use axum::extract::{Query, State};
use mfa_core::Method;
use mfa_core::push::WithdrawReason;
use mfa_secrets::TokenHash;
use mfa_store::{AuthRequest, PushState, Server, Verdict};
use mfa_wire::{
    AuthResult, AuthStatus, PreauthRequest, PreauthResponse, PreauthResult, ServerAuthRequest,
    ServerAuthResponse, StepupRequest,
};
use serde::Deserialize;

use crate::auth_flow::{self, answer};
use crate::extract::{ApiJson, ApiPath, AuthServer};
use crate::login::{Login, parse_login, parse_step_up};
use crate::offer::Offer;
use crate::openapi::doc::*;
use crate::policy::Gate;
use crate::push;
use crate::{ApiError, AppState, guard};

/// The longest a status poll may wait.
pub const MAX_WAIT_SECS: u64 = 60;

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

pub(crate) async fn audit(
    state: &AppState,
    login: &Login,
    method: &str,
    result: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let entry = login.audit(method, result, Some(reason.to_owned()));
    guard::record(state, &Verdict::audit_only(entry)).await?;
    state.metrics.decision(method, result);
    Ok(())
}

/// Checks the server may ask about the login's host and runs the gate. An allow, deny or
/// enroll at the gate is audited here, under `step` (a bypass as `bypass`).
pub(crate) async fn admit(
    state: &AppState,
    server: &Server,
    login: &Login,
    step: &str,
) -> Result<Gate, ApiError> {
    if let Err(refused) = check_covers(server, &login.host) {
        audit(state, login, step, "deny", &refused.to_string()).await?;
        return Err(refused);
    }
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

#[utoipa::path(
    post,
    path = "/v1/preauth",
    tag = "server",
    operation_id = "preauth",
    summary = "May this login go ahead, and how?",
    description = "Runs the policy for (user, host, service, client IP): `allow` (no second factor needed,\n\
        e.g. a trusted network, a bypass account or an elevated session), `deny` (no app for this\n\
        login, a lockout; `reason` says why), `enroll` (MFA is required but the user has no\n\
        suitable factor; `reason` says what to ask an admin for), or `auth` with the `methods` to\n\
        use (any one of them), and `required` when every one of those is needed. Allow, deny and\n\
        enroll are audited.",
    security(("server_token" = [])),
    request_body = mfa_wire::PreauthRequest,
    responses(
        (status = 200, description = "The decision.", body = mfa_wire::PreauthResponse,
            example = json!({"result": "auth", "methods": ["push", "totp"]})),
        (status = 400, description = BAD_JSON, body = ErrorBody),
        (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
        (status = 403, description = HOST_FORBIDDEN, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn preauth(
    State(state): State<AppState>,
    AuthServer(server, _): AuthServer,
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
#[utoipa::path(
    post,
    path = "/v1/stepup",
    tag = "server",
    operation_id = "stepup",
    summary = "May this user do this sensitive action now? (step-up)",
    description = "Just-in-time MFA for an action (`deploy`, `db-write`): the same answers as\n\
        `POST /v1/preauth`; `allow` when no MFA is needed or an elevated session covers it. An\n\
        `auth` answer is answered with `POST /v1/auth` and the same `action`.",
    security(("server_token" = [])),
    request_body = mfa_wire::StepupRequest,
    responses(
        (status = 200, description = "The decision.", body = mfa_wire::PreauthResponse),
        (status = 400, description = BAD_JSON, body = ErrorBody),
        (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
        (status = 403, description = HOST_FORBIDDEN, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn stepup(
    State(state): State<AppState>,
    AuthServer(server, _): AuthServer,
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

#[utoipa::path(
    post,
    path = "/v1/auth",
    tag = "server",
    operation_id = "auth",
    summary = "Check the second factor(s), or send a push",
    description = "For a login (`host`, `service`) or a step-up (`action`). TOTP codes, recovery codes and\n\
        passwords are answered at once: `allow`, or `deny` with a `reason` (a wrong code counts\n\
        against the user and the client IP). A push answers `pending` with a `txid`, the\n\
        `number` to show at the login prompt (number matching) and `expires_at`; poll\n\
        `GET /v1/auth/{txid}` for the decision. Several factors go in one request: the password\n\
        is checked first, then the code, then the push is sent. A refusal by policy (no app, a\n\
        lockout, a method the app does not allow) is a `deny`, not an HTTP error.",
    security(("server_token" = [])),
    request_body = mfa_wire::ServerAuthRequest,
    responses(
        (status = 200, description = "`allow`, `deny`, or `pending` for a push.", body = mfa_wire::ServerAuthResponse,
            example = json!({"result": "pending", "txid": "k3v7q2m9x4w8r6t1", "number": 42, "expires_at": "2026-11-26T09:00:30Z"})),
        (status = 400, description = "`bad_request`: as for every JSON body (not JSON, an unknown field, ...), \
            or the request does not hold together: `method: totp` without a `passcode`, `method: password` \
            without a `password`, `new_password` without `password`, both `service` and `action`, an invalid \
            user, host, service or action name, `remember` over a week. Checked before the policy.", body = ErrorBody),
        (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
        (status = 403, description = HOST_FORBIDDEN, body = ErrorBody),
        (status = 413, description = TOO_LARGE, body = ErrorBody),
        (status = 415, description = NOT_JSON, body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn auth(
    State(state): State<AppState>,
    AuthServer(server, _): AuthServer,
    ApiJson(body): ApiJson<ServerAuthRequest>,
) -> Result<Json<ServerAuthResponse>, ApiError> {
    let login = auth_login(&body, &server.name)?;
    let response = decide(&state, &server, &login, &body, push::Shows::default()).await?;
    Ok(Json(response))
}

/// A `POST /v1/auth` for `login` (or the Duo call that stands for one): the gate, then the
/// factors `body` offers; a push it sends shows `shows`.
pub(crate) async fn decide(
    state: &AppState,
    server: &Server,
    login: &Login,
    body: &ServerAuthRequest,
    shows: push::Shows,
) -> Result<ServerAuthResponse, ApiError> {
    Offer::check(body)?;
    let (methods, required, route) = match admit(state, server, login, "auth").await? {
        Gate::Allow { reason, .. } => return Ok(answer(AuthResult::Allow, reason)),
        Gate::Deny(reason) | Gate::Enroll(reason) => return Ok(answer(AuthResult::Deny, reason)),
        Gate::Auth {
            methods,
            required,
            route,
        } => (methods, required, route),
    };
    let offer = Offer::from_body(body, &required)?;
    let asked = auth_flow::Asked {
        methods: &methods,
        required: &required,
        route: &route,
    };
    auth_flow::run(state, login, &asked, &offer, body, shows).await
}

/// The login (or, with `action`, the step-up) a `POST /v1/auth` is about.
fn auth_login(body: &ServerAuthRequest, server: &str) -> Result<Login, ApiError> {
    match body.action.as_deref() {
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
                server,
            )
        }
        None => parse_login(
            &body.user,
            &body.host,
            &body.service,
            body.client_ip.as_deref(),
            server,
        ),
    }
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WithdrawQuery {
    /// Why the push is withdrawn; clients are shown it. Default `abandoned`.
    #[serde(default)]
    #[param(inline)]
    reason: Option<ServerWithdrawReason>,
}

/// Why a server withdraws its push.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServerWithdrawReason {
    /// A code was typed at the login instead.
    CodeUsed,
    /// The login gave up (timed out, the connection closed).
    Abandoned,
}

impl From<ServerWithdrawReason> for WithdrawReason {
    fn from(r: ServerWithdrawReason) -> Self {
        match r {
            ServerWithdrawReason::CodeUsed => WithdrawReason::CodeUsed,
            ServerWithdrawReason::Abandoned => WithdrawReason::Abandoned,
        }
    }
}

fn status(r: &AuthRequest) -> AuthStatus {
    AuthStatus {
        txid: r.txid.clone(),
        result: match r.state {
            PushState::Pending => AuthResult::Pending,
            PushState::Approved => AuthResult::Allow,
            PushState::Denied | PushState::Expired | PushState::Withdrawn => AuthResult::Deny,
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
/// withdrawn, with the reason. A push already decided is left as it is. Answers the push's
/// status.
#[utoipa::path(
    delete,
    path = "/v1/auth/{txid}",
    tag = "server",
    operation_id = "cancel_auth",
    summary = "Withdraw a pending push",
    description = "The server that sent a push withdraws it (`reason=code_used`: a code was typed instead;\n\
        `reason=abandoned`, the default: the login gave up): its state becomes `withdrawn`\n\
        with reason `withdrawn: a code was used at the login` or `withdrawn: the login gave up`\n\
        (not counted as a failure of the user), and the clients see it withdrawn with that\n\
        reason. A push already decided or expired is left as it is. The answer is the push's\n\
        state afterwards, as for `GET /v1/auth/{txid}`.",
    security(("server_token" = [])),
    params(
        ("txid" = String, Path, description = "The push's transaction id, from `POST /v1/auth`."),
        WithdrawQuery,
    ),
    responses(
        (status = 200, description = "The push's state after the withdrawal.", body = mfa_wire::AuthStatus),
        (status = 400, description = "`bad_request`: an unknown `reason` or query parameter.", body = ErrorBody),
        (status = 401, description = NO_SERVER_TOKEN, body = ErrorBody),
        (status = 404, description = "`not_found`: no such push, or another server's.", body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    AuthServer(server, _): AuthServer,
    ApiPath(txid): ApiPath<String>,
    query: Result<Query<WithdrawQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuthStatus>, ApiError> {
    let Query(query) = query?;
    let request = own_request(&state, &server, &txid).await?;
    if request.is_open(state.clock.now()) {
        let why = query
            .reason
            .map_or(WithdrawReason::Abandoned, WithdrawReason::from);
        push::withdraw(&state, &request, why).await?;
    }
    Ok(Json(status(&own_request(&state, &server, &txid).await?)))
}

/// Long poll: answers the moment the push is decided or expires, or after `wait` seconds; a
/// token rotated or removed meanwhile ends it with 401.
/// How often a waiting long poll reads its push again without an event. Events reach it at
/// once (a notification across nodes); this covers one lost between nodes. Every waiting poll
/// reads this often, so it is what 10,000 waiting polls cost: at 1 s, 70% of a core.
const RECHECK_MILLIS: i64 = 5_000;

#[utoipa::path(
    get,
    path = "/v1/auth/{txid}",
    tag = "server",
    operation_id = "auth_status",
    summary = "Where a push stands (long poll)",
    description = "With `wait=N` it answers the moment the push is approved, denied or expires, or after\n\
        N seconds with `pending`. A push expires (and is denied, reason `timeout`) after the\n\
        server's `auth_timeout`.",
    security(("server_token" = [])),
    params(
        ("txid" = String, Path, description = "The push's transaction id, from `POST /v1/auth`."),
        WaitQuery,
    ),
    responses(
        (status = 200, description = "The push's state.", body = mfa_wire::AuthStatus,
            example = json!({"txid": "k3v7q2m9x4w8r6t1", "result": "allow", "state": "approved"})),
        (status = 400, description = "`bad_request`: `wait` is not a number in 0..=60, or an unknown query parameter.", body = ErrorBody),
        (status = 401, description = "`unauthorized`: a missing or invalid API token, or one rotated or removed while the poll waited.", body = ErrorBody),
        (status = 404, description = "`not_found`: no such push, or another server's.", body = ErrorBody),
        (status = 429, description = LOCKED, body = ErrorBody),
        (status = 500, description = INTERNAL, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody),
    )
)]
pub async fn auth_status(
    State(state): State<AppState>,
    AuthServer(server, token): AuthServer,
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
    let request =
        wait_for_decision(&state, &server, &txid, deadline, Holder::Token(&token)).await?;
    Ok(Json(final_status(&state, &request).await?))
}

/// What a long poll was authorised by, checked again on every revocation: a poll outlives
/// a rotation or a removal.
pub(crate) enum Holder<'a> {
    /// A server's API token.
    Token(&'a TokenHash),
    /// A Duo integration (its skey as it was when the poll began).
    Duo(&'a mfa_store::DuoIntegration),
}

/// The push `txid` of `server`, once it is decided or expires, or at `deadline` (pending).
pub(crate) async fn wait_for_decision(
    state: &AppState,
    server: &Server,
    txid: &str,
    deadline: tokio::time::Instant,
    holder: Holder<'_>,
) -> Result<AuthRequest, ApiError> {
    // Subscribe before the first read, so a decision between read and wait is not missed.
    let mut revocations = state.hub.subscribe();
    let mut decided = state.hub.watch_push(txid);
    let request = own_request(state, server, txid).await?;
    if request.state == PushState::Pending {
        // Somebody waits for it until then: after a restart, pushes nobody waits for go.
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let until = state
            .clock
            .now()
            .plus_secs(i64::try_from(left.as_secs()).unwrap_or(i64::MAX));
        state.store.polled(txid, until).await?;
    }
    loop {
        let request = own_request(state, server, txid).await?;
        if request.state == PushState::Pending && !request.is_open(state.clock.now()) {
            push::expire(state, txid).await?;
            continue;
        }
        if request.state != PushState::Pending || tokio::time::Instant::now() >= deadline {
            return Ok(request);
        }
        // Wake on this push's event, at its expiry, or after RECHECK at most: events are best
        // effort across nodes (the database is the truth), and a lost one costs that long.
        let until_expiry = request.expires_at.millis() - state.clock.now().millis();
        let nap = Duration::from_millis(
            u64::try_from(until_expiry.clamp(0, RECHECK_MILLIS)).unwrap_or(0),
        );
        let wake = deadline.min(tokio::time::Instant::now() + nap);
        tokio::select! {
            // Decided, or events missed: look again.
            _ = decided.recv() => {}
            // A revocation (or events missed, which may have been one).
            _ = revocations.recv() => still_valid(state, server, &holder).await?,
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// The answer for a push that is decided (or that the wait ran out on).
async fn final_status(state: &AppState, request: &AuthRequest) -> Result<AuthStatus, ApiError> {
    let mut answer = status(request);
    if request.state == PushState::Approved && request.remember.is_some() {
        answer.elevated_until = state
            .store
            .session_for_txid(&request.txid)
            .await?
            .map(|s| s.expires_at.to_string());
    }
    Ok(answer)
}

/// A long poll holds its server's token (or Duo integration) while it waits: a token rotated
/// or removed meanwhile, or an integration removed or given a new skey, ends it.
async fn still_valid(
    state: &AppState,
    server: &Server,
    holder: &Holder<'_>,
) -> Result<(), ApiError> {
    let (valid, what) = match holder {
        Holder::Token(token) => (
            state
                .store
                .server_by_token(token)
                .await?
                .is_some_and(|s| s.name == server.name),
            "API token",
        ),
        Holder::Duo(was) => (
            match state.store.duo_integration(&was.name).await {
                Ok(now) => now.ikey == was.ikey && now.skey_rotated_at == was.skey_rotated_at,
                Err(mfa_store::StoreError::NotFound(_)) => false,
                Err(e) => return Err(e.into()),
            },
            "Duo skey",
        ),
    };
    if valid {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(format!(
            "the {what} was revoked while waiting"
        )))
    }
}
