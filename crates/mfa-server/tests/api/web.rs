//! The web approve page over HTTP (cookies by hand, so every attribute is checked), and in a
//! real browser: Debian's chromium, headless, driven through chromedriver.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::notify::{Receiver, long_poll, state_of};
use crate::support::{Fixture, TestServer, fixture_on, login};
use axum::http::HeaderMap;
use mfa_core::{Alias, FixedClock, Timestamp};
use mfa_secrets::Token;
use mfa_store::{ApproveLink, AuthRequest, PushState};

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A fixture whose pushes go to a webhook receiver, which is how the tests learn the links.
async fn web_fixture(extra: &str, clock: Option<FixedClock>) -> (Fixture, Receiver) {
    let rx = Receiver::start(200).await;
    let config = format!(
        "{extra}\n[notify]\ndefault = \"webhook\"\n[notify.webhook]\nurl = \"{}/hook?link={{approve_url}}\"\n",
        rx.base
    );
    let srv = match clock {
        Some(clock) => TestServer::start_with_clock(&config, Arc::new(clock)).await,
        None => TestServer::start(&config).await,
    };
    (fixture_on(srv).await, rx)
}

pub(crate) struct Push {
    pub txid: String,
    pub number: Option<u64>,
    pub link: String,
}

pub(crate) async fn new_push(f: &Fixture, rx: &Receiver) -> Push {
    let before = rx.hits().len();
    let (status, v) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["result"], "pending", "{v}");
    let hit = rx.wait_for(before + 1).await.remove(before);
    Push {
        txid: v["txid"].as_str().unwrap().to_owned(),
        number: v["number"].as_u64(),
        link: hit.params()["link"].clone(),
    }
}

pub(crate) struct Visit {
    pub status: u16,
    pub headers: HeaderMap,
    pub html: String,
}

impl Visit {
    /// The hidden CSRF field's value.
    pub fn csrf_field(&self) -> String {
        let at = self
            .html
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        let rest = &self.html[at..];
        rest[..rest.find('"').unwrap()].to_owned()
    }

    /// The Set-Cookie header: (name, value, attributes).
    pub fn set_cookie(&self) -> (String, String, Vec<String>) {
        let raw = self.headers["set-cookie"].to_str().unwrap();
        let mut parts = raw.split(';').map(str::trim);
        let (name, value) = parts.next().unwrap().split_once('=').unwrap();
        (
            name.to_owned(),
            value.to_owned(),
            parts.map(str::to_owned).collect(),
        )
    }

    /// `name=value`, to send back.
    pub fn cookie(&self) -> String {
        let (name, value, _) = self.set_cookie();
        format!("{name}={value}")
    }

    pub fn assert_secure_headers(&self) {
        let h = |name: &str| self.headers.get(name).map(|v| v.to_str().unwrap());
        assert_eq!(h("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(h("content-security-policy"), Some(CSP));
        assert_eq!(h("x-frame-options"), Some("DENY"));
        assert_eq!(h("referrer-policy"), Some("no-referrer"));
        assert_eq!(h("cache-control"), Some("no-store"));
        assert!(self.html.starts_with("<!doctype html>"), "{}", self.html);
        assert!(self.html.contains("<meta name=\"viewport\""));
    }
}

pub(crate) async fn visit(srv: &TestServer, link: &str, cookie: Option<&str>) -> Visit {
    let mut req = srv.http.get(link);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    into_visit(req.send().await.unwrap()).await
}

async fn into_visit(resp: reqwest::Response) -> Visit {
    Visit {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

/// POSTs the form as a browser would (form-encoded), with extra headers.
pub(crate) async fn submit(
    srv: &TestServer,
    link: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Visit {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let mut req = srv
        .http
        .post(link)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    into_visit(req.send().await.unwrap()).await
}

#[tokio::test]
async fn approving_on_the_page_answers_the_waiting_long_poll() {
    let (f, rx) = web_fixture("", None).await;
    let p = new_push(&f, &rx).await;
    let number = p.number.unwrap().to_string();

    let page = visit(&f.srv, &p.link, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    page.assert_secure_headers();
    for shown in [
        "<dt>User</dt><dd>tux</dd>",
        "<dt>Host</dt><dd>linux.example.org</dd>",
        "<dt>Service</dt><dd>sshd</dd>",
        "<dt>From</dt><dd>192.0.2.10</dd>",
        "<dt>Time</dt><dd>20",
        " UTC</dd>",
        "name=\"number\"",
        "value=\"approve\"",
        "value=\"deny\"",
        "value=\"fraud\"",
    ] {
        assert!(
            page.html.contains(shown),
            "{shown} missing from {}",
            page.html
        );
    }
    assert!(
        !page.html.contains(&format!(">{number}<")),
        "the page must not show the number"
    );
    assert!(!page.html.contains("<script"), "no scripts");
    let (name, value, attrs) = page.set_cookie();
    assert!(name.starts_with("mfa_csrf_"), "{name}");
    assert_eq!(value, page.csrf_field());
    assert_eq!(value.len(), 52);
    for attr in ["Path=/approve/", "HttpOnly", "SameSite=Strict"] {
        assert!(attrs.iter().any(|a| a == attr), "{attr} missing: {attrs:?}");
    }
    let max_age: i64 = attrs
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=31).contains(&max_age),
        "the cookie lives as long as the push: {max_age}"
    );
    // A reload keeps the same value, so two open tabs both work.
    let reload = visit(&f.srv, &p.link, Some(&page.cookie())).await;
    assert_eq!(reload.csrf_field(), value);

    let poll = long_poll(&f.srv, &f.token, &p.txid);
    f.srv.until_waiting(&p.txid, 1).await;
    let csrf = page.csrf_field();
    let clicked = Instant::now();
    let done = submit(
        &f.srv,
        &p.link,
        Some(&page.cookie()),
        &[
            ("csrf", &csrf),
            ("number", &number),
            ("decision", "approve"),
        ],
        &[("origin", &f.srv.base), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.html);
    done.assert_secure_headers();
    assert!(done.html.contains("<h1>Approved</h1>"), "{}", done.html);
    let (answered, v) = poll.await.unwrap();
    assert_eq!(v["result"], "allow", "{v}");
    let latency = answered.duration_since(clicked);
    eprintln!("web approve -> long poll answer: {latency:?}");
    assert!(latency < Duration::from_millis(500), "{latency:?}");
    // The cookie is cleared, and the link is used up.
    let (_, cleared, attrs) = done.set_cookie();
    assert_eq!(cleared, "");
    assert!(attrs.iter().any(|a| a == "Max-Age=0"), "{attrs:?}");
    let again = visit(&f.srv, &p.link, None).await;
    assert_eq!(again.status, 410, "{}", again.html);
    again.assert_secure_headers();
    assert!(again.html.contains("already approved"), "{}", again.html);
    let resubmit = submit(
        &f.srv,
        &p.link,
        Some(&page.cookie()),
        &[("csrf", &csrf), ("decision", "deny")],
        &[],
    )
    .await;
    assert_eq!(resubmit.status, 410, "{}", resubmit.html);
    assert_eq!(state_of(&f, &p.txid).await["state"], "approved");
}

#[tokio::test]
async fn a_missing_or_wrong_csrf_value_is_refused_and_the_push_stays_pending() {
    let (f, rx) = web_fixture("", None).await;
    let p = new_push(&f, &rx).await;
    let number = p.number.unwrap().to_string();
    let page = visit(&f.srv, &p.link, None).await;
    let csrf = page.csrf_field();
    let cookie = page.cookie();
    let (name, _, _) = page.set_cookie();
    let other = "a".repeat(52);
    let forged_cookie = format!("{name}={other}");
    for (cookie, field) in [
        (None, Some(csrf.as_str())),
        (Some(cookie.as_str()), None),
        (Some(cookie.as_str()), Some(other.as_str())),
        (Some(forged_cookie.as_str()), Some(csrf.as_str())),
        (Some("mfa_csrf_0000000000000000=x"), Some("x")),
    ] {
        let mut form = vec![("number", number.as_str()), ("decision", "approve")];
        if let Some(field) = field {
            form.push(("csrf", field));
        }
        let refused = submit(&f.srv, &p.link, cookie, &form, &[]).await;
        assert_eq!(
            refused.status, 403,
            "{cookie:?} {field:?}: {}",
            refused.html
        );
        refused.assert_secure_headers();
        assert_eq!(state_of(&f, &p.txid).await["state"], "pending");
    }
    let ok = submit(
        &f.srv,
        &p.link,
        Some(&cookie),
        &[
            ("csrf", &csrf),
            ("number", &number),
            ("decision", "approve"),
        ],
        &[],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.html);
    assert_eq!(state_of(&f, &p.txid).await["state"], "approved");
}

#[tokio::test]
async fn a_cross_origin_post_is_refused() {
    let (f, rx) = web_fixture("", None).await;
    let p = new_push(&f, &rx).await;
    let number = p.number.unwrap().to_string();
    let page = visit(&f.srv, &p.link, None).await;
    let csrf = page.csrf_field();
    let form = [
        ("csrf", csrf.as_str()),
        ("number", number.as_str()),
        ("decision", "approve"),
    ];
    for headers in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "http://127.0.0.1:1")][..],
        &[("origin", "https://127.0.0.1")][..],
        &[("sec-fetch-site", "cross-site")][..],
        &[("sec-fetch-site", "same-site")][..],
    ] {
        let refused = submit(&f.srv, &p.link, Some(&page.cookie()), &form, headers).await;
        assert_eq!(refused.status, 403, "{headers:?}: {}", refused.html);
        assert_eq!(state_of(&f, &p.txid).await["state"], "pending");
    }
    // `Origin: null` is what a browser sends from a page with Referrer-Policy: no-referrer;
    // the cookie check decides then.
    let ok = submit(
        &f.srv,
        &p.link,
        Some(&page.cookie()),
        &form,
        &[("origin", "null"), ("sec-fetch-site", "same-origin")],
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.html);
    assert_eq!(state_of(&f, &p.txid).await["state"], "approved");
}

#[tokio::test]
async fn a_wrong_number_denies_and_a_missing_one_asks_again() {
    let (f, rx) = web_fixture("", None).await;
    let p = new_push(&f, &rx).await;
    let number = p.number.unwrap();
    let page = visit(&f.srv, &p.link, None).await;
    let csrf = page.csrf_field();
    let cookie = page.cookie();
    for (typed, why) in [
        ("", "Type the number"),
        ("4x", "two-digit"),
        ("+5", "two-digit"),
        ("123", "two-digit"),
    ] {
        let again = submit(
            &f.srv,
            &p.link,
            Some(&cookie),
            &[("csrf", &csrf), ("number", typed), ("decision", "approve")],
            &[],
        )
        .await;
        assert_eq!(again.status, 400, "{typed:?}: {}", again.html);
        assert!(again.html.contains(why), "{typed:?}: {}", again.html);
        assert!(
            again.html.contains("name=\"number\""),
            "the form is shown again"
        );
        assert_eq!(again.csrf_field(), csrf);
        assert_eq!(state_of(&f, &p.txid).await["state"], "pending");
    }
    let wrong = if number == 99 { 98 } else { number + 1 }.to_string();
    let poll = long_poll(&f.srv, &f.token, &p.txid);
    let denied = submit(
        &f.srv,
        &p.link,
        Some(&cookie),
        &[("csrf", &csrf), ("number", &wrong), ("decision", "approve")],
        &[],
    )
    .await;
    assert_eq!(denied.status, 200, "{}", denied.html);
    assert!(denied.html.contains("wrong number"), "{}", denied.html);
    let (_, v) = poll.await.unwrap();
    assert_eq!(v["result"], "deny");
    assert_eq!(v["reason"], "wrong number");
}

#[tokio::test]
async fn deny_and_not_me_on_the_page() {
    let (f, rx) = web_fixture("number_matching = false", None).await;
    let p = new_push(&f, &rx).await;
    assert_eq!(p.number, None);
    let page = visit(&f.srv, &p.link, None).await;
    assert!(
        !page.html.contains("name=\"number\""),
        "no number without number matching"
    );
    let denied = submit(
        &f.srv,
        &p.link,
        Some(&page.cookie()),
        &[("csrf", &page.csrf_field()), ("decision", "deny")],
        &[],
    )
    .await;
    assert_eq!(denied.status, 200, "{}", denied.html);
    assert!(denied.html.contains("<h1>Denied</h1>"), "{}", denied.html);
    assert_eq!(state_of(&f, &p.txid).await["result"], "deny");

    let p = new_push(&f, &rx).await;
    let page = visit(&f.srv, &p.link, None).await;
    let reported = submit(
        &f.srv,
        &p.link,
        Some(&page.cookie()),
        &[("csrf", &page.csrf_field()), ("decision", "fraud")],
        &[],
    )
    .await;
    assert_eq!(reported.status, 200, "{}", reported.html);
    assert!(
        reported.html.contains("<h1>Reported</h1>"),
        "{}",
        reported.html
    );
    assert!(reported.html.contains("locked out"), "{}", reported.html);
    let (_, v) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(v["result"], "deny", "a reported user is locked out: {v}");
}

#[tokio::test]
async fn expired_and_unknown_links_get_friendly_pages_and_bad_tokens_lock_the_address() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let (f, rx) = web_fixture(
        "auth_timeout = 30\nmax_failed_attempts = 3",
        Some(clock.clone()),
    )
    .await;
    let p = new_push(&f, &rx).await;
    let page = visit(&f.srv, &p.link, None).await;
    assert_eq!(page.status, 200);
    clock.advance_secs(31);
    let gone = visit(&f.srv, &p.link, None).await;
    assert_eq!(gone.status, 410, "{}", gone.html);
    gone.assert_secure_headers();
    assert!(gone.html.contains("expired"), "{}", gone.html);
    let late = submit(
        &f.srv,
        &p.link,
        Some(&page.cookie()),
        &[
            ("csrf", &page.csrf_field()),
            ("number", &p.number.unwrap().to_string()),
            ("decision", "approve"),
        ],
        &[],
    )
    .await;
    assert_eq!(late.status, 410, "{}", late.html);
    assert_ne!(state_of(&f, &p.txid).await["result"], "allow");

    // Unknown tokens: 404 pages, and they count against the caller's address.
    for i in 0..3 {
        let unknown = visit(&f.srv, &f.srv.url(&format!("/approve/mfaa_nope{i}")), None).await;
        assert_eq!(unknown.status, 404, "{}", unknown.html);
        unknown.assert_secure_headers();
        assert!(unknown.html.contains("not valid"), "{}", unknown.html);
    }
    let locked = visit(&f.srv, &f.srv.url("/approve/mfaa_nope"), None).await;
    assert_eq!(locked.status, 429, "{}", locked.html);
    locked.assert_secure_headers();
    let locked = submit(&f.srv, &f.srv.url("/approve/mfaa_nope"), None, &[], &[]).await;
    assert_eq!(locked.status, 429, "{}", locked.html);
}

#[tokio::test]
async fn every_value_on_the_page_is_html_escaped() {
    // The API refuses such names; a row written some other way must still not inject markup.
    let (f, _rx) = web_fixture("", None).await;
    let token = Token::generate("mfaa").unwrap();
    let now = f.srv.now();
    let hostile = "<img src=x onerror=alert(1)>\"'&";
    let request = AuthRequest {
        txid: "hostiletxid".into(),
        user: "tux".into(),
        host: hostile.into(),
        service: "</dd><script>alert(2)</script>".into(),
        client_ip: Some("\"><b>ip</b>".into()),
        server: "ssh-1".into(),
        app_id: 1,
        clients: vec![Alias::new("tux").unwrap()],
        number: Some(42),
        state: PushState::Pending,
        reason: None,
        decided_by: None,
        created_at: now,
        expires_at: now.plus_secs(30),
        decided_at: None,
        factors: None,
        remember: None,
        details: None,
    };
    f.srv
        .state
        .store
        .create_request(
            &request,
            &[ApproveLink {
                token_hash: token.hash(),
                client: Alias::new("tux").unwrap(),
            }],
        )
        .await
        .unwrap();
    let page = visit(
        &f.srv,
        &f.srv.url(&format!("/approve/{}", token.expose())),
        None,
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html
            .contains("<dd>&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;</dd>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<dd>&lt;/dd&gt;&lt;script&gt;alert(2)&lt;/script&gt;</dd>"),
        "{}",
        page.html
    );
    assert!(
        page.html
            .contains("<dd>&quot;&gt;&lt;b&gt;ip&lt;/b&gt;</dd>"),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("<img") && !page.html.contains("<script") && !page.html.contains("<b>")
    );
}

/// The page in a real browser: Debian's chromium, headless, through chromedriver.
pub(crate) mod browser {
    use std::time::{Duration, Instant};

    use fantoccini::Locator;

    pub(crate) use mfa_testkit::browser::{Driver, WIDTH, screenshot};

    use super::{new_push, web_fixture};
    use crate::notify::long_poll;

    #[tokio::test]
    async fn a_browser_types_the_number_and_approves() {
        let driver = Driver::start().await;
        let (f, rx) = web_fixture("", None).await;
        let p = new_push(&f, &rx).await;
        let browser = driver.browser().await;
        browser.goto(&p.link).await.unwrap();
        let number = p.number.unwrap().to_string();
        browser
            .find(Locator::Css("input[name=number]"))
            .await
            .unwrap()
            .send_keys(&number)
            .await
            .unwrap();
        let poll = long_poll(&f.srv, &f.token, &p.txid);
        f.srv.until_waiting(&p.txid, 1).await;
        let approve = browser
            .find(Locator::Css("button[value=approve]"))
            .await
            .unwrap();
        let clicked = Instant::now();
        approve.click().await.unwrap();
        let (answered, v) = poll.await.unwrap();
        let latency = answered.duration_since(clicked);
        eprintln!("browser click -> long poll answer: {latency:?}");
        assert_eq!(v["result"], "allow", "{v}");
        assert!(latency < Duration::from_secs(2), "{latency:?}");
        let heading = browser
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css("h1"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(heading, "Approved");
        browser.close().await.unwrap();
    }

    #[tokio::test]
    async fn the_page_fits_a_phone_screen_with_big_buttons() {
        let driver = Driver::start().await;
        let (f, rx) = web_fixture("", None).await;
        let p = new_push(&f, &rx).await;
        let browser = driver.browser().await;
        browser.goto(&p.link).await.unwrap();
        let size = browser
            .execute(
                "return [window.innerWidth, window.innerHeight, document.documentElement.scrollWidth]",
                vec![],
            )
            .await
            .unwrap();
        let size: Vec<f64> = serde_json::from_value(size).unwrap();
        let (vw, vh, scroll_w) = (size[0], size[1], size[2]);
        assert!(
            (320.0..=f64::from(WIDTH)).contains(&vw),
            "a phone-wide viewport: {size:?}"
        );
        assert!(scroll_w <= vw, "no sideways scrolling: {size:?}");
        for (selector, above_the_fold) in [
            ("input[name=number]", true),
            ("button[value=approve]", true),
            ("button[value=deny]", true),
            ("button[value=fraud]", false),
        ] {
            let el = browser.find(Locator::Css(selector)).await.unwrap();
            assert!(el.is_displayed().await.unwrap(), "{selector} hidden");
            let (x, y, w, h) = el.rectangle().await.unwrap();
            assert!(
                x >= 0.0 && x + w <= vw,
                "{selector} outside the width: {x} {w} of {vw}"
            );
            assert!(h >= 40.0, "{selector} is a small target: {h}px");
            if above_the_fold {
                assert!(y + h <= vh, "{selector} below the fold: {y}+{h} of {vh}");
                assert!(
                    w >= vw * 0.7,
                    "{selector} should span the screen: {w} of {vw}"
                );
            }
        }
        let text = browser
            .find(Locator::Css("main"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for shown in [
            "tux",
            "linux.example.org",
            "sshd",
            "192.0.2.10",
            "Approve",
            "Deny",
        ] {
            assert!(text.contains(shown), "{shown} not shown: {text}");
        }
        screenshot(&browser, "approve-phone.png").await;
        browser.close().await.unwrap();
    }
}
