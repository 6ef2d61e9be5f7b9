//! Requests built byte for byte as duo_unix's `https_send` builds them (lib/https.c of
//! duo_unix 1.11.3, Debian's libpam-duo, and of 2.x): `key=value` strings urlenc_encode'd and
//! sorted with strcmp, the same string as the form body (POST) or query (GET), HMAC-SHA1 (1.x)
//! or HMAC-SHA512 with `X-Duo-Date` (2.x) over the configured host with its port cut off and its
//! case kept. The HMAC here is computed directly with the hmac crate, not with mfa-duo.

use std::path::{Path, PathBuf};
use std::process::Command;

use hmac::{Hmac, KeyInit, Mac};
use mfa_duo::{Dialect, DuoAuthError, MAX_SKEW, SigVersion, SignedRequest, verify};

const SKEY: &[u8] = b"Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";
const IKEY: &str = "DIWJ8X6AEYOR5OMC6TQ1";

fn basic(hex: &str) -> String {
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{IKEY}:{hex}").as_bytes())
    )
}

fn sha1_hex(msg: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(SKEY).unwrap();
    mac.update(msg.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

fn sha512_hex(msg: &str) -> String {
    let mut mac = <Hmac<sha2::Sha512> as KeyInit>::new_from_slice(SKEY).unwrap();
    mac.update(msg.as_bytes());
    data_encoding::HEXLOWER.encode(&mac.finalize().into_bytes())
}

// duo_unix 1.11 login_duo's auth call: user, factor, auto, async, ipaddr, pushinfo, in the
// order https_send sorts them (strcmp of "key=value"). pushinfo is itself a urlencoded string
// (login_duo builds it so) that duo_add_param encodes again: its `%` arrives as `%25`.
const QS: &str = "async=1&auto=push&factor=auto&ipaddr=192.0.2.7&pushinfo=command%3Dls%2520-l&user=J%C3%B6rg%20Q";

#[test]
fn legacy_v1_auth_post_as_duo_unix_1_11_sends_it() {
    // host = Mfa.Example:8443 in pam_duo.conf: signed as "Mfa.Example", sent as Host with port.
    let hex = sha1_hex(&format!("POST\nMfa.Example\n/rest/v1/auth.bson\n{QS}"));
    let auth = basic(&hex);
    let headers = [
        ("Host", "Mfa.Example:8443"),
        ("User-Agent", "duo_unix/1.11.3"),
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let req = SignedRequest {
        dialect: Dialect::Legacy,
        method: "POST",
        host: "Mfa.Example:8443",
        path: "/rest/v1/auth.bson",
        query: b"",
        body: QS.as_bytes(),
        body_kind: mfa_duo::BodyKind::Form,
        headers: &headers,
    };
    // No date in the legacy dialect: any clock verifies (replayable by design).
    let now: jiff::Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let v = verify(&req, SKEY, now, MAX_SKEW).unwrap();
    assert_eq!(v.ikey, IKEY);
    assert_eq!(v.version, SigVersion::V1);
    assert_eq!(v.date, None);
    assert_eq!(v.params.get("user"), Some("Jörg Q"));
    assert_eq!(v.params.get("pushinfo"), Some("command=ls%20-l"));
    // The same request is refused on /auth/v2 (no date) and with another skey.
    let v2 = SignedRequest {
        dialect: Dialect::AuthV2,
        ..req
    };
    assert_eq!(
        verify(&v2, SKEY, now, MAX_SKEW),
        Err(DuoAuthError::MissingDate)
    );
    assert_eq!(
        verify(&req, b"wrong", now, MAX_SKEW),
        Err(DuoAuthError::Mismatch)
    );
}

#[test]
fn legacy_v1_status_get_and_strcmp_order() {
    // Keys where strcmp order differs from key order: "a-b=..." sorts before "a=...".
    let qs = "a-b=2&a=1&txid=0f1e2d3c";
    let hex = sha1_hex(&format!("GET\nlocalhost\n/rest/v1/status.bson\n{qs}"));
    let auth = basic(&hex);
    let headers = [("Authorization", auth.as_str())];
    let req = SignedRequest {
        dialect: Dialect::Legacy,
        method: "GET",
        host: "localhost:4443",
        path: "/rest/v1/status.bson",
        query: qs.as_bytes(),
        body: b"",
        body_kind: mfa_duo::BodyKind::Other,
        headers: &headers,
    };
    let now = jiff::Timestamp::UNIX_EPOCH;
    assert_eq!(verify(&req, SKEY, now, MAX_SKEW).unwrap().ikey, IKEY);
}

#[test]
fn v2_preauth_as_duo_unix_2_sends_it() {
    let date = "Thu, 03 Dec 2026 07:30:00 +0000";
    let qs = "hostname=bastion.example&ipaddr=192.0.2.7&text_prompt=1&username=tux";
    let hex = sha512_hex(&format!(
        "{date}\nPOST\nmfa.example\n/auth/v2/preauth\n{qs}"
    ));
    let auth = basic(&hex);
    let headers = [
        ("X-Duo-Date", date),
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    let req = SignedRequest {
        dialect: Dialect::AuthV2,
        method: "POST",
        host: "mfa.example",
        path: "/auth/v2/preauth",
        query: b"",
        body: qs.as_bytes(),
        body_kind: mfa_duo::BodyKind::Form,
        headers: &headers,
    };
    let now: jiff::Timestamp = "2026-12-03T07:31:00Z".parse().unwrap();
    let v = verify(&req, SKEY, now, MAX_SKEW).unwrap();
    assert_eq!(v.version, SigVersion::V2);
    assert_eq!(v.params.get("text_prompt"), Some("1"));
    // X-Duo-Date wins over Date: a Date header that disagrees does not matter.
    let with_date = [
        ("X-Duo-Date", date),
        ("Date", "Mon, 01 Jan 2001 00:00:00 +0000"),
        ("Authorization", auth.as_str()),
    ];
    let req2 = SignedRequest {
        headers: &with_date,
        ..req
    };
    assert!(verify(&req2, SKEY, now, MAX_SKEW).is_ok());
    // Two X-Duo-Date headers are refused, not guessed between.
    let twice = [
        ("X-Duo-Date", date),
        ("x-duo-date", date),
        ("Authorization", auth.as_str()),
    ];
    let req3 = SignedRequest {
        headers: &twice,
        ..req
    };
    assert_eq!(
        verify(&req3, SKEY, now, MAX_SKEW),
        Err(DuoAuthError::DuplicateHeader("x-duo-date".into()))
    );
}

#[test]
fn errors_never_echo_secrets() {
    let hex = sha1_hex("GET\nlocalhost\n/rest/v1/ping\n");
    let auth = basic(&hex);
    let headers = [("Authorization", auth.as_str())];
    let req = SignedRequest {
        dialect: Dialect::Legacy,
        method: "GET",
        host: "localhost",
        path: "/rest/v1/ping.bson",
        query: b"",
        body: b"",
        body_kind: mfa_duo::BodyKind::Other,
        headers: &headers,
    };
    let err = verify(&req, SKEY, jiff::Timestamp::UNIX_EPOCH, MAX_SKEW).unwrap_err();
    assert_eq!(err, DuoAuthError::Mismatch);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(&hex[..8]), "{shown}");
        assert!(!shown.contains("Zh5e"), "{shown}");
    }
}

/// Debian's login_duo, libduo3 and libpam-duo (1.11.3), unpacked (not installed) under
/// target/duo-peers/root by `apt-get download` + `dpkg-deb -x` when missing. None (SKIPPED)
/// where apt-get, dpkg-deb or openssl is unavailable.
fn debian_login_duo() -> Option<(PathBuf, PathBuf)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/duo-peers");
    let root = dir.join("root");
    let bin = root.join("usr/sbin/login_duo");
    let lib = root.join("usr/lib/x86_64-linux-gnu");
    let pam = root.join("lib/x86_64-linux-gnu/security/pam_duo.so");
    if !bin.exists() || !lib.join("libduo.so.3").exists() || !pam.exists() {
        std::fs::create_dir_all(&dir).ok()?;
        let got = Command::new("apt-get")
            .args(["download", "login-duo", "libduo3", "libpam-duo"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !got {
            eprintln!("SKIPPED: apt-get download login-duo libduo3 libpam-duo failed");
            return None;
        }
        for deb in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = deb.path();
            if path.extension().is_some_and(|e| e == "deb") {
                let ok = Command::new("dpkg-deb")
                    .arg("-x")
                    .arg(&path)
                    .arg(&root)
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    eprintln!("SKIPPED: dpkg-deb -x {} failed", path.display());
                    return None;
                }
            }
        }
    }
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("SKIPPED: no openssl to make login_duo's test certificate");
        return None;
    }
    Some((bin, lib))
}

/// Runs tests/capture_login_duo.py: login_duo once against the capturing server, answered by
/// the files in `answers` when given.
fn run_login_duo(bin: &Path, lib: &Path, answers: Option<&Path>) -> serde_json::Value {
    run_capture(&[], bin, lib, answers)
}

fn run_capture(mode: &[&str], bin: &Path, lib: &Path, answers: Option<&Path>) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/capture_login_duo.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .args(mode)
        .arg(bin)
        .arg(lib)
        .arg("LocalHost");
    if let Some(dir) = answers {
        cmd.arg(dir);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "capture_login_duo.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// login_duo reads the answers mfa-duo's BSON encoder writes: a preauth `allow` lets it run the
/// command (exit 0), a sync auth `deny` refuses, and a FAIL with an int32 code and a string
/// message is refused with that message (failmode = secure).
#[test]
fn debian_login_duo_reads_mfa_duo_bson_answers() {
    use mfa_duo::answer::{fail_bson, ok_bson};
    use mfa_duo::bson::Document;
    let Some((bin, lib)) = debian_login_duo() else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mfa-duo-answers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, bytes: Vec<u8>| std::fs::write(dir.join(name), bytes).unwrap();
    let status_deny = ok_bson(
        Document::new()
            .with("result", "deny")
            .with("status", "Denied by mfa (status)"),
    )
    .unwrap();
    write("status.bson", status_deny);

    // preauth allow: no second factor asked, the command runs.
    write(
        "preauth.bson",
        ok_bson(
            Document::new()
                .with("result", "allow")
                .with("status", "Allowed by mfa"),
        )
        .unwrap(),
    );
    write(
        "auth.bson",
        fail_bson(40002, "unexpected auth call").unwrap(),
    );
    let doc = run_login_duo(&bin, &lib, Some(&dir));
    assert_eq!(doc["login_duo_rc"], 0, "allow: {}", doc["stderr"]);
    assert_eq!(doc["requests"].as_array().unwrap().len(), 1);

    // preauth auth, then the (sync, autopush) auth call denied.
    write(
        "preauth.bson",
        ok_bson(
            Document::new()
                .with("result", "auth")
                .with("prompt", "Push with number 42 will be sent.")
                .with(
                    "factors",
                    Document::new().with("default", "push1").with("1", "push1"),
                ),
        )
        .unwrap(),
    );
    write(
        "auth.bson",
        ok_bson(
            Document::new()
                .with("result", "deny")
                .with("status", "Denied by mfa (auth)"),
        )
        .unwrap(),
    );
    let doc = run_login_duo(&bin, &lib, Some(&dir));
    assert_ne!(doc["login_duo_rc"], 0, "deny: {}", doc["stderr"]);
    let paths: Vec<&str> = doc["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/rest/v1/preauth.bson", "/rest/v1/auth.bson"]);

    // FAIL at preauth: refused (failmode = secure) and the message read as a string.
    write(
        "preauth.bson",
        fail_bson(40103, "Invalid signature (mfa marker 7d1f)").unwrap(),
    );
    let doc = run_login_duo(&bin, &lib, Some(&dir));
    assert_ne!(doc["login_duo_rc"], 0, "fail: {}", doc["stderr"]);
    let stderr = doc["stderr"].as_str().unwrap();
    assert!(stderr.contains("mfa marker 7d1f"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The real login_duo signs its preauth and auth calls to a capturing TLS server
/// (tests/capture_login_duo.py, `host = LocalHost:PORT`: mixed case, with a port); mfa-duo
/// verifies both, hands the handler the params login_duo meant, and refuses each after any
/// one-byte change.
#[test]
fn debian_login_duo_requests_verify_and_any_one_byte_change_fails() {
    let Some((bin, lib)) = debian_login_duo() else {
        return;
    };
    let doc = run_login_duo(&bin, &lib, None);
    let skey = doc["skey"].as_str().unwrap().as_bytes();
    let requests = doc["requests"].as_array().unwrap();
    let paths: Vec<&str> = requests
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        ["/rest/v1/preauth.bson", "/rest/v1/auth.bson"],
        "login_duo said: {}",
        doc["stderr"]
    );
    // Denied by the capture server: login_duo must exit non-zero (failmode = secure).
    assert_ne!(doc["login_duo_rc"], 0);
    let mut mutated = 0;
    for r in requests {
        let headers: Vec<(String, String)> = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
            .collect();
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone())
            .unwrap();
        assert!(host.starts_with("LocalHost:"), "{host}");
        let c = crate::duo_client::Captured {
            dialect: Dialect::Legacy,
            label: format!("login_duo {}", r["path"]),
            host,
            method: r["method"].as_str().unwrap().into(),
            path: r["path"].as_str().unwrap().into(),
            query: r["query"].as_str().unwrap().as_bytes().to_vec(),
            body: data_encoding::BASE64
                .decode(r["body_b64"].as_str().unwrap().as_bytes())
                .unwrap(),
            headers,
        };
        let v = c
            .verify(skey, jiff::Timestamp::UNIX_EPOCH)
            .unwrap_or_else(|e| panic!("{}: refused: {e}", c.label));
        assert_eq!(v.ikey, IKEY);
        assert_eq!(v.version, SigVersion::V1);
        assert_eq!(v.params.get("user"), Some("J\u{f6}rg+x y"), "{}", c.label);
        assert_eq!(v.params.get("ipaddr"), Some("192.0.2.7"));
        if c.path.ends_with("/auth.bson") {
            assert_eq!(v.params.get("factor"), Some("auto"));
            assert_eq!(v.params.get("async"), Some("0"));
        }
        for (what, m) in crate::duo_client::mutations(&c) {
            match m.verify(skey, jiff::Timestamp::UNIX_EPOCH) {
                Err(_) => {}
                Ok(v) => assert_ne!(v.ikey, IKEY, "{}: {what} still verifies", c.label),
            }
            mutated += 1;
        }
    }
    eprintln!(
        "login_duo 1.11.3: {} requests verified, {mutated} one-byte changes refused",
        requests.len()
    );
}

/// Debian's pam_duo.so through pamtester (a service other than sshd: asynchronous, it polls
/// status.bson with a GET), answered with mfa-duo's BSON: the preauth, auth (async=1) and
/// status (GET with the txid in the query) calls all verify, and the status `deny` refuses.
/// Needs root (it writes a throwaway /etc/pam.d/mfa-duo-test-PID) and pamtester.
#[test]
fn debian_pam_duo_async_requests_verify_and_a_status_deny_refuses() {
    use mfa_duo::answer::ok_bson;
    use mfa_duo::bson::Document;
    let Some((_, lib)) = debian_login_duo() else {
        return;
    };
    let pam = lib.join("../../../lib/x86_64-linux-gnu/security/pam_duo.so");
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if !root || Command::new("pamtester").arg("-h").output().is_err() {
        eprintln!("SKIPPED: the pam_duo test needs root and pamtester (it writes /etc/pam.d)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("mfa-duo-pam-answers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, doc: Document| {
        std::fs::write(dir.join(name), ok_bson(doc).unwrap()).unwrap();
    };
    write(
        "preauth.bson",
        Document::new()
            .with("result", "auth")
            .with("prompt", "Push with number 42 will be sent.")
            .with(
                "factors",
                Document::new().with("default", "push1").with("1", "push1"),
            ),
    );
    write(
        "auth.bson",
        Document::new().with("txid", "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
    );
    write(
        "status.bson",
        Document::new()
            .with("result", "deny")
            .with("status", "Denied by mfa"),
    );
    let doc = run_capture(&["--pam"], &pam, &lib, Some(&dir));
    std::fs::remove_dir_all(&dir).ok();
    assert_ne!(doc["login_duo_rc"], 0, "pamtester: {}", doc["stderr"]);
    let skey = doc["skey"].as_str().unwrap().as_bytes();
    let requests = doc["requests"].as_array().unwrap();
    let calls: Vec<(&str, &str)> = requests
        .iter()
        .map(|r| (r["method"].as_str().unwrap(), r["path"].as_str().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [
            ("POST", "/rest/v1/preauth.bson"),
            ("POST", "/rest/v1/auth.bson"),
            ("GET", "/rest/v1/status.bson")
        ],
        "pamtester: {}",
        doc["stderr"]
    );
    let mut mutated = 0;
    for r in requests {
        let headers: Vec<(String, String)> = r["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h[0].as_str().unwrap().into(), h[1].as_str().unwrap().into()))
            .collect();
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("host"))
            .map(|(_, v)| v.clone())
            .unwrap();
        let c = crate::duo_client::Captured {
            dialect: Dialect::Legacy,
            label: format!("pam_duo {}", r["path"]),
            host,
            method: r["method"].as_str().unwrap().into(),
            path: r["path"].as_str().unwrap().into(),
            query: r["query"].as_str().unwrap().as_bytes().to_vec(),
            body: data_encoding::BASE64
                .decode(r["body_b64"].as_str().unwrap().as_bytes())
                .unwrap(),
            headers,
        };
        let v = c
            .verify(skey, jiff::Timestamp::UNIX_EPOCH)
            .unwrap_or_else(|e| panic!("{}: refused: {e}", c.label));
        assert_eq!(v.ikey, IKEY);
        match c.path.as_str() {
            "/rest/v1/auth.bson" => assert_eq!(v.params.get("async"), Some("1")),
            "/rest/v1/status.bson" => assert_eq!(
                v.params.get("txid"),
                Some("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
            ),
            _ => assert_eq!(v.params.get("user"), Some("root")),
        }
        for (what, m) in crate::duo_client::mutations(&c) {
            if let Ok(v) = m.verify(skey, jiff::Timestamp::UNIX_EPOCH) {
                assert_ne!(v.ikey, IKEY, "{}: {what} still verifies", c.label);
            }
            mutated += 1;
        }
    }
    eprintln!("pam_duo 1.11.3: 3 requests verified, {mutated} one-byte changes refused");
}
