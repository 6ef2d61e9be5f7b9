use std::sync::Arc;

use mfa_core::{FixedClock, Timestamp};
use serde_json::{Value, json};

use crate::support::{Fixture, TestServer, fixture, login};

fn with_code(mut body: Value, code: &str) -> Value {
    body["passcode"] = json!(code);
    body
}

async fn preauth(f: &Fixture, user: &str, ip: &str) -> Value {
    let body =
        json!({"user": user, "host": "linux.example.org", "service": "sshd", "client_ip": ip});
    let (status, v) = f.srv.post("/v1/preauth", &f.token, &body).await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test]
async fn repeated_wrong_codes_lock_the_user_until_the_block_ends() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let srv = TestServer::start_with_clock(
        "max_failed_attempts = 3\nblock_duration = 60",
        Arc::new(clock.clone()),
    )
    .await;
    let f = crate::support::fixture_on(srv).await;
    for _ in 0..3 {
        let (_, v) = f
            .srv
            .post(
                "/v1/auth",
                &f.token,
                &with_code(login("totp"), &f.wrong_code()),
            )
            .await;
        assert_eq!(v["result"], "deny");
    }
    // Even the right code is refused while locked, and preauth says why.
    let right = f.tux.totp.code_at(f.srv.now().unix_secs());
    let (_, v) = f
        .srv
        .post("/v1/auth", &f.token, &with_code(login("totp"), &right))
        .await;
    assert_eq!(v["result"], "deny");
    assert!(v["reason"].as_str().unwrap().contains("locked out"), "{v}");
    let pre = preauth(&f, "tux", "198.51.100.1").await;
    assert_eq!(pre["result"], "deny");
    assert!(
        pre["reason"]
            .as_str()
            .unwrap()
            .starts_with("user tux is locked out until"),
        "{pre}"
    );

    clock.advance_secs(61);
    let right = f.tux.totp.code_at(f.srv.now().unix_secs());
    let (_, v) = f
        .srv
        .post("/v1/auth", &f.token, &with_code(login("totp"), &right))
        .await;
    assert_eq!(
        v["result"], "allow",
        "still locked after block_duration: {v}"
    );
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let f = fixture("max_failed_attempts = 3").await;
    for round in 0..3 {
        for _ in 0..2 {
            f.srv
                .post(
                    "/v1/auth",
                    &f.token,
                    &with_code(login("totp"), &f.wrong_code()),
                )
                .await;
        }
        // A push approved counts as a success too; use one here to avoid TOTP step reuse.
        let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
        assert_eq!(p["result"], "pending", "round {round}: {p}");
        let txid = p["txid"].as_str().unwrap();
        let (_, d) = f
            .decide(txid, &json!({"decision": "approve", "number": p["number"]}))
            .await;
        assert_eq!(d["state"], "approved");
    }
    assert_eq!(preauth(&f, "tux", "192.0.2.10").await["result"], "auth");
}

#[tokio::test]
async fn failures_count_per_source_ip_across_users() {
    let f = fixture("max_failed_attempts = 2").await;
    f.srv.enrol("alice").await;
    f.srv.app("alice", "*", "*", &["alice"], "totp").await;
    for user in ["tux", "alice"] {
        let mut body = with_code(login("totp"), "000000");
        body["user"] = json!(user);
        body["client_ip"] = json!("203.0.113.66");
        f.srv.post("/v1/auth", &f.token, &body).await;
    }
    let pre = preauth(&f, "tux", "203.0.113.66").await;
    assert_eq!(pre["result"], "deny");
    assert!(
        pre["reason"]
            .as_str()
            .unwrap()
            .starts_with("ip 203.0.113.66 is locked out"),
        "{pre}"
    );
    // The same user from elsewhere is not locked by that address (one failure each so far).
    assert_eq!(preauth(&f, "tux", "198.51.100.2").await["result"], "auth");
}

#[tokio::test]
async fn denied_and_expired_pushes_count_as_failures() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let srv = TestServer::start_with_clock(
        "max_failed_attempts = 2\nauth_timeout = 10",
        Arc::new(clock.clone()),
    )
    .await;
    let f = crate::support::fixture_on(srv).await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    f.decide(&txid, &json!({"decision": "deny"})).await;
    let (_, p2) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid2 = p2["txid"].as_str().unwrap().to_owned();
    clock.advance_secs(11);
    let (_, status) = f
        .srv
        .get(&format!("/v1/auth/{txid2}?wait=5"), &f.token)
        .await;
    assert_eq!(status["state"], "expired");
    assert_eq!(status["result"], "deny");
    assert_eq!(status["reason"], "timeout");
    let pre = preauth(&f, "tux", "192.0.2.99").await;
    assert_eq!(
        pre["result"], "deny",
        "a denied and an expired push should lock at 2: {pre}"
    );
}

#[tokio::test]
async fn an_unanswered_push_expires_on_its_own_and_is_audited() {
    let clock = FixedClock::at(Timestamp::from_secs(1_800_000_000));
    let srv = TestServer::start_with_clock("auth_timeout = 5", Arc::new(clock.clone())).await;
    let f = crate::support::fixture_on(srv).await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap().to_owned();
    clock.advance_secs(6);
    // Nobody polls: the sweeper expires it within about a second (the state changes first,
    // the audit entry follows: wait for the entry).
    let mut audited = None;
    for _ in 0..50 {
        let audit = f
            .srv
            .state
            .store
            .audit_entries(&Default::default())
            .await
            .unwrap();
        audited = audit
            .into_iter()
            .find(|e| e.txid.as_deref() == Some(txid.as_str()));
        if audited.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let entry = audited.expect("the sweeper did not expire and audit the push");
    assert_eq!(
        (entry.result.as_str(), entry.reason.as_deref()),
        ("expired", Some("timeout"))
    );
    let state = f.srv.state.store.request(&txid).await.unwrap().state;
    assert_eq!(state, mfa_store::PushState::Expired);
}

#[tokio::test]
async fn trusted_networks_skip_mfa_and_others_do_not() {
    let f = fixture("trusted_ip_networks = [\"10.0.0.0/8\", \"2001:db8::1\"]").await;
    assert_eq!(preauth(&f, "tux", "10.1.2.3").await["result"], "allow");
    assert_eq!(preauth(&f, "tux", "2001:db8::1").await["result"], "allow");
    assert_eq!(preauth(&f, "tux", "11.1.2.3").await["result"], "auth");
    let mut body = login("push");
    body["client_ip"] = json!("10.9.9.9");
    let (_, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(v["result"], "allow");
    assert_eq!(v["reason"], "trusted network");
    // No client IP (a local login): no bypass.
    let (_, v) = f
        .srv
        .post(
            "/v1/preauth",
            &f.token,
            &json!({"user": "tux", "host": "linux.example.org", "service": "sshd"}),
        )
        .await;
    assert_eq!(v["result"], "auth");
}

#[tokio::test]
async fn a_token_may_only_ask_about_its_hosts() {
    let f = fixture("").await;
    let ask = |host: &str| json!({"user": "tux", "host": host, "service": "sshd", "client_ip": "192.0.2.1"});
    let (status, v) = f
        .srv
        .post("/v1/preauth", &f.token, &ask("mail.example.org"))
        .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(v["error"], "forbidden");
    assert!(v["message"].as_str().unwrap().contains("mail.example.org"));
    let mut push = ask("mail.example.org");
    push["method"] = json!("push");
    let (status, _) = f.srv.post("/v1/auth", &f.token, &push).await;
    assert_eq!(status, 403);
    // *.lab.example.org covers its subdomains only.
    assert_eq!(
        f.srv
            .post("/v1/preauth", &f.token, &ask("db.lab.example.org"))
            .await
            .0,
        200
    );
    assert_eq!(
        f.srv
            .post("/v1/preauth", &f.token, &ask("lab.example.org"))
            .await
            .0,
        403
    );
    // Another server cannot read this server's push.
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let other = f.srv.server("other", &["*"]).await;
    let (status, _) = f
        .srv
        .get(&format!("/v1/auth/{}", p["txid"].as_str().unwrap()), &other)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn forged_forwarding_headers_from_an_untrusted_peer_do_not_dodge_the_ip_lockout() {
    let f = fixture("max_failed_attempts = 3").await;
    for i in 0..3 {
        let resp = f
            .srv
            .http
            .get(f.srv.url("/v1/client/requests"))
            .bearer_auth("mfak_wrong")
            .header("X-Forwarded-For", format!("198.51.100.{i}"))
            .header("X-Real-IP", format!("198.51.100.{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    // The failures were counted against 127.0.0.1, the real peer: another bad key is refused
    // whatever it claims ...
    let resp = f
        .srv
        .http
        .get(f.srv.url("/v1/client/requests"))
        .bearer_auth("mfak_wrong")
        .header("X-Forwarded-For", "198.51.100.200")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "locked_out");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("caller 127.0.0.1 is locked out"),
        "{body}"
    );
    // ... while a valid key is never refused for its address.
    let resp = f
        .srv
        .http
        .get(f.srv.url("/v1/client/requests"))
        .bearer_auth(&f.tux.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn forwarding_headers_from_a_trusted_proxy_are_believed() {
    let f = fixture("max_failed_attempts = 3\ntrusted_reverse_proxies = [\"127.0.0.1\"]").await;
    for _ in 0..3 {
        let resp = f
            .srv
            .http
            .get(f.srv.url("/v1/client/requests"))
            .bearer_auth("mfak_wrong")
            .header("X-Forwarded-For", "198.51.100.7")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let from = |key: &str, ip: &str| {
        f.srv
            .http
            .get(f.srv.url("/v1/client/requests"))
            .bearer_auth(key.to_owned())
            .header("X-Forwarded-For", ip.to_owned())
            .send()
    };
    assert_eq!(
        from("mfak_wrong", "198.51.100.7").await.unwrap().status(),
        429,
        "the forwarded address is locked"
    );
    assert_eq!(
        from("mfak_wrong", "198.51.100.8").await.unwrap().status(),
        401,
        "another forwarded address is not"
    );
    assert_eq!(
        from(&f.tux.key, "198.51.100.7").await.unwrap().status(),
        200,
        "a valid key is never refused for its address"
    );
}

#[tokio::test]
async fn a_fraud_report_locks_the_user_until_an_admin_clears_it() {
    let f = fixture("").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap();
    let (_, d) = f.decide(txid, &json!({"decision": "fraud"})).await;
    assert_eq!(d["state"], "denied");
    assert_eq!(d["reason"], "fraud reported");
    let pre = preauth(&f, "tux", "10.0.0.1").await;
    assert_eq!(pre["result"], "deny");
    assert!(
        pre["reason"]
            .as_str()
            .unwrap()
            .contains("mfac lockout clear user tux"),
        "{pre}"
    );
    let audit = f
        .srv
        .state
        .store
        .audit_entries(&Default::default())
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|e| e.result == "fraud" && e.client.as_deref() == Some("tux"))
    );
    // Time does not lift it; an admin does.
    assert!(
        f.srv
            .state
            .store
            .clear_lockout(mfa_store::LockKind::User, "tux")
            .await
            .unwrap()
    );
    assert_eq!(preauth(&f, "tux", "10.0.0.1").await["result"], "auth");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_push_is_decided_once_even_when_answers_race() {
    let f = Arc::new(fixture("").await);
    for _ in 0..3 {
        let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
        let txid = p["txid"].as_str().unwrap().to_owned();
        let number = p["number"].clone();
        let racers: Vec<_> = (0..16)
            .map(|i| {
                let f = f.clone();
                let txid = txid.clone();
                let decision = if i % 2 == 0 { "approve" } else { "deny" };
                let body = json!({"decision": decision, "number": number});
                tokio::spawn(async move {
                    f.srv
                        .post(&format!("/v1/client/requests/{txid}"), &f.tux.key, &body)
                        .await
                })
            })
            .collect();
        let mut decided = 0;
        let mut states = std::collections::HashSet::new();
        for r in racers {
            let (status, body) = r.await.unwrap();
            assert_eq!(status, 200, "{body}");
            decided += usize::from(body["decided"] == true);
            states.insert(body["state"].as_str().unwrap().to_owned());
        }
        assert_eq!(decided, 1, "decided {decided} times");
        assert_eq!(
            states.len(),
            1,
            "answers disagree on the outcome: {states:?}"
        );
    }
}

#[tokio::test]
async fn a_wrong_number_denies_and_a_missing_one_is_refused() {
    let f = fixture("").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    let txid = p["txid"].as_str().unwrap();
    let path = format!("/v1/client/requests/{txid}");
    let (status, missing) = f
        .srv
        .post(&path, &f.tux.key, &json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 400, "{missing}");
    let wrong = if p["number"] == 10 { 11 } else { 10 };
    let (_, d) = f
        .srv
        .post(
            &path,
            &f.tux.key,
            &json!({"decision": "approve", "number": wrong}),
        )
        .await;
    assert_eq!(
        (d["state"].as_str(), d["reason"].as_str()),
        (Some("denied"), Some("wrong number"))
    );
    let (_, s) = f.srv.get(&format!("/v1/auth/{txid}"), &f.token).await;
    assert_eq!(s["result"], "deny");
}

#[tokio::test]
async fn without_number_matching_a_plain_approve_works() {
    let f = fixture("number_matching = false").await;
    let (_, p) = f.srv.post("/v1/auth", &f.token, &login("push")).await;
    assert!(p.get("number").is_none(), "{p}");
    let txid = p["txid"].as_str().unwrap();
    let (_, d) = f.decide(txid, &json!({"decision": "approve"})).await;
    assert_eq!(d["state"], "approved");
}

#[tokio::test]
async fn a_service_that_cannot_show_a_number_asks_for_a_push_without_one() {
    let f = fixture("").await;
    let mut body = login("push");
    body["number_matching"] = json!(false);
    let (_, p) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(p["result"], "pending");
    assert!(p.get("number").is_none(), "{p}");
    let (_, listed) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(listed[0]["number_required"], false);
    let txid = p["txid"].as_str().unwrap();
    let (_, d) = f.decide(txid, &json!({"decision": "approve"})).await;
    assert_eq!(d["state"], "approved");
    // It cannot switch number matching on where the server has it off, only off.
    let f = fixture("number_matching = false").await;
    let mut body = login("push");
    body["number_matching"] = json!(true);
    let (_, p) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert!(p.get("number").is_none(), "{p}");
}

#[tokio::test]
async fn routing_enrolls_unknown_users_and_denies_unknown_apps_with_a_reason() {
    let f = fixture("").await;
    // A user no app names has no factor: "enroll", saying how to get one.
    let pre = preauth(&f, "nobody", "192.0.2.1").await;
    assert_eq!(pre["result"], "enroll", "{pre}");
    let reason = pre["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("unknown user nobody: not enrolled for MFA")
            && reason.contains("mfac client add nobody"),
        "{reason}"
    );
    let body = json!({"user": "tux", "host": "db.lab.example.org", "service": "sshd", "client_ip": "192.0.2.1"});
    let (_, v) = f.srv.post("/v1/preauth", &f.token, &body).await;
    assert_eq!(v["result"], "deny");
    assert_eq!(
        v["reason"],
        "no app for user tux on host db.lab.example.org service sshd"
    );
}
