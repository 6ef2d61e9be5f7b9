use mfa_otp::{OtpAuthUri, OtpKind, Secret, Totp, TotpParams};

use crate::Env;

#[test]
fn seed_add_client_prints_key_secret_uri_and_qr() {
    let env = Env::with("");
    let out = env.ok(&["--add-client", "tux"]);
    assert!(out.contains("Enrolled client tux"), "{out}");
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_owned()))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
    };
    let key = field("client key:");
    assert!(key.starts_with("mfak_") && key.len() > 40, "{key}");
    let secret = field("TOTP secret:");
    let uri = OtpAuthUri::parse(&field("otpauth URI:")).unwrap();
    assert_eq!(uri.issuer.as_deref(), Some("mfa"));
    assert_eq!(uri.account, "tux@mfa.example.org");
    assert_eq!(uri.secret.to_base32(), secret);
    assert_eq!(uri.kind, OtpKind::Totp { period: 30 });
    assert!(out.contains("▀") || out.contains("▄"), "no QR code drawn");
}

#[test]
fn json_enrolment_is_one_object_and_its_secret_makes_codes() {
    let env = Env::with("");
    let v = env.json(&["client", "add", "tux"]);
    for field in ["alias", "client_key", "totp_secret", "otpauth_uri"] {
        assert!(v[field].is_string(), "{field} missing in {v}");
    }
    assert_eq!(v["alias"], "tux");
    assert_eq!(v["digits"], 6);
    let secret = Secret::from_base32(v["totp_secret"].as_str().unwrap()).unwrap();
    assert!(secret.len() >= 20, "at least 160 bits");
    let totp = Totp::new(secret, TotpParams::default());
    assert_eq!(totp.code_at(0).len(), 6);
}

#[test]
fn list_show_remove() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    env.ok(&["client", "add", "alice"]);
    let list = env.json(&["client", "list"]);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["alias"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alice", "tux"]);
    let text = env.ok(&["client", "list"]);
    assert!(text.lines().next().unwrap().starts_with("ALIAS"), "{text}");
    let show = env.json(&["client", "show", "tux"]);
    assert_eq!(show["apps"], serde_json::json!([]));
    env.ok(&["client", "remove", "tux"]);
    assert_eq!(env.json(&["client", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn rotate_key_and_reset_totp_hand_out_new_secrets() {
    let env = Env::with("");
    let first = env.json(&["client", "add", "tux"]);
    let rotated = env.json(&["client", "rotate-key", "tux"]);
    assert_ne!(rotated["client_key"], first["client_key"]);
    assert!(rotated["client_key"].as_str().unwrap().starts_with("mfak_"));
    let reset = env.json(&["client", "reset-totp", "tux"]);
    assert_ne!(reset["totp_secret"], first["totp_secret"]);
    assert!(
        reset.get("client_key").is_none(),
        "reset-totp must not touch the key"
    );
}

#[test]
fn totp_parameters_come_from_the_config() {
    let env = Env::with("[totp]\nalgorithm = \"SHA256\"\ndigits = 8\nperiod = 60\n");
    let v = env.json(&["client", "add", "tux"]);
    assert_eq!(v["algorithm"], "SHA256");
    assert_eq!(v["digits"], 8);
    let uri = OtpAuthUri::parse(v["otpauth_uri"].as_str().unwrap()).unwrap();
    assert_eq!(uri.kind, OtpKind::Totp { period: 60 });
    assert_eq!(uri.secret.len(), 32);
}

/// Reads every file mfa keeps (database, WAL, anything else except the key file itself) and
/// looks for each secret mfac handed out, in every form it was shown.
#[test]
fn the_raw_sqlite_file_holds_no_seed_key_or_token_in_the_clear() {
    let env = Env::with("");
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for alias in ["tux", "alice"] {
        let v = env.json(&["client", "add", alias]);
        let secret = Secret::from_base32(v["totp_secret"].as_str().unwrap()).unwrap();
        needles.push(secret.as_bytes().to_vec());
        needles.push(v["totp_secret"].as_str().unwrap().as_bytes().to_vec());
        needles.push(v["client_key"].as_str().unwrap().as_bytes().to_vec());
    }
    let rotated = env.json(&["client", "rotate-key", "tux"]);
    needles.push(rotated["client_key"].as_str().unwrap().as_bytes().to_vec());
    let key_file = std::fs::read_to_string(env.data().join("mfa.key")).unwrap();
    let seal_key = data_encoding::BASE64
        .decode(key_file.trim().as_bytes())
        .unwrap();
    needles.push(seal_key);
    needles.push(key_file.trim().as_bytes().to_vec());

    let mut scanned = 0;
    for entry in std::fs::read_dir(env.data()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() == "mfa.key" {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        scanned += bytes.len();
        for needle in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{} holds a secret in the clear",
                path.display()
            );
        }
    }
    assert!(scanned > 4096, "nothing scanned");
    // The aliases themselves are there: the scan reads the right file.
    let db = std::fs::read(env.data().join("mfa.db")).unwrap();
    assert!(db.windows(5).any(|w| w == b"alice"));
}
