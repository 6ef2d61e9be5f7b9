//! Registering passkeys through a link: in Debian's chromium with the WebDriver virtual
//! authenticator (user verification on), and over HTTP for what must be refused (unknown and
//! used links, a forged or replayed ceremony, another site, an IP address as host_addr).

use mfa_core::Alias;
use mfa_secrets::Token;
use serde_json::{Value, json};

use mfa_testkit::browser::AddVirtualAuthenticator;

use crate::support::{TestServer, fixture};

/// A passkey link for tux: (token, URL under host_addr).
async fn passkey_link(srv: &TestServer) -> (String, String) {
    let token = Token::generate("mfap").unwrap();
    let now = srv.now();
    let tux = Alias::new("tux").unwrap();
    srv.state
        .store
        .add_passkey_link(&tux, &token.hash(), now, now.plus_secs(3600))
        .await
        .unwrap();
    let url = format!(
        "{}/passkey/{}",
        srv.state.config.host_addr(),
        token.expose()
    );
    (token.expose().to_owned(), url)
}

async fn post_json(
    srv: &TestServer,
    path: &str,
    body: &Value,
    origin: Option<&str>,
) -> (u16, Value) {
    let mut req = srv.http.post(srv.url(path)).json(body);
    if let Some(origin) = origin {
        req = req.header("origin", origin);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn tux_passkeys(srv: &TestServer) -> Vec<String> {
    let tux = Alias::new("tux").unwrap();
    let keys = srv.state.store.passkeys(&tux).await.unwrap();
    keys.into_iter().map(|p| p.name).collect()
}

#[tokio::test]
async fn the_options_ask_for_user_verification_and_a_forged_answer_registers_nothing() {
    let srv = TestServer::start_on_localhost("").await;
    let f = crate::support::fixture_on(srv).await;
    let (token, _) = passkey_link(&f.srv).await;
    let options_path = format!("/passkey/{token}/options");
    let (status, v) = post_json(&f.srv, &options_path, &json!({}), None).await;
    assert_eq!(status, 200, "{v}");
    let pk = &v["publicKey"];
    assert_eq!(pk["rp"]["id"], "localhost", "{v}");
    assert_eq!(
        pk["authenticatorSelection"]["userVerification"], "required",
        "{v}"
    );
    assert!(pk["challenge"].as_str().unwrap().len() >= 43, "{v}");

    let register = format!("/passkey/{token}/register");
    let forged = json!({
        "ceremony": v["ceremony"], "name": "phone",
        "credential": {"id": "AAAA", "rawId": "AAAA", "type": "public-key",
            "response": {"attestationObject": "AAAA", "clientDataJSON": "AAAA"}},
    });
    let (status, e) = post_json(&f.srv, &register, &forged, None).await;
    assert_eq!(status, 400, "{e}");
    assert!(e["message"].as_str().unwrap().contains("credential"), "{e}");
    let (status, e) = post_json(&f.srv, &register, &forged, None).await;
    assert_eq!(status, 400, "{e}");
    assert!(
        e["message"].as_str().unwrap().contains("ceremony"),
        "a ceremony is answered once: {e}"
    );

    let (status, e) = post_json(
        &f.srv,
        &options_path,
        &json!({}),
        Some("https://evil.example"),
    )
    .await;
    assert_eq!(status, 403, "{e}");
    let (status, e) = post_json(&f.srv, "/passkey/mfap_nosuchlink/options", &json!({}), None).await;
    assert_eq!(status, 404, "{e}");
    assert!(tux_passkeys(&f.srv).await.is_empty());
}

#[tokio::test]
async fn an_ip_address_as_host_addr_allows_no_passkeys_and_says_why() {
    let f = fixture("").await;
    let (token, url) = passkey_link(&f.srv).await;
    let page = crate::web::visit(&f.srv, &url, None).await;
    assert_eq!(page.status, 400, "{}", page.html);
    assert!(page.html.contains("DNS name"), "{}", page.html);
    let (status, e) = post_json(
        &f.srv,
        &format!("/passkey/{token}/options"),
        &json!({}),
        None,
    )
    .await;
    assert_eq!(status, 400, "{e}");
}

#[tokio::test]
async fn a_browser_registers_a_passkey_with_a_virtual_authenticator() {
    use fantoccini::Locator;
    let driver = crate::web::browser::Driver::start().await;
    let f = crate::support::fixture_on(TestServer::start_on_localhost("").await).await;
    let (_, url) = passkey_link(&f.srv).await;
    let browser = driver.browser().await;
    browser.issue_cmd(AddVirtualAuthenticator).await.unwrap();
    browser.goto(&url).await.unwrap();
    let name = browser.find(Locator::Id("passkey-name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("laptop").await.unwrap();
    crate::web::browser::screenshot(&browser, "passkey-phone.png").await;
    mfa_testkit::browser::click(&browser, "passkey-register").await;
    let done = browser
        .wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(Locator::Css("#passkey-status.done"))
        .await
        .unwrap();
    let text = done.text().await.unwrap();
    assert!(text.contains("Registered \u{201c}laptop\u{201d}"), "{text}");
    crate::web::browser::screenshot(&browser, "passkey-registered-phone.png").await;
    assert_eq!(tux_passkeys(&f.srv).await, ["laptop"]);
    // The link worked once.
    browser.goto(&url).await.unwrap();
    let h1 = browser
        .find(Locator::Css("h1"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(h1, "This link no longer works");
    browser.close().await.unwrap();
}

/// A fixture on localhost whose pushes go to a webhook receiver (which is how the tests learn
/// the approve links).
async fn localhost_push_fixture() -> (crate::support::Fixture, crate::notify::Receiver) {
    let rx = crate::notify::Receiver::start(200).await;
    let config = format!(
        "[notify]\ndefault = \"webhook\"\n[notify.webhook]\nurl = \"{}/hook?link={{approve_url}}\"\n",
        rx.base
    );
    let srv = TestServer::start_on_localhost(&config).await;
    (crate::support::fixture_on(srv).await, rx)
}

#[tokio::test]
async fn a_client_with_a_passkey_cannot_approve_with_the_plain_form() {
    let (f, rx) = localhost_push_fixture().await;
    let (token, _) = passkey_link(&f.srv).await;
    let stored = mfa_store::NewPasskey {
        link: &Token::from_presented(&token).hash(),
        credential_id: "c2VlZA",
        name: "phone",
        passkey: "{}",
        now: f.srv.now(),
    };
    assert!(f.srv.state.store.register_passkey(stored).await.unwrap());
    let p = crate::web::new_push(&f, &rx).await;
    let page = crate::web::visit(&f.srv, &p.link, None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("id=\"approve-passkey\""),
        "{}",
        page.html
    );
    assert!(
        !page.html.contains("value=\"approve\""),
        "no plain Approve: {}",
        page.html
    );
    assert!(
        page.html
            .contains("<script src=\"/assets/passkey.js\"></script>")
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let number = p.number.unwrap().to_string();
    let form = [
        ("csrf", page.csrf_field()),
        ("decision", "approve".into()),
        ("number", number),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let sent = crate::web::submit(&f.srv, &p.link, Some(&page.cookie()), &form, &[]).await;
    assert_eq!(sent.status, 400, "{}", sent.html);
    assert!(
        sent.html.contains("approves with its passkey"),
        "{}",
        sent.html
    );
    let request = f.srv.state.store.request(&p.txid).await.unwrap();
    assert_eq!(
        request.state,
        mfa_store::PushState::Pending,
        "still pending"
    );
}

#[tokio::test]
async fn a_browser_approves_a_push_with_the_passkey_it_registered() {
    use fantoccini::Locator;
    let driver = crate::web::browser::Driver::start().await;
    let (f, rx) = localhost_push_fixture().await;
    let (_, url) = passkey_link(&f.srv).await;
    let browser = driver.browser().await;
    browser.issue_cmd(AddVirtualAuthenticator).await.unwrap();
    mfa_testkit::browser::register_passkey(&browser, &url).await;
    let wait = || browser.wait().at_most(std::time::Duration::from_secs(15));

    let p = crate::web::new_push(&f, &rx).await;
    let poll = crate::notify::long_poll(&f.srv, &f.token, &p.txid);
    browser.goto(&p.link).await.unwrap();
    let number = p.number.unwrap().to_string();
    let field = browser.find(Locator::Id("number")).await.unwrap();
    field.send_keys(&number).await.unwrap();
    crate::web::browser::screenshot(&browser, "approve-passkey-phone.png").await;
    mfa_testkit::browser::click(&browser, "approve-passkey").await;
    let (_, v) = poll.await.unwrap();
    assert_eq!(v["result"], "allow", "{v}");
    let heading = wait()
        .for_element(Locator::XPath("//h1[.='Approved']"))
        .await;
    assert!(heading.is_ok(), "the page says so");
    let request = f.srv.state.store.request(&p.txid).await.unwrap();
    assert_eq!(request.decided_by.as_deref(), Some("passkey:tux"));
    let tux = Alias::new("tux").unwrap();
    let used = f.srv.state.store.passkeys(&tux).await.unwrap();
    assert!(used[0].last_used_at.is_some(), "its use is recorded");
    browser.close().await.unwrap();
}

/// Registers a (fake) passkey for tux directly in the store: enough for the policy and the
/// approve page, which only ask whether the client has one.
pub(crate) async fn stored_passkey(srv: &TestServer) {
    let (token, _) = passkey_link(srv).await;
    let stored = mfa_store::NewPasskey {
        link: &Token::from_presented(&token).hash(),
        credential_id: "c2VlZA",
        name: "phone",
        passkey: "{}",
        now: srv.now(),
    };
    assert!(srv.state.store.register_passkey(stored).await.unwrap());
}

fn preauth_body() -> Value {
    json!({"user": "tux", "host": "linux.example.org", "service": "sshd", "client_ip": "192.0.2.10"})
}

#[tokio::test]
async fn a_required_passkey_sends_a_push_with_a_device_link_that_only_a_passkey_approves() {
    let (f, rx) = localhost_push_fixture().await;
    crate::policy::add_rule(&f.srv, "user:tux", "*", "*", "passkey").await;
    // No passkey yet: the person is told how to get one.
    let (status, v) = f.srv.post("/v1/preauth", &f.token, &preauth_body()).await;
    assert_eq!((status, v["result"].as_str()), (200, Some("enroll")), "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(reason.contains("mfac client passkey-link tux"), "{reason}");

    stored_passkey(&f.srv).await;
    let (_, v) = f.srv.post("/v1/preauth", &f.token, &preauth_body()).await;
    assert_eq!(v["result"], "auth", "{v}");
    assert_eq!(v["required"], json!(["passkey"]), "{v}");
    // A code does not stand in for the passkey.
    let mut by_code = crate::support::login("totp");
    by_code["passcode"] = json!(f.tux.totp.code_at(f.srv.now().unix_secs()));
    let (_, v) = f.srv.post("/v1/auth", &f.token, &by_code).await;
    assert_eq!(v["result"], "deny", "{v}");

    let (status, v) = f
        .srv
        .post("/v1/auth", &f.token, &crate::support::login("auto"))
        .await;
    assert_eq!(
        (status, v["result"].as_str()),
        (200, Some("pending")),
        "{v}"
    );
    assert!(
        v.get("number").is_none(),
        "the passkey stands in for the number: {v}"
    );
    let txid = v["txid"].as_str().unwrap().to_owned();
    let device_url = v["device_url"].as_str().unwrap().to_owned();
    let prefix = format!("{}/d/", f.srv.state.config.host_addr());
    let code = device_url.strip_prefix(&prefix).expect("under host_addr");
    assert!(
        code.len() == 9 && code.as_bytes()[4] == b'-',
        "{device_url}"
    );
    rx.wait_for(1).await;

    // The terminal client's key cannot approve it; it can still deny (not here).
    let (status, e) = f.decide(&txid, &json!({"decision": "approve"})).await;
    assert_eq!(status, 403, "{e}");
    assert!(e["message"].as_str().unwrap().contains("passkey"), "{e}");

    // The device link leads, typed however, to the approve page with the passkey button.
    let typed = code.to_lowercase().replace('-', "");
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .get(f.srv.url(&format!("/d/{typed}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/approve/{}", code.replace('-', "")));
    let page = crate::web::visit(&f.srv, &f.srv.url(&location), None).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("id=\"approve-passkey\""),
        "{}",
        page.html
    );
    let request = f.srv.state.store.request(&txid).await.unwrap();
    assert_eq!(request.state, mfa_store::PushState::Pending);

    // A code that cannot be one is a plain 404 page; a wrong one the approve page's 404.
    let resp = f
        .srv
        .http
        .get(f.srv.url("/d/not-a-code"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}
