//! The admin console over HTTP: sign-in with password and TOTP (counted, audited, a code works
//! once), the session cookie's attributes, the overview, clearing a lockout and making an
//! enrolment link (each needs the session's CSRF value and is audited), sign-out, and the
//! console switched off.

use mfa_core::Alias;
use mfa_otp::{Secret, Totp, TotpParams};
use mfa_secrets::PasswordHash;
use mfa_store::{AuditFilter, LockKind};

use crate::support::{TestServer, fixture, login};
use crate::web::{Visit, visit};

const PASSWORD: &str = "correct horse battery staple";

/// Admin `root` with its TOTP generator.
async fn add_admin(srv: &TestServer) -> Totp {
    let secret = Secret::generate(20).unwrap();
    let hash = PasswordHash::new(PASSWORD).unwrap();
    let name = Alias::new("root").unwrap();
    srv.state
        .store
        .add_admin(&name, &hash, &secret, srv.now())
        .await
        .unwrap();
    Totp::new(secret, TotpParams::default())
}

/// A client that does not follow redirects, so 303s are seen.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn get(srv: &TestServer, path: &str, cookie: Option<&str>) -> Visit {
    let mut req = http().get(srv.url(path));
    if let Some(cookie) = cookie {
        req = req.header("cookie", cookie);
    }
    into_visit(req.send().await.unwrap()).await
}

async fn post(srv: &TestServer, path: &str, cookie: &str, form: &[(&str, &str)]) -> Visit {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let resp = http()
        .post(srv.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("cookie", cookie)
        .body(body)
        .send()
        .await
        .unwrap();
    into_visit(resp).await
}

async fn into_visit(resp: reqwest::Response) -> Visit {
    Visit {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        html: resp.text().await.unwrap(),
    }
}

/// Signs in with `password` and `code`: the answer.
async fn sign_in(srv: &TestServer, password: &str, code: &str) -> Visit {
    let page = get(srv, "/admin/login", None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let (csrf, cookie) = (page.csrf_field(), page.cookie());
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "root"),
        ("password", password),
        ("code", code),
    ];
    post(srv, "/admin/login", &cookie, &form).await
}

/// A signed-in session: its cookie (`mfa_admin=...`).
async fn session(srv: &TestServer, totp: &Totp) -> String {
    let done = sign_in(srv, PASSWORD, &totp.code_at(srv.now().unix_secs())).await;
    assert_eq!(done.status, 303, "{}", done.html);
    done.cookie()
}

/// The session's CSRF value, read off the overview's first form.
async fn console_csrf(srv: &TestServer, cookie: &str) -> String {
    let home = get(srv, "/admin", Some(cookie)).await;
    assert_eq!(home.status, 200, "{}", home.html);
    home.csrf_field()
}

async fn audit_reasons(srv: &TestServer) -> Vec<String> {
    let entries = srv
        .state
        .store
        .audit_entries(&AuditFilter::default())
        .await
        .unwrap();
    entries.iter().filter_map(|e| e.reason.clone()).collect()
}

#[tokio::test]
async fn signing_in_needs_the_password_and_a_fresh_code_and_opens_a_session() {
    let f = fixture("").await;
    let totp = add_admin(&f.srv).await;
    let away = get(&f.srv, "/admin", None).await;
    assert_eq!(away.status, 303);
    assert_eq!(away.headers["location"], "/admin/login");

    let now = f.srv.now().unix_secs();
    let wrong = sign_in(&f.srv, "wrong password", &totp.code_at(now)).await;
    assert_eq!(wrong.status, 401, "{}", wrong.html);
    assert!(wrong.html.contains("not right"), "{}", wrong.html);

    let done = sign_in(&f.srv, PASSWORD, &totp.code_at(now)).await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(done.headers["location"], "/admin");
    let (name, value, attributes) = done.set_cookie();
    assert_eq!(name, "mfa_admin");
    assert!(value.starts_with("mfaa_"), "{value}");
    for wanted in [
        "Path=/admin",
        "HttpOnly",
        "SameSite=Strict",
        "Max-Age=28800",
    ] {
        assert!(attributes.iter().any(|a| a == wanted), "{attributes:?}");
    }
    let replay = sign_in(&f.srv, PASSWORD, &totp.code_at(now)).await;
    assert_eq!(replay.status, 401, "a code works once: {}", replay.html);

    // A push waits: the overview shows it, and refreshes itself.
    let (status, v) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert_eq!(
        (status, v["result"].as_str()),
        (200, Some("pending")),
        "{v}"
    );
    let home = get(&f.srv, "/admin", Some(&done.cookie())).await;
    assert_eq!(home.status, 200, "{}", home.html);
    home.assert_secure_headers();
    assert!(
        home.html.contains("Signed in as <strong>root</strong>"),
        "{}",
        home.html
    );
    assert!(home.html.contains("Pending pushes (1)"), "{}", home.html);
    assert!(home.html.contains("<td>192.0.2.10</td>"), "{}", home.html);
    assert!(
        home.html
            .contains("<meta http-equiv=\"refresh\" content=\"5\">")
    );
    let reasons = audit_reasons(&f.srv).await;
    for want in [
        "admin sign-in: wrong name, password or code",
        "admin sign-in: signed in",
    ] {
        assert!(reasons.iter().any(|r| r == want), "{want}: {reasons:?}");
    }
}

#[tokio::test]
async fn clearing_a_lockout_needs_the_sessions_csrf_value_and_is_audited() {
    let f = fixture("").await;
    let totp = add_admin(&f.srv).await;
    let store = &f.srv.state.store;
    store
        .lock_until_cleared(LockKind::User, "tux", "reported as fraud", f.srv.now())
        .await
        .unwrap();
    let cookie = session(&f.srv, &totp).await;
    let home = get(&f.srv, "/admin", Some(&cookie)).await;
    assert!(home.html.contains("Lockouts (1)"), "{}", home.html);
    let form = |csrf: &'static str| [("csrf", csrf), ("kind", "user"), ("subject", "tux")];
    let forged = post(&f.srv, "/admin/lockouts/clear", &cookie, &form("forged")).await;
    assert_eq!(forged.status, 403, "{}", forged.html);
    assert!(
        store
            .lockout(LockKind::User, "tux", f.srv.now())
            .await
            .unwrap()
            .is_some()
    );

    let csrf = console_csrf(&f.srv, &cookie).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("kind", "user"),
        ("subject", "tux"),
    ];
    let cleared = post(&f.srv, "/admin/lockouts/clear", &cookie, &form).await;
    assert_eq!(cleared.status, 303, "{}", cleared.html);
    assert!(
        store
            .lockout(LockKind::User, "tux", f.srv.now())
            .await
            .unwrap()
            .is_none()
    );
    let entries = store.audit_entries(&AuditFilter::default()).await.unwrap();
    let cleared = entries
        .iter()
        .find(|e| e.reason.as_deref() == Some("cleared the lockout of user tux"))
        .expect("the clearing is audited");
    assert_eq!(
        (cleared.user.as_str(), cleared.result.as_str()),
        ("root", "admin")
    );
    let again = post(&f.srv, "/admin/lockouts/clear", &cookie, &form).await;
    assert_eq!(again.status, 400, "nothing left to clear: {}", again.html);
}

#[tokio::test]
async fn an_enrolment_link_made_in_the_console_opens_its_page() {
    let f = fixture("").await;
    let totp = add_admin(&f.srv).await;
    let cookie = session(&f.srv, &totp).await;
    let csrf = console_csrf(&f.srv, &cookie).await;
    let made = post(
        &f.srv,
        "/admin/enrol-links",
        &cookie,
        &[("csrf", &csrf), ("alias", "tux")],
    )
    .await;
    assert_eq!(made.status, 200, "{}", made.html);
    let at = made.html.find("id=\"enrol-url\">").unwrap() + "id=\"enrol-url\">".len();
    let url = &made.html[at..at + made.html[at..].find('<').unwrap()];
    let page = visit(&f.srv, url, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("<strong>tux</strong>"), "{}", page.html);
    let nobody = post(
        &f.srv,
        "/admin/enrol-links",
        &cookie,
        &[("csrf", &csrf), ("alias", "nobody")],
    )
    .await;
    assert_eq!(nobody.status, 400, "{}", nobody.html);
    let reasons = audit_reasons(&f.srv).await;
    assert!(
        reasons
            .iter()
            .any(|r| r == "made an enrolment link for client tux"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn signing_out_ends_the_session_and_wrong_sign_ins_lock_the_address() {
    let srv = TestServer::start("max_failed_attempts = 3").await;
    let totp = add_admin(&srv).await;
    let cookie = session(&srv, &totp).await;
    let csrf = console_csrf(&srv, &cookie).await;
    let out = post(&srv, "/admin/logout", &cookie, &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303, "{}", out.html);
    assert_eq!(
        get(&srv, "/admin", Some(&cookie)).await.status,
        303,
        "the old cookie opens nothing"
    );

    let code = totp.code_at(srv.now().unix_secs() + 30);
    for _ in 0..3 {
        assert_eq!(sign_in(&srv, "wrong", &code).await.status, 401);
    }
    let locked = sign_in(&srv, PASSWORD, &code).await;
    assert_eq!(
        locked.status, 429,
        "not even the right password is compared: {}",
        locked.html
    );
}

#[tokio::test]
async fn a_console_that_is_off_answers_404_everywhere() {
    let srv = TestServer::start("admin_enabled = false").await;
    add_admin(&srv).await;
    for path in ["/admin", "/admin/login", "/admin/audit"] {
        let page = get(&srv, path, None).await;
        assert_eq!(page.status, 404, "{path}: {}", page.html);
        assert!(page.html.contains("admin console is off"), "{}", page.html);
    }
}

#[tokio::test]
async fn the_audit_page_filters_by_user_time_and_result() {
    let f = fixture("").await;
    let totp = add_admin(&f.srv).await;
    let mut body = login("totp");
    body["passcode"] = serde_json::json!(f.wrong_code());
    f.srv.post("/v1/auth", &f.token, &body).await;
    let cookie = session(&f.srv, &totp).await;
    let tux = get(&f.srv, "/admin/audit?user=tux&result=deny", Some(&cookie)).await;
    assert_eq!(tux.status, 200, "{}", tux.html);
    assert!(
        tux.html.contains("<td>tux</td>") && !tux.html.contains("<td>root</td>"),
        "{}",
        tux.html
    );
    let root = get(&f.srv, "/admin/audit?user=root", Some(&cookie)).await;
    assert!(root.html.contains("admin sign-in: signed in") && !root.html.contains("<td>tux</td>"));
    let bad = get(&f.srv, "/admin/audit?since=yesterday", Some(&cookie)).await;
    assert_eq!(bad.status, 200);
    assert!(bad.html.contains("is not a time"), "{}", bad.html);
    let future = get(
        &f.srv,
        "/admin/audit?since=2999-01-01T00:00:00Z",
        Some(&cookie),
    )
    .await;
    assert!(future.html.contains("No entry matches"), "{}", future.html);
}

/// In Debian's chromium: the admin signs in (name, password, a code), sees the audit row of a
/// refused login, and clears that user's lockout with its Clear button. Screenshots go to
/// `$MFA_SCREENSHOT_DIR`.
#[tokio::test]
async fn in_a_browser_the_admin_signs_in_sees_the_audit_row_and_clears_a_lockout() {
    use fantoccini::Locator;
    use std::time::Duration;
    let driver = crate::web::browser::Driver::start().await;
    let f = fixture("").await;
    let totp = add_admin(&f.srv).await;
    let mut body = login("totp");
    body["passcode"] = serde_json::json!(f.wrong_code());
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "deny", "{v}");
    let store = &f.srv.state.store;
    store
        .lock_until_cleared(LockKind::User, "tux", "reported as fraud", f.srv.now())
        .await
        .unwrap();

    let browser = driver.browser().await;
    browser.goto(&f.srv.url("/admin")).await.unwrap();
    let code = totp.code_at(f.srv.now().unix_secs());
    for (id, text) in [
        ("name", "root"),
        ("password", PASSWORD),
        ("code", code.as_str()),
    ] {
        let field = browser.find(Locator::Id(id)).await.unwrap();
        field.send_keys(text).await.unwrap();
    }
    crate::web::browser::screenshot(&browser, "admin-sign-in-phone.png").await;
    browser
        .find(Locator::Id("code"))
        .await
        .unwrap()
        .send_keys("\u{E007}")
        .await
        .unwrap();
    let wait = || browser.wait().at_most(Duration::from_secs(10));
    wait().for_element(Locator::Css("#lockouts")).await.unwrap();
    let text = browser
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("Signed in as root"), "{text}");
    let refused = browser
        .find(Locator::XPath(
            "//h2[@id='audit']/following::table[1]//tr[td[2]='tux'][td[7]='deny']",
        ))
        .await;
    assert!(refused.is_ok(), "the refused login's audit row: {text}");
    browser.set_window_size(1280, 1000).await.unwrap();
    crate::web::browser::screenshot(&browser, "admin-console-desktop.png").await;

    let clear = "button[aria-label='Clear the lockout of user tux']";
    browser
        .find(Locator::Css(clear))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait()
        .for_element(Locator::XPath(
            "//p[@class='empty'][contains(., 'Nothing is locked out')]",
        ))
        .await
        .unwrap();
    assert!(
        store
            .lockout(LockKind::User, "tux", f.srv.now())
            .await
            .unwrap()
            .is_none()
    );
    let reasons = audit_reasons(&f.srv).await;
    assert!(
        reasons
            .iter()
            .any(|r| r == "cleared the lockout of user tux"),
        "{reasons:?}"
    );
    browser.close().await.unwrap();
}

#[tokio::test]
async fn an_unknown_admin_name_gets_the_same_answer_as_a_wrong_password() {
    let srv = TestServer::start("").await;
    let totp = add_admin(&srv).await;
    let code = totp.code_at(srv.now().unix_secs());
    let mut answers = Vec::new();
    for (name, password) in [
        ("nobody", PASSWORD),
        ("root", "wrong"),
        ("bad name!", PASSWORD),
    ] {
        let page = get(&srv, "/admin/login", None).await;
        let (csrf, cookie) = (page.csrf_field(), page.cookie());
        let form = [
            ("csrf", csrf.as_str()),
            ("name", name),
            ("password", password),
            ("code", code.as_str()),
        ];
        let answer = post(&srv, "/admin/login", &cookie, &form).await;
        let message = answer
            .html
            .contains("That name, password or code is not right.");
        answers.push((answer.status, message));
    }
    assert_eq!(answers, [(401, true); 3]);
}
