//! A login whose policy requires a passkey, through pamtester: the prompt shows a device link,
//! Debian's chromium (with a WebDriver virtual authenticator holding tux's passkey) opens it
//! and confirms, and Enter at the prompt lets the login in.

use fantoccini::Locator;
use mfa_testkit::browser::fantoccini;
use mfa_testkit::browser::{AddVirtualAuthenticator, Driver, register_passkey, screenshot};

use crate::harness::{Pamtester, Service, Setup};

/// mfad on a free port of 127.0.0.1 whose `host_addr` names it `localhost` (WebAuthn needs a
/// DNS name for its relying party).
fn localhost_setup() -> Setup {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let extra = format!("listen = \"127.0.0.1:{port}\"\nhost_addr = \"http://localhost:{port}\"\n");
    let setup = Setup::new(&extra, "push,totp");
    setup
        .install
        .mfac(&["rule", "add", "--user", "tux", "--require", "passkey"]);
    setup
}

/// The link in the passkey prompt.
fn device_url(pam: &mut Pamtester) -> String {
    let seen = pam
        .expect("and confirm with your passkey, then press Enter")
        .to_owned();
    let start = seen.find("Open ").unwrap() + "Open ".len();
    seen[start..].split_whitespace().next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_required_login_waits_for_the_device_link_to_be_confirmed_in_a_browser() {
    let setup = localhost_setup();
    let config = setup.pam_config("timeout = 30\n");
    let service = Service::new(&format!("config={}", config.display()));

    // Without a passkey, the person is told how to get one; no push goes out.
    let pam = Pamtester::start(&service, "tux", "192.0.2.1");
    let (ok, out) = tokio::task::block_in_place(move || pam.finish());
    assert!(!ok, "{out}");
    assert!(out.contains("mfac client passkey-link tux"), "{out}");

    let link = setup.install.mfac_json(&["client", "passkey-link", "tux"]);
    let link = link["passkey_url"].as_str().unwrap().to_owned();
    let driver = Driver::start().await;
    let browser = driver.browser().await;
    browser.issue_cmd(AddVirtualAuthenticator).await.unwrap();
    register_passkey(&browser, &link).await;

    let mut pam = Pamtester::start(&service, "tux", "192.0.2.1");
    let url = tokio::task::block_in_place(|| device_url(&mut pam));
    assert!(url.starts_with("http://localhost:"), "{url}");
    assert!(url.contains("/d/"), "{url}");
    // The prompt only waits for Enter (a typed code is no way around the passkey).
    browser.goto(&url).await.unwrap();
    screenshot(&browser, "device-link-phone.png").await;
    mfa_testkit::browser::click(&browser, "approve-passkey").await;
    browser
        .wait()
        .at_most(std::time::Duration::from_secs(15))
        .for_element(Locator::XPath("//h1[.='Approved']"))
        .await
        .unwrap();
    screenshot(&browser, "device-link-approved-phone.png").await;
    pam.type_line("");
    let (ok, out) = tokio::task::block_in_place(|| pam.finish());
    assert!(ok, "{out}");
    assert!(out.contains("successfully authenticated"), "{out}");
    browser.close().await.unwrap();

    // The audit log names the passkey among the factors the approval completed.
    let audit = setup.install.mfac_json(&["audit"]);
    let rows = audit.as_array().unwrap();
    assert!(
        rows.iter()
            .any(|r| r["method"] == "push+passkey" && r["result"] == "approved"),
        "{audit}"
    );
}
