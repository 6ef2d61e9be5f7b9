use crate::Env;

#[test]
fn seed_add_app_works_verbatim() {
    let env = Env::with("");
    env.ok(&["--add-client", "tux"]);
    let out = env.ok(&[
        "--add-app",
        "--user",
        "tux",
        "--host",
        "linux.example.org",
        "--service",
        "sshd",
        "--alias",
        "tux",
        "--methods",
        "push",
        "totp",
    ]);
    assert!(out.contains("Added app"), "{out}");
    let apps = env.json(&["app", "list"]);
    let app = &apps[0];
    assert_eq!(app["user"], "tux");
    assert_eq!(app["host"], "linux.example.org");
    assert_eq!(app["service"], "sshd");
    assert_eq!(app["methods"], serde_json::json!(["push", "totp"]));
    assert_eq!(app["clients"], serde_json::json!(["tux"]));
}

#[test]
fn add_with_wildcards_and_several_clients_then_show_and_remove() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    env.ok(&["client", "add", "tux-phone"]);
    let app = env.json(&[
        "app",
        "add",
        "--user",
        "tux",
        "--host",
        "*",
        "--service",
        "*",
        "--client",
        "tux,tux-phone",
        "--methods",
        "push",
    ]);
    let id = app["id"].as_i64().unwrap().to_string();
    assert_eq!(app["host"], "*");
    assert_eq!(app["clients"], serde_json::json!(["tux", "tux-phone"]));
    assert_eq!(env.json(&["app", "show", &id])["id"], app["id"]);
    assert_eq!(
        env.json(&["client", "show", "tux-phone"])["apps"],
        serde_json::json!([app["id"]])
    );
    let text = env.ok(&["app", "list"]);
    assert!(text.contains("tux,tux-phone"), "{text}");
    env.ok(&["app", "remove", &id]);
    assert_eq!(env.json(&["app", "list"]), serde_json::json!([]));
}

#[test]
fn list_filters_by_user() {
    let env = Env::with("");
    env.ok(&["client", "add", "tux"]);
    for user in ["tux", "alice"] {
        env.ok(&[
            "app",
            "add",
            "--user",
            user,
            "--host",
            "*",
            "--service",
            "sshd",
            "--client",
            "tux",
            "--methods",
            "totp",
        ]);
    }
    let only = env.json(&["app", "list", "--user", "alice"]);
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["user"], "alice");
}
