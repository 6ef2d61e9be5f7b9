//! The API trusted servers call: `POST /v1/preauth`, `POST /v1/auth`, `GET /v1/auth/{txid}`.

use std::net::IpAddr;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use mfa_core::{Method, best_route};
use mfa_store::{App, AuthRequest, RequestState, Server};
use mfa_wire::{
    AuthMethod, AuthResult, AuthStatus, PreauthRequest, PreauthResponse, PreauthResult,
    ServerAuthRequest, ServerAuthResponse,
};
use serde::Deserialize;

use crate::extract::{ApiJson, AuthServer};
use crate::hub::Event;
use crate::login::parse_login;
use crate::push::{self, Login};
use crate::{ApiError, AppState};

/// The longest a status poll may wait.
pub const MAX_WAIT_SECS: u64 = 60;

/// What the gateway decides before any factor is asked for.
enum Gate {
    Allow(String),
    Deny(String),
    Auth(App),
}

fn check_covers(server: &Server, host: &str) -> Result<(), ApiError> {
    if server.covers(host) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "server {} may not ask about host {host}",
            server.name
        )))
    }
}

async fn gate(state: &AppState, login: &Login) -> Result<Gate, ApiError> {
    // Locks first: a user someone reported as "not me" stays out even from a trusted network.
    if let Some(reason) = login.subjects().lock_reason(state).await? {
        return Ok(Gate::Deny(reason));
    }
    let trusted = login
        .client_ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .is_some_and(|ip| mfa_core::in_networks(&state.config.trusted_ip_networks, ip));
    if trusted {
        return Ok(Gate::Allow("trusted network".into()));
    }
    let apps = state.store.apps_for_user(&login.user).await?;
    match best_route(&apps, &login.user, &login.host, &login.service) {
        Some(app) => Ok(Gate::Auth(app.clone())),
        None if apps.is_empty() => Ok(Gate::Deny(format!("unknown user {}", login.user))),
        None => Ok(Gate::Deny(format!(
            "no app for user {} on host {} service {}",
            login.user, login.host, login.service
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

/// Validates the login, checks the server may ask about its host, and runs the gate. An
/// allow or deny at the gate is audited here, under `step`.
async fn admit(
    state: &AppState,
    server: &Server,
    (user, host, service, client_ip): (&str, &str, &str, Option<&str>),
    step: &str,
) -> Result<(Login, Gate), ApiError> {
    let login = parse_login(user, host, service, client_ip, &server.name)?;
    check_covers(server, &login.host)?;
    let gate = gate(state, &login).await?;
    match &gate {
        Gate::Allow(reason) => audit(state, &login, step, "allow", reason).await?,
        Gate::Deny(reason) => audit(state, &login, step, "deny", reason).await?,
        Gate::Auth(_) => {}
    }
    Ok((login, gate))
}

pub async fn preauth(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiJson(body): ApiJson<PreauthRequest>,
) -> Result<Json<PreauthResponse>, ApiError> {
    let fields = (
        &*body.user,
        &*body.host,
        &*body.service,
        body.client_ip.as_deref(),
    );
    let (_, gate) = admit(&state, &server, fields, "preauth").await?;
    let (result, reason, methods) = match gate {
        Gate::Allow(reason) => (PreauthResult::Allow, Some(reason), vec![]),
        Gate::Deny(reason) => (PreauthResult::Deny, Some(reason), vec![]),
        Gate::Auth(app) => (
            PreauthResult::Auth,
            None,
            app.methods.iter().map(|m| m.to_string()).collect(),
        ),
    };
    Ok(Json(PreauthResponse {
        result,
        reason,
        methods,
    }))
}

fn answer(result: AuthResult, reason: impl Into<String>) -> ServerAuthResponse {
    ServerAuthResponse {
        result,
        reason: Some(reason.into()),
        txid: None,
        number: None,
        expires_at: None,
    }
}

pub async fn auth(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    ApiJson(body): ApiJson<ServerAuthRequest>,
) -> Result<Json<ServerAuthResponse>, ApiError> {
    let fields = (
        &*body.user,
        &*body.host,
        &*body.service,
        body.client_ip.as_deref(),
    );
    let (login, app) = match admit(&state, &server, fields, "auth").await? {
        (_, Gate::Allow(reason)) => return Ok(Json(answer(AuthResult::Allow, reason))),
        (_, Gate::Deny(reason)) => return Ok(Json(answer(AuthResult::Deny, reason))),
        (login, Gate::Auth(app)) => (login, app),
    };
    let passcode = body
        .passcode
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let method = match (body.method, passcode) {
        (AuthMethod::Push, _) => Method::Push,
        (AuthMethod::Totp, _) | (AuthMethod::Auto, Some(_)) => Method::Totp,
        (AuthMethod::Auto, None) => Method::Push,
    };
    if !app.methods.contains(method) {
        let reason = format!(
            "method {method} is not allowed for this login (allowed: {})",
            app.methods
        );
        audit(&state, &login, method.as_str(), "deny", &reason).await?;
        return Ok(Json(answer(AuthResult::Deny, reason)));
    }
    match method {
        Method::Totp => {
            let code = passcode
                .ok_or_else(|| ApiError::BadRequest("method totp needs a passcode".into()))?;
            Ok(Json(verify_totp(&state, &login, &app, code).await?))
        }
        Method::Push => {
            let number_matching =
                state.config.number_matching && body.number_matching != Some(false);
            let request =
                push::create(&state, &login, app.id, &app.clients, number_matching).await?;
            Ok(Json(ServerAuthResponse {
                result: AuthResult::Pending,
                reason: None,
                txid: Some(request.txid),
                number: request.number,
                expires_at: Some(request.expires_at.to_string()),
            }))
        }
    }
}

/// A code from any of the app's clients counts; the matched step is burned atomically, so a
/// code works once even when it is submitted many times at once.
async fn verify_totp(
    state: &AppState,
    login: &Login,
    app: &App,
    code: &str,
) -> Result<ServerAuthResponse, ApiError> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    let now = state.clock.now().unix_secs();
    for client in &app.clients {
        let (totp, last) = state.store.client_totp(client).await?;
        let Some(step) = totp.verify(&code, now, state.config.totp.skew, last) else {
            continue;
        };
        if state.store.accept_totp_step(client, step).await? {
            login.subjects().succeeded(state).await?;
            let mut entry = login.audit("totp", "allow", None);
            entry.client = Some(client.to_string());
            state.store.audit(&entry, state.clock.now()).await?;
            return Ok(ServerAuthResponse {
                result: AuthResult::Allow,
                reason: None,
                txid: None,
                number: None,
                expires_at: None,
            });
        }
    }
    let reason = "invalid or already used code";
    login.subjects().failed(state).await?;
    audit(state, login, "totp", "deny", reason).await?;
    Ok(answer(AuthResult::Deny, reason))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaitQuery {
    /// Seconds to wait for a decision (0..=60); 0 or absent answers at once.
    #[serde(default)]
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
    }
}

/// Long poll: answers the moment the push is decided or expires, or after `wait` seconds.
pub async fn auth_status(
    State(state): State<AppState>,
    AuthServer(server): AuthServer,
    Path(txid): Path<String>,
    query: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<AuthStatus>, ApiError> {
    let Query(query) = query?;
    let wait = query.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::BadRequest(format!(
            "wait must be 0..={MAX_WAIT_SECS} seconds, got {wait}"
        )));
    }
    let not_found = || ApiError::NotFound(format!("request {txid} does not exist"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    // Subscribe before the first read, so a decision between read and wait is not missed.
    let mut events = state.hub.subscribe();
    loop {
        let request = match state.store.request(&txid).await {
            Ok(r) if r.server == server.name => r,
            Ok(_) | Err(mfa_store::StoreError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        if request.state == RequestState::Pending && !request.is_open(state.clock.now()) {
            push::expire(&state, &txid).await?;
            continue;
        }
        if request.state != RequestState::Pending || tokio::time::Instant::now() >= deadline {
            return Ok(Json(status(&request)));
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
