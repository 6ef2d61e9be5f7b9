//! Duo's Auth API on mfad (in process, plain HTTP on 127.0.0.1), signed here as duo_unix 2.x
//! signs (HMAC-SHA512, `X-Duo-Date`, strcmp order): the login goes through mfa's own policy,
//! the prompt's number is the push's, refusals are `deny` with HTTP 200, bad signatures 401.
//! The real clients (Debian's pam_duo and login_duo, duo_client) are driven against mfad in
//! crates/pam-mfa/tests.

use mfa_core::{Alias, Pattern};
use mfa_duo::{CanonicalInput, ParamOrder, Params, SigDigest, SigVersion, Skey};
use mfa_store::NewDuoIntegration;
use serde_json::{Value, json};

use crate::support::{Fixture, fixture};

struct Duo {
    ikey: String,
    skey: Skey,
}

/// The usual fixture, with tux's app for Duo's logins (service `duo`) on its host.
async fn duo_fixture(extra: &str) -> Fixture {
    let f = fixture(extra).await;
    f.srv
        .app("tux", "linux.example.org", "duo", &["tux"], "push,totp")
        .await;
    f
}

async fn integration(f: &Fixture, name: &str, hosts: &[&str], legacy: bool) -> Duo {
    let hosts: Vec<Pattern> = hosts.iter().map(|h| Pattern::new(h).unwrap()).collect();
    let (added, skey) = f
        .srv
        .state
        .store
        .add_duo_integration(NewDuoIntegration {
            name: &Alias::new(name).unwrap(),
            hosts: &hosts,
            legacy,
            now: f.srv.now(),
        })
        .await
        .unwrap();
    Duo {
        ikey: added.ikey,
        skey,
    }
}

/// A v2 call as duo_unix 2.x makes it: form params (the query for GET), strcmp order,
/// HMAC-SHA512 over `date\nMETHOD\nhost\npath\nparams` with the port cut off.
async fn call(
    f: &Fixture,
    duo: &Duo,
    method: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> (u16, Value) {
    call_with(
        f,
        duo.ikey.as_str(),
        duo.skey.as_bytes(),
        method,
        path,
        pairs,
    )
    .await
}

async fn call_with(
    f: &Fixture,
    ikey: &str,
    skey: &[u8],
    method: &str,
    path: &str,
    pairs: &[(&str, &str)],
) -> (u16, Value) {
    let mut params = Params::new();
    for (k, v) in pairs {
        params.push(*k, *v);
    }
    let form = params.canonical_strcmp();
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_string(&jiff::Timestamp::now())
        .unwrap();
    let canonical = mfa_duo::sign::canonicalize(
        &CanonicalInput {
            method,
            host: "127.0.0.1",
            path,
            params: &params,
            date: &date,
            body: b"",
            duo_headers: &[],
        },
        SigVersion::V2,
        ParamOrder::Strcmp,
    );
    let authorization =
        mfa_duo::sign::authorization_header(ikey, skey, &canonical, SigDigest::Sha512);
    let request = match method {
        "GET" => f.srv.http.get(f.srv.url(&format!("{path}?{form}"))),
        _ => f
            .srv
            .http
            .post(f.srv.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form),
    };
    let resp = request
        .header("x-duo-date", date)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

/// `GET /auth/v2/auth_status?txid=` for `txid`.
async fn poll(f: &Fixture, duo: &Duo, txid: &str) -> (u16, Value) {
    call(f, duo, "GET", "/auth/v2/auth_status", &[("txid", txid)]).await
}

const LOGIN: &[(&str, &str)] = &[
    ("username", "tux"),
    ("hostname", "linux.example.org"),
    ("ipaddr", "192.0.2.7"),
    ("text_prompt", "1"),
];

fn prompt_number(preauth: &Value) -> u8 {
    let text = preauth["response"]["prompt"]["text"].as_str().unwrap();
    let digits: String = text
        .split("number ")
        .nth(1)
        .unwrap()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

async fn pending(f: &Fixture) -> Vec<Value> {
    let (status, body) = f.srv.get("/v1/client/requests", &f.tux.key).await;
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap()
}

#[tokio::test]
async fn a_push_carries_the_prompts_number_and_pushinfo_and_is_decided_once() {
    let f = duo_fixture("").await;
    let duo = integration(&f, "pam", &["linux.example.org"], false).await;
    let (status, ping) = f.srv.get("/auth/v2/ping", "").await;
    assert_eq!((status, ping["stat"].as_str()), (200, Some("OK")), "{ping}");
    assert!(ping["response"]["time"].as_i64().unwrap() > 1_700_000_000);
    let (status, check) = call(&f, &duo, "GET", "/auth/v2/check", &[]).await;
    assert_eq!(status, 200, "{check}");

    let (status, pre) = call(&f, &duo, "POST", "/auth/v2/preauth", LOGIN).await;
    assert_eq!(status, 200, "{pre}");
    assert_eq!(pre["response"]["result"], "auth", "{pre}");
    assert_eq!(pre["response"]["prompt"]["factors"]["1"], "push1");
    let number = prompt_number(&pre);

    let mut auth = LOGIN.to_vec();
    auth.extend([
        ("factor", "prompt"),
        ("prompt", "1"),
        ("async", "1"),
        ("pushinfo", "Server+IP=192.0.2.1&Command=ls%20-l"),
    ]);
    let (status, sent) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    assert_eq!(status, 200, "{sent}");
    let txid = sent["response"]["txid"].as_str().unwrap().to_owned();
    let shown = pending(&f).await;
    assert_eq!(shown.len(), 1, "{shown:?}");
    assert_eq!(shown[0]["service"], "duo");
    assert_eq!(shown[0]["number_required"], true);
    assert_eq!(shown[0]["details"], "Server IP: 192.0.2.1, Command: ls -l");

    // The prompt's number approves.
    let (status, approved) = f
        .decide(&txid, &json!({"decision": "approve", "number": number}))
        .await;
    assert_eq!(status, 200, "{approved}");
    let (status, decided) = poll(&f, &duo, &txid).await;
    assert_eq!(status, 200, "{decided}");
    assert_eq!(decided["response"]["result"], "allow", "{decided}");
    assert_eq!(
        f.srv.state.store.request(&txid).await.unwrap().number,
        Some(number)
    );

    // The next login's preauth reserves its own number; any other one denies its push.
    let (_, pre) = call(&f, &duo, "POST", "/auth/v2/preauth", LOGIN).await;
    let number = prompt_number(&pre);
    let (_, sent) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    let txid = sent["response"]["txid"].as_str().unwrap().to_owned();
    assert_eq!(
        f.srv.state.store.request(&txid).await.unwrap().number,
        Some(number)
    );
    let wrong = if number == 99 { 10 } else { number + 1 };
    f.decide(&txid, &json!({"decision": "approve", "number": wrong}))
        .await;
    let (_, decided) = poll(&f, &duo, &txid).await;
    assert_eq!(decided["response"]["result"], "deny", "{decided}");
}

#[tokio::test]
async fn refusals_are_deny_answers_and_only_bad_credentials_are_401() {
    let f = duo_fixture("auth_timeout = 5").await;
    let duo = integration(&f, "pam", &["linux.example.org"], false).await;
    // A passcode that is wrong: deny, HTTP 200.
    let mut auth = LOGIN.to_vec();
    let wrong = f.wrong_code();
    auth.extend([("factor", "passcode"), ("passcode", wrong.as_str())]);
    let (status, denied) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    assert_eq!(
        (status, &denied["response"]["result"]),
        (200, &json!("deny")),
        "{denied}"
    );
    // The right one: allow.
    let code = f.tux.totp.code_at(f.srv.now().unix_secs());
    let mut auth = LOGIN.to_vec();
    auth.extend([("factor", "prompt"), ("prompt", code.as_str())]);
    let (_, allowed) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    assert_eq!(allowed["response"]["result"], "allow", "{allowed}");
    // Asynchronous, a decision made at once is still a txid to poll (duo_unix reads one), and
    // only this integration's polls see it.
    let code = f.tux.totp.code_at(f.srv.now().unix_secs() + 30);
    auth.pop();
    auth.extend([("prompt", code.as_str()), ("async", "1")]);
    let (_, sent) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    let txid = sent["response"]["txid"].as_str().unwrap().to_owned();
    let (_, polled) = poll(&f, &duo, &txid).await;
    assert_eq!(polled["response"]["result"], "allow", "{polled}");
    let other = integration(&f, "other", &["linux.example.org"], false).await;
    let (status, theirs) = poll(&f, &other, &txid).await;
    assert_eq!(status, 400, "{theirs}");
    // A host the integration does not cover: deny; a user not enrolled: enroll (which
    // Duo's clients refuse). HTTP 200 both.
    for (k, v, result) in [
        ("hostname", "other.example.org", "deny"),
        ("username", "nobody", "enroll"),
    ] {
        let login: Vec<_> = LOGIN
            .iter()
            .map(|&(key, value)| if key == k { (key, v) } else { (key, value) })
            .collect();
        let (status, pre) = call(&f, &duo, "POST", "/auth/v2/preauth", &login).await;
        assert_eq!(status, 200, "{pre}");
        assert_eq!(pre["response"]["result"], result, "{k}: {pre}");
    }
    // A phone call: deny.
    let mut auth = LOGIN.to_vec();
    auth.extend([("factor", "phone"), ("device", "auto")]);
    let (_, phone) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    assert_eq!(phone["response"]["result"], "deny", "{phone}");
    // A push the client sends without showing the prompt (duo_client's factor=push, the
    // `default` factor of autopush): nobody saw a number, so none is asked for.
    // An unanswered push: the status poll waits, then denies (never "waiting").
    let mut auth = LOGIN.to_vec();
    auth.extend([("factor", "push"), ("device", "auto"), ("async", "1")]);
    let (_, sent) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    let txid = sent["response"]["txid"].as_str().unwrap().to_owned();
    assert_eq!(f.srv.state.store.request(&txid).await.unwrap().number, None);
    let (status, timed_out) = poll(&f, &duo, &txid).await;
    assert_eq!(status, 200);
    assert_eq!(timed_out["response"]["result"], "deny", "{timed_out}");

    // Bad credentials: 401 FAIL, as Duo answers.
    let (status, bad) = call_with(
        &f,
        &duo.ikey,
        b"0123456789012345678901234567890123456789",
        "POST",
        "/auth/v2/preauth",
        LOGIN,
    )
    .await;
    assert_eq!(
        (status, bad["stat"].as_str(), bad["code"].as_u64()),
        (401, Some("FAIL"), Some(40103)),
        "{bad}"
    );
    let (status, unknown) = call_with(
        &f,
        "DIXXXXXXXXXXXXXXXXXX",
        duo.skey.as_bytes(),
        "POST",
        "/auth/v2/preauth",
        LOGIN,
    )
    .await;
    assert_eq!(status, 401, "{unknown}");
    // A parameter missing: 400 naming it.
    let (status, missing) = call(
        &f,
        &duo,
        "POST",
        "/auth/v2/preauth",
        &[("hostname", "linux.example.org")],
    )
    .await;
    assert_eq!(
        (status, missing["message_detail"].as_str()),
        (400, Some("username")),
        "{missing}"
    );
}

#[tokio::test]
async fn the_legacy_dialect_needs_legacy_and_an_integration_only_sees_its_own_pushes() {
    let f = duo_fixture("").await;
    let modern = integration(&f, "modern", &["linux.example.org"], false).await;
    let other = integration(&f, "other", &["linux.example.org"], false).await;
    // Signed correctly (v1 has no date), but this integration may not use /rest/v1.
    let params = Params::parse_form(b"user=tux&hostname=linux.example.org").unwrap();
    let canonical = mfa_duo::sign::canonicalize(
        &CanonicalInput {
            method: "POST",
            host: "127.0.0.1",
            path: "/rest/v1/preauth.bson",
            params: &params,
            date: "",
            body: b"",
            duo_headers: &[],
        },
        SigVersion::V1,
        ParamOrder::Strcmp,
    );
    let authorization = mfa_duo::sign::authorization_header(
        &modern.ikey,
        modern.skey.as_bytes(),
        &canonical,
        SigDigest::Sha1,
    );
    let resp = f
        .srv
        .http
        .post(f.srv.url("/rest/v1/preauth.bson"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", authorization)
        .body(params.canonical_strcmp())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    assert_eq!(resp.headers()["content-type"], "application/bson");

    let mut auth = LOGIN.to_vec();
    auth.extend([("factor", "auto"), ("device", "auto"), ("async", "1")]);
    let (_, sent) = call(&f, &modern, "POST", "/auth/v2/auth", &auth).await;
    let txid = sent["response"]["txid"].as_str().unwrap().to_owned();
    let (status, theirs) = poll(&f, &other, &txid).await;
    assert_eq!(
        (status, theirs["message_detail"].as_str()),
        (400, Some("txid")),
        "{theirs}"
    );
}

/// A rule that requires a passkey: Duo's prompt offers a push without a number (or a code),
/// and only the passkey on the push's approve page approves it.
#[tokio::test]
async fn a_required_passkey_makes_the_duo_push_one_only_a_passkey_approves() {
    let f = duo_fixture("").await;
    let duo = integration(&f, "pam", &["linux.example.org"], false).await;
    crate::policy::add_rule(&f.srv, "user:tux", "*", "*", "passkey").await;
    crate::passkeys::stored_passkey(&f.srv).await;

    let (_, pre) = call(&f, &duo, "POST", "/auth/v2/preauth", LOGIN).await;
    assert_eq!(pre["response"]["result"], "auth", "{pre}");
    let text = pre["response"]["prompt"]["text"].as_str().unwrap();
    assert!(
        !text.contains("number") && !text.contains("Passcode"),
        "{text}"
    );

    let mut auth = LOGIN.to_vec();
    auth.extend([("factor", "prompt"), ("prompt", "1"), ("async", "1")]);
    let (status, sent) = call(&f, &duo, "POST", "/auth/v2/auth", &auth).await;
    assert_eq!(status, 200, "{sent}");
    let txid = sent["response"]["txid"].as_str().unwrap().to_owned();
    let (status, refused) = f.decide(&txid, &json!({"decision": "approve"})).await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = f.decide(&txid, &json!({"decision": "deny"})).await;
    assert_eq!(status, 200, "a denial needs no passkey");
    let (_, decided) = poll(&f, &duo, &txid).await;
    assert_eq!(decided["response"]["result"], "deny", "{decided}");
}
