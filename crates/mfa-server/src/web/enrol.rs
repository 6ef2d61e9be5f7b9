//! The enrolment page: `GET /enrol/{token}` shows a new TOTP secret as a QR code (inline
//! SVG) and as text, and asks for one current code; `POST /enrol/{token}` checks it and, when
//! it matches, makes the secret the client's (with a new client key and recovery codes, shown
//! once) and uses the link up. The link comes from `mfac client add ALIAS --link` or `mfac
//! client enrol-link ALIAS`: single-use, expiring, stored hashed. A wrong token counts against
//! the caller's address; each code typed is counted against the link before it is compared,
//! and a link is dead after [`MAX_ENROL_ATTEMPTS`] codes. CSRF and the page shell: see
//! [`super`].

use std::net::IpAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mfa_core::{Alias, Timestamp};
use mfa_otp::{OtpAuthUri, OtpKind, Secret, Totp};
use mfa_secrets::{RECOVERY_CODES, RecoveryCode, Token, TokenHash};
use mfa_store::{
    AuditEntry, CLIENT_KEY_PREFIX, Confirmation, EnrolLink, LinkClosed, MAX_ENROL_ATTEMPTS,
};
use serde::Deserialize;

use crate::extract::{ApiPath, PeerIp};
use crate::fields::{qr_svg, typed};
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

use super::{LinkCookie, Page, body, cross_origin, readable};

/// The pages' path segment (and their CSRF cookie's path).
const KIND: &str = "enrol";

/// The form: the QR code, the secret, the code field.
#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolForm<'a> {
    alias: &'a str,
    server_name: &'a str,
    qr_svg: Option<String>,
    secret: String,
    uri: String,
    algorithm: String,
    digits: u8,
    period: u32,
    csrf: &'a str,
    error: Option<&'a str>,
    attempts_left: u32,
    expires: String,
}

/// Confirmed: the recovery codes and the terminal client's key, once.
#[derive(Template)]
#[template(path = "enrol_done.html")]
struct EnrolDone<'a> {
    alias: &'a str,
    server_url: String,
    client_key: &'a str,
    recovery_codes: Vec<&'a str>,
    /// A link that registers a passkey for the client (when `host_addr` allows passkeys).
    passkey_url: Option<String>,
}

/// `GET /enrol/{token}`.
#[utoipa::path(
    get,
    path = "/enrol/{token}",
    tag = "enrol",
    operation_id = "enrol_page",
    summary = "The enrolment page",
    description = "A server-rendered HTML page (no scripts, no external assets) for the link `mfac client\n\
        add ALIAS --link` or `mfac client enrol-link ALIAS` printed: a new TOTP secret as a QR\n\
        code (inline SVG) and as text, and a field for one current code from it. Sets the\n\
        double-submit CSRF cookie (`mfa_csrf_<link id>`, `HttpOnly; SameSite=Strict`) the form\n\
        needs. Every answer, errors included, is an HTML page.",
    params(
        ("token" = String, Path, description = "The single-use token of the enrolment link."),
    ),
    responses(
        (status = 200, description = "The page with the QR code and the form.", body = String, content_type = "text/html",
            headers(("Set-Cookie" = String, description = "The CSRF cookie for this link."))),
        (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
        (status = 410, description = "The link was used, expired, or had too many wrong codes.", body = String, content_type = "text/html"),
        (status = 429, description = HTML_LOCKED, body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn page(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
) -> Response {
    let hash = Token::from_presented(&token).hash();
    let (link, secret) = match open_link(&state, peer, &hash).await {
        Ok(found) => found,
        Err(page) => return page.into_response(),
    };
    let cookie = LinkCookie::new(KIND, &token);
    let shown = cookie
        .value_or_new(&headers)
        .and_then(|csrf| Ok((form(&state, &link, &secret, &csrf, None)?, csrf)));
    match shown {
        Ok((html, csrf)) => {
            let mut page = Page::new(StatusCode::OK, "Set up sign-in codes", html);
            page.cookie = Some(cookie.set(&state, link.expires_at, &csrf));
            page.into_response()
        }
        Err(e) => failure(&e).into_response(),
    }
}

/// The form `POST /enrol/{token}` takes; everything optional, so that a missing field gets a
/// page saying so.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = EnrolForm)]
pub struct Answer {
    /// The page's CSRF value (a hidden field); it must match the link's cookie.
    csrf: Option<String>,
    /// A current code from the authenticator app the secret was added to.
    code: Option<String>,
}

/// `POST /enrol/{token}`.
#[utoipa::path(
    post,
    path = "/enrol/{token}",
    tag = "enrol",
    operation_id = "enrol_submit",
    summary = "Confirm the enrolment page's code",
    description = "Checks the code against the page's secret (the attempt is counted first; a link takes\n\
        5 codes). When it matches, the secret becomes the client's TOTP secret (in force from\n\
        now), the client gets a new key and new recovery codes, shown once on the answer, and\n\
        the link is used up. The form's `csrf` must match the page's cookie, and a cross-site\n\
        `Origin` or `Sec-Fetch-Site` is refused. Every answer, errors included, is an HTML page.",
    params(
        ("token" = String, Path, description = "The single-use token of the enrolment link."),
    ),
    request_body(content = Answer, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Confirmed: the recovery codes and the `mfa enroll` command with the new key (the CSRF cookie is cleared).",
            body = String, content_type = "text/html"),
        (status = 400, description = "The form could not be read, has no code, or the code is wrong: the form again, saying so.",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form was sent from another site (`Origin`, `Sec-Fetch-Site`), or its \
            `csrf` does not match the cookie.", body = String, content_type = "text/html"),
        (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
        (status = 410, description = "The link was used, expired, or had too many wrong codes.", body = String, content_type = "text/html"),
        (status = 429, description = HTML_LOCKED, body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn submit(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    ApiPath(token): ApiPath<String>,
    headers: HeaderMap,
    form: Result<Form<Answer>, FormRejection>,
) -> Response {
    let hash = Token::from_presented(&token).hash();
    if let Err(page) = open_link(&state, peer, &hash).await {
        return page.into_response();
    }
    if let Some(why) = cross_origin(&state, &headers) {
        tracing::warn!(%peer, %why, "enrolment form refused: cross-origin");
        return forbidden("This form was sent from another site, so it was not accepted.")
            .into_response();
    }
    let cookie = LinkCookie::new(KIND, &token);
    let answer = match form {
        Ok(Form(answer)) => answer,
        Err(rejection) => {
            let text = format!(
                "The form could not be read ({}). Open the link again.",
                rejection.body_text()
            );
            return Page::message(StatusCode::BAD_REQUEST, "Not understood", &text).into_response();
        }
    };
    if !cookie.matches(&headers, answer.csrf.as_deref()) {
        tracing::warn!(%peer, "enrolment form refused: CSRF check failed");
        return forbidden(
            "This form has expired or was not sent from this page. Open the link again.",
        )
        .into_response();
    }
    let csrf = answer.csrf.as_deref().unwrap_or_default().trim();
    match confirm(&state, peer, &hash, answer.code.as_deref(), csrf).await {
        Ok(mut page) => {
            if page.status == StatusCode::OK {
                page.cookie = Some(cookie.clear(&state));
            }
            page.into_response()
        }
        Err(e) => failure(&e).into_response(),
    }
}

/// Counts the code against the link, compares it, and confirms the enrolment when it
/// matches: the page to show (the form again with what was wrong, or the codes).
async fn confirm(
    state: &AppState,
    peer: IpAddr,
    hash: &TokenHash,
    code: Option<&str>,
    csrf: &str,
) -> Result<Page, ApiError> {
    let code = typed(code.unwrap_or_default());
    if code.is_empty() {
        let Some((link, secret)) = state.store.enrol_link(hash).await? else {
            return Ok(closed_page(None));
        };
        let text = "Type the code your authenticator app shows.";
        return again(state, &link, &secret, csrf, text);
    }
    let now = state.clock.now();
    let Some((link, secret)) = state.store.count_enrol_attempt(hash, now).await? else {
        let link = state.store.enrol_link(hash).await?;
        return Ok(closed_page(link.and_then(|(l, _)| l.closed(now))));
    };
    let totp = Totp {
        secret: secret.clone(),
        params: state.config.totp.params(),
    };
    let Some(step) = totp.verify(&code, now.unix_secs(), state.config.totp.skew, None) else {
        audit(
            state,
            peer,
            &link.client,
            "deny",
            "wrong code on the enrolment page",
        )
        .await?;
        if link.attempts >= MAX_ENROL_ATTEMPTS {
            return Ok(closed_page(Some(LinkClosed::TooManyCodes)));
        }
        let text = "That code is not right. Check that the app shows the account just added, and type its current code.";
        return again(state, &link, &secret, csrf, text);
    };
    finish(state, peer, hash, &link, step, now).await
}

/// The code matched: the new key and recovery codes, stored (hashed) with the seed in force.
async fn finish(
    state: &AppState,
    peer: IpAddr,
    hash: &TokenHash,
    link: &EnrolLink,
    step: u64,
    now: Timestamp,
) -> Result<Page, ApiError> {
    let internal = |e: mfa_secrets::SecretsError| ApiError::Internal(e.to_string());
    let key = Token::generate(CLIENT_KEY_PREFIX).map_err(internal)?;
    let codes = (0..RECOVERY_CODES)
        .map(|_| RecoveryCode::generate())
        .collect::<Result<Vec<_>, _>>()
        .map_err(internal)?;
    let hashes: Vec<TokenHash> = codes.iter().map(RecoveryCode::hash).collect();
    let confirmation = Confirmation {
        step,
        totp: state.config.totp.params(),
        key_hash: &key.hash(),
        recovery_codes: &hashes,
        now,
    };
    if !state.store.confirm_enrolment(hash, confirmation).await? {
        // Another confirmation (or a removal) came first.
        return Ok(closed_page(Some(LinkClosed::Used)));
    }
    // Enrolled: from here on nothing may keep the page from showing the key and codes,
    // which exist nowhere else. A write that fails now is logged instead.
    let reason = "TOTP confirmed on the enrolment page";
    if let Err(e) = audit(state, peer, &link.client, "enrolled", reason).await {
        tracing::error!(client = %link.client, error = %e, "enrolled, but the audit entry was not written");
    }
    tracing::info!(client = %link.client, %peer, "enrolled through an enrolment link");
    let passkey_url = super::passkey::offer_link(state, &link.client)
        .await
        .unwrap_or_else(|e| {
            tracing::error!(client = %link.client, error = %e, "enrolled, but no passkey link was made");
            None
        });
    let done = EnrolDone {
        alias: link.client.as_str(),
        server_url: state.config.host_addr(),
        client_key: key.expose(),
        recovery_codes: codes.iter().map(RecoveryCode::expose).collect(),
        passkey_url,
    };
    Ok(Page::new(StatusCode::OK, "You are set up", body(&done)?))
}

async fn audit(
    state: &AppState,
    peer: IpAddr,
    client: &Alias,
    result: &str,
    reason: &str,
) -> Result<(), ApiError> {
    let entry = AuditEntry {
        client_ip: Some(peer.to_string()),
        method: Some("enrol link".into()),
        client: Some(client.to_string()),
        result: result.into(),
        reason: Some(reason.into()),
        ..AuditEntry::default()
    };
    state.store.audit(&entry, state.clock.now()).await?;
    Ok(())
}

/// The link and its seed while it can be used; otherwise the page to show (404 unknown, with
/// the guess counted against the caller; 410 used, expired or out of attempts; 429 locked).
async fn open_link(
    state: &AppState,
    peer: IpAddr,
    hash: &TokenHash,
) -> Result<(EnrolLink, Secret), Page> {
    let found = state
        .store
        .enrol_link(hash)
        .await
        .map_err(|e| failure(&e.into()))?;
    let Some((link, secret)) = found else {
        let counted = async {
            crate::guard::refuse_locked_caller(state, peer, "enrolment link").await?;
            crate::guard::caller_failed(state, peer, "enrolment link").await
        };
        return Err(match counted.await {
            Ok(()) => failure(&ApiError::NotFound("no such link".into())),
            Err(e) => failure(&e),
        });
    };
    match link.closed(state.clock.now()) {
        Some(why) => Err(closed_page(Some(why))),
        None => Ok((link, secret)),
    }
}

/// The form's body: the QR code of the seed's otpauth:// URI, the secret, the code field.
fn form(
    state: &AppState,
    link: &EnrolLink,
    secret: &Secret,
    csrf: &str,
    error: Option<&str>,
) -> Result<String, ApiError> {
    let params = state.config.totp.params();
    let uri = OtpAuthUri {
        kind: OtpKind::Totp {
            period: params.period,
        },
        issuer: Some("mfa".to_owned()),
        account: format!("{}@{}", link.client, state.config.server_name),
        secret: secret.clone(),
        algorithm: params.algorithm,
        digits: params.digits,
    }
    .to_uri();
    let base32 = secret.to_base32();
    let grouped: Vec<String> = base32
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect();
    body(&EnrolForm {
        alias: link.client.as_str(),
        server_name: &state.config.server_name,
        qr_svg: qr_svg(&uri),
        secret: grouped.join(" "),
        uri,
        algorithm: params.algorithm.to_string(),
        digits: params.digits.get(),
        period: params.period,
        csrf,
        error,
        attempts_left: MAX_ENROL_ATTEMPTS.saturating_sub(link.attempts),
        expires: readable(link.expires_at),
    })
}

/// The form again (400), saying what was wrong.
fn again(
    state: &AppState,
    link: &EnrolLink,
    secret: &Secret,
    csrf: &str,
    error: &str,
) -> Result<Page, ApiError> {
    let html = form(state, link, secret, csrf, Some(error))?;
    Ok(Page::new(
        StatusCode::BAD_REQUEST,
        "Set up sign-in codes",
        html,
    ))
}

/// 410: the link can no longer be used, and why.
fn closed_page(why: Option<LinkClosed>) -> Page {
    let text = match why {
        Some(LinkClosed::Used) | None => {
            "This enrolment link was used already: it works once. Ask your admin for a new one if you need it."
        }
        Some(LinkClosed::Expired) => {
            "This enrolment link has expired. Ask your admin for a new one."
        }
        Some(LinkClosed::TooManyCodes) => {
            "Too many wrong codes were typed on this link, so it no longer works. Ask your admin for a new one."
        }
    };
    Page::message(StatusCode::GONE, "This link no longer works", text)
}

fn forbidden(text: &str) -> Page {
    Page::message(StatusCode::FORBIDDEN, "Not accepted", text)
}

/// A friendly page for an error, with its status.
fn failure(e: &ApiError) -> Page {
    match e {
        ApiError::NotFound(_) => Page::message(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This enrolment link is not valid. Check that it was copied whole.",
        ),
        other => super::approve::failure(other),
    }
}
