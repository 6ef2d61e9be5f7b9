//! Enrolment links over HTTP: `/enrol/{token}` shows the seed as a QR code, takes one current
//! code, and only then makes the seed the client's, with a new key and recovery codes shown
//! once; used, expired and exhausted links answer 410; forms need the CSRF cookie; racing
//! confirmations enrol once.

use mfa_core::Alias;
use mfa_otp::{Secret, Totp, TotpParams};
use mfa_secrets::Token;
use mfa_store::{NewClient, NewEnrolLink};
use serde_json::json;

use crate::enroll::{enroll, totp_of};
use crate::support::{TestServer, fixture, login};
use crate::web::{Visit, submit, visit};

/// A link made as `mfac client add ALIAS --link` makes it: the link's URL and its seed.
async fn new_client_with_link(srv: &TestServer, alias: &str, expires_in: i64) -> (String, Totp) {
    let token = Token::generate("mfae").unwrap();
    let seed = Secret::generate(20).unwrap();
    let now = srv.now();
    srv.state
        .store
        .add_client_with_link(
            NewClient {
                alias: &Alias::new(alias).unwrap(),
                key_hash: &Token::generate("mfak").unwrap().hash(),
                totp_secret: &Secret::generate(20).unwrap(),
                totp: TotpParams::default(),
                notify: Default::default(),
                now,
            },
            NewEnrolLink {
                token_hash: &token.hash(),
                totp_secret: &seed,
                now,
                expires_at: now.plus_secs(expires_in),
            },
        )
        .await
        .unwrap();
    let url = srv.url(&format!("/enrol/{}", token.expose()));
    (url, Totp::new(seed, TotpParams::default()))
}

/// amy, routed for sshd on linux.example.org, enrolled by a link; and a server token.
async fn amy(srv: &TestServer) -> (String, Totp, String) {
    let (url, totp) = new_client_with_link(srv, "amy", 86_400).await;
    srv.app("amy", "linux.example.org", "sshd", &["amy"], "push,totp")
        .await;
    let token = srv.server("ssh-2", &["linux.example.org"]).await;
    (url, totp, token)
}

async fn totp_login(srv: &TestServer, token: &str, code: &str) -> String {
    let mut body = login("totp");
    body["user"] = json!("amy");
    body["passcode"] = json!(code);
    let (status, v) = srv.post("/v1/auth", token, &body).await;
    assert_eq!(status, 200, "{v}");
    v["result"].as_str().unwrap().to_owned()
}

/// Opens the page, then sends `code` with its CSRF field and cookie.
async fn send_code(srv: &TestServer, url: &str, code: &str) -> Visit {
    let page = visit(srv, url, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let (csrf, cookie) = (page.csrf_field(), page.cookie());
    submit(
        srv,
        url,
        Some(&cookie),
        &[("csrf", &csrf), ("code", code)],
        &[],
    )
    .await
}

fn now_secs(srv: &TestServer) -> u64 {
    srv.now().unix_secs()
}

/// The text of each `<li><code>` on the done page (the recovery codes).
fn recovery_codes(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|rest| rest[..rest.find('<').unwrap()].to_owned())
        .collect()
}

fn client_key(html: &str) -> String {
    let at = html.find("id=\"client-key\">").unwrap() + "id=\"client-key\">".len();
    html[at..at + html[at..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn the_seed_counts_only_after_a_code_from_it_and_then_the_key_and_codes_work() {
    let srv = TestServer::start("").await;
    let (url, totp, token) = amy(&srv).await;
    let now = now_secs(&srv);
    assert_eq!(
        totp_login(&srv, &token, &totp.code_at(now)).await,
        "deny",
        "a link's seed is not in force before its code is confirmed"
    );

    let page = visit(&srv, &url, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    page.assert_secure_headers();
    assert!(page.html.contains("<svg"), "an inline SVG QR code");
    let base32 = totp.secret.to_base32();
    let grouped = base32
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap());
    assert!(
        page.html.contains(&grouped.collect::<Vec<_>>().join(" ")),
        "the secret, in groups of four: {}",
        page.html
    );
    assert!(
        page.html.contains("otpauth://totp/mfa:amy%40mfa.test?"),
        "{}",
        page.html
    );
    let (name, _, attributes) = page.set_cookie();
    assert!(name.starts_with("mfa_csrf_"), "{name}");
    for wanted in ["Path=/enrol/", "HttpOnly", "SameSite=Strict"] {
        assert!(attributes.iter().any(|a| a == wanted), "{attributes:?}");
    }

    let wrong = send_code(&srv, &url, "000000").await;
    assert_eq!(wrong.status, 400, "{}", wrong.html);
    assert!(wrong.html.contains("not right"), "{}", wrong.html);
    assert!(wrong.html.contains("4 attempts left"), "{}", wrong.html);

    let done = send_code(&srv, &url, &totp.code_at(now)).await;
    assert_eq!(done.status, 200, "{}", done.html);
    let (_, value, attributes) = done.set_cookie();
    assert!(value.is_empty() && attributes.iter().any(|a| a == "Max-Age=0"));
    let codes = recovery_codes(&done.html);
    assert_eq!(codes.len(), 10, "{}", done.html);
    assert!(done.html.contains("mfa enroll --server http://127.0.0.1:"));
    let key = client_key(&done.html);
    assert!(key.starts_with("mfak_"), "{key}");

    // The code that confirmed is used up; the next step's code logs in.
    assert_eq!(totp_login(&srv, &token, &totp.code_at(now)).await, "deny");
    assert_eq!(
        totp_login(&srv, &token, &totp.code_at(now + 30)).await,
        "allow"
    );
    // The page's key is the client's: `mfa enroll` with it gets this very seed, once.
    let (status, v, _) = enroll(&srv, &key).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(totp_of(&v).secret.as_bytes(), totp.secret.as_bytes());
    assert_eq!(
        srv.state
            .store
            .recovery_codes_left(&Alias::new("amy").unwrap())
            .await
            .unwrap(),
        10
    );

    let again = visit(&srv, &url, None).await;
    assert_eq!(again.status, 410, "{}", again.html);
    assert!(again.html.contains("used already"), "{}", again.html);
}

#[tokio::test]
async fn a_new_link_for_an_enrolled_client_replaces_its_seed_and_key_only_when_confirmed() {
    let f = fixture("").await;
    let token = Token::generate("mfae").unwrap();
    let seed = Secret::generate(20).unwrap();
    let now = f.srv.now();
    let tux = Alias::new("tux").unwrap();
    let link = NewEnrolLink {
        token_hash: &token.hash(),
        totp_secret: &seed,
        now,
        expires_at: now.plus_secs(3600),
    };
    f.srv.state.store.add_enrol_link(&tux, link).await.unwrap();
    let url = f.srv.url(&format!("/enrol/{}", token.expose()));
    let new = Totp::new(seed, TotpParams::default());
    let (status, _, _) = enroll(&f.srv, &f.tux.key).await;
    assert_eq!(status, 200, "the old key works until the link is confirmed");

    let done = send_code(&f.srv, &url, &new.code_at(now.unix_secs())).await;
    assert_eq!(done.status, 200, "{}", done.html);
    let (status, v, _) = enroll(&f.srv, &f.tux.key).await;
    assert_eq!(status, 401, "the old key is replaced: {v}");
    let mut body = login("totp");
    body["passcode"] = json!(f.tux.totp.code_at(now.unix_secs() + 30));
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "deny", "the old seed is replaced: {v}");
    body["passcode"] = json!(new.code_at(now.unix_secs() + 30));
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "allow", "{v}");
}

#[tokio::test]
async fn unknown_expired_and_exhausted_links_say_so() {
    let srv = TestServer::start("").await;
    let unknown = visit(&srv, &srv.url("/enrol/mfae_nosuchlink"), None).await;
    assert_eq!(unknown.status, 404, "{}", unknown.html);
    assert!(unknown.html.contains("not valid"), "{}", unknown.html);

    let (expired, _) = new_client_with_link(&srv, "old", -1).await;
    let page = visit(&srv, &expired, None).await;
    assert_eq!(page.status, 410, "{}", page.html);
    assert!(page.html.contains("expired"), "{}", page.html);

    let (url, _) = new_client_with_link(&srv, "amy", 3600).await;
    for attempt in 1..=5 {
        let wrong = send_code(&srv, &url, "000000").await;
        let want = if attempt < 5 { 400 } else { 410 };
        assert_eq!(wrong.status, want, "attempt {attempt}: {}", wrong.html);
    }
    let page = visit(&srv, &url, None).await;
    assert_eq!(page.status, 410, "{}", page.html);
    assert!(page.html.contains("Too many wrong codes"), "{}", page.html);
}

#[tokio::test]
async fn the_form_needs_its_cookie_and_this_site() {
    let srv = TestServer::start("").await;
    let (url, totp) = new_client_with_link(&srv, "amy", 3600).await;
    let page = visit(&srv, &url, None).await;
    let code = totp.code_at(now_secs(&srv));
    let form = [("csrf", page.csrf_field()), ("code", code)];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let no_cookie = submit(&srv, &url, None, &form, &[]).await;
    assert_eq!(no_cookie.status, 403, "{}", no_cookie.html);
    let cookie = page.cookie();
    let elsewhere = [("origin", "https://evil.example")];
    let cross = submit(&srv, &url, Some(&cookie), &form, &elsewhere).await;
    assert_eq!(cross.status, 403, "{}", cross.html);
    let fine = submit(&srv, &url, Some(&cookie), &form, &[]).await;
    assert_eq!(
        fine.status, 200,
        "neither refusal used the link up: {}",
        fine.html
    );
}

#[tokio::test]
async fn racing_confirmations_enrol_once() {
    let srv = TestServer::start("").await;
    let (url, totp) = new_client_with_link(&srv, "amy", 3600).await;
    let page = visit(&srv, &url, None).await;
    let (csrf, cookie) = (page.csrf_field(), page.cookie());
    let code = totp.code_at(now_secs(&srv));
    let tries = (0..8).map(|_| {
        let form = [("csrf", csrf.as_str()), ("code", code.as_str())];
        let (srv, url, cookie) = (&srv, &url, &cookie);
        async move { submit(srv, url, Some(cookie), &form, &[]).await }
    });
    let answers = futures_util::future::join_all(tries).await;
    let statuses: Vec<u16> = answers.iter().map(|v| v.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| [200, 410].contains(s)),
        "{statuses:?}"
    );
}

/// The page in Debian's chromium (headless, phone-sized): the secret read off the page, its
/// code made by oathtool (another TOTP implementation), typed and confirmed. Screenshots go to
/// `$MFA_SCREENSHOT_DIR` (scripts/test.sh: target/screenshots).
#[tokio::test]
async fn a_browser_enrols_through_a_link_with_a_code_oathtool_makes() {
    use fantoccini::Locator;
    let driver = crate::web::browser::Driver::start().await;
    let srv = TestServer::start("").await;
    let (url, _totp, token) = amy(&srv).await;
    let browser = driver.browser().await;
    browser.goto(&url).await.unwrap();
    crate::web::browser::screenshot(&browser, "enrol-phone.png").await;
    let qr = browser.find(Locator::Css("figure.qr svg")).await.unwrap();
    let (_, _, width, height) = qr.rectangle().await.unwrap();
    assert!(
        width >= 150.0 && height >= 150.0,
        "a QR code big enough to scan: {width}x{height}"
    );
    let secret = browser
        .find(Locator::Id("secret"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret: String = secret.split_whitespace().collect();
    let out = std::process::Command::new("oathtool")
        .args(["--totp", "--base32", &secret])
        .output()
        .expect("oathtool (Debian package oathtool; scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let code = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let field = browser.find(Locator::Id("code")).await.unwrap();
    field.send_keys(&code).await.unwrap();
    field.send_keys("\u{E007}").await.unwrap(); // Enter submits the form
    let heading = browser
        .wait()
        .at_most(std::time::Duration::from_secs(10))
        .for_element(Locator::Css("h1"))
        .await
        .unwrap();
    assert_eq!(heading.text().await.unwrap(), "You are set up");
    let codes = browser
        .find_all(Locator::Css("#recovery-codes code"))
        .await
        .unwrap();
    assert_eq!(codes.len(), 10);
    crate::web::browser::screenshot(&browser, "enrol-done-phone.png").await;
    browser.close().await.unwrap();
    let now = now_secs(&srv);
    let later = mfa_otp::Totp::new(Secret::from_base32(&secret).unwrap(), TotpParams::default());
    assert_eq!(
        totp_login(&srv, &token, &later.code_at(now + 30)).await,
        "allow"
    );
}

#[tokio::test]
async fn the_last_step_offers_a_passkey_where_host_addr_is_a_name() {
    for (srv, offered) in [
        (TestServer::start_on_localhost("").await, true),
        (TestServer::start("").await, false),
    ] {
        let (url, totp) = new_client_with_link(&srv, "amy", 3600).await;
        let done = send_code(&srv, &url, &totp.code_at(now_secs(&srv))).await;
        assert_eq!(done.status, 200, "{}", done.html);
        assert_eq!(
            done.html.contains("id=\"passkey-link\""),
            offered,
            "{}",
            done.html
        );
        if offered {
            let at = done.html.find("href=\"http://localhost:").unwrap() + "href=\"".len();
            let link = &done.html[at..at + done.html[at..].find('"').unwrap()];
            assert!(link.contains("/passkey/mfap_"), "{link}");
        }
    }
}

/// Regression: the key and recovery codes exist only on the page that follows the
/// confirmation, so a write that fails after it (the audit entry, the passkey link) must not
/// turn that page into an error: the enrolment is done and the person must see them.
#[tokio::test]
async fn a_failing_audit_write_after_the_confirmation_still_shows_the_key_and_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, url) = crate::support::open_store_at(dir.path()).await;
    let clock = std::sync::Arc::new(mfa_core::SystemClock);
    let srv = TestServer::start_on(store, "", clock, dir).await;
    let (link, totp) = new_client_with_link(&srv, "amy", 3600).await;
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let statements: &[&str] = if url.starts_with("sqlite:") {
        &[
            "CREATE TRIGGER fail_enrolled BEFORE INSERT ON audit WHEN NEW.result = 'enrolled' \
           BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
        ]
    } else {
        &[
            "CREATE FUNCTION fail_enrolled() RETURNS trigger AS $$ BEGIN \
               IF NEW.result = 'enrolled' THEN RAISE EXCEPTION 'audit refused'; END IF; \
               RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER fail_enrolled BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION fail_enrolled()",
        ]
    };
    for s in statements {
        sqlx::query(sqlx::AssertSqlSafe(*s))
            .execute(&pool)
            .await
            .unwrap();
    }
    pool.close().await;
    let done = send_code(&srv, &link, &totp.code_at(now_secs(&srv))).await;
    assert_eq!(done.status, 200, "{}", done.html);
    assert_eq!(recovery_codes(&done.html).len(), 10, "{}", done.html);
    assert!(client_key(&done.html).starts_with("mfak_"));
}
