//! The real duo_client (PyPI) signs requests through its own `Client.api_call`
//! (tests/sign_requests.py); mfa-duo must verify every one, and refuse each after any one-byte
//! change to a signed part.

use std::path::{Path, PathBuf};
use std::process::Command;

use mfa_duo::{Dialect, DuoAuthError, MAX_SKEW, SignedRequest, Verified, parse_date, verify};
use serde_json::Value;

fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The venv's python with duo_client, created on first use (`python3 -m venv`, `pip install
/// duo_client`). None (the test prints SKIPPED) when python3, venv or pip is unavailable.
fn duo_python() -> Option<PathBuf> {
    let venv = workspace_target().join("duo-venv");
    let python = venv.join("bin/python");
    let has_client = |py: &Path| {
        Command::new(py)
            .args(["-c", "import duo_client.client"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if has_client(&python) {
        return Some(python);
    }
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .is_ok_and(|s| s.success());
    if !created {
        eprintln!("SKIPPED: python3 -m venv {} failed", venv.display());
        return None;
    }
    let installed = Command::new(venv.join("bin/pip"))
        .args(["install", "--quiet", "duo_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !installed || !has_client(&python) {
        eprintln!(
            "SKIPPED: pip install duo_client into {} failed",
            venv.display()
        );
        return None;
    }
    Some(python)
}

/// One request as a client sent it.
#[derive(Clone)]
pub(crate) struct Captured {
    pub(crate) dialect: Dialect,
    pub(crate) label: String,
    pub(crate) host: String,
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Vec<u8>,
    pub(crate) body: Vec<u8>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Captured {
    fn from_json(v: &Value) -> Self {
        let s = |k: &str| v[k].as_str().unwrap().to_owned();
        let uri = s("uri");
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p.to_owned(), q.as_bytes().to_vec()),
            None => (uri.clone(), Vec::new()),
        };
        Self {
            dialect: Dialect::AuthV2,
            label: s("label"),
            host: s("host"),
            method: s("method"),
            path,
            query,
            body: data_encoding::BASE64
                .decode(s("body_b64").as_bytes())
                .unwrap(),
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_owned(),
                        h[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
        }
    }

    pub(crate) fn verify(
        &self,
        skey: &[u8],
        now: jiff::Timestamp,
    ) -> Result<Verified, DuoAuthError> {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let content_type = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        let req = SignedRequest {
            dialect: self.dialect,
            method: &self.method,
            host: &self.host,
            path: &self.path,
            query: &self.query,
            body: &self.body,
            body_kind: mfa_duo::BodyKind::from_content_type(content_type),
            headers: &headers,
        };
        verify(&req, skey, now, MAX_SKEW)
    }

    fn date(&self) -> jiff::Timestamp {
        let (_, d) = self.headers.iter().find(|(n, _)| n == "Date").unwrap();
        parse_date(d).unwrap()
    }
}

/// Every byte string of a captured request that the signature covers, each with a setter.
pub(crate) fn mutations(c: &Captured) -> Vec<(String, Captured)> {
    fn bump(bytes: &mut [u8], i: usize) {
        bytes[i] = bytes[i].wrapping_add(1);
    }
    let clone = Captured::clone;
    let mut out = Vec::new();
    let ascii = |s: &str, i: usize| {
        let mut b = s.as_bytes().to_vec();
        bump(&mut b, i);
        String::from_utf8(b).ok()
    };
    for i in 0..c.method.len() {
        let mut m = clone(c);
        m.method = ascii(&c.method, i).unwrap();
        out.push((format!("method byte {i}"), m));
    }
    // duo_unix signs the host without its port (the port only routes the connection): under
    // the legacy dialect the port's digits are not covered.
    let signed_host_len = match c.dialect {
        Dialect::Legacy => c.host.rfind(':').map_or(c.host.len(), |i| i + 1),
        Dialect::AuthV2 => c.host.len(),
    };
    for i in 0..signed_host_len {
        let mut m = clone(c);
        m.host = ascii(&c.host, i).unwrap();
        out.push((format!("host byte {i}"), m));
    }
    for i in 0..c.path.len() {
        let mut m = clone(c);
        m.path = ascii(&c.path, i).unwrap();
        out.push((format!("path byte {i}"), m));
    }
    for i in 0..c.query.len() {
        let mut m = clone(c);
        bump(&mut m.query, i);
        out.push((format!("query byte {i}"), m));
    }
    for i in 0..c.body.len() {
        let mut m = clone(c);
        bump(&mut m.body, i);
        out.push((format!("body byte {i}"), m));
    }
    for (h, (name, value)) in c.headers.iter().enumerate() {
        let signed = name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("date")
            // The content type is not signed, but a form body's pairs are: unmarking it changes
            // the params. (A JSON body's type is not: its bytes are hashed whatever it says.)
            || (name.eq_ignore_ascii_case("content-type") && value.contains("urlencoded"))
            || name.to_ascii_lowercase().starts_with("x-duo-");
        if !signed {
            continue;
        }
        for i in 0..value.len() {
            let mut m = clone(c);
            m.headers[h].1 = ascii(value, i).unwrap();
            out.push((format!("{name} value byte {i}"), m));
        }
        for i in 0..name.len() {
            let mut m = clone(c);
            m.headers[h].0 = ascii(name, i).unwrap();
            out.push((format!("{name} name byte {i}"), m));
        }
    }
    out
}

#[test]
fn duo_client_requests_verify_and_any_one_byte_change_fails() {
    let Some(python) = duo_python() else {
        return;
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sign_requests.py");
    let out = Command::new(&python).arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "sign_requests.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let skey = doc["skey"].as_str().unwrap().as_bytes();
    let ikey = doc["ikey"].as_str().unwrap();
    let requests = doc["requests"].as_array().unwrap();
    assert!(requests.len() >= 40, "{} requests", requests.len());
    eprintln!(
        "duo_client {}: {} signed requests",
        doc["duo_client"],
        requests.len()
    );
    let mut checked_mutations = 0;
    for r in requests {
        let c = Captured::from_json(r);
        let now = c.date();
        let v = c
            .verify(skey, now)
            .unwrap_or_else(|e| panic!("{}: refused: {e}", c.label));
        assert_eq!(v.ikey, ikey, "{}", c.label);
        let want = r["sig_version"].as_u64().unwrap();
        let got = match v.version {
            mfa_duo::SigVersion::V1 => 1,
            mfa_duo::SigVersion::V2 => 2,
            mfa_duo::SigVersion::V4 => 4,
            mfa_duo::SigVersion::V5 => 5,
        };
        assert_eq!(got, want, "{}", c.label);
        // The handler sees the same params whatever the version (form, query or JSON body).
        let mut params: Vec<(String, String)> = v
            .params
            .pairs()
            .iter()
            .map(|(k, v)| {
                (
                    String::from_utf8(k.clone()).unwrap(),
                    String::from_utf8(v.clone()).unwrap(),
                )
            })
            .collect();
        params.sort();
        let expected: Vec<(String, String)> = r["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
            .collect();
        assert_eq!(params, expected, "{}", c.label);
        // Within the window either way, stale past it.
        let skew = jiff::SignedDuration::from_secs(299);
        assert!(c.verify(skey, now + skew).is_ok(), "{}", c.label);
        assert!(c.verify(skey, now - skew).is_ok(), "{}", c.label);
        assert!(
            matches!(
                c.verify(skey, now + jiff::SignedDuration::from_secs(301)),
                Err(DuoAuthError::StaleDate { .. })
            ),
            "{}",
            c.label
        );
        for (what, m) in mutations(&c) {
            // The ikey is not signed (it names the skey); a changed ikey must name another
            // integration, so only the same ikey verifying would be a failure.
            match m.verify(skey, now) {
                Err(_) => {}
                Ok(v) => assert_ne!(v.ikey, ikey, "{}: {what} still verifies", c.label),
            }
            checked_mutations += 1;
        }
    }
    eprintln!("{checked_mutations} one-byte changes refused");
}

/// A JSON body is params, so only a signature version that hashes the body may carry one: a v2
/// signature over an empty form (which says nothing about the body) must not sign JSON params.
#[test]
fn a_json_body_is_refused_under_a_v2_signature() {
    use mfa_duo::sign::{CanonicalInput, ParamOrder, SigDigest, SigVersion, sign_hex};
    let skey = b"Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";
    let date = "Thu, 03 Dec 2026 07:30:00 -0000";
    let empty = mfa_duo::Params::new();
    let canonical = mfa_duo::sign::canonicalize(
        &CanonicalInput {
            method: "POST",
            host: "mfa.example",
            path: "/auth/v2/auth",
            params: &empty,
            date,
            body: b"",
            duo_headers: &[],
        },
        SigVersion::V2,
        ParamOrder::KeyThenValue,
    );
    let now = parse_date(date).unwrap();
    for digest in [SigDigest::Sha1, SigDigest::Sha512] {
        let auth = format!(
            "Basic {}",
            data_encoding::BASE64
                .encode(format!("DIX:{}", sign_hex(skey, &canonical, digest)).as_bytes())
        );
        let headers = [("Date", date), ("Authorization", auth.as_str())];
        let mut req = SignedRequest {
            dialect: Dialect::AuthV2,
            method: "POST",
            host: "mfa.example",
            path: "/auth/v2/auth",
            query: b"",
            body: b"",
            body_kind: mfa_duo::BodyKind::Form,
            headers: &headers,
        };
        assert!(verify(&req, skey, now, MAX_SKEW).is_ok());
        req.body = br#"{"username":"root","factor":"auto"}"#;
        req.body_kind = mfa_duo::BodyKind::Json;
        assert_eq!(
            verify(&req, skey, now, MAX_SKEW),
            Err(DuoAuthError::Mismatch)
        );
    }
}
