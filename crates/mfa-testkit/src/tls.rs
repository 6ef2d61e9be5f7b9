//! A throwaway certificate authority, made with the real `openssl` command (scripts/test.sh
//! installs it), and server certificates for 127.0.0.1 (or the names given) signed by it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `openssl ARGS` and insists it succeeds; returns stdout.
fn openssl(args: &[&str]) -> Vec<u8> {
    let mut cmd = Command::new("openssl");
    cmd.args(args);
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (scripts/test.sh installs openssl)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn text(path: &Path) -> String {
    path.to_str().expect("a UTF-8 temp path").to_owned()
}

/// A CA (`ca.pem`) in a directory of its own; it signs server certificates there.
pub struct TestCa {
    dir: PathBuf,
    /// The CA's certificate, for clients to trust (`cafile`, `SSL_CERT_FILE`).
    pub cert: PathBuf,
    key: PathBuf,
}

/// A server certificate and its key, as `[tls]` names them.
pub struct ServerCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ServerCert {
    /// The `[tls]` table that serves this pair.
    pub fn config(&self) -> String {
        format!(
            "[tls]\ncert = \"{}\"\nkey = \"{}\"\n",
            self.cert.display(),
            self.key.display()
        )
    }

    /// The certificate in DER, as a TLS peer is shown it.
    pub fn der(&self) -> Vec<u8> {
        openssl(&["x509", "-in", &text(&self.cert), "-outform", "DER"])
    }
}

/// An EC P-256 key and certificate request (quicker to make than RSA, and what rustls likes).
const NEW_EC_KEY: [&str; 6] = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-batch",
];

impl TestCa {
    /// A new CA valid for a day, in `dir` (created if need be).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let (cert, key) = (dir.join("ca.pem"), dir.join("ca.key"));
        let mut args = vec!["req", "-x509", "-days", "1", "-subj", "/CN=mfa test CA"];
        args.extend(NEW_EC_KEY);
        let (cert_s, key_s) = (text(&cert), text(&key));
        args.extend(["-keyout", &key_s, "-out", &cert_s]);
        openssl(&args);
        Self {
            dir: dir.to_owned(),
            cert,
            key,
        }
    }

    /// A certificate for 127.0.0.1 named `name` (`name.pem`, key `name.key`, mode 0600).
    pub fn issue(&self, name: &str) -> ServerCert {
        self.issue_for(name, &["IP:127.0.0.1"])
    }

    /// A certificate named `name` for the subjectAltName entries `sans` (`"DNS:localhost"`,
    /// `"IP:127.0.0.1"`): Duo's clients check DNS names only, so they need `DNS:localhost`.
    pub fn issue_for(&self, name: &str, sans: &[&str]) -> ServerCert {
        use std::os::unix::fs::PermissionsExt as _;
        assert!(!sans.is_empty(), "a certificate needs a subjectAltName");
        let p = |ext: &str| self.dir.join(format!("{name}.{ext}"));
        let (cert, key, csr, ext) = (p("pem"), p("key"), p("csr"), p("cnf"));
        std::fs::write(
            &ext,
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\n",
                sans.join(",")
            ),
        )
        .unwrap();
        let (key_s, csr_s) = (text(&key), text(&csr));
        let cn = format!(
            "/CN={}",
            sans[0].split_once(':').map_or(sans[0], |(_, v)| v)
        );
        let mut args = vec!["req", "-subj", cn.as_str()];
        args.extend(NEW_EC_KEY);
        args.extend(["-keyout", &key_s, "-out", &csr_s]);
        openssl(&args);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (ca_s, ca_key_s, ext_s, cert_s) =
            (text(&self.cert), text(&self.key), text(&ext), text(&cert));
        openssl(&[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            &csr_s,
            "-CA",
            &ca_s,
            "-CAkey",
            &ca_key_s,
            "-CAcreateserial",
            "-extfile",
            &ext_s,
            "-out",
            &cert_s,
        ]);
        ServerCert { cert, key }
    }
}
