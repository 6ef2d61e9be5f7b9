//! The OTP service: HOTP/TOTP credentials and one-time codes, for applications with an API token.

use std::sync::Arc;

use mfa_core::{Alias, FixedClock, Scopes, Timestamp};
use mfa_otp::{Algorithm, Digits, Hotp, OtpAuthUri, OtpKind, Totp, TotpParams};
use mfa_secrets::Token;
use mfa_store::NewApiToken;
use serde_json::{Value, json};

use crate::support::TestServer;

/// A time well inside a 30- and a 60-second step (…:10), so skew tests know where they are.
pub const T0: i64 = 1_800_000_010;

/// Adds an API token with `scopes` (and an optional vault app limit); returns the token.
pub async fn api_token(srv: &TestServer, name: &str, scopes: &str, apps: Option<&[i64]>) -> String {
    let token = Token::generate("mfat").unwrap();
    srv.state
        .store
        .add_api_token(NewApiToken {
            name: &Alias::new(name).unwrap(),
            token_hash: &token.hash(),
            scopes: &scopes.parse::<Scopes>().unwrap(),
            vault_apps: apps,
            now: srv.now(),
        })
        .await
        .unwrap();
    token.expose().to_owned()
}

/// A server on a hand-moved clock, at [`T0`].
pub async fn at_t0(extra: &str) -> (TestServer, FixedClock) {
    let clock = FixedClock::at(Timestamp::from_secs(T0));
    let srv = TestServer::start_with_clock(extra, Arc::new(clock.clone())).await;
    (srv, clock)
}

/// Any request; the body must be JSON (or empty, for 204). Returns (status, body or null).
pub async fn raw(
    srv: &TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Value) {
    let mut req = srv.http.request(method, srv.url(path)).body(body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|_| panic!("{path}: not JSON ({status}): {text:?}"));
    (status, body)
}

pub async fn delete(srv: &TestServer, path: &str, token: &str) -> (u16, Value) {
    raw(
        srv,
        reqwest::Method::DELETE,
        path,
        Some(token),
        None,
        vec![],
    )
    .await
}

/// Asserts a `{error, message}` answer with this status and code, whose one-line message
/// mentions `needle`.
pub fn assert_error(got: &(u16, Value), status: u16, code: &str, needle: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["error"], code, "{}", got.1);
    let message = got.1["message"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{message:?} should mention {needle:?}"
    );
    assert!(!message.contains('\n'), "one line: {message:?}");
}

/// Creates a credential; returns its JSON and the generator the user's app would have.
async fn create(srv: &TestServer, token: &str, body: Value) -> (Value, OtpAuthUri) {
    let (status, v) = srv.post("/v1/otp/credentials", token, &body).await;
    assert_eq!(status, 201, "{v}");
    let uri = OtpAuthUri::parse(v["otpauth_uri"].as_str().unwrap()).unwrap();
    (v, uri)
}

fn totp_of(uri: &OtpAuthUri) -> Totp {
    let OtpKind::Totp { period } = uri.kind else {
        panic!("not totp: {uri:?}")
    };
    Totp::new(
        uri.secret.clone(),
        TotpParams {
            algorithm: uri.algorithm,
            digits: uri.digits,
            period,
        },
    )
}

async fn verify(srv: &TestServer, token: &str, id: &str, code: &str) -> (u16, Value) {
    srv.post(
        &format!("/v1/otp/credentials/{id}/verify"),
        token,
        &json!({ "code": code }),
    )
    .await
}

fn other_code(code: &str) -> String {
    let first = if code.starts_with('0') { '1' } else { '0' };
    format!("{first}{}", &code[1..])
}

#[tokio::test]
async fn totp_credential_is_created_shown_verified_once_and_deleted() {
    let (srv, _clock) = at_t0("").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (v, uri) = create(
        &srv,
        &token,
        json!({"type": "totp", "algorithm": "sha256", "digits": 8, "period": 60,
               "issuer": "Shop", "label": "alice@example.org"}),
    )
    .await;
    let id = v["id"].as_str().unwrap().to_owned();
    assert!(id.len() >= 26, "ids are unguessable: {id}");
    assert_eq!(v["type"], "totp");
    assert_eq!(v["algorithm"], "SHA256");
    assert_eq!(v["digits"], 8);
    assert_eq!(v["period"], 60);
    assert_eq!(v.get("counter"), None);
    assert_eq!(v["issuer"], "Shop");
    assert_eq!(v["label"], "alice@example.org");
    assert_eq!(v["secret"], uri.secret.to_base32());
    assert_eq!(uri.secret.len(), 32, "a SHA256 seed is 32 bytes");
    assert_eq!(
        (uri.issuer.as_deref(), uri.account.as_str()),
        (Some("Shop"), "alice@example.org")
    );
    assert_eq!((uri.algorithm, uri.digits.get()), (Algorithm::Sha256, 8));
    let svg = v["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"), "{svg:.80}");

    // Showing it again never reveals the secret.
    let (status, shown) = srv.get(&format!("/v1/otp/credentials/{id}"), &token).await;
    assert_eq!(status, 200, "{shown}");
    for hidden in ["secret", "otpauth_uri", "qr_svg"] {
        assert_eq!(shown.get(hidden), None, "{shown}");
    }
    assert_eq!(shown["period"], 60);
    assert_eq!(shown["created_at"], v["created_at"]);

    let code = totp_of(&uri).code_at(T0 as u64);
    let (status, ok) = verify(&srv, &token, &id, &code).await;
    assert_eq!((status, ok.clone()), (200, json!({"ok": true})));
    let (status, replay) = verify(&srv, &token, &id, &code).await;
    assert_eq!(status, 200);
    assert_eq!(
        replay,
        json!({"ok": false, "reason": "invalid or already used code"})
    );
    let (_, wrong) = verify(&srv, &token, &id, &other_code(&code)).await;
    assert_eq!(wrong["ok"], false);

    let (status, body) = delete(&srv, &format!("/v1/otp/credentials/{id}"), &token).await;
    assert_eq!((status, body), (204, Value::Null));
    let got = srv.get(&format!("/v1/otp/credentials/{id}"), &token).await;
    assert_error(&got, 404, "not_found", &id);
    let got = verify(&srv, &token, &id, &code).await;
    assert_error(&got, 404, "not_found", &id);
    let got = delete(&srv, &format!("/v1/otp/credentials/{id}"), &token).await;
    assert_error(&got, 404, "not_found", &id);
}

#[tokio::test]
async fn defaults_are_sha1_six_digits_thirty_seconds_and_the_id_as_label() {
    let (srv, _clock) = at_t0("").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (v, uri) = create(&srv, &token, json!({"type": "totp"})).await;
    assert_eq!(
        (
            v["algorithm"].as_str(),
            v["digits"].as_u64(),
            v["period"].as_u64()
        ),
        (Some("SHA1"), Some(6), Some(30))
    );
    assert_eq!(v["label"], v["id"]);
    assert_eq!(v.get("issuer"), None);
    assert_eq!(uri.secret.len(), 20);
    let (_, h) = create(
        &srv,
        &token,
        json!({"type": "hotp", "algorithm": "SHA512", "digits": 7}),
    )
    .await;
    assert_eq!(h.kind, OtpKind::Hotp { counter: 0 });
    assert_eq!(h.secret.len(), 64);
    assert_eq!(h.digits, Digits::new(7).unwrap());
}

#[tokio::test]
async fn totp_skew_accepts_the_neighbouring_steps_only() {
    let (srv, clock) = at_t0("").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (v, uri) = create(&srv, &token, json!({"type": "totp"})).await;
    let id = v["id"].as_str().unwrap();
    let totp = totp_of(&uri);
    let now = T0 as u64;
    // Two steps back is outside the default skew of 1.
    let (_, r) = verify(&srv, &token, id, &totp.code_at(now - 60)).await;
    assert_eq!(r["ok"], false, "{r}");
    // One step back is inside.
    let (_, r) = verify(&srv, &token, id, &totp.code_at(now - 30)).await;
    assert_eq!(r["ok"], true, "{r}");
    // One step ahead too; and then the step before it is a replay of an older step.
    let (_, r) = verify(&srv, &token, id, &totp.code_at(now + 30)).await;
    assert_eq!(r["ok"], true, "{r}");
    let (_, r) = verify(&srv, &token, id, &totp.code_at(now)).await;
    assert_eq!(
        r["ok"], false,
        "a step older than the last one used was accepted: {r}"
    );
    clock.advance_secs(60);
    let (_, r) = verify(&srv, &token, id, &totp.code_at(now + 60)).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn hotp_looks_ahead_resynchronises_and_burns_each_counter() {
    let (srv, _clock) = at_t0("max_failed_attempts = 100").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (v, uri) = create(&srv, &token, json!({"type": "hotp"})).await;
    assert_eq!(v["counter"], 0);
    assert_eq!(v.get("period"), None);
    let id = v["id"].as_str().unwrap();
    let hotp = Hotp::new(uri.secret.clone(), uri.algorithm, uri.digits);

    let (_, r) = verify(&srv, &token, id, &hotp.code(0)).await;
    assert_eq!(r, json!({"ok": true, "counter": 1}));
    let (_, r) = verify(&srv, &token, id, &hotp.code(0)).await;
    assert_eq!(r["ok"], false, "replay accepted: {r}");
    // The token was pressed four times without logging in: still inside the window.
    let (_, r) = verify(&srv, &token, id, &hotp.code(5)).await;
    assert_eq!(r, json!({"ok": true, "counter": 6}), "resynchronised");
    let (_, r) = verify(&srv, &token, id, &hotp.code(3)).await;
    assert_eq!(r["ok"], false, "a skipped counter came back: {r}");
    // The window is 10 ahead of the counter: 6..=16.
    let (_, r) = verify(&srv, &token, id, &hotp.code(17)).await;
    assert_eq!(r["ok"], false, "beyond the look-ahead: {r}");
    let (_, r) = verify(&srv, &token, id, &hotp.code(16)).await;
    assert_eq!(r, json!({"ok": true, "counter": 17}));
    let (_, shown) = srv.get(&format!("/v1/otp/credentials/{id}"), &token).await;
    assert_eq!(shown["counter"], 17);
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_credential_until_the_window_passes() {
    let (srv, clock) = at_t0("max_failed_attempts = 3\nblock_duration = 60").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (a, uri) = create(&srv, &token, json!({"type": "totp"})).await;
    let (b, uri_b) = create(&srv, &token, json!({"type": "totp"})).await;
    let (a, b) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let code = totp_of(&uri).code_at(T0 as u64);
    for _ in 0..3 {
        let (status, r) = verify(&srv, &token, a, &other_code(&code)).await;
        assert_eq!((status, r["ok"].as_bool()), (200, Some(false)));
    }
    // Now even the right code is refused, with when to try again.
    let got = verify(&srv, &token, a, &code).await;
    assert_error(&got, 429, "locked_out", a);
    assert!(
        got.1["message"]
            .as_str()
            .unwrap()
            .contains(&Timestamp::from_secs(T0 + 60).to_string()),
        "{}",
        got.1
    );
    // Another credential is not affected.
    let (_, r) = verify(&srv, &token, b, &totp_of(&uri_b).code_at(T0 as u64)).await;
    assert_eq!(r["ok"], true, "{r}");
    clock.advance_secs(59);
    assert_error(
        &verify(&srv, &token, a, &code).await,
        429,
        "locked_out",
        "try again after",
    );
    clock.advance_secs(1);
    let code = totp_of(&uri).code_at(T0 as u64 + 60);
    let (_, r) = verify(&srv, &token, a, &code).await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn credentials_and_codes_belong_to_the_token_that_made_them() {
    let (srv, _clock) = at_t0("").await;
    let shop = api_token(&srv, "shop", "otp", None).await;
    let blog = api_token(&srv, "blog", "otp", None).await;
    let (v, uri) = create(&srv, &shop, json!({"type": "totp"})).await;
    let id = v["id"].as_str().unwrap();
    let code = totp_of(&uri).code_at(T0 as u64);
    assert_error(
        &srv.get(&format!("/v1/otp/credentials/{id}"), &blog).await,
        404,
        "not_found",
        id,
    );
    assert_error(&verify(&srv, &blog, id, &code).await, 404, "not_found", id);
    assert_error(
        &delete(&srv, &format!("/v1/otp/credentials/{id}"), &blog).await,
        404,
        "not_found",
        id,
    );
    let (_, otc) = srv
        .post("/v1/otp/codes", &shop, &json!({"ttl_seconds": 60}))
        .await;
    let otc_id = otc["id"].as_str().unwrap();
    let got = srv
        .post(
            &format!("/v1/otp/codes/{otc_id}/verify"),
            &blog,
            &json!({"code": otc["code"]}),
        )
        .await;
    assert_error(&got, 404, "not_found", otc_id);
    // The owner still can.
    let (_, r) = verify(&srv, &shop, id, &code).await;
    assert_eq!(r["ok"], true, "{r}");
    let (_, r) = srv
        .post(
            &format!("/v1/otp/codes/{otc_id}/verify"),
            &shop,
            &json!({"code": otc["code"]}),
        )
        .await;
    assert_eq!(r["ok"], true, "{r}");
}

#[tokio::test]
async fn a_token_without_the_otp_scope_is_forbidden_and_none_is_unauthorized() {
    let (srv, _clock) = at_t0("").await;
    let vault = api_token(&srv, "vault-reader", "vault:read,vault:write", None).await;
    let shop = api_token(&srv, "shop", "otp", None).await;
    let (v, _) = create(&srv, &shop, json!({"type": "totp"})).await;
    let id = v["id"].as_str().unwrap();
    let post = reqwest::Method::POST;
    let json_ct = Some("application/json");
    for (method, path, body) in [
        (
            post.clone(),
            "/v1/otp/credentials".to_owned(),
            json!({"type": "totp"}),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/otp/credentials/{id}"),
            Value::Null,
        ),
        (
            post.clone(),
            format!("/v1/otp/credentials/{id}/verify"),
            json!({"code": "123456"}),
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/otp/credentials/{id}"),
            Value::Null,
        ),
        (
            post.clone(),
            "/v1/otp/codes".to_owned(),
            json!({"ttl_seconds": 60}),
        ),
        (
            post.clone(),
            "/v1/otp/codes/x/verify".to_owned(),
            json!({"code": "123456"}),
        ),
    ] {
        let bytes = if body.is_null() {
            vec![]
        } else {
            body.to_string().into_bytes()
        };
        let got = raw(
            &srv,
            method.clone(),
            &path,
            Some(&vault),
            json_ct,
            bytes.clone(),
        )
        .await;
        assert_error(&got, 403, "forbidden", "lacks the otp scope");
        // Even a broken body gets the 403 first: the scope is checked before anything else.
        if !bytes.is_empty() {
            let got = raw(
                &srv,
                method.clone(),
                &path,
                Some(&vault),
                json_ct,
                b"{".to_vec(),
            )
            .await;
            assert_error(&got, 403, "forbidden", "otp");
        }
        let got = raw(&srv, method, &path, None, json_ct, bytes).await;
        assert_error(&got, 401, "unauthorized", "Authorization: Bearer");
    }
    // A trusted server's token is not an API token for the OTP service.
    let server = srv.server("ssh-1", &["*"]).await;
    let got = srv
        .post("/v1/otp/credentials", &server, &json!({"type": "totp"}))
        .await;
    assert_error(&got, 401, "unauthorized", "invalid API token");
    // The credential is untouched by all of that.
    let (status, _) = srv.get(&format!("/v1/otp/credentials/{id}"), &shop).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn bad_credential_requests_are_named_never_500() {
    let (srv, _clock) = at_t0("max_failed_attempts = 100").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let post = |body: Value| {
        let srv = &srv;
        let token = &token;
        async move { srv.post("/v1/otp/credentials", token, &body).await }
    };
    for (body, needle) in [
        (
            json!({"type": "totp", "algorithm": "MD5"}),
            "unknown algorithm \"MD5\"",
        ),
        (
            json!({"type": "totp", "digits": 5}),
            "digits must be 6, 7 or 8 (got 5)",
        ),
        (
            json!({"type": "totp", "digits": 9}),
            "digits must be 6, 7 or 8 (got 9)",
        ),
        (
            json!({"type": "totp", "digits": 300}),
            "digits must be 6, 7 or 8 (got 300)",
        ),
        (
            json!({"type": "totp", "period": 14}),
            "period must be between 15 and 120 seconds (got 14)",
        ),
        (
            json!({"type": "totp", "period": 121}),
            "period must be between 15 and 120 seconds (got 121)",
        ),
        (
            json!({"type": "hotp", "period": 30}),
            "period applies to totp",
        ),
        (json!({"type": "motp"}), "motp"),
        (json!({"algorithm": "SHA1"}), "missing field `type`"),
        (json!({"type": "totp", "colour": "blue"}), "colour"),
        (json!({"type": "totp", "digits": "six"}), "digits"),
        (json!({"type": "totp", "digits": -6}), "digits"),
        (
            json!({"type": "totp", "label": "x".repeat(129)}),
            "label is too long",
        ),
        (
            json!({"type": "totp", "issuer": "a\nb"}),
            "issuer must not contain control characters",
        ),
    ] {
        assert_error(&post(body.clone()).await, 400, "bad_request", needle);
    }
    let json_ct = Some("application/json");
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/otp/credentials",
        Some(&token),
        json_ct,
        b"{\"type\":".to_vec(),
    )
    .await;
    assert_error(&got, 400, "bad_request", "malformed JSON");
    let huge = json!({"type": "totp", "label": "x".repeat(20_000)})
        .to_string()
        .into_bytes();
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/otp/credentials",
        Some(&token),
        json_ct,
        huge,
    )
    .await;
    assert_error(&got, 413, "payload_too_large", "too large");
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/otp/credentials",
        Some(&token),
        Some("text/plain"),
        b"{\"type\":\"totp\"}".to_vec(),
    )
    .await;
    assert_error(&got, 415, "unsupported_media_type", "application/json");
    let got = raw(
        &srv,
        reqwest::Method::PUT,
        "/v1/otp/credentials",
        Some(&token),
        json_ct,
        vec![],
    )
    .await;
    assert_error(&got, 405, "method_not_allowed", "PUT");

    // Verify: unknown ids, a missing code, extra fields.
    let got = verify(&srv, &token, "nope", "123456").await;
    assert_error(&got, 404, "not_found", "otp credential nope does not exist");
    let (v, _) = create(&srv, &token, json!({"type": "totp"})).await;
    let path = format!("/v1/otp/credentials/{}/verify", v["id"].as_str().unwrap());
    assert_error(
        &srv.post(&path, &token, &json!({})).await,
        400,
        "bad_request",
        "missing field `code`",
    );
    assert_error(
        &srv.post(&path, &token, &json!({"code": "1", "x": 1})).await,
        400,
        "bad_request",
        "`x`",
    );
    assert_error(
        &srv.post(&path, &token, &json!({"code": 123456})).await,
        400,
        "bad_request",
        "code",
    );
    // Codes that cannot be right are just wrong, not errors.
    for code in ["", "12345", "abcdef", "１２３４５６", &"9".repeat(5000)] {
        let (status, r) = srv.post(&path, &token, &json!({ "code": code })).await;
        assert_eq!(
            (status, r["ok"].as_bool()),
            (200, Some(false)),
            "{code:.10}: {r}"
        );
    }
}

/// 16 verifications of one code at the same moment: exactly one succeeds (per kind).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_verifications_of_one_code_succeed_once() {
    let (srv, _clock) = at_t0("max_failed_attempts = 1000").await;
    let srv = Arc::new(srv);
    let token = Arc::new(api_token(&srv, "shop", "otp", None).await);

    let (t, turi) = create(&srv, &token, json!({"type": "totp"})).await;
    let (h, huri) = create(&srv, &token, json!({"type": "hotp"})).await;
    let hotp = Hotp::new(huri.secret.clone(), huri.algorithm, huri.digits);
    let (status, otc) = srv
        .post(
            "/v1/otp/codes",
            &token,
            &json!({"ttl_seconds": 60, "max_attempts": 10}),
        )
        .await;
    assert_eq!(status, 201, "{otc}");
    let cases = [
        (
            "totp",
            format!("/v1/otp/credentials/{}/verify", t["id"].as_str().unwrap()),
            totp_of(&turi).code_at(T0 as u64),
        ),
        // A code inside the look-ahead window, so racers also race the resynchronisation.
        (
            "hotp",
            format!("/v1/otp/credentials/{}/verify", h["id"].as_str().unwrap()),
            hotp.code(3),
        ),
        (
            "one-time",
            format!("/v1/otp/codes/{}/verify", otc["id"].as_str().unwrap()),
            otc["code"].as_str().unwrap().to_owned(),
        ),
    ];
    for (kind, path, code) in cases {
        let racers: Vec<_> = (0..16)
            .map(|_| {
                let (srv, token, path, code) =
                    (srv.clone(), token.clone(), path.clone(), code.clone());
                tokio::spawn(async move { srv.post(&path, &token, &json!({ "code": code })).await })
            })
            .collect();
        let mut ok = 0;
        for r in racers {
            let (status, body) = r.await.unwrap();
            assert_eq!(status, 200, "{kind}: {body}");
            if body["ok"] == true {
                ok += 1;
            }
        }
        eprintln!("{kind}: 16 concurrent verifications, {ok} accepted");
        assert_eq!(ok, 1, "{kind}: one code accepted {ok} times");
    }
}

#[tokio::test]
async fn a_one_time_code_is_returned_once_and_verifies_once() {
    let (srv, _clock) = at_t0("").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (status, v) = srv
        .post("/v1/otp/codes", &token, &json!({"ttl_seconds": 300}))
        .await;
    assert_eq!(status, 201, "{v}");
    let code = v["code"].as_str().unwrap();
    assert_eq!(code.len(), 6);
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(
        (v["digits"].as_u64(), v["max_attempts"].as_u64()),
        (Some(6), Some(5))
    );
    assert_eq!(v["expires_at"], Timestamp::from_secs(T0 + 300).to_string());
    let path = format!("/v1/otp/codes/{}/verify", v["id"].as_str().unwrap());
    let (_, r) = srv
        .post(&path, &token, &json!({"code": other_code(code)}))
        .await;
    assert_eq!(
        r,
        json!({"ok": false, "reason": "wrong code", "attempts_left": 4})
    );
    // Spaces as people type them are fine.
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let (_, r) = srv.post(&path, &token, &json!({"code": spaced})).await;
    assert_eq!(r, json!({"ok": true}));
    let (_, r) = srv.post(&path, &token, &json!({"code": code})).await;
    assert_eq!(r, json!({"ok": false, "reason": "already used"}));

    let (_, v8) = srv
        .post(
            "/v1/otp/codes",
            &token,
            &json!({"ttl_seconds": 60, "digits": 8, "max_attempts": 1}),
        )
        .await;
    assert_eq!(v8["code"].as_str().unwrap().len(), 8);
    assert_eq!(v8["max_attempts"], 1);
}

#[tokio::test]
async fn a_one_time_code_dies_after_its_attempts_and_expires() {
    let (srv, clock) = at_t0("").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    let (_, v) = srv
        .post(
            "/v1/otp/codes",
            &token,
            &json!({"ttl_seconds": 60, "max_attempts": 3}),
        )
        .await;
    let code = v["code"].as_str().unwrap();
    let path = format!("/v1/otp/codes/{}/verify", v["id"].as_str().unwrap());
    for left in [2, 1, 0] {
        let (_, r) = srv
            .post(&path, &token, &json!({"code": other_code(code)}))
            .await;
        assert_eq!(r["attempts_left"], left, "{r}");
    }
    let (_, r) = srv.post(&path, &token, &json!({"code": code})).await;
    assert_eq!(
        r,
        json!({"ok": false, "reason": "too many attempts"}),
        "a dead code came back"
    );

    let (_, v) = srv
        .post("/v1/otp/codes", &token, &json!({"ttl_seconds": 60}))
        .await;
    let path = format!("/v1/otp/codes/{}/verify", v["id"].as_str().unwrap());
    clock.advance_secs(60);
    let (_, r) = srv.post(&path, &token, &json!({"code": v["code"]})).await;
    assert_eq!(r, json!({"ok": false, "reason": "expired"}));
}

#[tokio::test]
async fn bad_one_time_code_requests_are_named_never_500() {
    let (srv, _clock) = at_t0("").await;
    let token = api_token(&srv, "shop", "otp", None).await;
    for (body, needle) in [
        (
            json!({"ttl_seconds": 0}),
            "ttl_seconds must be between 1 and 86400 (got 0)",
        ),
        (
            json!({"ttl_seconds": 86_401}),
            "ttl_seconds must be between 1 and 86400 (got 86401)",
        ),
        (json!({"ttl_seconds": -1}), "ttl_seconds"),
        (json!({}), "missing field `ttl_seconds`"),
        (
            json!({"ttl_seconds": 60, "digits": 4}),
            "digits must be 6, 7 or 8 (got 4)",
        ),
        (
            json!({"ttl_seconds": 60, "max_attempts": 0}),
            "max_attempts must be between 1 and 10 (got 0)",
        ),
        (
            json!({"ttl_seconds": 60, "max_attempts": 11}),
            "max_attempts must be between 1 and 10 (got 11)",
        ),
        (json!({"ttl_seconds": 60, "code": "123456"}), "`code`"),
    ] {
        assert_error(
            &srv.post("/v1/otp/codes", &token, &body).await,
            400,
            "bad_request",
            needle,
        );
    }
    let got = srv
        .post(
            "/v1/otp/codes/nope/verify",
            &token,
            &json!({"code": "123456"}),
        )
        .await;
    assert_error(&got, 404, "not_found", "one-time code nope does not exist");
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/otp/codes",
        Some(&token),
        Some("text/plain"),
        b"{\"ttl_seconds\":1}".to_vec(),
    )
    .await;
    assert_error(&got, 415, "unsupported_media_type", "application/json");
    let huge = format!("{{\"ttl_seconds\": 1, \"x\": \"{}\"}}", "x".repeat(20_000)).into_bytes();
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/otp/codes",
        Some(&token),
        Some("application/json"),
        huge,
    )
    .await;
    assert_error(&got, 413, "payload_too_large", "too large");
    let (_, v) = srv
        .post("/v1/otp/codes", &token, &json!({"ttl_seconds": 60}))
        .await;
    let path = format!("/v1/otp/codes/{}/verify", v["id"].as_str().unwrap());
    assert_error(
        &srv.post(&path, &token, &json!({"kode": "1"})).await,
        400,
        "bad_request",
        "kode",
    );
}
