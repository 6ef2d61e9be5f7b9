//! The web pages mfad serves: the approve page ([`approve`]) and the enrolment page
//! ([`enrol`]). Rendered on the server from templates compiled into the binary (askama,
//! `templates/`), with inline CSS only: no scripts, no external assets, made for a phone.
//!
//! CSRF: a double-submit cookie (a random value per link, `HttpOnly; SameSite=Strict`,
//! compared in constant time with the form's copy), plus a cross-origin `Origin` or
//! `Sec-Fetch-Site` is refused. (The pages' `Referrer-Policy: no-referrer` makes browsers send
//! `Origin: null` with their own forms, so `null` is left to the cookie check.)

pub mod admin;
pub mod approve;
pub mod approve_passkey;
pub mod device;
pub mod enrol;
pub mod passkey;

use askama::Template;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mfa_core::Timestamp;
use mfa_secrets::{TokenHash, ct_eq, random_id};

use crate::{ApiError, AppState};

/// Sent with every page.
pub(crate) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Sent with a page that runs mfad's own scripts (the passkey page): those, and requests to
/// this site only.
pub(crate) const CSP_WITH_SCRIPTS: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; \
                   style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The CSRF cookie's name is this plus a short id of the link, so pages for two pushes open
/// at once do not overwrite each other's cookie.
const CSRF_COOKIE_PREFIX: &str = "mfa_csrf_";
/// Random bytes in a CSRF value (base32: 52 characters).
const CSRF_BYTES: usize = 32;
const CSRF_LEN: usize = 52;

/// Why a POST is not from this site, if it is not.
pub(crate) fn cross_origin(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("");
        if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
            return Some(format!("Sec-Fetch-Site: {site}"));
        }
    }
    let origin = headers.get(header::ORIGIN)?;
    let origin = origin.to_str().unwrap_or("(not text)");
    if origin == "null" || origin == site_origin(state) {
        None
    } else {
        Some(format!("Origin: {origin}"))
    }
}

/// `host_addr`'s origin (scheme, host, port), as browsers write it in `Origin`.
fn site_origin(state: &AppState) -> String {
    url::Url::parse(&state.config.host_addr())
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The CSRF cookie of one link: its name carries a short id of the link, so that pages of two
/// links open at once do not overwrite each other's cookie; its path is the pages' (`kind`).
struct LinkCookie {
    name: String,
    kind: &'static str,
}

impl LinkCookie {
    fn new(kind: &'static str, token: &str) -> Self {
        let id = TokenHash::of(token.trim());
        Self {
            name: format!(
                "{CSRF_COOKIE_PREFIX}{}",
                id.as_str().get(..16).unwrap_or_default()
            ),
            kind,
        }
    }

    /// The value the browser sent, if it looks like one we set.
    fn value(&self, headers: &HeaderMap) -> Option<String> {
        cookie(headers, &self.name)
            .filter(|v| v.len() == CSRF_LEN && v.bytes().all(|b| b.is_ascii_alphanumeric()))
    }

    /// The value the browser sent, or a new one.
    fn value_or_new(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        match self.value(headers) {
            Some(existing) => Ok(existing),
            None => random_id(CSRF_BYTES).map_err(|e| ApiError::Internal(e.to_string())),
        }
    }

    /// Whether the form's copy matches the cookie (constant time).
    fn matches(&self, headers: &HeaderMap, field: Option<&str>) -> bool {
        match (self.value(headers), field) {
            (Some(cookie), Some(field)) => ct_eq(cookie.as_bytes(), field.trim().as_bytes()),
            _ => false,
        }
    }

    fn attributes(&self, state: &AppState) -> String {
        cookie_attributes(state, &format!("/{}/", self.kind))
    }

    /// Lives as long as the link can be used.
    fn set(&self, state: &AppState, until: Timestamp, value: &str) -> String {
        let left = (until.millis() - state.clock.now().millis()) / 1000 + 1;
        format!(
            "{}={value}; Max-Age={}; {}",
            self.name,
            left.max(1),
            self.attributes(state)
        )
    }

    fn clear(&self, state: &AppState) -> String {
        format!("{}=; Max-Age=0; {}", self.name, self.attributes(state))
    }
}

/// The value of cookie `name` the browser sent, if any.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(found, _)| *found == name)
        .map(|(_, value)| value.trim().to_owned())
}

/// `host_addr`'s path: empty, or e.g. `/mfa` behind a proxy that serves mfad there. Every
/// link and cookie path of the pages starts with it.
pub(crate) fn site_path(state: &AppState) -> String {
    url::Url::parse(&state.config.host_addr())
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default()
}

/// `Path=<site path><path>; HttpOnly; SameSite=Strict`, and `; Secure` over HTTPS.
fn cookie_attributes(state: &AppState, path: &str) -> String {
    let secure = if state.config.host_addr().starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "Path={}{path}; HttpOnly; SameSite=Strict{secure}",
        site_path(state)
    )
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `2026-11-26 09:00:00 UTC`: RFC 3339 is for machines.
pub(crate) fn readable(t: mfa_core::Timestamp) -> String {
    let rfc3339 = t.to_string();
    match rfc3339.strip_suffix('Z') {
        Some(utc) => format!("{} UTC", utc.replacen('T', " ", 1)),
        None => rfc3339,
    }
}

/// One HTML page.
pub(crate) struct Page {
    status: StatusCode,
    title: String,
    /// Trusted HTML (every value in it escaped already).
    body: String,
    pub(crate) cookie: Option<String>,
    /// Seconds after which the browser reloads the page (a meta refresh: no script).
    pub(crate) refresh: Option<u32>,
    /// The page runs mfad's own scripts (`/assets/...`): its CSP allows them.
    pub(crate) scripts: bool,
}

impl Page {
    pub(crate) fn new(status: StatusCode, title: &str, body: String) -> Self {
        Self {
            status,
            title: title.to_owned(),
            body,
            cookie: None,
            refresh: None,
            scripts: false,
        }
    }

    pub(crate) fn message(status: StatusCode, title: &str, text: &str) -> Self {
        let body = format!("<h1>{}</h1>\n<p>{}</p>\n", escape(title), escape(text));
        Self::new(status, title, body)
    }
}

/// The page shell around every page's body.
#[derive(Template)]
#[template(path = "layout.html")]
struct Layout<'a> {
    title: &'a str,
    style: &'a str,
    /// Trusted HTML (rendered by a page's own template, or escaped already).
    body: &'a str,
    refresh: Option<u32>,
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let layout = Layout {
            title: &self.title,
            style: STYLE,
            body: &self.body,
            refresh: self.refresh,
        };
        let html = match layout.render() {
            Ok(html) => html,
            Err(e) => {
                tracing::error!(error = %e, "a page did not render");
                return (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render")
                    .into_response();
            }
        };
        let mut response = (self.status, html).into_response();
        let h = response.headers_mut();
        for (name, value) in [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                if self.scripts { CSP_WITH_SCRIPTS } else { CSP },
            ),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
        if let Some(cookie) = self.cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::SET_COOKIE, cookie);
        }
        response
    }
}

const STYLE: &str = "\
body{margin:0;background:#f3f4f6;color:#16181d;font:18px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}\
main{max-width:28rem;margin:0 auto;padding:1rem 1.25rem 2rem}\
h1{font-size:1.5rem;margin:.75rem 0 1rem}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem;margin:0 0 1.25rem;padding:1rem;background:#fff;border-radius:.75rem}\
dt{color:#5b616b}\
dd{margin:0;font-weight:600;overflow-wrap:anywhere}\
label{display:block;font-weight:600;margin:0 0 .4rem}\
input[name=number]{box-sizing:border-box;width:100%;padding:.5rem;font-size:2rem;text-align:center;letter-spacing:.3em;border:2px solid #8d939b;border-radius:.6rem}\
button{display:block;box-sizing:border-box;width:100%;min-height:3.5rem;margin-top:.9rem;border:0;border-radius:.75rem;font:inherit;font-size:1.25rem;font-weight:700;color:#fff;cursor:pointer}\
.approve{background:#1a7f37}\
.deny{background:#b42318}\
button.fraud{min-height:2.75rem;background:none;color:#b42318;font-size:1rem;font-weight:600;text-decoration:underline}\
.note{color:#5b616b;font-size:.9rem}\
.error{padding:.75rem;background:#fde7e9;color:#8a1c1c;border-radius:.5rem}\
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}\
.qr{margin:0 auto 1rem;max-width:16rem;background:#fff;padding:.5rem;border-radius:.75rem}\
.qr svg{display:block;width:100%;height:auto}\
code{font-family:ui-monospace,Menlo,Consolas,monospace}\
.secret{display:block;padding:.6rem;background:#fff;border-radius:.5rem;font-size:1.05rem;letter-spacing:.05em;overflow-wrap:anywhere}\
input[name=code]{box-sizing:border-box;width:100%;padding:.5rem;font-size:1.75rem;text-align:center;letter-spacing:.2em;border:2px solid #8d939b;border-radius:.6rem}\
.codes{margin:0;padding:.6rem 1rem;list-style:none;background:#fff;border-radius:.5rem;line-height:1.9}\
.codes code{white-space:nowrap;font-size:1.05rem}\
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;padding:.6rem;border-radius:.5rem}\
a{color:#0b57d0}\
:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}\
main:has(.console){max-width:72rem}\
.console header{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:center;justify-content:space-between}\
.console header form button,.console td form button{display:inline;width:auto;min-height:2.5rem;margin:0;padding:.3rem .9rem;font-size:1rem;background:#44546a}\
.scroll{overflow-x:auto;background:#fff;border-radius:.75rem;margin-bottom:1rem}\
table{border-collapse:collapse;width:100%;font-size:.95rem}\
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #e3e5e8;vertical-align:top;overflow-wrap:anywhere}\
th{color:#5b616b;font-weight:600}\
.empty{color:#5b616b;font-style:italic}\
.filters{display:flex;flex-wrap:wrap;gap:.5rem 1rem;align-items:end;margin-bottom:1rem}\
.filters label{margin:0;font-weight:600}\
.filters input,.signin input{box-sizing:border-box;width:100%;padding:.5rem;font:inherit;border:2px solid #8d939b;border-radius:.5rem}\
.filters button{width:auto;min-height:2.75rem;margin:0;padding:.3rem 1.2rem;background:#0b57d0}\
.signin label{margin-top:.9rem}\
a.button{display:block;box-sizing:border-box;width:100%;min-height:3.5rem;padding:.9rem;border-radius:.75rem;background:#1a7f37;color:#fff;font-weight:700;font-size:1.2rem;text-align:center;text-decoration:none}\
.done{padding:.75rem;background:#e6f4ea;color:#0d5223;border-radius:.5rem}";

/// Renders a page's body template; a template that fails (it should not: they are checked at
/// build time) is a 500 page.
pub(crate) fn body(template: &impl Template) -> Result<String, ApiError> {
    template
        .render()
        .map_err(|e| ApiError::Internal(format!("a page template did not render: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_like_times() {
        assert_eq!(
            readable(mfa_core::Timestamp::from_secs(1_795_683_600)),
            "2026-11-26 09:00:00 UTC"
        );
    }

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(escape("tux@linux.example.org"), "tux@linux.example.org");
        assert_eq!(
            escape("\"><img src=x onerror=1>"),
            "&quot;&gt;&lt;img src=x onerror=1&gt;"
        );
    }

    #[tokio::test]
    async fn a_page_escapes_its_title_and_text_and_sends_the_security_headers() {
        let page = Page::message(StatusCode::GONE, "<b>t</b>", "a<br>b").into_response();
        assert_eq!(page.status(), StatusCode::GONE);
        let h = page.headers();
        assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        let body = axum::body::to_bytes(page.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.contains("<title>&#60;b&#62;t&#60;/b&#62; · mfa</title>"),
            "{body}"
        );
        assert!(body.contains("<p>a&lt;br&gt;b</p>"), "{body}");
        assert!(!body.contains("<b>") && !body.contains("<br>"), "{body}");
    }
}
