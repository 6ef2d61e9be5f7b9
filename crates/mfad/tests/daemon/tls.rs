//! `[tls]`: mfad serves HTTPS itself, checks the pair in check-config, and serves a renewed
//! certificate after SIGHUP or a change on disk without dropping the connections it has.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa_testkit::tls::{ServerCert, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

use crate::{config_dir, mfad, start};

fn connector(ca: &TestCa) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&ca.cert).unwrap())
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

fn addr(daemon: &mfa_testkit::Daemon) -> String {
    daemon.base.strip_prefix("https://").unwrap().to_owned()
}

/// A verified TLS connection to mfad.
async fn connect(ca: &TestCa, addr: &str) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector(ca).connect(name, tcp).await.unwrap()
}

/// The certificate mfad shows a new handshake.
async fn served_certificate(ca: &TestCa, addr: &str) -> Vec<u8> {
    let tls = connect(ca, addr).await;
    let (_, session) = tls.get_ref();
    session.peer_certificates().unwrap()[0].to_vec()
}

/// `GET /healthz` on an open connection (kept alive); the status code.
async fn health(tls: &mut TlsStream<TcpStream>) -> u16 {
    tls.write_all(b"GET /healthz HTTP/1.1\r\nhost: mfad\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer.ends_with(b"}") {
        let n = tls.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Puts `from`'s pair where `to`'s files are, each file renamed into place whole.
fn replace(to: &ServerCert, from: &ServerCert) {
    for (src, dst) in [(&from.cert, &to.cert), (&from.key, &to.key)] {
        let tmp = dst.with_extension("new");
        std::fs::copy(src, &tmp).unwrap();
        std::fs::rename(&tmp, dst).unwrap();
    }
}

async fn until_served(ca: &TestCa, addr: &str, want: &[u8], within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if served_certificate(ca, addr).await == want {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

fn reloads(daemon: &mfa_testkit::Daemon, reason: &str) -> usize {
    daemon
        .log()
        .iter()
        .filter(|l| l.contains("TLS certificate reloaded") && l.contains(reason))
        .count()
}

#[tokio::test]
async fn serves_https_and_a_renewed_certificate_after_sighup_or_a_change_on_disk() {
    let (dir, _) = config_dir("");
    let ca = TestCa::new(&dir.path().join("ca"));
    let live = ca.issue("live");
    let (second, third, other) = (ca.issue("second"), ca.issue("third"), ca.issue("other"));
    let original = live.der();
    let (_dir, config) = config_dir(&live.config());
    let daemon = start(&config);
    assert!(daemon.base.starts_with("https://"), "{}", daemon.base);
    let addr = addr(&daemon);

    let mut kept = connect(&ca, &addr).await;
    assert_eq!(health(&mut kept).await, 200);
    assert_eq!(served_certificate(&ca, &addr).await, original);

    // SIGHUP: the new pair, for new handshakes.
    replace(&live, &second);
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    assert!(
        until_served(&ca, &addr, &second.der(), Duration::from_secs(3)).await,
        "the new certificate was not served after SIGHUP: {:?}",
        daemon.log()
    );
    assert!(reloads(&daemon, "SIGHUP") >= 1, "{:?}", daemon.log());
    // The connection opened before is still served.
    assert_eq!(health(&mut kept).await, 200);

    // A pair that does not match is refused, and the one in use kept.
    replace(
        &live,
        &ServerCert {
            cert: third.cert.clone(),
            key: other.key.clone(),
        },
    );
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &daemon.pid().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while !daemon.log().iter().any(|l| l.contains("not reloaded")) {
        assert!(Instant::now() < deadline, "no refusal: {:?}", daemon.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let refusal = daemon
        .log()
        .into_iter()
        .find(|l| l.contains("not reloaded"));
    assert!(refusal.unwrap().contains("does not match"));
    assert_eq!(served_certificate(&ca, &addr).await, second.der());

    // No signal: the watcher sees the files change.
    replace(&live, &third);
    assert!(
        until_served(&ca, &addr, &third.der(), Duration::from_secs(15)).await,
        "a changed certificate was not picked up: {:?}",
        daemon.log()
    );
    assert!(
        reloads(&daemon, "a file changed") >= 1,
        "{:?}",
        daemon.log()
    );
    assert_eq!(health(&mut kept).await, 200);
}

fn check(config: &Path) -> (bool, String) {
    let out = mfad()
        .args(["check-config", "--config", config.to_str().unwrap()])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn check_config_and_serve_refuse_a_pair_that_does_not_load_or_match() {
    use std::os::unix::fs::PermissionsExt as _;
    let (dir, _) = config_dir("");
    let ca = TestCa::new(&dir.path().join("ca"));
    let (good, other) = (ca.issue("good"), ca.issue("other"));
    let (_d, config) = config_dir(&good.config());
    let (ok, out) = check(&config);
    assert!(ok, "{out}");
    assert!(out.contains("HTTPS"), "{out}");

    let key_text = std::fs::read_to_string(&good.key).unwrap();
    let secret_line = key_text.lines().nth(1).unwrap().to_owned();
    let loose = dir.path().join("loose.key");
    std::fs::copy(&good.key, &loose).unwrap();
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let not_pem = dir.path().join("not.key");
    mfa_testkit::write_private(&not_pem, &format!("{secret_line}\n"));
    let cases = [
        (good.cert.clone(), other.key.clone(), "does not match"),
        (good.cert.clone(), loose, "others may read"),
        (good.cert.clone(), not_pem, "not a PEM private key"),
        (
            good.key.clone(),
            good.key.clone(),
            "not a PEM certificate chain",
        ),
        (
            dir.path().join("absent.pem"),
            good.key.clone(),
            "cannot read",
        ),
    ];
    for (cert, key, want) in cases {
        let pair = ServerCert { cert, key };
        let (_d, config) = config_dir(&pair.config());
        let (ok, out) = check(&config);
        assert!(!ok && out.contains(want), "{want}: {out}");
        assert!(out.contains("[tls]"), "{out}");
        assert!(!out.contains(&secret_line), "the key leaked: {out}");
        let serve = mfad()
            .args(["--config", config.to_str().unwrap(), "serve"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&serve.stderr);
        assert!(
            !serve.status.success() && stderr.contains(want),
            "{want}: {stderr}"
        );
    }
}
