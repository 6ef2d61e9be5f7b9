//! The console's pages: the overview (`GET /admin`: pending pushes, refreshed every few
//! seconds without scripts; lockouts with Clear; clients with a button for an enrolment link;
//! apps, servers, rules; the newest audit entries), the audit log with filters (`GET
//! /admin/audit`), and the two actions (`POST /admin/lockouts/clear`, `POST
//! /admin/enrol-links`), each audited.

use std::net::IpAddr;

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use mfa_core::{Alias, Timestamp};
use mfa_otp::Secret;
use mfa_secrets::Token;
use mfa_store::{AuditEntry, AuditFilter, LockKind, NewEnrolLink};
use serde::Deserialize;

use crate::extract::PeerIp;
use crate::openapi::doc::*;
use crate::{ApiError, AppState};

use super::super::{Page, body, readable};
use super::{Signed, admin_url, not_genuine, off, see_other, sign_in_first, signed_in};

/// The overview refreshes itself this often (a meta refresh: no script), for pending pushes.
const REFRESH_SECS: u32 = 5;
/// Audit entries on the overview; the audit page shows up to [`AUDIT_PAGE`].
const AUDIT_RECENT: i64 = 10;
const AUDIT_PAGE: i64 = 200;
/// How long a link made from the console works.
const LINK_SECS: i64 = 24 * 3600;

/// One audit row, ready to show.
struct AuditRow {
    time: String,
    user: String,
    host: String,
    service: String,
    from: String,
    method: String,
    result: String,
    reason: String,
}

impl From<&AuditEntry> for AuditRow {
    fn from(e: &AuditEntry) -> Self {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            time: e.at.map(readable).unwrap_or_default(),
            user: e.user.clone(),
            host: text(&e.host),
            service: text(&e.service),
            from: text(&e.client_ip),
            method: text(&e.method),
            result: e.result.clone(),
            reason: text(&e.reason),
        }
    }
}

/// A row of any of the overview's small tables: its cells, already text.
struct Row(Vec<String>);

#[derive(Template)]
#[template(path = "admin_home.html")]
struct Home<'a> {
    /// `<base>/admin`: where the forms go.
    base: String,
    admin: &'a str,
    csrf: String,
    audit_url: String,
    pending: Vec<Row>,
    lockouts: Vec<(String, String, Row)>,
    clients: Vec<(String, Row)>,
    apps: Vec<Row>,
    servers: Vec<Row>,
    rules: Vec<Row>,
    audit: Vec<AuditRow>,
}

/// `GET /admin`.
#[utoipa::path(
    get,
    path = "/admin",
    tag = "admin",
    operation_id = "admin_home",
    summary = "The console's overview",
    description = "Pending pushes (the page refreshes itself every 5 s, without scripts), lockouts with\n\
        a Clear button, clients with a button that makes an enrolment link, apps, servers,\n\
        rules and the newest audit entries. Without a session: 303 to `/admin/login`.",
    responses(
        (status = 200, description = "The overview.", body = String, content_type = "text/html"),
        (status = 303, description = "No session: to the sign-in page."),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn home(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed = match session_for_page(&state, &headers).await {
        Ok(signed) => signed,
        Err(response) => return response,
    };
    match overview(&state, &signed).await {
        Ok(mut page) => {
            page.refresh = Some(REFRESH_SECS);
            page.into_response()
        }
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

/// The signed-in admin, or the answer for a page without one (off: 404; no session: 303).
async fn session_for_page(state: &AppState, headers: &HeaderMap) -> Result<Signed, Response> {
    if !state.config.admin_enabled() {
        return Err(off());
    }
    match signed_in(state, headers).await {
        Ok(Some(signed)) => Ok(signed),
        Ok(None) => Err(see_other(&admin_url(state, "/login"), None)),
        Err(e) => Err(super::super::approve::failure(&e).into_response()),
    }
}

async fn overview(state: &AppState, signed: &Signed) -> Result<Page, ApiError> {
    let home = Home {
        base: admin_url(state, ""),
        admin: signed.admin.as_str(),
        csrf: signed.csrf(),
        audit_url: admin_url(state, "/audit"),
        pending: pending_rows(state).await?,
        lockouts: lockout_rows(state).await?,
        clients: client_rows(state).await?,
        apps: app_rows(state).await?,
        servers: server_rows(state).await?,
        rules: rule_rows(state).await?,
        audit: recent_audit(state, &AuditFilter::default(), AUDIT_RECENT).await?,
    };
    Ok(Page::new(StatusCode::OK, "Admin console", body(&home)?))
}

fn names(aliases: &[Alias]) -> String {
    aliases
        .iter()
        .map(Alias::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

async fn pending_rows(state: &AppState) -> Result<Vec<Row>, ApiError> {
    let pending = state.store.pending_requests(state.clock.now()).await?;
    Ok(pending
        .iter()
        .map(|r| {
            Row(vec![
                readable(r.created_at),
                r.user.clone(),
                r.host.clone(),
                r.service.clone(),
                r.client_ip.clone().unwrap_or_default(),
                names(&r.clients),
            ])
        })
        .collect())
}

/// Each lock with the kind and subject its Clear button sends.
async fn lockout_rows(state: &AppState) -> Result<Vec<(String, String, Row)>, ApiError> {
    let locks = state.store.lockouts(state.clock.now()).await?;
    Ok(locks
        .iter()
        .map(|l| {
            let until = l.until.map_or_else(|| "until cleared".to_owned(), readable);
            let row = Row(vec![
                l.kind.to_string(),
                l.subject.clone(),
                until,
                l.reason.clone(),
            ]);
            (l.kind.to_string(), l.subject.clone(), row)
        })
        .collect())
}

/// Each client with the alias its link button sends.
async fn client_rows(state: &AppState) -> Result<Vec<(String, Row)>, ApiError> {
    let clients = state.store.clients().await?;
    Ok(clients
        .iter()
        .map(|c| {
            let totp = if c.totp_active {
                "in force"
            } else {
                "waiting for its link"
            };
            let row = Row(vec![
                c.alias.to_string(),
                totp.to_owned(),
                readable(c.created_at),
            ]);
            (c.alias.to_string(), row)
        })
        .collect())
}

async fn app_rows(state: &AppState) -> Result<Vec<Row>, ApiError> {
    let apps = state.store.apps().await?;
    Ok(apps
        .iter()
        .map(|a| {
            Row(vec![
                a.id.to_string(),
                a.user.to_string(),
                a.host.to_string(),
                a.service.to_string(),
                a.methods.to_string(),
                names(&a.clients),
            ])
        })
        .collect())
}

async fn server_rows(state: &AppState) -> Result<Vec<Row>, ApiError> {
    let servers = state.store.servers().await?;
    Ok(servers
        .iter()
        .map(|s| {
            let hosts: Vec<String> = s.hosts.iter().map(ToString::to_string).collect();
            Row(vec![s.name.clone(), hosts.join(", ")])
        })
        .collect())
}

async fn rule_rows(state: &AppState) -> Result<Vec<Row>, ApiError> {
    let rules = state.store.rules().await?;
    Ok(rules
        .iter()
        .map(|r| {
            let matches = mfa_store::describe_match(&r.subject, &r.host, &r.target);
            Row(vec![r.id.to_string(), matches, r.require.to_string()])
        })
        .collect())
}

/// The newest `limit` entries that `filter` lets through, newest first.
async fn recent_audit(
    state: &AppState,
    filter: &AuditFilter,
    limit: i64,
) -> Result<Vec<AuditRow>, ApiError> {
    let filter = AuditFilter {
        limit: Some(limit),
        ..filter.clone()
    };
    let entries = state.store.audit_entries(&filter).await?;
    Ok(entries.iter().rev().map(AuditRow::from).collect())
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
struct AuditPage<'a> {
    home_url: String,
    user: &'a str,
    since: &'a str,
    result: &'a str,
    error: Option<String>,
    rows: Vec<AuditRow>,
}

/// The audit page's filters (a GET form).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this user's entries (the login user, or the admin for console actions).
    user: Option<String>,
    /// Only entries since this RFC 3339 time (`2026-11-26T09:00:00Z`).
    since: Option<String>,
    /// Only entries with this result (`allow`, `deny`, `approved`, `admin`, ...).
    result: Option<String>,
}

/// `GET /admin/audit`.
#[utoipa::path(
    get,
    path = "/admin/audit",
    tag = "admin",
    operation_id = "admin_audit",
    summary = "The audit log, filtered",
    description = "The newest 200 audit entries that the filters let through, newest first. A malformed\n\
        `since` is shown on the page as an error. Without a session: 303 to `/admin/login`.",
    params(AuditQuery),
    responses(
        (status = 200, description = "The entries and the filter form.", body = String, content_type = "text/html"),
        (status = 303, description = "No session: to the sign-in page."),
        (status = 400, description = "The query could not be read.", body = String, content_type = "text/html"),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn audit(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    if let Err(response) = session_for_page(&state, &headers).await {
        return response;
    }
    let Ok(Query(q)) = query else {
        let text = "The filters could not be read.";
        return Page::message(StatusCode::BAD_REQUEST, "Not understood", text).into_response();
    };
    match audit_page(&state, &q).await {
        Ok(page) => page.into_response(),
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

async fn audit_page(state: &AppState, q: &AuditQuery) -> Result<Page, ApiError> {
    let text = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or_default().to_owned();
    let (user, since, result) = (text(&q.user), text(&q.since), text(&q.result));
    let (since_at, error) = match since.as_str() {
        "" => (None, None),
        s => match Timestamp::parse_rfc3339(s) {
            Ok(t) => (Some(t), None),
            Err(_) => (
                None,
                Some(format!("{s:?} is not a time: use 2026-11-26T09:00:00Z.")),
            ),
        },
    };
    let filter = AuditFilter {
        user: (!user.is_empty()).then(|| user.clone()),
        since: since_at,
        limit: None,
    };
    let mut rows = recent_audit(state, &filter, AUDIT_PAGE).await?;
    if !result.is_empty() {
        rows.retain(|r| r.result == result);
    }
    let page = AuditPage {
        home_url: admin_url(state, ""),
        user: &user,
        since: &since,
        result: &result,
        error,
        rows,
    };
    Ok(Page::new(StatusCode::OK, "Audit log · admin", body(&page)?))
}

/// The Clear button's form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminClearLockoutForm)]
pub struct ClearLockout {
    /// The session's CSRF value.
    csrf: Option<String>,
    /// `user`, `ip` or `caller`.
    kind: Option<String>,
    /// The locked user or address, as listed.
    subject: Option<String>,
}

/// `POST /admin/lockouts/clear`.
#[utoipa::path(
    post,
    path = "/admin/lockouts/clear",
    tag = "admin",
    operation_id = "admin_clear_lockout",
    summary = "Clear a lockout",
    description = "Lifts the lock (and forgets the failures) of one subject, like `mfac lockout clear`;\n\
        audited. Then 303 back to `/admin`.",
    request_body(content = ClearLockout, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 303, description = "Cleared: back to the overview."),
        (status = 400, description = "The form names no lock in force.", body = String, content_type = "text/html"),
        (status = 403, description = "No session, or the form is not the session's own.", body = String, content_type = "text/html"),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn clear_lockout(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: Result<Form<ClearLockout>, FormRejection>,
) -> Response {
    let (signed, form) = match session_and_form(&state, &headers, form, |f| f.csrf.as_deref()).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let kind = form.kind.as_deref().and_then(LockKind::parse);
    let subject = form.subject.as_deref().map(str::trim).unwrap_or_default();
    let Some(kind) = kind.filter(|_| !subject.is_empty()) else {
        let text = "The form names no lock. Open the console again.";
        return Page::message(StatusCode::BAD_REQUEST, "Not understood", text).into_response();
    };
    let cleared = async {
        let cleared = state.store.clear_lockout(kind, subject).await?;
        if cleared {
            let reason = format!("cleared the lockout of {kind} {subject}");
            super::audit(&state, signed.admin.as_str(), peer, "admin", reason).await?;
        }
        Ok::<_, ApiError>(cleared)
    };
    match cleared.await {
        Ok(true) => see_other(&admin_url(&state, ""), None),
        Ok(false) => {
            let text = format!("{kind} {subject} is not locked (any more).");
            Page::message(StatusCode::BAD_REQUEST, "Nothing to clear", &text).into_response()
        }
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

/// The signed-in admin and its form, when the form is the session's own; else the answer.
async fn session_and_form<F>(
    state: &AppState,
    headers: &HeaderMap,
    form: Result<Form<F>, FormRejection>,
    csrf: impl Fn(&F) -> Option<&str>,
) -> Result<(Signed, F), Response> {
    if !state.config.admin_enabled() {
        return Err(off());
    }
    let signed = match signed_in(state, headers).await {
        Ok(Some(signed)) => signed,
        Ok(None) => return Err(sign_in_first()),
        Err(e) => return Err(super::super::approve::failure(&e).into_response()),
    };
    match form {
        Ok(Form(form)) if signed.form_is_genuine(state, headers, csrf(&form)) => Ok((signed, form)),
        _ => Err(not_genuine()),
    }
}

/// The enrolment-link button's form.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminEnrolLinkForm)]
pub struct MakeLink {
    /// The session's CSRF value.
    csrf: Option<String>,
    /// The client to make the link for.
    alias: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_link.html")]
struct LinkMade<'a> {
    alias: &'a str,
    url: String,
    expires: String,
    home_url: String,
}

/// `POST /admin/enrol-links`.
#[utoipa::path(
    post,
    path = "/admin/enrol-links",
    tag = "admin",
    operation_id = "admin_enrol_link",
    summary = "Make an enrolment link for a client",
    description = "Like `mfac client enrol-link ALIAS`: a single-use link that works for 24 hours, shown\n\
        once on the answer; audited.",
    request_body(content = MakeLink, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The link, shown once.", body = String, content_type = "text/html"),
        (status = 400, description = "The form names no client that exists.", body = String, content_type = "text/html"),
        (status = 403, description = "No session, or the form is not the session's own.", body = String, content_type = "text/html"),
        (status = 404, description = "The console is off (`admin_enabled`).", body = String, content_type = "text/html"),
        (status = 500, description = HTML_INTERNAL, body = String, content_type = "text/html"),
        (status = 503, description = HTML_UNAVAILABLE, body = String, content_type = "text/html"),
    )
)]
pub async fn enrol_link(
    State(state): State<AppState>,
    PeerIp(peer): PeerIp,
    headers: HeaderMap,
    form: Result<Form<MakeLink>, FormRejection>,
) -> Response {
    let (signed, form) = match session_and_form(&state, &headers, form, |f| f.csrf.as_deref()).await
    {
        Ok(found) => found,
        Err(response) => return response,
    };
    let alias = form
        .alias
        .as_deref()
        .map(str::trim)
        .and_then(|a| Alias::new(a).ok());
    let Some(alias) = alias else {
        let text = "The form names no client. Open the console again.";
        return Page::message(StatusCode::BAD_REQUEST, "Not understood", text).into_response();
    };
    match make_link(&state, &signed, peer, &alias).await {
        Ok(page) => page.into_response(),
        Err(ApiError::NotFound(_)) => {
            let text = format!("There is no client {alias}.");
            Page::message(StatusCode::BAD_REQUEST, "No such client", &text).into_response()
        }
        Err(e) => super::super::approve::failure(&e).into_response(),
    }
}

async fn make_link(
    state: &AppState,
    signed: &Signed,
    peer: IpAddr,
    alias: &Alias,
) -> Result<Page, ApiError> {
    let internal = |e: mfa_secrets::SecretsError| ApiError::Internal(e.to_string());
    let token = Token::generate(mfa_store::ENROL_TOKEN_PREFIX).map_err(internal)?;
    let seed = Secret::generate_for(state.config.totp.params().algorithm)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = state.clock.now();
    let link = NewEnrolLink {
        token_hash: &token.hash(),
        totp_secret: &seed,
        now,
        expires_at: now.plus_secs(LINK_SECS),
    };
    state.store.add_enrol_link(alias, link).await?;
    let reason = format!("made an enrolment link for client {alias}");
    super::audit(state, signed.admin.as_str(), peer, "admin", reason).await?;
    let made = LinkMade {
        alias: alias.as_str(),
        url: format!("{}/enrol/{}", state.config.host_addr(), token.expose()),
        expires: readable(now.plus_secs(LINK_SECS)),
        home_url: admin_url(state, ""),
    };
    Ok(Page::new(
        StatusCode::OK,
        "Enrolment link · admin",
        body(&made)?,
    ))
}
