//! The policy through mfad: the global mfa_policy, rules per user, group, host, host group and
//! service, bypass, enroll, passwords (with their ages) and recovery codes.

use std::sync::Arc;

use mfa_core::policy::{Requirement, Subject, Target};
use mfa_core::{Alias, FixedClock, Timestamp};
use mfa_secrets::{PasswordHash, RecoveryCode};
use mfa_store::{AuditFilter, NewRule, RuleHost};
use serde_json::{Value, json};

use crate::support::{Fixture, TestServer, fixture, fixture_on, login};

pub fn alias(s: &str) -> Alias {
    Alias::new(s).unwrap()
}

pub async fn set_password(srv: &TestServer, client: &str, password: &str) {
    srv.state
        .store
        .set_client_password(
            &alias(client),
            &PasswordHash::new(password).unwrap(),
            srv.now(),
        )
        .await
        .unwrap();
}

/// A rule from a compact description: who is "user:U", "group:G" or "*"; where a host
/// pattern, "@HOSTGROUP" or "*"; what "service:S", "action:A" or "*".
pub async fn add_rule(srv: &TestServer, who: &str, host: &str, what: &str, require: &str) -> i64 {
    let subject = match who.split_once(':') {
        Some(("user", u)) => Subject::User(alias(u)),
        Some(("group", g)) => Subject::Group(alias(g)),
        _ => Subject::Everyone,
    };
    let host = match host {
        "*" => RuleHost::Any,
        h if h.starts_with('@') => RuleHost::Group(alias(&h[1..])),
        h => RuleHost::Pattern(h.parse().unwrap()),
    };
    let target = match what.split_once(':') {
        Some(("service", s)) => Target::Service(s.parse().unwrap()),
        Some(("action", a)) => Target::Action(a.parse().unwrap()),
        _ => Target::Any,
    };
    let require: Requirement = require.parse().unwrap();
    srv.state
        .store
        .add_rule(
            &NewRule {
                subject,
                host,
                target,
                require,
            },
            srv.now(),
        )
        .await
        .unwrap()
        .id
}

/// POST /v1/preauth for `user` on linux.example.org, `service`, from 192.0.2.10.
pub async fn preauth(f: &Fixture, user: &str, service: &str) -> Value {
    preauth_on(f, user, "linux.example.org", service).await
}

pub async fn preauth_on(f: &Fixture, user: &str, host: &str, service: &str) -> Value {
    let body = json!({"user": user, "host": host, "service": service, "client_ip": "192.0.2.10"});
    let (status, v) = f.srv.post("/v1/preauth", &f.token, &body).await;
    assert_eq!(status, 200, "{v}");
    v
}

/// POST /v1/auth for tux's sshd login with `method` and the extra fields of `with`.
pub async fn auth(f: &Fixture, method: &str, with: Value) -> Value {
    let mut body = login(method);
    for (k, v) in with.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 200, "{v}");
    v
}

pub fn code(f: &Fixture) -> String {
    f.tux.totp.code_at(f.srv.now().unix_secs())
}

async fn last_audit(f: &Fixture) -> mfa_store::AuditEntry {
    f.srv
        .state
        .store
        .audit_entries(&AuditFilter::default())
        .await
        .unwrap()
        .pop()
        .unwrap()
}

#[tokio::test]
async fn mfa_policy_disabled_lets_everyone_in() {
    let f = fixture("mfa_policy = \"disabled\"").await;
    add_rule(&f.srv, "user:tux", "*", "*", "password,totp").await;
    for user in ["tux", "nobody"] {
        let pre = preauth(&f, user, "sshd").await;
        assert_eq!(pre["result"], "allow", "{pre}");
        assert_eq!(pre["reason"], "MFA is off (mfa_policy = \"disabled\")");
    }
    assert_eq!(auth(&f, "push", json!({})).await["result"], "allow");
}

#[tokio::test]
async fn mfa_policy_enabled_asks_only_logins_that_route_to_an_app() {
    let f = fixture("mfa_policy = \"enabled\"").await;
    assert_eq!(preauth(&f, "nobody", "sshd").await["result"], "allow");
    assert_eq!(preauth(&f, "tux", "ftp").await["result"], "allow");
    assert_eq!(
        preauth(&f, "tux", "sshd").await,
        json!({"result": "auth", "methods": ["push", "totp"]})
    );
    // A rule makes MFA required again for those it names.
    add_rule(&f.srv, "user:nobody", "*", "*", "any").await;
    assert_eq!(preauth(&f, "nobody", "sshd").await["result"], "enroll");
}

#[tokio::test]
async fn the_default_any_required_keeps_the_old_behaviour() {
    let f = fixture("").await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await,
        json!({"result": "auth", "methods": ["push", "totp"]})
    );
    assert_eq!(preauth(&f, "nobody", "sshd").await["result"], "enroll");
    assert_eq!(preauth(&f, "tux", "ftp").await["result"], "deny");
}

#[tokio::test]
async fn totp_required_asks_for_totp_only() {
    let f = fixture("mfa_policy = \"totp-required\"").await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await,
        json!({"result": "auth", "methods": ["totp"], "required": ["totp"]})
    );
    let push = auth(&f, "push", json!({})).await;
    assert_eq!(push["result"], "deny");
    assert_eq!(
        push["reason"],
        "method push is not allowed for this login (allowed: totp)"
    );
    assert_eq!(
        auth(&f, "totp", json!({"passcode": code(&f)})).await["result"],
        "allow"
    );
}

#[tokio::test]
async fn password_required_enrolls_until_a_password_is_set() {
    let f = fixture("mfa_policy = \"password-required\"").await;
    let pre = preauth(&f, "tux", "sshd").await;
    assert_eq!(pre["result"], "enroll", "{pre}");
    let how = "tux must give a password, but client tux has none: ask an admin to set one: mfac client password tux";
    assert_eq!(pre["reason"], how);
    // /v1/auth answers deny with the same message.
    let denied = auth(&f, "password", json!({"password": "whatever1"})).await;
    assert_eq!(denied, json!({"result": "deny", "reason": how}));
    assert_eq!(last_audit(&f).await.result, "enroll");

    set_password(&f.srv, "tux", "correct horse").await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await,
        json!({"result": "auth", "methods": ["password"], "required": ["password"]})
    );
    let wrong = auth(&f, "password", json!({"password": "battery staple"})).await;
    assert_eq!(wrong, json!({"result": "deny", "reason": "wrong password"}));
    let right = auth(&f, "password", json!({"password": "correct horse"})).await;
    assert_eq!(right["result"], "allow", "{right}");
    assert_eq!(last_audit(&f).await.method.as_deref(), Some("password"));
    // method auto with a password is the password alone: no push goes out.
    let auto = auth(&f, "auto", json!({"password": "correct horse"})).await;
    assert_eq!(auto["result"], "allow", "{auto}");
    assert_eq!(
        f.srv.get("/v1/client/requests", &f.tux.key).await.1,
        json!([])
    );
}

#[tokio::test]
async fn password_and_totp_must_come_together_and_nothing_is_burned_early() {
    let f = fixture("").await;
    set_password(&f.srv, "tux", "correct horse").await;
    add_rule(&f.srv, "user:tux", "*", "*", "password,totp").await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await,
        json!({"result": "auth", "methods": ["totp", "password"], "required": ["totp", "password"]})
    );
    let code = code(&f);
    let only_code = auth(&f, "totp", json!({"passcode": code})).await;
    assert_eq!(only_code["result"], "deny");
    assert_eq!(
        only_code["reason"],
        "this login needs all of totp,password in one request; missing: password"
    );
    let wrong_pw = auth(
        &f,
        "totp",
        json!({"passcode": code, "password": "nope nope"}),
    )
    .await;
    assert_eq!(wrong_pw["reason"], "wrong password");
    // Neither refusal burned the code.
    let both = auth(
        &f,
        "totp",
        json!({"passcode": code, "password": "correct horse"}),
    )
    .await;
    assert_eq!(both["result"], "allow", "{both}");
    let entry = last_audit(&f).await;
    assert_eq!(
        (entry.method.as_deref(), entry.result.as_str()),
        (Some("password+totp"), "allow")
    );
    let replay = auth(
        &f,
        "totp",
        json!({"passcode": code, "password": "correct horse"}),
    )
    .await;
    assert_eq!(replay["reason"], "invalid or already used code");
}

#[tokio::test]
async fn password_then_push() {
    let f = fixture("").await;
    set_password(&f.srv, "tux", "correct horse").await;
    add_rule(&f.srv, "user:tux", "*", "*", "password,push").await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await["required"],
        json!(["push", "password"])
    );
    let no_pw = auth(&f, "push", json!({})).await;
    assert_eq!(no_pw["result"], "deny", "{no_pw}");
    let wrong = auth(&f, "push", json!({"password": "nope nope"})).await;
    assert_eq!(wrong["reason"], "wrong password");
    assert_eq!(
        f.srv.get("/v1/client/requests", &f.tux.key).await.1,
        json!([]),
        "no push before the password is right"
    );
    let pending = auth(&f, "push", json!({"password": "correct horse"})).await;
    assert_eq!(pending["result"], "pending", "{pending}");
    let txid = pending["txid"].as_str().unwrap();
    let (_, d) = f
        .decide(
            txid,
            &json!({"decision": "approve", "number": pending["number"]}),
        )
        .await;
    assert_eq!(d["state"], "approved");
    let (_, status) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(status["result"], "allow");
    let entry = last_audit(&f).await;
    assert_eq!(
        (entry.method.as_deref(), entry.result.as_str()),
        (Some("push+password"), "approved")
    );
    // A TOTP code is not what this login needs.
    let totp = auth(
        &f,
        "totp",
        json!({"passcode": code(&f), "password": "correct horse"}),
    )
    .await;
    assert_eq!(
        totp["reason"],
        "method totp is not allowed for this login (allowed: push,password)"
    );
}

#[tokio::test]
async fn group_rules_apply_to_their_members_only() {
    let f = fixture("").await;
    f.srv.enrol("alice").await;
    f.srv
        .app(
            "alice",
            "linux.example.org",
            "sshd",
            &["alice"],
            "push,totp",
        )
        .await;
    f.srv
        .state
        .store
        .add_group(&alias("admins"), &[alias("tux")], f.srv.now())
        .await
        .unwrap();
    add_rule(&f.srv, "group:admins", "*", "*", "totp").await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await["required"],
        json!(["totp"])
    );
    assert_eq!(
        preauth(&f, "alice", "sshd").await["methods"],
        json!(["push", "totp"])
    );
    assert!(preauth(&f, "alice", "sshd").await.get("required").is_none());
    // Membership is read at every decision.
    f.srv
        .state
        .store
        .add_group_members(&alias("admins"), &[alias("alice")])
        .await
        .unwrap();
    assert_eq!(
        preauth(&f, "alice", "sshd").await["required"],
        json!(["totp"])
    );
}

#[tokio::test]
async fn host_host_group_and_service_rules() {
    let mut f = fixture("").await;
    f.token = f.srv.server("everywhere", &["*"]).await;
    f.srv.app("tux", "*", "*", &["tux"], "push,totp").await;
    f.srv
        .state
        .store
        .add_host_group(
            &alias("prod"),
            &[
                "db.example.org".parse().unwrap(),
                "*.prod.example.org".parse().unwrap(),
            ],
            f.srv.now(),
        )
        .await
        .unwrap();
    add_rule(&f.srv, "*", "@prod", "*", "push").await;
    add_rule(&f.srv, "*", "db.example.org", "*", "totp").await;
    add_rule(&f.srv, "*", "*", "service:cron", "none").await;
    let req = |v: Value| v.get("required").cloned().unwrap_or(json!("any"));
    // (host, service, expected)
    let table = [
        ("web.prod.example.org", "sshd", json!(["push"])),
        ("db.example.org", "sshd", json!(["totp"])),
        ("elsewhere.example.org", "sshd", json!("any")),
    ];
    for (host, service, want) in table {
        assert_eq!(
            req(preauth_on(&f, "tux", host, service).await),
            want,
            "{host} {service}"
        );
    }
    let cron = preauth_on(&f, "tux", "elsewhere.example.org", "cron").await;
    assert_eq!(cron["result"], "allow", "{cron}");
    assert!(
        cron["reason"]
            .as_str()
            .unwrap()
            .starts_with("no second factor required (rule ")
    );
    // A host rule and a service rule both match: neither is more specific, both apply
    // (none adds nothing to push).
    let both = preauth_on(&f, "tux", "web.prod.example.org", "cron").await;
    assert_eq!(req(both), json!(["push"]));
}

#[tokio::test]
async fn the_most_specific_rule_wins_through_mfad() {
    let f = fixture("").await;
    set_password(&f.srv, "tux", "correct horse").await;
    add_rule(&f.srv, "*", "*", "*", "totp").await;
    add_rule(&f.srv, "user:tux", "*", "*", "password,totp").await;
    let exception = add_rule(
        &f.srv,
        "user:tux",
        "linux.example.org",
        "service:sshd",
        "push",
    )
    .await;
    assert_eq!(
        preauth(&f, "tux", "sshd").await["required"],
        json!(["push"])
    );
    f.srv.state.store.remove_rule(exception).await.unwrap();
    assert_eq!(
        preauth(&f, "tux", "sshd").await["required"],
        json!(["totp", "password"])
    );
}

#[tokio::test]
async fn bypass_lets_automation_accounts_in_and_is_audited() {
    let f = fixture("").await;
    add_rule(&f.srv, "*", "*", "*", "password,totp").await;
    f.srv
        .state
        .store
        .set_user_bypass(&alias("robot-sync"), true, f.srv.now())
        .await
        .unwrap();
    let pre = preauth(&f, "robot-sync", "sshd").await;
    assert_eq!(pre["result"], "allow", "{pre}");
    assert_eq!(
        pre["reason"],
        "MFA bypassed: robot-sync is an automation account (mfac user modify robot-sync --no-bypass ends it)"
    );
    let entry = last_audit(&f).await;
    assert_eq!(
        (entry.user.as_str(), entry.result.as_str()),
        ("robot-sync", "bypass")
    );
    // A lock still wins over a bypass.
    f.srv
        .state
        .store
        .lock_until_cleared(
            mfa_store::LockKind::User,
            "robot-sync",
            "fraud reported",
            f.srv.now(),
        )
        .await
        .unwrap();
    assert_eq!(preauth(&f, "robot-sync", "sshd").await["result"], "deny");
    f.srv
        .state
        .store
        .set_user_bypass(&alias("tux"), false, f.srv.now())
        .await
        .unwrap();
    // No bypass: the rule applies (tux has no password yet: enroll).
    assert_eq!(preauth(&f, "tux", "sshd").await["result"], "enroll");
}

async fn recovery_codes(f: &Fixture, n: usize) -> Vec<String> {
    let codes: Vec<RecoveryCode> = (0..n).map(|_| RecoveryCode::generate().unwrap()).collect();
    let hashes: Vec<_> = codes.iter().map(RecoveryCode::hash).collect();
    f.srv
        .state
        .store
        .replace_recovery_codes(&alias("tux"), &hashes, f.srv.now())
        .await
        .unwrap();
    codes.iter().map(|c| c.expose().to_owned()).collect()
}

#[tokio::test]
async fn a_recovery_code_works_once_where_a_totp_code_is_asked() {
    let f = fixture("").await;
    let codes = recovery_codes(&f, 5).await;
    let first = auth(&f, "totp", json!({"passcode": codes[0]})).await;
    assert_eq!(first["result"], "allow", "{first}");
    assert!(first.get("warning").is_none(), "{first}");
    let entry = last_audit(&f).await;
    assert_eq!(
        (entry.method.as_deref(), entry.client.as_deref()),
        (Some("recovery"), Some("tux"))
    );
    let again = auth(&f, "auto", json!({"passcode": codes[0].to_uppercase()})).await;
    assert_eq!(
        again,
        json!({"result": "deny", "reason": "invalid or already used recovery code"})
    );
    // Typed with spaces instead of dashes, as part of password + totp, with few left: a warning.
    set_password(&f.srv, "tux", "correct horse").await;
    add_rule(&f.srv, "user:tux", "*", "*", "password,totp").await;
    auth(
        &f,
        "totp",
        json!({"passcode": codes[1], "password": "correct horse"}),
    )
    .await;
    let third = auth(
        &f,
        "totp",
        json!({"passcode": codes[2].replace('-', " "), "password": "correct horse"}),
    )
    .await;
    assert_eq!(third["result"], "allow", "{third}");
    assert_eq!(
        third["warning"],
        "2 recovery codes left: ask an admin for new ones (mfac client recovery-codes tux)"
    );
    // A recovery code never stands in for the password.
    let no_pw = auth(&f, "totp", json!({"passcode": codes[3]})).await;
    assert_eq!(no_pw["result"], "deny");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_uses_of_one_recovery_code_succeed_once() {
    let f = Arc::new(fixture("max_failed_attempts = 100").await);
    let code = recovery_codes(&f, 1).await.remove(0);
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let (f, code) = (f.clone(), code.clone());
            tokio::spawn(async move { auth(&f, "totp", json!({"passcode": code})).await })
        })
        .collect();
    let mut allowed = 0;
    for r in racers {
        if r.await.unwrap()["result"] == "allow" {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 1, "one recovery code accepted {allowed} times");
}

const DAY: i64 = 86_400;

#[tokio::test]
async fn the_password_policy_warns_expires_changes_and_refuses() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let srv = TestServer::start_with_clock(
        "mfa_policy = \"password-required\"\n[password]\nmin_days = 2\nmax_days = 10\nwarn_days = 3\ninactive_days = 5\n",
        Arc::new(clock.clone()),
    )
    .await;
    let f = fixture_on(srv).await;
    set_password(&f.srv, "tux", "first password").await;
    let pw = |p: &str| json!({"password": p});
    let change = |old: &str, new: &str| json!({"password": old, "new_password": new});

    // Day 1: valid; too young to change.
    clock.advance_secs(DAY);
    assert_eq!(
        auth(&f, "password", pw("first password")).await,
        json!({"result": "allow"})
    );
    let young = auth(&f, "password", change("first password", "second password")).await;
    assert_eq!(young["result"], "deny");
    assert!(
        young["reason"]
            .as_str()
            .unwrap()
            .contains("less than 2 days"),
        "{young}"
    );

    // Day 8: within warn_days of expiry.
    clock.advance_secs(7 * DAY);
    let warned = auth(&f, "password", pw("first password")).await;
    assert_eq!(warned["result"], "allow");
    assert!(
        warned["warning"].as_str().unwrap().contains("(in 2 days)"),
        "{warned}"
    );

    // Day 11: expired; it works only to change it.
    clock.advance_secs(3 * DAY);
    let expired = auth(&f, "password", pw("first password")).await;
    assert_eq!(expired["result"], "deny");
    assert_eq!(expired["change_password"], true, "{expired}");
    let short = auth(&f, "password", change("first password", "short")).await;
    assert!(
        short["reason"].as_str().unwrap().contains("at least 8"),
        "{short}"
    );
    let same = auth(&f, "password", change("first password", "first password")).await;
    assert!(
        same["reason"].as_str().unwrap().contains("differ"),
        "{same}"
    );
    let changed = auth(&f, "password", change("first password", "second password")).await;
    assert_eq!(changed, json!({"result": "allow"}));
    assert_eq!(
        auth(&f, "password", pw("first password")).await["reason"],
        "wrong password"
    );
    assert_eq!(
        auth(&f, "password", pw("second password")).await["result"],
        "allow"
    );

    // The new password expires on day 21 and is refused from day 26 on, even to change it.
    clock.advance_secs(15 * DAY);
    let inactive = auth(&f, "password", change("second password", "third password")).await;
    assert_eq!(inactive["result"], "deny");
    assert!(
        inactive["reason"]
            .as_str()
            .unwrap()
            .contains("can no longer be used"),
        "{inactive}"
    );
    assert!(inactive.get("change_password").is_none());
    // An admin's reset starts afresh.
    set_password(&f.srv, "tux", "admin reset 1").await;
    assert_eq!(
        auth(&f, "password", pw("admin reset 1")).await["result"],
        "allow"
    );
}

#[tokio::test]
async fn wrong_passwords_count_towards_the_lockout() {
    let f = fixture("max_failed_attempts = 2").await;
    set_password(&f.srv, "tux", "correct horse").await;
    add_rule(&f.srv, "user:tux", "*", "*", "password").await;
    for _ in 0..2 {
        assert_eq!(
            auth(&f, "password", json!({"password": "guess guess"})).await["reason"],
            "wrong password"
        );
    }
    let locked = auth(&f, "password", json!({"password": "correct horse"})).await;
    assert_eq!(locked["result"], "deny");
    assert!(
        locked["reason"].as_str().unwrap().contains("locked out"),
        "{locked}"
    );
}

#[tokio::test]
async fn bad_combinations_are_bad_requests() {
    let f = fixture("").await;
    let (status, v) = f
        .srv
        .post("/v1/auth", &f.token, &{
            let mut b = login("password");
            b["password"] = json!("");
            b
        })
        .await;
    assert_eq!(
        (status, v["message"].as_str()),
        (400, Some("method password needs a password"))
    );
    let mut b = login("totp");
    b["passcode"] = json!("123456");
    b["new_password"] = json!("x");
    let (status, v) = f.srv.post("/v1/auth", &f.token, &b).await;
    assert_eq!(status, 400, "{v}");
    let mut b = login("push");
    b["action"] = json!("deploy");
    let (status, v) = f.srv.post("/v1/auth", &f.token, &b).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("not both"));
    // A password where the app does not allow one.
    let v = auth(&f, "auto", json!({"password": "correct horse"})).await;
    assert_eq!(
        v["reason"],
        "method password is not allowed for this login (allowed: push,totp)"
    );
}

#[tokio::test]
async fn an_app_may_offer_a_password_as_its_one_factor() {
    let f = fixture("").await;
    f.srv.enrol("alice").await;
    f.srv
        .app(
            "alice",
            "linux.example.org",
            "sshd",
            &["alice"],
            "push,password",
        )
        .await;
    let alice = |method: &str, with: Value| {
        let mut body = login(method);
        body["user"] = json!("alice");
        for (k, v) in with.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    // No password set yet: only push is offered.
    assert_eq!(
        preauth(&f, "alice", "sshd").await["methods"],
        json!(["push"])
    );
    set_password(&f.srv, "alice", "correct horse").await;
    assert_eq!(
        preauth(&f, "alice", "sshd").await,
        json!({"result": "auth", "methods": ["push", "password"]})
    );
    let (_, v) = f
        .srv
        .post(
            "/v1/auth",
            &f.token,
            &alice("auto", json!({"password": "correct horse"})),
        )
        .await;
    assert_eq!(
        v,
        json!({"result": "allow"}),
        "the password alone is one factor"
    );
}
