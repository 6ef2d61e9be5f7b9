//! Signing in and out of the console. A sign-in needs the admin's password and a current TOTP
//! code; the attempt is counted against the caller's address before either is compared, so a
//! locked address gets 429 and nothing is compared. A wrong name, password or code all get the
//! same answer. The TOTP step is burned with the session's opening (a code works once).

use std::net::IpAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mfa_core::Alias;
use mfa_secrets::{PasswordHash, Token};
use mfa_store::{AdminSession, Attempt, AuditEntry, LockoutChange, Verdict};
use serde::Deserialize;

use crate::extract::PeerIp;
use crate::fields::typed;
use crate::guard;
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

use super::super::{LinkCookie, Page, body, cross_origin};
use super::{
    SESSION_PREFIX, SESSION_SECS, admin_url, cleared_session_cookie, off, see_other,
    session_cookie, session_token, signed_in,
};

/// The sign-in form's CSRF cookie (a double-submit cookie: there is no session yet).
fn login_cookie() -> LinkCookie {
    LinkCookie::new("admin", "sign-in")
}

#[derive(Template)]
#[template(path = "admin_login.html")]
struct SignInForm<'a> {
    csrf: &'a str,
    error: Option<&'a str>,
    name: &'a str,
}

/// `GET /admin/login`.
#[utoipa::path(
    get,
    path = "/admin/login",
    tag = "admin",
    operation_id = "admin_login_page",
    summary = "The console's sign-in page",
    description = "A form for the admin's name, password and a current TOTP code (`mfac admin add NAME`).\n\
        Sets the sign-in form's double-submit CSRF cookie. 404 while the console is off\n\
        (`admin_enabled`). Every answer is an HTML page.",
    responses(
        (status = 200, description = "The sign-in form.", body = String, content_type = "text/html",
            headers(("Set-Cookie" = String, description = "The sign-in form's CSRF cookie."))),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if !state.config.admin_enabled() {
        return off();
    }
    match form(&state, &headers, StatusCode::OK, None, "") {
        Ok(page) => page.into_response(),
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

fn form(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    error: Option<&str>,
    name: &str,
) -> Result<Page, ApiError> {
    let cookie = login_cookie();
    let csrf = cookie.value_or_new(headers)?;
    let html = body(&SignInForm {
        csrf: &csrf,
        error,
        name,
    })?;
    let mut page = Page::new(status, "Sign in · admin", html);
    let until = state.clock.now().plus_secs(3600);
    page.cookie = Some(cookie.set(state, until, &csrf));
    Ok(page)
}

/// The sign-in form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminSignInForm)]
pub struct SignIn {
    /// The form's CSRF value; it must match the sign-in cookie.
    csrf: Option<String>,
    /// The admin's name (`mfac admin add NAME`).
    name: Option<String>,
    password: Option<String>,
    /// A current code from the admin's authenticator app.
    code: Option<String>,
}

/// `POST /admin/login`.
#[utoipa::path(
    post,
    path = "/admin/login",
    tag = "admin",
    operation_id = "admin_login",
    summary = "Sign in to the console",
    description = "Checks the name, password and TOTP code. The attempt counts against the caller's\n\
        address before anything is compared (`max_failed_attempts` per `block_duration`); a\n\
        wrong name, password or code get the same 401 page. Success opens a session: the\n\
        `mfa_admin` cookie (`HttpOnly; SameSite=Strict; Path=/admin`, `Secure` over HTTPS)\n\
        and a 303 to `/admin`. Every sign-in is audited.",
    request_body(content = SignIn, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed in: the session cookie and a redirect to `/admin`.",
            headers(("Set-Cookie" = String, description = "The session cookie."))),
        (status = 400, description = "The form could not be read or misses a field: the form again.", body = String, content_type = "text/html"),
        (status = 401, description = "Wrong name, password or code: the form again.", body = String, content_type = "text/html"),
        (status = 403, description = "The form was sent from another site, or its `csrf` does not match the cookie.", body = String, content_type = "text/html"),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 429, description = HTML_LOCKED, body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: Result<Form<SignIn>, FormRejection>,
) -> Response {
    if !state.config.admin_enabled() {
        return off();
    }
    let Ok(Form(answer)) = form else {
        return again(
            &state,
            &headers,
            StatusCode::BAD_REQUEST,
            "The form could not be read.",
            "",
        );
    };
    let genuine = login_cookie().matches(&headers, answer.csrf.as_deref())
        && cross_origin(&state, &headers).is_none();
    if !genuine {
        tracing::warn!(%peer, "admin sign-in refused: CSRF or cross-origin");
        return super::not_genuine();
    }
    let name = answer.name.as_deref().unwrap_or_default().trim();
    let password = answer.password.as_deref().unwrap_or_default();
    let code = typed(answer.code.as_deref().unwrap_or_default());
    if name.is_empty() || password.is_empty() || code.is_empty() {
        let text = "Type your name, password and the code from your app.";
        return again(&state, &headers, StatusCode::BAD_REQUEST, text, name);
    }
    match sign_in(&state, peer, name, password, &code).await {
        Ok(Some(token)) => see_other(&admin_url(&state, ""), Some(session_cookie(&state, &token))),
        Ok(None) => {
            let text = "That name, password or code is not right.";
            again(&state, &headers, StatusCode::UNAUTHORIZED, text, name)
        }
        Err(ApiError::LockedOut(_)) => Page::message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many wrong sign-ins came from your address. Wait, or clear the lock with mfac lockout clear.",
        )
        .into_response(),
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

fn again(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    text: &str,
    name: &str,
) -> Response {
    match form(state, headers, status, Some(text), name) {
        Ok(page) => page.into_response(),
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

/// Counts the attempt, compares the password and the code, and opens a session: its token,
/// or `None` for a wrong name, password or code (counted, audited).
async fn sign_in(
    state: &AppState,
    peer: IpAddr,
    name: &str,
    password: &str,
    code: &str,
) -> Result<Option<String>, ApiError> {
    let subjects = vec![guard::caller_subject(peer)];
    let now = state.clock.now();
    if let Attempt::Refused(lock) = state
        .store
        .begin_attempt(&subjects, guard::rule(state), now)
        .await?
    {
        return Err(ApiError::LockedOut(lock.message()));
    }
    let opened = match check(state, name, password, code).await? {
        Some((admin, step)) => open_session(state, peer, &admin, step).await?,
        None => None,
    };
    let (result, reason, lockouts) = match &opened {
        Some(_) => ("allow", "signed in", LockoutChange::Success(subjects)),
        None => (
            "deny",
            "wrong name, password or code",
            LockoutChange::AttemptFailed(subjects),
        ),
    };
    let audit = AuditEntry {
        user: name.to_owned(),
        client_ip: Some(peer.to_string()),
        method: Some("admin console".into()),
        result: result.into(),
        reason: Some(format!("admin sign-in: {reason}")),
        ..AuditEntry::default()
    };
    let verdict = Verdict {
        audit,
        lockouts,
        session: None,
    };
    guard::record(state, &verdict).await?;
    Ok(opened)
}

/// The admin and the TOTP step its code matched, when the password and code are right.
async fn check(
    state: &AppState,
    name: &str,
    password: &str,
    code: &str,
) -> Result<Option<(Alias, u64)>, ApiError> {
    let admin = Alias::new(name).ok();
    let params = state.config.totp.params();
    let creds = match &admin {
        Some(admin) => {
            state
                .store
                .admin_credentials(admin.as_str(), params)
                .await?
        }
        None => None,
    };
    // An unknown name costs the same argon2 run as a known one, so the answer's timing does
    // not tell which admin names exist.
    let (hash, typed) = (
        creds.as_ref().map(|c| c.password.clone()),
        password.to_owned(),
    );
    let password_ok = tokio::task::spawn_blocking(move || {
        let hash = hash.map_or_else(unknown_admin_hash, Ok)?;
        Ok::<_, ApiError>(hash.verify(&typed))
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;
    let (Some(admin), Some(creds)) = (admin, creds) else {
        return Ok(None);
    };
    let now = state.clock.now().unix_secs();
    let step = creds
        .totp
        .verify(code, now, state.config.totp.skew, creds.last_step);
    Ok(match (password_ok, step) {
        (true, Some(step)) => Some((admin, step)),
        _ => None,
    })
}

/// A hash no password is checked against for real: made once, with the same argon2 cost.
fn unknown_admin_hash() -> Result<PasswordHash, ApiError> {
    static HASH: std::sync::OnceLock<Option<PasswordHash>> = std::sync::OnceLock::new();
    HASH.get_or_init(|| PasswordHash::new("no admin has this password").ok())
        .clone()
        .ok_or_else(|| ApiError::Internal("cannot make a password hash".into()))
}

/// Burns the step and opens the session; `None` when the step was used meanwhile.
async fn open_session(
    state: &AppState,
    peer: IpAddr,
    admin: &Alias,
    step: u64,
) -> Result<Option<String>, ApiError> {
    let token = Token::generate(SESSION_PREFIX).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let session = AdminSession {
        admin: admin.clone(),
        client_ip: peer.to_string(),
        expires_at: now.plus_secs(SESSION_SECS),
    };
    let opened = state
        .store
        .open_admin_session(admin, step, &token.hash(), &session, now)
        .await?;
    Ok(opened.then(|| token.expose().to_owned()))
}

/// The sign-out form: the session's CSRF value.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCsrfForm)]
pub struct CsrfOnly {
    /// The session's CSRF value (a hidden field of the console's forms).
    csrf: Option<String>,
}

/// `POST /admin/logout`.
#[utoipa::path(
    post,
    path = "/admin/logout",
    tag = "admin",
    operation_id = "admin_logout",
    summary = "Sign out of the console",
    description = "Ends the session (its cookie no longer opens anything) and redirects to the sign-in page.",
    request_body(content = CsrfOnly, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Signed out: the cookie is cleared."),
        (status = 403, description = "No session, or the form is not the session's own.", body = String, content_type = "text/html"),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> Response {
    if !state.config.admin_enabled() {
        return off();
    }
    let signed = match signed_in(&state, &headers).await {
        Ok(Some(signed)) => signed,
        Ok(None) => return super::sign_in_first(),
        Err(e) => return super::super::approve::failure(&e).into_response(),
    };
    let csrf = form.ok().and_then(|Form(f)| f.csrf);
    if !signed.form_is_genuine(&state, &headers, csrf.as_deref()) {
        return super::not_genuine();
    }
    let ended = async {
        let token = session_token(&headers).unwrap_or_default();
        state
            .store
            .end_admin_session(&Token::from_presented(&token).hash())
            .await?;
        super::audit(
            &state,
            signed.admin.as_str(),
            peer,
            "admin",
            "signed out".into(),
        )
        .await
    };
    match ended.await {
        Ok(()) => see_other(
            &admin_url(&state, "/login"),
            Some(cleared_session_cookie(&state)),
        ),
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}
