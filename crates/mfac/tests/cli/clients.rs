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

#[test]
fn notify_defaults_to_the_config_and_shows_in_list_and_show() {
    let env = Env::with("[notify]\ndefault = \"webhook\"\n");
    let v = env.json(&["client", "add", "tux"]);
    assert_eq!(v["notify"], "default");
    assert!(v.get("ntfy_topic").is_none(), "{v}");
    env.ok(&["client", "add", "alice", "--notify", "none"]);
    let list = env.json(&["client", "list"]);
    assert_eq!(list[0]["notify"], "none");
    assert_eq!(list[1]["notify"], "default");
    let text = env.ok(&["client", "list"]);
    assert!(text.lines().next().unwrap().contains("NOTIFY"), "{text}");
    let show = env.ok(&["client", "show", "tux"]);
    assert!(
        show.contains("notify:   default (webhook, from notify.default)"),
        "{show}"
    );
}

#[test]
fn ntfy_without_a_topic_gets_an_unguessable_one() {
    let env = Env::with("[notify.ntfy]\nserver = \"https://ntfy.example.org/\"\n");
    let text = env.ok(&["client", "add", "tux", "--notify", "ntfy"]);
    let topic = env.json(&["client", "show", "tux"])["ntfy_topic"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(topic.starts_with("mfa-tux-"), "{topic}");
    let random = &topic["mfa-tux-".len()..];
    assert_eq!(random.len(), 16, "80 random bits, base32: {topic}");
    assert!(
        text.contains(&format!("Subscribe to https://ntfy.example.org/{topic}")),
        "{text}"
    );

    // Another client, another topic; aliases with dots still make valid topics, within 64.
    let other = env.json(&["client", "add", "tux.phone", "--notify", "ntfy"]);
    let other = other["ntfy_topic"].as_str().unwrap();
    assert!(other.starts_with("mfa-tux-phone-"), "{other}");
    assert_ne!(&other["mfa-tux-phone-".len()..], random);
    let long = "x".repeat(64);
    let v = env.json(&["client", "add", &long, "--notify", "ntfy"]);
    let t = v["ntfy_topic"].as_str().unwrap();
    assert!(t.len() <= 64 && t.starts_with("mfa-xxx"), "{t}");
}

#[test]
fn ntfy_with_a_topic_keeps_it() {
    let env = Env::with("");
    let v = env.json(&[
        "client",
        "add",
        "tux",
        "--notify",
        "ntfy",
        "--ntfy-topic",
        "Tux_Alerts-7",
    ]);
    assert_eq!(v["notify"], "ntfy");
    assert_eq!(v["ntfy_topic"], "Tux_Alerts-7");
    let show = env.json(&["client", "show", "tux"]);
    assert_eq!(show["ntfy_topic"], "Tux_Alerts-7");
}

#[test]
fn modify_changes_only_the_provider() {
    let env = Env::with("");
    let enrolled = env.json(&["client", "add", "tux", "--notify", "webhook"]);
    let v = env.json(&["client", "modify", "tux", "--notify", "ntfy"]);
    assert_eq!(v["alias"], "tux");
    assert_eq!(v["notify"], "ntfy");
    let first = v["ntfy_topic"].as_str().unwrap().to_owned();
    assert!(first.starts_with("mfa-tux-"), "{v}");
    let text = env.ok(&["client", "modify", "tux", "--notify", "ntfy"]);
    let second = env.json(&["client", "show", "tux"])["ntfy_topic"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second, "a new topic each time none is given");
    assert!(
        text.contains(&second) && text.contains("Subscribe"),
        "{text}"
    );
    env.ok(&["client", "modify", "tux", "--notify", "none"]);
    let show = env.json(&["client", "show", "tux"]);
    assert_eq!(show["notify"], "none");
    assert!(show.get("ntfy_topic").is_none(), "{show}");
    env.ok(&["client", "modify", "tux", "--notify", "default"]);
    assert_eq!(env.json(&["client", "show", "tux"])["notify"], "default");
    // The key and the TOTP secret are untouched: no new enrolment was printed or stored.
    let (totp, _) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = env.store().await;
            let alias = mfa_core::Alias::new("tux").unwrap();
            let found = store.client_totp(&alias).await.unwrap().unwrap();
            store.close().await;
            found
        });
    assert_eq!(
        totp.secret.to_base32(),
        enrolled["totp_secret"].as_str().unwrap()
    );
}

#[test]
fn bad_notify_input_is_one_line_and_changes_nothing() {
    let env = Env::with("");
    assert_eq!(
        env.fails(&["client", "add", "tux", "--notify", "sms"]),
        "mfac: unknown notify provider \"sms\": expected one of default, none, webhook, ntfy"
    );
    assert_eq!(
        env.fails(&["client", "add", "tux", "--ntfy-topic", "t"]),
        "mfac: --ntfy-topic goes with --notify ntfy"
    );
    assert!(
        env.fails(&[
            "client",
            "add",
            "tux",
            "--notify",
            "none",
            "--ntfy-topic",
            "t"
        ])
        .contains("--ntfy-topic goes with --notify ntfy")
    );
    for topic in ["a b", "a/b", "", "ä", &"t".repeat(65)] {
        let err = env.fails(&[
            "client",
            "add",
            "tux",
            "--notify",
            "ntfy",
            "--ntfy-topic",
            topic,
        ]);
        assert!(err.contains("invalid ntfy topic"), "{topic:?}: {err}");
    }
    // None of those enrolled tux.
    assert_eq!(env.json(&["client", "list"]), serde_json::json!([]));

    env.ok(&["client", "add", "tux", "--notify", "none"]);
    assert_eq!(
        env.fails(&["client", "modify", "tux"]),
        "mfac: nothing to change: give --notify default|none|webhook|ntfy"
    );
    assert!(
        env.fails(&["client", "modify", "tux", "--notify", "pager"])
            .contains("unknown notify provider")
    );
    assert_eq!(
        env.fails(&["client", "modify", "ghost", "--notify", "none"]),
        "mfac: client ghost does not exist"
    );
    assert_eq!(env.json(&["client", "show", "tux"])["notify"], "none");
}

/// The seed printed here is also handed once to the first `mfa enroll` (printing it does not
/// count as delivery: the printout holds the key and the seed together anyway), unless
/// `--authenticator-only` marks it delivered at once. `show` says which.
#[test]
fn the_seed_waits_for_mfa_enroll_unless_it_is_for_an_authenticator_only() {
    let env = Env::with("");
    let out = env.ok(&["client", "add", "tux"]);
    assert!(
        out.contains("The first `mfa enroll` with this key fetches this TOTP secret, once"),
        "{out}"
    );
    let show = env.json(&["client", "show", "tux"]);
    assert_eq!(show["totp_delivered_at"], serde_json::Value::Null, "{show}");
    let text = env.ok(&["client", "show", "tux"]);
    assert!(text.contains("seed:     not delivered yet"), "{text}");

    let v = env.json(&["client", "add", "bob", "--authenticator-only"]);
    assert_eq!(v["authenticator_only"], true, "{v}");
    assert!(
        v["totp_secret"].is_string(),
        "still printed for the app: {v}"
    );
    let text = env.ok(&["client", "add", "eve", "--authenticator-only"]);
    assert!(text.contains("for an authenticator app only"), "{text}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let deliver = |name: &str| {
        rt.block_on(async {
            let store = env.store().await;
            let alias = mfa_core::Alias::new(name).unwrap();
            let got = store
                .deliver_client_totp(&alias, mfa_core::Timestamp::from_secs(1_800_000_000))
                .await
                .unwrap();
            store.close().await;
            got.map(|t| t.secret.to_base32())
        })
    };
    assert_eq!(
        deliver("bob"),
        None,
        "an authenticator-only seed was handed out"
    );
    let shown = env.json(&["client", "show", "bob"]);
    assert!(shown["totp_delivered_at"].is_string(), "{shown}");
    assert_eq!(
        deliver("tux").as_deref(),
        show_secret(&env, "tux").as_deref()
    );
    let text = env.ok(&["client", "show", "tux"]);
    assert!(
        text.contains("seed:     delivered 2027-01-15T08:00:00Z"),
        "{text}"
    );

    // A reset makes the new seed deliverable again, unless it is for an authenticator only.
    let reset = env.json(&["client", "reset-totp", "tux"]);
    assert_eq!(reset["authenticator_only"], false, "{reset}");
    assert_eq!(
        deliver("tux").as_deref(),
        reset["totp_secret"].as_str(),
        "the reset seed"
    );
    env.ok(&["client", "reset-totp", "tux", "--authenticator-only"]);
    assert_eq!(deliver("tux"), None);
}

/// The seed the store holds for `name`, base32.
fn show_secret(env: &Env, name: &str) -> Option<String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let store = env.store().await;
            let alias = mfa_core::Alias::new(name).unwrap();
            let (totp, _) = store.client_totp(&alias).await.unwrap().unwrap();
            store.close().await;
            Some(totp.secret.to_base32())
        })
}

#[test]
fn add_with_a_link_prints_the_link_and_leaves_the_totp_out_of_force() {
    let env = Env::with("host_addr = \"https://mfa.example.org\"");
    let v = env.json(&["client", "add", "amy", "--link", "--expires", "2h"]);
    let url = v["enrol_url"].as_str().unwrap();
    assert!(
        url.starts_with("https://mfa.example.org/enrol/mfae_"),
        "{v}"
    );
    assert!(
        v.get("client_key").is_none() && v.get("totp_secret").is_none(),
        "{v}"
    );
    let expires = mfa_core::Timestamp::parse_rfc3339(v["expires_at"].as_str().unwrap()).unwrap();
    let now = mfa_core::Clock::now(&mfa_core::SystemClock);
    let left = expires.millis() - now.millis();
    assert!((7_100_000..=7_200_000).contains(&left), "{left}");
    let show = env.json(&["client", "show", "amy"]);
    assert_eq!(show["totp_active"], false, "{show}");
    assert_eq!(
        show["open_enrol_links"].as_array().unwrap().len(),
        1,
        "{show}"
    );
    let text = env.ok(&["client", "show", "amy"]);
    assert!(
        text.contains("waiting for the code on its enrolment link"),
        "{text}"
    );

    let tux = env.json(&["client", "add", "tux"]);
    assert_eq!(tux["alias"], "tux");
    let out = env.ok(&["client", "enrol-link", "tux"]);
    assert!(out.contains("https://mfa.example.org/enrol/mfae_"), "{out}");
    assert!(out.contains("keep working until the code"), "{out}");
    let show = env.json(&["client", "show", "tux"]);
    assert_eq!(show["totp_active"], true, "{show}");
    assert_eq!(
        show["open_enrol_links"].as_array().unwrap().len(),
        1,
        "{show}"
    );
}

#[test]
fn bad_link_input_is_one_line_and_changes_nothing() {
    let env = Env::with("");
    for (args, says) in [
        (
            &["client", "add", "amy", "--link", "--expires", "soon"][..],
            "invalid --expires",
        ),
        (
            &["client", "add", "amy", "--link", "--expires", "90d"][..],
            "from 1m to 30d",
        ),
        (&["client", "enrol-link", "nobody"][..], "nobody"),
    ] {
        let err = env.fails(args);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    // Flags that do not go together: clap's usage error.
    for (args, says) in [
        (
            &["client", "add", "amy", "--link", "--authenticator-only"][..],
            "cannot be used with",
        ),
        (&["client", "add", "amy", "--expires", "1h"][..], "--link"),
    ] {
        let (ok, _, err) = env.run(args);
        assert!(!ok && err.contains(says), "{args:?}: {err}");
    }
    assert_eq!(env.json(&["client", "list"]), serde_json::json!([]));
}

#[test]
fn a_passkey_link_needs_a_host_addr_with_a_name() {
    let env = Env::with("host_addr = \"https://mfa.example.org\"");
    env.ok(&["client", "add", "tux"]);
    let v = env.json(&["client", "passkey-link", "tux", "--expires", "1h"]);
    let url = v["passkey_url"].as_str().unwrap();
    assert!(
        url.starts_with("https://mfa.example.org/passkey/mfap_"),
        "{v}"
    );
    assert_eq!(v["alias"], "tux");
    assert_eq!(
        env.json(&["client", "show", "tux"])["passkeys"],
        serde_json::json!([])
    );

    let ip = Env::with("host_addr = \"https://192.0.2.1:8443\"");
    ip.ok(&["client", "add", "tux"]);
    let err = ip.fails(&["client", "passkey-link", "tux"]);
    assert!(err.contains("DNS name"), "{err}");
}

#[test]
fn passkeys_are_listed_and_removed_by_name() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = env.store().await;
        let tux = mfa_core::Alias::new("tux").unwrap();
        let link = mfa_secrets::Token::generate("mfap").unwrap().hash();
        let now = mfa_core::Timestamp::from_secs(1_800_000_000);
        store
            .add_passkey_link(&tux, &link, now, now.plus_secs(3600))
            .await
            .unwrap();
        let new = mfa_store::NewPasskey {
            link: &link,
            credential_id: "c2VlZA",
            name: "phone",
            passkey: "{}",
            now,
        };
        assert!(store.register_passkey(new).await.unwrap());
        store.close().await;
    });
    let list = env.json(&["client", "passkeys", "tux"]);
    assert_eq!(list[0]["name"], "phone", "{list}");
    assert_eq!(list[0]["last_used_at"], serde_json::Value::Null);
    assert_eq!(
        env.json(&["client", "show", "tux"])["passkeys"],
        serde_json::json!(["phone"])
    );
    env.ok(&["client", "passkey-remove", "tux", "phone"]);
    let err = env.fails(&["client", "passkey-remove", "tux", "phone"]);
    assert!(err.contains("no passkey called"), "{err}");
    assert_eq!(
        env.json(&["client", "passkeys", "tux"]),
        serde_json::json!([])
    );
}
