//! The module over HTTPS: mfad behind a TLS proxy (socat) with a certificate from a throwaway CA.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::harness::{Pamtester, Service, Setup, nap};

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs openssl and socat)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`.
fn certificates(dir: &Path) {
    let p = |name: &str| dir.join(name);
    run(Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=mfa test CA",
        ])
        .arg("-keyout")
        .arg(p("ca.key"))
        .arg("-out")
        .arg(p("ca.pem")));
    run(Command::new("openssl")
        .args([
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
        ])
        .arg("-keyout")
        .arg(p("server.key"))
        .arg("-out")
        .arg(p("server.csr")));
    std::fs::write(
        p("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    run(Command::new("openssl")
        .args(["x509", "-req", "-days", "1", "-CAcreateserial"])
        .arg("-in")
        .arg(p("server.csr"))
        .arg("-CA")
        .arg(p("ca.pem"))
        .arg("-CAkey")
        .arg(p("ca.key"))
        .arg("-extfile")
        .arg(p("ext.cnf"))
        .arg("-out")
        .arg(p("server.pem")));
}

/// socat terminating TLS on a free port and forwarding to mfad; killed on drop.
struct TlsProxy {
    child: Child,
    url: String,
}

impl TlsProxy {
    fn start(dir: &Path, backend: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = backend.trim_start_matches("http://");
        let child = Command::new("socat")
            .arg(format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,verify=0,cert={},key={}",
                dir.join("server.pem").display(),
                dir.join("server.key").display()
            ))
            .arg(format!("TCP:{target}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("socat: {e} (scripts/test.sh installs it)"));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            nap(50);
        }
        Self {
            child,
            url: format!("https://127.0.0.1:{port}"),
        }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn tls_is_verified_against_the_configured_ca_and_an_unverified_certificate_denies_even_in_safe_mode()
 {
    // The trusted network makes preauth answer allow, so a reachable, verified mfad means success.
    let setup = Setup::new("trusted_ip_networks = [\"198.51.100.0/24\"]", "push,totp");
    let dir = setup.install.dir.path().join("tls");
    std::fs::create_dir_all(&dir).unwrap();
    certificates(&dir);
    let proxy = TlsProxy::start(&dir, &setup.base());

    let attempt = |extra: &str, args: &str| {
        let config = setup.pam_config_for(&proxy.url, extra);
        let service = Service::new(&format!("config={} {args}", config.display()));
        Pamtester::start(&service, "tux", "198.51.100.7").finish()
    };
    let cafile = format!("cafile = \"{}\"", dir.join("ca.pem").display());
    let (ok, out) = attempt(&cafile, "");
    assert!(ok, "HTTPS with the right CA should work: {out}");
    // The system store does not know this CA: an impostor, not an outage, so safe mode denies too.
    let (ok, out) = attempt("", "failmode=safe");
    assert!(!ok, "an unverifiable certificate was accepted: {out}");
    assert!(out.contains("TLS"), "{out}");
}
