//! `mfac duo`: Duo integrations, on SQLite and, when `MFA_TEST_POSTGRES_URL` is set, on a
//! PostgreSQL schema of their own.

use mfa_testkit::postgres::{PgSchema, psql_value};

use crate::Env;

/// One database to run a test on: SQLite in the Env's data dir, or a PostgreSQL schema.
struct Setup {
    env: Env,
    /// Dropped after `env` (fields drop in order), so mfac is done with it.
    schema: Option<PgSchema>,
}

/// SQLite, and PostgreSQL when `MFA_TEST_POSTGRES_URL` names a server; `extra`: more config.
fn setups(extra: &str) -> Vec<Setup> {
    let mut setups = vec![Setup {
        env: Env::with(extra),
        schema: None,
    }];
    if let Some(schema) = PgSchema::from_env("mfacduo") {
        setups.push(Setup {
            env: Env::with(&format!("database_url = \"{}\"\n{extra}", schema.url())),
            schema: Some(schema),
        });
    }
    setups
}

impl Setup {
    fn backend(&self) -> &'static str {
        if self.schema.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Insists `secret` is nowhere in the database as written: the SQLite file and its WAL,
    /// or the rows of the PostgreSQL table (as text and as hex).
    fn assert_not_stored(&self, secret: &str) {
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        match &self.schema {
            None => {
                let data = self.env.data();
                let db = std::fs::read(data.join("mfa.db")).unwrap();
                let wal = std::fs::read(data.join("mfa.db-wal")).unwrap_or_default();
                for bytes in [&db, &wal] {
                    assert!(
                        !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                        "the skey is in the SQLite file"
                    );
                }
            }
            Some(schema) => {
                let rows = psql_value(
                    &schema.server,
                    &format!("SELECT t::text FROM {}.duo_integrations t", schema.name),
                );
                assert!(rows.contains("DI"), "no rows read: {rows}");
                assert!(!rows.contains(secret), "the skey is in PostgreSQL");
                assert!(!rows.contains(&hex), "the skey is in PostgreSQL (hex)");
            }
        }
    }
}

/// The ikey and skey mfad would find for an ikey: the integration's name and its skey.
async fn by_ikey(env: &Env, ikey: &str) -> Option<(String, String)> {
    let store = env.store().await;
    let found = store
        .duo_integration_by_ikey(ikey)
        .await
        .unwrap()
        .map(|(d, skey)| (d.name.to_string(), skey.expose().to_owned()));
    store.close().await;
    found
}

/// A `key = value` line of the printed `[duo]` section.
fn config_value(text: &str, key: &str) -> String {
    let prefix = format!("{key} = ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {key} line in {text}"))
        .to_owned()
}

fn assert_keys(ikey: &str, skey: &str) {
    assert!(ikey.starts_with("DI") && ikey.len() == 20, "{ikey}");
    assert!(
        ikey.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()),
        "{ikey}"
    );
    assert_eq!(skey.len(), 40, "{skey}");
    assert!(skey.bytes().all(|b| b.is_ascii_alphanumeric()), "{skey}");
}

#[tokio::test]
async fn add_prints_the_keys_once_with_the_config_lines() {
    for setup in setups("") {
        let env = &setup.env;
        let (ok, text, err) = env.run(&[
            "duo",
            "add",
            "pam-1",
            "--hosts",
            "linux.example.org,*.lab.example.org",
        ]);
        assert!(ok, "{}: {err}", setup.backend());
        assert!(
            text.contains(
                "Added Duo integration pam-1: it may ask for MFA for linux.example.org, \
                 *.lab.example.org."
            ),
            "{text}"
        );
        let ikey = config_value(&text, "ikey");
        let skey = config_value(&text, "skey");
        assert_keys(&ikey, &skey);
        // The lines to paste, in order, the default host_addr's authority as host.
        let section = format!(
            "[duo]\nikey = {ikey}\nskey = {skey}\nhost = 127.0.0.1:8420\n\
             cafile = <path of the CA that signed mfad's certificate>\nfailmode = secure\n"
        );
        assert!(text.contains(&section), "{text}");
        assert!(text.contains("pam_duo.conf"), "{text}");
        // No [tls] and an IP address as host: both warned about, on stderr; not legacy.
        assert!(
            err.contains("mfac: warning: mfad's config has no [tls]"),
            "{err}"
        );
        assert!(err.contains("use a DNS name in host_addr"), "{err}");
        assert!(!err.contains("replayed"), "{err}");
        assert!(!err.contains(&skey), "{err}");
        assert_eq!(
            by_ikey(env, &ikey).await,
            Some(("pam-1".to_owned(), skey.clone()))
        );

        let v = env.json(&["duo", "add", "pam-2", "--hosts", "*"]);
        for field in ["name", "ikey", "skey", "host"] {
            assert!(v[field].is_string(), "{field}: {v}");
        }
        assert_eq!(v["name"], "pam-2");
        assert_eq!(v["host"], "127.0.0.1:8420");
        assert_eq!(v["hosts"], serde_json::json!(["*"]));
        assert_eq!(v["legacy"], false);
        let (ikey2, skey2) = (v["ikey"].as_str().unwrap(), v["skey"].as_str().unwrap());
        assert_keys(ikey2, skey2);
        assert_ne!(ikey, ikey2);
        assert_ne!(skey, skey2);

        // Listing shows everything but the skeys.
        let list = env.json(&["duo", "list"]);
        assert_eq!(
            list,
            serde_json::json!([
                {
                    "name": "pam-1",
                    "ikey": ikey,
                    "hosts": ["linux.example.org", "*.lab.example.org"],
                    "legacy": false,
                    "created_at": list[0]["created_at"],
                    "skey_rotated_at": null,
                },
                {
                    "name": "pam-2",
                    "ikey": ikey2,
                    "hosts": ["*"],
                    "legacy": false,
                    "created_at": list[1]["created_at"],
                    "skey_rotated_at": null,
                },
            ])
        );
        assert!(list[0]["created_at"].as_str().unwrap().ends_with('Z'));
        let text = env.ok(&["duo", "list"]);
        assert!(text.starts_with("NAME"), "{text}");
        assert!(text.contains(&ikey) && text.contains(ikey2), "{text}");
        for s in [&skey, skey2] {
            assert!(!text.contains(s) && !list.to_string().contains(s), "{text}");
        }

        // Stored sealed only.
        setup.assert_not_stored(&skey);
        setup.assert_not_stored(skey2);
    }
}

#[tokio::test]
async fn rotate_gives_a_new_skey_and_keeps_the_ikey() {
    for setup in setups("") {
        let env = &setup.env;
        let added = env.json(&["duo", "add", "pam-1", "--hosts", "h.example.org"]);
        let ikey = added["ikey"].as_str().unwrap();
        let old = added["skey"].as_str().unwrap();

        let v = env.json(&["duo", "rotate", "pam-1"]);
        assert_eq!(v["name"], "pam-1");
        assert_eq!(v["ikey"], ikey);
        assert_eq!(v["host"], "127.0.0.1:8420");
        let new = v["skey"].as_str().unwrap();
        assert_keys(ikey, new);
        assert_ne!(old, new);
        assert_eq!(
            by_ikey(env, ikey).await,
            Some(("pam-1".to_owned(), new.to_owned())),
            "{}",
            setup.backend()
        );
        setup.assert_not_stored(new);

        let text = env.ok(&["duo", "rotate", "pam-1"]);
        assert!(text.contains("the old one no longer works"), "{text}");
        assert_eq!(config_value(&text, "ikey"), ikey);
        let newer = config_value(&text, "skey");
        assert_ne!(newer, new);
        assert!(text.contains("failmode = secure"), "{text}");
        assert_eq!(by_ikey(env, ikey).await.unwrap().1, newer);

        let list = env.json(&["duo", "list"]);
        assert_eq!(list[0]["ikey"], ikey);
        assert!(list[0]["skey_rotated_at"].is_string(), "{list}");
        assert!(!list.to_string().contains(&newer), "{list}");
        let text = env.ok(&["duo", "list"]);
        assert!(!text.contains("never"), "{text}");
    }
}

#[tokio::test]
async fn remove_takes_the_ikey_away() {
    for setup in setups("") {
        let env = &setup.env;
        let added = env.json(&["duo", "add", "pam-1", "--hosts", "h.example.org"]);
        let ikey = added["ikey"].as_str().unwrap();
        env.ok(&["duo", "add", "pam-2", "--hosts", "h.example.org"]);
        let v = env.json(&["duo", "remove", "pam-1"]);
        assert_eq!(
            v,
            serde_json::json!({ "name": "pam-1", "result": "removed" })
        );
        assert_eq!(by_ikey(env, ikey).await, None);
        let list = env.json(&["duo", "list"]);
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["name"], "pam-2");
        let text = env.ok(&["duo", "remove", "pam-2"]);
        assert!(text.contains("its ikey no longer works"), "{text}");
        assert_eq!(env.json(&["duo", "list"]), serde_json::json!([]));
    }
}

#[test]
fn legacy_is_warned_about_and_listed() {
    for setup in setups("") {
        let env = &setup.env;
        let (ok, out, err) = env.run(&[
            "duo",
            "add",
            "old-pam",
            "--hosts",
            "h.example.org",
            "--legacy",
        ]);
        assert!(ok, "{err}");
        assert!(out.contains("[duo]"), "{out}");
        let legacy: Vec<&str> = err.lines().filter(|l| l.contains("replayed")).collect();
        assert_eq!(legacy.len(), 1, "{err}");
        assert!(legacy[0].starts_with("mfac: warning: "), "{err}");
        assert!(legacy[0].contains("/rest/v1/*.bson"), "{err}");

        let list = env.json(&["duo", "list"]);
        assert_eq!(list[0]["legacy"], true, "{list}");
        let text = env.ok(&["duo", "list"]);
        assert!(text.contains("LEGACY"), "{text}");
        let row = text.lines().find(|l| l.starts_with("old-pam")).unwrap();
        assert!(row.contains(" yes "), "{text}");
        // Rotating a legacy integration warns again.
        let (ok, _, err) = env.run(&["duo", "rotate", "old-pam"]);
        assert!(ok && err.contains("replayed"), "{err}");
    }
}

#[test]
fn help_says_what_legacy_allows() {
    let env = Env::with("");
    let help = env.ok(&["duo", "add", "--help"]);
    assert!(help.contains("--legacy"), "{help}");
    assert!(help.contains("/rest/v1/*.bson"), "{help}");
    assert!(help.contains("replayed"), "{help}");
}

#[test]
fn host_is_host_addr_without_scheme_or_path_and_tls_means_no_warning() {
    let env = Env::with(
        "host_addr = \"https://mfa.example.org:8443/mfa/\"\n\
         [tls]\ncert = \"/etc/mfa/tls/fullchain.pem\"\nkey = \"/etc/mfa/tls/privkey.pem\"\n",
    );
    let (ok, out, err) = env.run(&["duo", "add", "pam-1", "--hosts", "*"]);
    assert!(ok, "{err}");
    assert!(out.contains("\nhost = mfa.example.org:8443\n"), "{out}");
    assert!(out.contains("/etc/mfa/tls/fullchain.pem"), "{out}");
    assert_eq!(err, "", "no warnings expected");
    let v = env.json(&["duo", "rotate", "pam-1"]);
    assert_eq!(v["host"], "mfa.example.org:8443");

    // No host_addr with [tls]: mfad's default, https://<listen>.
    let env = Env::with(
        "listen = \"[::1]:9443\"\n\
         [tls]\ncert = \"/etc/mfa/tls/fullchain.pem\"\nkey = \"/etc/mfa/tls/privkey.pem\"\n",
    );
    let (ok, out, err) = env.run(&["duo", "add", "pam-1", "--hosts", "*", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["host"], "[::1]:9443");
    assert!(!err.contains("[tls]"), "{err}");
    assert!(err.contains("use a DNS name in host_addr"), "{err}");
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    for setup in setups("") {
        let env = &setup.env;
        let added = env.json(&["duo", "add", "pam-1", "--hosts", "h.example.org"]);
        assert_eq!(
            env.fails(&["duo", "add", "pam-1", "--hosts", "other.example.org"]),
            "mfac: duo integration pam-1 exists already"
        );
        for bad in ["bad name", ".x", "a/b", "", "pam\u{e9}"] {
            let err = env.fails(&["duo", "add", bad, "--hosts", "h.example.org"]);
            assert!(
                err.contains("invalid Duo integration name"),
                "{bad:?}: {err}"
            );
        }
        for hosts in ["a b", "*x.example.org", "h.example.org,bad host", "a*"] {
            let err = env.fails(&["duo", "add", "pam-2", "--hosts", hosts]);
            assert!(err.contains("invalid pattern"), "{hosts:?}: {err}");
        }
        assert!(
            env.fails(&["duo", "add", "pam-2", "--hosts", ","])
                .contains("no hosts given")
        );
        for cmd in ["remove", "rotate"] {
            assert_eq!(
                env.fails(&["duo", cmd, "ghost"]),
                "mfac: duo integration ghost does not exist"
            );
        }
        // Still exactly the one integration, with its first skey.
        let list = env.json(&["duo", "list"]);
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["hosts"], serde_json::json!(["h.example.org"]));
        assert_eq!(list[0]["skey_rotated_at"], serde_json::Value::Null);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let found = rt.block_on(by_ikey(env, added["ikey"].as_str().unwrap()));
        assert_eq!(found.unwrap().1, added["skey"].as_str().unwrap());
    }
}
