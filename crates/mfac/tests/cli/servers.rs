use mfa_secrets::Token;

use crate::Env;

fn token_of(v: &serde_json::Value) -> String {
    let token = v["api_token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mfas_") && token.len() > 40, "{token}");
    token
}

/// The server mfad would find for a presented token, by its name.
async fn server_for(env: &Env, token: &str) -> Option<String> {
    let store = env.store().await;
    let found = store
        .server_by_token(&Token::from_presented(token).hash())
        .await
        .unwrap()
        .map(|s| s.name);
    store.close().await;
    found
}

#[tokio::test]
async fn add_prints_the_token_once_and_it_works() {
    let env = Env::with("");
    let text = env.ok(&[
        "server",
        "add",
        "ssh-1",
        "--hosts",
        "linux.example.org,*.lab.example.org",
    ]);
    assert!(
        text.contains(
            "Added server ssh-1: it may ask for MFA for linux.example.org, *.lab.example.org."
        ),
        "{text}"
    );
    let token = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("mfas_"))
        .unwrap_or_else(|| panic!("no token in {text}"))
        .to_owned();
    assert_eq!(server_for(&env, &token).await.as_deref(), Some("ssh-1"));

    let v = env.json(&["server", "add", "mail", "--hosts", "*"]);
    assert_eq!(v["name"], "mail");
    assert_eq!(v["hosts"], serde_json::json!(["*"]));
    assert!(v["created_at"].as_str().unwrap().ends_with('Z'), "{v}");
    let mail = token_of(&v);
    assert_eq!(server_for(&env, &mail).await.as_deref(), Some("mail"));

    // Listing shows names and hosts, never a token.
    let list = env.json(&["server", "list"]);
    assert_eq!(
        list,
        serde_json::json!([
            { "name": "mail", "hosts": ["*"], "created_at": list[0]["created_at"] },
            {
                "name": "ssh-1",
                "hosts": ["linux.example.org", "*.lab.example.org"],
                "created_at": list[1]["created_at"],
            },
        ])
    );
    let text = env.ok(&["server", "list"]);
    assert!(text.starts_with("NAME"), "{text}");
    assert!(
        text.contains("linux.example.org,*.lab.example.org"),
        "{text}"
    );
    assert!(!text.contains("mfas_"), "{text}");

    // Only the hash is stored.
    let db = std::fs::read(env.data().join("mfa.db")).unwrap();
    let wal = std::fs::read(env.data().join("mfa.db-wal")).unwrap_or_default();
    for t in [&token, &mail] {
        for bytes in [&db, &wal] {
            assert!(!bytes.windows(t.len()).any(|w| w == t.as_bytes()));
        }
    }
}

#[tokio::test]
async fn rotate_token_replaces_the_old_one() {
    let env = Env::with("");
    let old = token_of(&env.json(&["server", "add", "ssh-1", "--hosts", "h.example.org"]));
    let new = token_of(&env.json(&["server", "rotate-token", "ssh-1"]));
    assert_ne!(old, new);
    assert_eq!(server_for(&env, &old).await, None);
    assert_eq!(server_for(&env, &new).await.as_deref(), Some("ssh-1"));
    let text = env.ok(&["server", "rotate-token", "ssh-1"]);
    assert!(text.contains("the old one no longer works"), "{text}");
    assert_eq!(server_for(&env, &new).await, None);
}

#[tokio::test]
async fn remove_takes_the_token_away() {
    let env = Env::with("");
    let token = token_of(&env.json(&["server", "add", "ssh-1", "--hosts", "h.example.org"]));
    let v = env.json(&["server", "remove", "ssh-1"]);
    assert_eq!(
        v,
        serde_json::json!({ "name": "ssh-1", "result": "removed" })
    );
    assert_eq!(env.json(&["server", "list"]), serde_json::json!([]));
    assert_eq!(server_for(&env, &token).await, None);
}

#[test]
fn host_patterns_are_normalised_and_deduplicated() {
    let env = Env::with("");
    let v = env.json(&[
        "server",
        "add",
        "ssh-1",
        "--hosts",
        "Linux.Example.org, linux.example.org,*.LAB.example.org",
    ]);
    assert_eq!(
        v["hosts"],
        serde_json::json!(["linux.example.org", "*.lab.example.org"])
    );
}

#[test]
fn bad_input_is_one_line_and_changes_nothing() {
    let env = Env::with("");
    let token = token_of(&env.json(&["server", "add", "ssh-1", "--hosts", "h.example.org"]));
    assert_eq!(
        env.fails(&["server", "add", "ssh-1", "--hosts", "other.example.org"]),
        "mfac: server ssh-1 exists already"
    );
    for bad in ["bad name", ".x", "a/b", "", "ssh\u{e9}"] {
        let err = env.fails(&["server", "add", bad, "--hosts", "h.example.org"]);
        assert!(err.contains("invalid server name"), "{bad:?}: {err}");
    }
    for hosts in ["a b", "*x.example.org", "h.example.org,bad host", "a*"] {
        let err = env.fails(&["server", "add", "ssh-2", "--hosts", hosts]);
        assert!(err.contains("invalid pattern"), "{hosts:?}: {err}");
    }
    assert!(
        env.fails(&["server", "add", "ssh-2", "--hosts", ","])
            .contains("no hosts given")
    );
    for cmd in ["remove", "rotate-token"] {
        assert_eq!(
            env.fails(&["server", cmd, "ghost"]),
            "mfac: server ghost does not exist"
        );
    }
    // Still exactly the one server, with its first token.
    let list = env.json(&["server", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list[0]["hosts"], serde_json::json!(["h.example.org"]));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(server_for(&env, &token)).as_deref(),
        Some("ssh-1")
    );
}
