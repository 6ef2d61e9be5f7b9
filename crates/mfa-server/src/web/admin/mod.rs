//! The admin console at `/admin`: admins (`mfac admin add NAME`) sign in with a password and
//! a TOTP code ([`signin`]) and see pending pushes, lockouts (with Clear), clients (with a
//! button for an enrolment link), apps, servers, rules and the audit log ([`console`]).
//!
//! Behind `admin_enabled` (default: on only on a loopback listener or with `[tls]`); off, every
//! `/admin` page answers 404. A session is a random token in the `mfa_admin` cookie
//! (`HttpOnly; SameSite=Strict; Path=/admin`, `Secure` over HTTPS), stored hashed, ending after
//! [`SESSION_SECS`] or at sign-out. Every form carries a CSRF value derived from the session
//! token (the sign-in form: the double-submit cookie of [`super`]), and a cross-origin
//! `Origin` or `Sec-Fetch-Site` is refused. Every admin action is audited (`method` `admin
//! console`, `user` the admin's name).

pub mod console;
pub mod signin;

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfa_core::Alias;
use mfa_secrets::{Token, TokenHash, ct_eq};
use mfa_store::AuditEntry;

use crate::{ApiError, AppState};

use super::{Page, cross_origin};

/// A session lasts this long (a working day), then the admin signs in again.
pub const SESSION_SECS: i64 = 8 * 3600;
/// The session cookie's name.
const SESSION_COOKIE: &str = "mfa_admin";
/// Session tokens look like `mfaa_...`.
const SESSION_PREFIX: &str = "mfaa";

/// A signed-in admin.
pub(crate) struct Signed {
    pub admin: Alias,
    token: String,
}

impl Signed {
    /// The CSRF value of this session's forms: a hash of the session token (which only the
    /// admin's browser holds, in an HttpOnly cookie) under its own label, so it is not the
    /// stored hash of the token.
    pub fn csrf(&self) -> String {
        csrf_of(&self.token)
    }

    /// Whether a form is this session's: its CSRF field matches (constant time) and its
    /// `Origin` / `Sec-Fetch-Site` are this site's.
    pub fn form_is_genuine(
        &self,
        state: &AppState,
        headers: &HeaderMap,
        csrf: Option<&str>,
    ) -> bool {
        let expected = self.csrf();
        let matches = csrf.is_some_and(|c| ct_eq(c.trim().as_bytes(), expected.as_bytes()));
        matches && cross_origin(state, headers).is_none()
    }
}

fn csrf_of(token: &str) -> String {
    TokenHash::of(&format!("admin-csrf:{token}"))
        .as_str()
        .to_owned()
}

/// The session the request's cookie opens, if any.
pub(crate) async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Signed>, ApiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let hash = Token::from_presented(&token).hash();
    let session = state.store.admin_session(&hash, state.clock.now()).await?;
    Ok(session.map(|s| Signed {
        admin: s.admin,
        token,
    }))
}

fn session_token(headers: &HeaderMap) -> Option<String> {
    super::cookie(headers, SESSION_COOKIE)
        .filter(|v| v.starts_with(SESSION_PREFIX) && v.len() < 128)
}

fn session_cookie(state: &AppState, token: &str) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Max-Age={SESSION_SECS}; {}",
        super::cookie_attributes(state, "/admin")
    )
}

fn cleared_session_cookie(state: &AppState) -> String {
    let attributes = super::cookie_attributes(state, "/admin");
    format!("{SESSION_COOKIE}=; Max-Age=0; {attributes}")
}

/// `<site path>/admin` + `rest`, for links and redirects.
fn admin_url(state: &AppState, rest: &str) -> String {
    format!("{}/admin{rest}", super::site_path(state))
}

/// 303 to `location` (a path on this site), with an optional cookie.
fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, value);
    }
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, cookie);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// 404 for every `/admin` page while the console is off.
fn off() -> Response {
    Page::message(
        StatusCode::NOT_FOUND,
        "The admin console is off",
        "This server does not serve the admin console (admin_enabled, or no TLS on a network \
         listener). Use mfac on the server.",
    )
    .into_response()
}

/// 403 for a form that is not the session's own.
fn not_genuine() -> Response {
    Page::message(
        StatusCode::FORBIDDEN,
        "Not accepted",
        "This form was not sent from this console's page (or the session ended). Open the console again.",
    )
    .into_response()
}

/// 403 for a POST without a session.
fn sign_in_first() -> Response {
    Page::message(
        StatusCode::FORBIDDEN,
        "Sign in first",
        "This needs a signed-in admin. Sign in at /admin/login.",
    )
    .into_response()
}

/// Audits what an admin did (or a sign-in's outcome).
async fn audit(
    state: &AppState,
    admin: &str,
    peer: IpAddr,
    result: &str,
    reason: String,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        user: admin.to_owned(),
        client_ip: Some(peer.to_string()),
        method: Some("admin console".into()),
        result: result.into(),
        reason: Some(reason),
        ..AuditEntry::default()
    };
    state.store.audit(&entry, state.clock.now()).await?;
    Ok(())
}
