//! Pages in a real browser: Debian's chromium, headless, driven through chromedriver on
//! 127.0.0.1 (feature `browser`). Used by mfa-server's page tests and by the PAM tests that
//! confirm a device link while pamtester waits.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{Value, json};

pub use fantoccini;

/// A phone-sized window.
pub const WIDTH: u32 = 390;
const HEIGHT: u32 = 844;

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// chromedriver on a free port, in a process group of its own (with the browsers it starts),
/// ended when dropped.
pub struct Driver {
    child: Child,
    url: String,
    profile: tempfile::TempDir,
}

impl Driver {
    pub async fn start() -> Self {
        let Some(driver) = on_path("chromedriver") else {
            panic!(
                "chromedriver is not installed: run scripts/test.sh, which installs Debian's \
                 chromium and chromium-driver (or: apt-get install chromium chromium-driver)"
            );
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = {
            use std::os::unix::process::CommandExt;
            Command::new(driver)
                .arg(format!("--port={port}"))
                .process_group(0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver")
        };
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{url}/status")).send().await
                && r.status().is_success()
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {url}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self {
            child,
            url,
            profile: tempfile::tempdir().unwrap(),
        }
    }

    /// A headless chromium with a phone-sized window.
    pub async fn browser(&self) -> Client {
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--no-first-run".to_owned(),
            format!("--window-size={WIDTH},{HEIGHT}"),
            format!("--user-data-dir={}", self.profile.path().display()),
        ];
        let mut options = json!({ "args": args });
        if let Some(binary) = on_path("chromium") {
            options["binary"] = json!(binary);
        }
        let caps = json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a chromium session");
        client.set_window_size(WIDTH, HEIGHT).await.unwrap();
        client
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The group: chromedriver and any chromium it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// Saves what the browser shows as `name` in `$MFA_SCREENSHOT_DIR`, when that is set.
pub async fn screenshot(browser: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("MFA_SCREENSHOT_DIR") {
        let png = browser.screenshot().await.unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(PathBuf::from(dir).join(name), png).unwrap();
    }
}

/// The WebDriver extension of the WebAuthn spec: a virtual CTAP2 authenticator that does user
/// verification, for the session's browser (`browser.issue_cmd(AddVirtualAuthenticator)`).
#[derive(Debug)]
pub struct AddVirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for AddVirtualAuthenticator {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/authenticator",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        let options = json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserConsenting": true, "isUserVerified": true,
        });
        (http::Method::POST, Some(options.to_string()))
    }
}

/// Clicks the element with id `id`.
pub async fn click(browser: &Client, id: &str) {
    let element = browser.find(fantoccini::Locator::Id(id)).await.unwrap();
    element.click().await.unwrap();
}

/// Registers a passkey through the passkey link `url` (the passkey page's button), with the
/// browser's virtual authenticator.
pub async fn register_passkey(browser: &Client, url: &str) {
    use fantoccini::Locator;
    browser.goto(url).await.unwrap();
    click(browser, "passkey-register").await;
    browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css("#passkey-status.done"))
        .await
        .unwrap();
}
