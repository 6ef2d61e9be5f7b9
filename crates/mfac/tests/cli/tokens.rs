use mfa_core::Scope;
use mfa_secrets::Token;
use serde_json::json;

use crate::Env;

fn token_of(v: &serde_json::Value) -> String {
    let token = v["api_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mfat_") && token.len() > 40, "{token}");
    token
}

/// What mfad would find for a presented token: (name, scopes, vault app limit).
async fn lookup(env: &Env, token: &str) -> Option<(String, String, Option<Vec<i64>>)> {
    let store = env.store().await;
    let found = store
        .api_token_by_hash(&Token::from_presented(token).hash())
        .await
        .unwrap()
        .map(|t| (t.name.to_string(), t.scopes.to_string(), t.vault_apps));
    store.close().await;
    found
}

#[tokio::test]
async fn add_prints_the_token_once_list_never_does_and_remove_revokes() {
    let env = Env::with("");
    let text = env.ok(&["token", "add", "shop", "--scope", "otp"]);
    assert!(text.contains("Added API token shop: otp."), "{text}");
    let shop = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("mfat_"))
        .unwrap_or_else(|| panic!("no token in {text}"))
        .to_owned();
    assert_eq!(
        lookup(&env, &shop).await,
        Some(("shop".into(), "otp".into(), None))
    );

    env.json(&["vault", "add", "a", "--secret", "JBSWY3DPEHPK3PXP"]);
    env.json(&["vault", "add", "b", "--secret", "JBSWY3DPEHPK3PXP"]);
    let v = env.json(&[
        "token",
        "add",
        "ci",
        "--scope",
        "vault:read",
        "--scope",
        "otp",
        "--apps",
        "2,1,2",
    ]);
    assert_eq!(v["name"], "ci");
    assert_eq!(v["scopes"], json!(["otp", "vault:read"]));
    assert_eq!(v["vault_apps"], json!([1, 2]));
    let ci = token_of(&v);
    assert_eq!(
        lookup(&env, &ci).await,
        Some(("ci".into(), "otp,vault:read".into(), Some(vec![1, 2])))
    );
    let text = env.ok(&[
        "token",
        "add",
        "deploy",
        "--scope",
        "vault:read,vault:write",
        "--apps",
        "2",
    ]);
    assert!(
        text.contains("Added API token deploy: vault:read, vault:write; vault apps 2."),
        "{text}"
    );

    let list = env.json(&["token", "list"]);
    assert_eq!(
        list,
        json!([
            {"name": "ci", "scopes": ["otp", "vault:read"], "vault_apps": [1, 2], "created_at": list[0]["created_at"]},
            {"name": "deploy", "scopes": ["vault:read", "vault:write"], "vault_apps": [2], "created_at": list[1]["created_at"]},
            {"name": "shop", "scopes": ["otp"], "vault_apps": null, "created_at": list[2]["created_at"]},
        ])
    );
    let text = env.ok(&["token", "list"]);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("otp,vault:read") && text.contains("all"),
        "{text}"
    );
    assert!(!text.contains("mfat_"), "{text}");

    // Only hashes are stored.
    let db = std::fs::read(env.data().join("mfa.db")).unwrap();
    let wal = std::fs::read(env.data().join("mfa.db-wal")).unwrap_or_default();
    for t in [&shop, &ci] {
        for bytes in [&db, &wal] {
            assert!(!bytes.windows(t.len()).any(|w| w == t.as_bytes()));
        }
    }

    assert_eq!(
        env.json(&["token", "remove", "ci"]),
        json!({"name": "ci", "result": "removed"})
    );
    assert_eq!(lookup(&env, &ci).await, None);
    let text = env.ok(&["token", "remove", "shop"]);
    assert!(text.contains("API token shop removed"), "{text}");
    assert_eq!(env.json(&["token", "list"]).as_array().unwrap().len(), 1);
    assert!(Scope::ALL.len() == 3);
}

#[test]
fn bad_token_input_is_one_line_and_changes_nothing() {
    let env = Env::with("");
    env.json(&["token", "add", "shop", "--scope", "otp"]);
    assert_eq!(
        env.fails(&["token", "add", "shop", "--scope", "otp"]),
        "mfac: api token shop exists already"
    );
    assert_eq!(
        env.fails(&["token", "add", "ci", "--scope", "otp,vault"]),
        "mfac: unknown scope \"vault\": expected one or more of otp, vault:read, vault:write"
    );
    assert!(
        env.fails(&["token", "add", "ci", "--scope", ","])
            .contains("no scopes given")
    );
    assert!(
        env.fails(&["token", "add", "bad name", "--scope", "otp"])
            .contains("invalid token name")
    );
    assert_eq!(
        env.fails(&["token", "add", "ci", "--scope", "vault:read", "--apps", "7"]),
        "mfac: vault app 7 does not exist"
    );
    assert!(
        env.fails(&[
            "token",
            "add",
            "ci",
            "--scope",
            "vault:read",
            "--apps",
            "seven"
        ])
        .contains("invalid vault app id \"seven\"")
    );
    assert!(
        env.fails(&["token", "add", "ci", "--scope", "otp", "--apps", "1"])
            .contains("--apps limits vault access")
    );
    assert_eq!(
        env.fails(&["token", "remove", "ghost"]),
        "mfac: api token ghost does not exist"
    );
    let list = env.json(&["token", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
}
