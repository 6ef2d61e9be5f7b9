//! The web approve page: `GET /approve/{token}` shows a push (user, host, service, client IP,
//! time) with Approve / Deny and a small "this was not me"; `POST /approve/{token}` decides it
//! through [`push::decide`] and shows the outcome.
//!
//! The token is the approve token of one client for one push: single-use, unguessable, dead
//! once the push is decided or expired. Wrong tokens count against the caller's address. CSRF
//! and the page shell: see [`super`].

use std::fmt::Write as _;
use std::net::IpAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mfa_core::Alias;
use mfa_core::push::{FRAUD_REASON, WRONG_NUMBER};
use mfa_store::{AuthRequest, PushState};
use mfa_wire::{ClientDecision, Decision, DecisionResult};
use serde::Deserialize;

use crate::client_api::request_for_token;
use crate::extract::{ApiPath, PeerIp};
use crate::openapi::doc::*;
use crate::push::{self, Channel};
use crate::{ApiError, AppState};

use super::{LinkCookie, Page, cross_origin, escape, readable};

/// The pages' path segment (and their CSRF cookie's path).
const KIND: &str = "approve";

/// `GET /approve/{token}`.
#[utoipa::path(
    get,
    path = "/approve/{token}",
    tag = "approve",
    operation_id = "approve_page",
    summary = "The approve page",
    description = "A server-rendered HTML page (no external assets) showing the push — user, host,\n\
        service, client IP, time — with a number field (when number matching is on), Approve,\n\
        Deny and \"This was not me\". For a client with passkeys, Approve is \"Approve with your\n\
        passkey\" (the page's only script, `/assets/passkey.js`); otherwise no script. Sets the\n\
        double-submit CSRF cookie\n\
        (`mfa_csrf_<link id>`, `HttpOnly; SameSite=Strict`) the form needs. Every answer,\n\
        errors included, is an HTML page.",
    params(
        ("token" = String, Path, description = "The single-use approve token of the link."),
    ),
    responses(
        (status = 200, description = "The page with the form.", body = String, content_type = "text/html",
            headers(("Set-Cookie" = String, description = "The CSRF cookie for this link."))),
        (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
        (status = 410, description = HTML_GONE, body = String, content_type = "text/html"),
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
    let (request, client) = match open_request(&state, peer, &token).await {
        Ok(found) => found,
        Err(page) => return page.into_response(),
    };
    let link = LinkCookie::new(KIND, &token);
    let shown = async {
        let csrf = link.value_or_new(&headers)?;
        let passkey = passkey_button(&state, &client, &token).await?;
        Ok::<_, ApiError>((csrf, passkey))
    };
    let (csrf, passkey) = match shown.await {
        Ok(shown) => shown,
        Err(e) => return failure(&e).into_response(),
    };
    let mut page = Page::new(
        StatusCode::OK,
        "Approve this login?",
        form_body(&state, &request, &csrf, None, passkey.as_ref()),
    );
    page.scripts = passkey.is_some();
    page.cookie = Some(link.set(&state, request.expires_at, &csrf));
    page.into_response()
}

/// The form `POST /approve/{token}` takes. Everything is optional here, so that a missing
/// field gets a page saying so instead of a bare rejection.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = ApproveForm)]
pub struct Answer {
    /// The page's CSRF value (a hidden field); it must match the link's cookie.
    csrf: Option<String>,
    /// `approve`, `deny`, or `fraud` ("this was not me": deny, and lock the user out).
    decision: Option<String>,
    /// The two-digit number shown at the login prompt: needed to approve a push with number
    /// matching.
    number: Option<String>,
}

/// `POST /approve/{token}`.
#[utoipa::path(
    post,
    path = "/approve/{token}",
    tag = "approve",
    operation_id = "approve_submit",
    summary = "Answer the approve page's form",
    description = "Decides the push (like `POST /v1/client/requests/{txid}`) and shows the outcome. The\n\
        form's `csrf` must match the page's cookie, and a cross-site `Origin` or\n\
        `Sec-Fetch-Site` is refused. Every answer, errors included, is an HTML page.",
    params(
        ("token" = String, Path, description = "The single-use approve token of the link."),
    ),
    request_body(content = Answer, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Approved, denied or reported: the outcome page (the CSRF cookie is cleared).",
            body = String, content_type = "text/html"),
        (status = 400, description = "The form could not be read, names no decision, or lacks the number \
            (or has a malformed one) that approving needs: the form again, saying what is missing.",
            body = String, content_type = "text/html"),
        (status = 403, description = "The form was sent from another site (`Origin`, `Sec-Fetch-Site`), or its \
            `csrf` does not match the cookie.", body = String, content_type = "text/html"),
        (status = 404, description = HTML_NOT_FOUND, body = String, content_type = "text/html"),
        (status = 410, description = HTML_GONE, body = String, content_type = "text/html"),
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
    let (request, client) = match open_request(&state, peer, &token).await {
        Ok(found) => found,
        Err(page) => return page.into_response(),
    };
    if let Some(why) = cross_origin(&state, &headers) {
        tracing::warn!(txid = %request.txid, %peer, %why, "approve form refused: cross-origin");
        return forbidden("This form was sent from another site, so it was not accepted.")
            .into_response();
    }
    let link = LinkCookie::new(KIND, &token);
    let answer = match form {
        Ok(Form(answer)) => answer,
        Err(rejection) => {
            return Page::message(
                StatusCode::BAD_REQUEST,
                "Not understood",
                &format!(
                    "The form could not be read ({}). Open the link again.",
                    rejection.body_text()
                ),
            )
            .into_response();
        }
    };
    let csrf_ok = link.matches(&headers, answer.csrf.as_deref());
    if !csrf_ok {
        tracing::warn!(txid = %request.txid, %peer, "approve form refused: CSRF check failed");
        return forbidden(
            "This form has expired or was not sent from this page. Open the link again and answer there.",
        )
        .into_response();
    }
    // From here on the form is genuine: a problem with it shows the form again.
    let csrf = answer.csrf.as_deref().unwrap_or_default().trim().to_owned();
    let passkey = match passkey_button(&state, &client, &token).await {
        Ok(passkey) => passkey,
        Err(e) => return failure(&e).into_response(),
    };
    let again = |error: &str| {
        let mut page = Page::new(
            StatusCode::BAD_REQUEST,
            "Approve this login?",
            form_body(&state, &request, &csrf, Some(error), passkey.as_ref()),
        );
        page.scripts = passkey.is_some();
        page.into_response()
    };
    let answer = match read_answer(&request, &answer) {
        Ok(answer) => answer,
        Err(error) => return again(error),
    };
    if passkey.is_some() && answer.decision == Decision::Approve {
        return again("This client approves with its passkey: use the passkey button.");
    }
    match push::decide(&state, &request, &client, Channel::Link, &answer).await {
        Ok(result) if result.decided => {
            let mut page = outcome(&request, &result);
            page.cookie = Some(link.clear(&state));
            page.into_response()
        }
        Ok(result) => gone_state(&result.state).into_response(),
        Err(ApiError::BadRequest(message)) => again(&message),
        Err(e) => failure(&e).into_response(),
    }
}

/// The decision and number a genuine form holds, or what to tell the person about it.
fn read_answer(request: &AuthRequest, answer: &Answer) -> Result<ClientDecision, &'static str> {
    let decision = match answer.decision.as_deref().map(str::trim) {
        Some("approve") => Decision::Approve,
        Some("deny") => Decision::Deny,
        Some("fraud") => Decision::Fraud,
        _ => return Err("Choose Approve or Deny."),
    };
    let wants_number = request.number.is_some() && decision == Decision::Approve;
    let number = match answer.number.as_deref().map(str::trim).unwrap_or("") {
        "" if wants_number => return Err("Type the number shown at the login prompt to approve."),
        typed if wants_number => match typed.parse::<u8>() {
            Ok(n) if typed.len() <= 2 && typed.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err("Type the two-digit number shown at the login prompt."),
        },
        _ => None,
    };
    Ok(ClientDecision { decision, number })
}

/// The request a link's token belongs to, while it can still be answered; otherwise the
/// page to show (404 unknown, 410 decided or expired, 429 locked out).
async fn open_request(
    state: &AppState,
    peer: IpAddr,
    token: &str,
) -> Result<(AuthRequest, Alias), Page> {
    let (request, client) = request_for_token(state, peer, token)
        .await
        .map_err(|e| failure(&e))?;
    if request.is_open(state.clock.now()) {
        Ok((request, client))
    } else if request.state == PushState::Pending {
        Err(gone_state("expired"))
    } else {
        Err(gone_state(&request.state.to_string()))
    }
}

/// Where the approve page's passkey button sends its requests.
pub(super) struct PasskeyButton {
    options_url: String,
    approve_url: String,
    script_url: String,
}

/// The passkey button, for a client that has passkeys (it then approves only with one).
async fn passkey_button(
    state: &AppState,
    client: &Alias,
    token: &str,
) -> Result<Option<PasskeyButton>, ApiError> {
    if state.store.passkeys(client).await?.is_empty() {
        return Ok(None);
    }
    let base = format!("{}/approve/{}", super::site_path(state), token.trim());
    Ok(Some(PasskeyButton {
        options_url: format!("{base}/passkey/options"),
        approve_url: format!("{base}/passkey"),
        script_url: format!("{}/assets/passkey.js", super::site_path(state)),
    }))
}

/// The request's description and the form.
fn form_body(
    state: &AppState,
    r: &AuthRequest,
    csrf: &str,
    error: Option<&str>,
    passkey: Option<&PasskeyButton>,
) -> String {
    let left = ((r.expires_at.millis() - state.clock.now().millis()) / 1000).max(0);
    let mut html = String::new();
    html.push_str("<h1>Approve this login?</h1>\n");
    if let Some(error) = error {
        let _ = writeln!(
            html,
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(error)
        );
    }
    html.push_str("<dl>\n");
    for (label, value) in [
        ("User", r.user.as_str()),
        ("Host", r.host.as_str()),
        ("Service", r.service.as_str()),
        ("From", r.client_ip.as_deref().unwrap_or("unknown address")),
        ("Details", r.details.as_deref().unwrap_or("")),
        ("Time", &readable(r.created_at)),
        ("Expires", &format!("in {left} s")),
    ]
    .into_iter()
    .filter(|(_, value)| !value.is_empty())
    {
        let _ = writeln!(html, "<dt>{label}</dt><dd>{}</dd>", escape(value));
    }
    html.push_str("</dl>\n<form method=\"post\" autocomplete=\"off\">\n");
    let _ = writeln!(
        html,
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    );
    if r.number.is_some() {
        html.push_str(
            "<label for=\"number\">Number shown at the login prompt</label>\n\
             <input id=\"number\" name=\"number\" type=\"text\" inputmode=\"numeric\" \
             pattern=\"[0-9]{2}\" maxlength=\"2\" required autofocus autocomplete=\"off\">\n",
        );
    }
    match passkey {
        Some(p) => {
            let _ = writeln!(
                html,
                "<button type=\"button\" id=\"approve-passkey\" class=\"approve\" data-options=\"{}\" \
                 data-approve=\"{}\">Approve with your passkey</button>\n\
                 <p id=\"passkey-status\" role=\"status\" aria-live=\"polite\"></p>",
                escape(&p.options_url),
                escape(&p.approve_url)
            );
        }
        None => html.push_str(
            "<button type=\"submit\" name=\"decision\" value=\"approve\" class=\"approve\">Approve</button>\n",
        ),
    }
    html.push_str(
        "<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"deny\" formnovalidate>Deny</button>\n\
         <button type=\"submit\" name=\"decision\" value=\"fraud\" class=\"fraud\" formnovalidate>This was not me: report it</button>\n\
         </form>\n\
         <p class=\"note\">Approve only a login you started yourself, just now. \
         Report it if you did not: the login is denied and the account is locked until an admin clears it.</p>\n",
    );
    if let Some(p) = passkey {
        let _ = writeln!(html, "<script src=\"{}\"></script>", escape(&p.script_url));
    }
    html
}

/// What a decision did.
fn outcome(r: &AuthRequest, result: &DecisionResult) -> Page {
    let who = format!("{} on {} ({})", r.user, r.host, r.service);
    let (title, text) = match (result.state.as_str(), result.reason.as_deref()) {
        ("approved", _) => (
            "Approved",
            format!("The login of {who} goes ahead. You can close this page."),
        ),
        (_, Some(FRAUD_REASON)) => (
            "Reported",
            format!(
                "The login of {who} was denied and {} is locked out until an admin clears it.",
                r.user
            ),
        ),
        (_, Some(WRONG_NUMBER)) => (
            "Denied: wrong number",
            format!(
                "The number did not match the one at the login prompt, so the login of {who} was denied. \
                 If it was you, start the login again."
            ),
        ),
        _ => ("Denied", format!("The login of {who} was denied.")),
    };
    Page::message(StatusCode::OK, title, &text)
}

/// 410 for a push that was decided or expired before this answer.
fn gone_state(state: &str) -> Page {
    let text = match state {
        "approved" => "This login was already approved. The link works once.",
        "denied" => "This login was already denied. The link works once.",
        _ => "This login request has expired. If it was you, start the login again.",
    };
    Page::message(StatusCode::GONE, "This link has been used up", text)
}

fn forbidden(text: &str) -> Page {
    Page::message(StatusCode::FORBIDDEN, "Not accepted", text)
}

/// A friendly page for an error, with its status.
pub(super) fn failure(e: &ApiError) -> Page {
    match e {
        ApiError::NotFound(_) => Page::message(
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This approve link is not valid. Check that it was copied whole.",
        ),
        ApiError::LockedOut(_) => Page::message(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many attempts",
            "Too many invalid links came from your address. Try again later.",
        ),
        ApiError::Unavailable => Page::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again shortly",
            "The server cannot reach its database right now. Try again in a moment.",
        ),
        ApiError::BadRequest(m) => Page::message(StatusCode::BAD_REQUEST, "Not understood", m),
        other => {
            if let ApiError::Internal(detail) = other {
                tracing::error!(%detail, "internal error on the approve page");
            }
            Page::message(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The server could not handle this. Its log has the details.",
            )
        }
    }
}
