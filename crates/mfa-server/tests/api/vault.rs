//! The shared TOTP vault: seeds in, codes out, never the seed; scopes, app limits, audit.

use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use mfa_store::AuditFilter;
use serde_json::{Value, json};

use crate::otp::{T0, api_token, assert_error, at_t0, delete, raw};

const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

fn totp(b32: &str, algorithm: Algorithm, digits: u8, period: u32) -> Totp {
    Totp::new(
        Secret::from_base32(b32).unwrap(),
        TotpParams::new(algorithm, Digits::new(digits).unwrap(), period).unwrap(),
    )
}

async fn add(srv: &crate::support::TestServer, token: &str, body: Value) -> Value {
    let (status, v) = srv.post("/v1/vault/apps", token, &body).await;
    assert_eq!(status, 201, "{v}");
    v
}

#[tokio::test]
async fn seeds_go_in_as_base32_or_uri_and_only_codes_come_out() {
    let (srv, clock) = at_t0("").await;
    let writer = api_token(&srv, "admin", "vault:write", None).await;
    let reader = api_token(&srv, "ci", "vault:read", None).await;

    let aws = add(
        &srv,
        &writer,
        json!({"name": "AWS root", "attribute": "ops@example.org", "secret": "jbsw y3dp ehpk 3pxp jbsw y3dp ehpk 3pxp",
               "algorithm": "SHA256", "digits": 8, "period": 60}),
    )
    .await;
    assert_eq!(
        aws,
        json!({"id": aws["id"], "name": "AWS root", "attribute": "ops@example.org", "algorithm": "SHA256",
               "digits": 8, "period": 60, "created_at": aws["created_at"]})
    );
    let gh = add(
        &srv,
        &writer,
        json!({"name": "GitHub", "uri": format!("otpauth://totp/GitHub:team?secret={SEED}&issuer=GitHub&digits=7&period=45")}),
    )
    .await;
    assert_eq!(
        (
            gh["algorithm"].as_str(),
            gh["digits"].as_u64(),
            gh["period"].as_u64()
        ),
        (Some("SHA1"), Some(7), Some(45))
    );
    assert_eq!(gh["attribute"], Value::Null);
    assert!(gh["id"].as_i64().unwrap() > aws["id"].as_i64().unwrap());

    let (status, list) = srv.get("/v1/vault/apps", &reader).await;
    assert_eq!(status, 200);
    assert_eq!(list, json!([aws, gh]));
    assert!(
        !list.to_string().contains("JBSW"),
        "a seed was listed: {list}"
    );
    let (status, one) = srv
        .get(&format!("/v1/vault/apps/{}", gh["id"]), &reader)
        .await;
    assert_eq!((status, &one), (200, &gh));

    // :10 into a 60-second step: valid for 50 more seconds.
    let (status, c) = srv
        .get(&format!("/v1/vault/apps/{}/code", aws["id"]), &reader)
        .await;
    assert_eq!(status, 200, "{c}");
    let expected = totp(SEED, Algorithm::Sha256, 8, 60);
    assert_eq!(
        c,
        json!({"id": aws["id"], "name": "AWS root", "code": expected.code_at(T0 as u64), "valid_for_seconds": 50})
    );
    clock.advance_secs(45);
    let (_, c) = srv
        .get(&format!("/v1/vault/apps/{}/code", gh["id"]), &reader)
        .await;
    let now = T0 as u64 + 45;
    assert_eq!(c["code"], totp(SEED, Algorithm::Sha1, 7, 45).code_at(now));
    assert_eq!(c["valid_for_seconds"], 45 - now % 45);

    let (status, body) = delete(&srv, &format!("/v1/vault/apps/{}", aws["id"]), &writer).await;
    assert_eq!((status, body), (204, Value::Null));
    let got = srv
        .get(&format!("/v1/vault/apps/{}/code", aws["id"]), &reader)
        .await;
    assert_error(
        &got,
        404,
        "not_found",
        &format!("vault app {} does not exist", aws["id"]),
    );
    let got = delete(&srv, &format!("/v1/vault/apps/{}", aws["id"]), &writer).await;
    assert_error(&got, 404, "not_found", "does not exist");
    let (_, list) = srv.get("/v1/vault/apps", &reader).await;
    assert_eq!(list, json!([gh]));
}

#[tokio::test]
async fn every_code_fetch_is_audited_with_the_token_and_time() {
    let (srv, clock) = at_t0("").await;
    let writer = api_token(&srv, "admin", "vault:write", None).await;
    let reader = api_token(&srv, "deploy-bot", "vault:read", None).await;
    let app = add(&srv, &writer, json!({"name": "AWS root", "secret": SEED})).await;
    let id = app["id"].as_i64().unwrap();
    srv.get(&format!("/v1/vault/apps/{id}/code"), &reader).await;
    clock.advance_secs(5);
    srv.get(&format!("/v1/vault/apps/{id}/code"), &reader).await;
    // Listing is not a code fetch.
    srv.get("/v1/vault/apps", &reader).await;
    let entries = srv
        .state
        .store
        .audit_entries(&AuditFilter::default())
        .await
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    for (entry, at) in entries.iter().zip([T0, T0 + 5]) {
        assert_eq!(entry.user, "deploy-bot");
        assert_eq!(entry.method.as_deref(), Some("vault"));
        assert_eq!(entry.result, "code");
        assert_eq!(
            entry.reason.as_deref(),
            Some(format!("vault app {id} (AWS root)").as_str())
        );
        assert_eq!(entry.client_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(entry.at, Some(mfa_core::Timestamp::from_secs(at)));
    }
}

#[tokio::test]
async fn a_token_limited_to_some_apps_sees_and_touches_only_those() {
    let (srv, _clock) = at_t0("").await;
    let admin = api_token(&srv, "admin", "vault:read,vault:write", None).await;
    let a = add(&srv, &admin, json!({"name": "a", "secret": SEED})).await;
    let b = add(&srv, &admin, json!({"name": "b", "secret": SEED})).await;
    let (a, b) = (a["id"].as_i64().unwrap(), b["id"].as_i64().unwrap());
    let limited = api_token(&srv, "ci", "vault:read,vault:write", Some(&[a])).await;
    let (_, list) = srv.get("/v1/vault/apps", &limited).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], a);
    let (status, _) = srv.get(&format!("/v1/vault/apps/{a}/code"), &limited).await;
    assert_eq!(status, 200);
    for got in [
        srv.get(&format!("/v1/vault/apps/{b}/code"), &limited).await,
        srv.get(&format!("/v1/vault/apps/{b}"), &limited).await,
        delete(&srv, &format!("/v1/vault/apps/{b}"), &limited).await,
        // Ids it is not limited to are refused whether or not they exist.
        srv.get("/v1/vault/apps/999/code", &limited).await,
    ] {
        assert_error(&got, 403, "forbidden", "API token ci may not use vault app");
    }
    let (_, list) = srv.get("/v1/vault/apps", &admin).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        2,
        "b was removed through a limited token"
    );
}

#[tokio::test]
async fn read_and_write_are_separate_scopes() {
    let (srv, _clock) = at_t0("").await;
    let writer = api_token(&srv, "writer", "vault:write", None).await;
    let reader = api_token(&srv, "reader", "vault:read", None).await;
    let otp = api_token(&srv, "shop", "otp", None).await;
    let app = add(&srv, &writer, json!({"name": "a", "secret": SEED})).await;
    let id = app["id"].as_i64().unwrap();
    let new = json!({"name": "b", "secret": SEED});
    for token in [&reader, &otp] {
        assert_error(
            &srv.post("/v1/vault/apps", token, &new).await,
            403,
            "forbidden",
            "lacks the vault:write scope",
        );
        assert_error(
            &delete(&srv, &format!("/v1/vault/apps/{id}"), token).await,
            403,
            "forbidden",
            "vault:write",
        );
    }
    for token in [&writer, &otp] {
        assert_error(
            &srv.get("/v1/vault/apps", token).await,
            403,
            "forbidden",
            "lacks the vault:read scope",
        );
        assert_error(
            &srv.get(&format!("/v1/vault/apps/{id}"), token).await,
            403,
            "forbidden",
            "vault:read",
        );
        assert_error(
            &srv.get(&format!("/v1/vault/apps/{id}/code"), token).await,
            403,
            "forbidden",
            "vault:read",
        );
    }
    assert_error(
        &srv.get("/v1/vault/apps", "mfat_nope").await,
        401,
        "unauthorized",
        "invalid API token",
    );
    let got = raw(
        &srv,
        reqwest::Method::GET,
        "/v1/vault/apps",
        None,
        None,
        vec![],
    )
    .await;
    assert_error(&got, 401, "unauthorized", "Authorization: Bearer");
}

#[tokio::test]
async fn bad_vault_requests_are_named_never_500() {
    let (srv, _clock) = at_t0("").await;
    let token = api_token(&srv, "admin", "vault:read,vault:write", None).await;
    let uri = |q: &str| format!("otpauth://totp/X:y?secret={SEED}{q}");
    for (body, needle) in [
        (
            json!({"name": "a", "secret": "JBSWY3DPEHPK3PX1"}),
            "secret: invalid base32 character '1' at position 15",
        ),
        (
            json!({"name": "a", "secret": "JBSWY3DP"}),
            "secret: secret is too short",
        ),
        (
            json!({"name": "a", "secret": SEED, "algorithm": "MD5"}),
            "unknown algorithm \"MD5\"",
        ),
        (
            json!({"name": "a", "secret": SEED, "digits": 10}),
            "digits must be 6, 7 or 8 (got 10)",
        ),
        (
            json!({"name": "a", "secret": SEED, "period": 10}),
            "period must be between 15 and 120 seconds (got 10)",
        ),
        (
            json!({"name": "a", "secret": SEED, "period": 3600}),
            "period must be between 15 and 120 seconds (got 3600)",
        ),
        (
            json!({"name": "a", "uri": "https://example.org"}),
            "uri: URI scheme must be otpauth://",
        ),
        (
            json!({"name": "a", "uri": "otpauth://totp"}),
            "uri: malformed otpauth URI",
        ),
        (
            json!({"name": "a", "uri": uri("&algorithm=MD5")}),
            "uri: unknown algorithm",
        ),
        (
            json!({"name": "a", "uri": uri("&digits=9")}),
            "uri: digits must be 6, 7 or 8",
        ),
        (
            json!({"name": "a", "uri": uri("&period=300")}),
            "uri: period must be between 15 and 120 seconds (got 300)",
        ),
        (
            json!({"name": "a", "uri": format!("otpauth://hotp/X:y?secret={SEED}&counter=1")}),
            "the vault keeps TOTP seeds",
        ),
        (
            json!({"name": "a", "uri": uri(""), "digits": 8}),
            "come from the uri",
        ),
        (
            json!({"name": "a", "uri": uri(""), "secret": SEED}),
            "not both",
        ),
        (json!({"name": "a"}), "missing seed"),
        (
            json!({"name": " ", "secret": SEED}),
            "name must not be empty",
        ),
        (json!({"secret": SEED}), "missing field `name`"),
        (
            json!({"name": "x".repeat(200), "secret": SEED}),
            "name is too long",
        ),
        (
            json!({"name": "a", "attribute": "a\tb", "secret": SEED}),
            "attribute must not contain control characters",
        ),
        (json!({"name": "a", "secret": SEED, "seed": SEED}), "`seed`"),
    ] {
        let got = srv.post("/v1/vault/apps", &token, &body).await;
        assert_error(&got, 400, "bad_request", needle);
        assert!(
            !got.1.to_string().contains("JBSWY3DPEHPK"),
            "a seed in an error: {}",
            got.1
        );
    }
    for path in [
        "/v1/vault/apps/abc/code",
        "/v1/vault/apps/1.5",
        "/v1/vault/apps/99999999999999999999",
    ] {
        assert_error(
            &srv.get(path, &token).await,
            400,
            "bad_request",
            "vault app id must be a number",
        );
    }
    assert_error(
        &delete(&srv, "/v1/vault/apps/x", &token).await,
        400,
        "bad_request",
        "must be a number",
    );
    assert_error(
        &srv.get("/v1/vault/apps/42/code", &token).await,
        404,
        "not_found",
        "vault app 42 does not exist",
    );
    assert_error(
        &srv.get("/v1/vault/apps/42", &token).await,
        404,
        "not_found",
        "vault app 42 does not exist",
    );
    assert_error(
        &delete(&srv, "/v1/vault/apps/42", &token).await,
        404,
        "not_found",
        "vault app 42 does not exist",
    );
    let json_ct = Some("application/json");
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/vault/apps",
        Some(&token),
        Some("text/plain"),
        json!({"name": "a", "secret": SEED})
            .to_string()
            .into_bytes(),
    )
    .await;
    assert_error(&got, 415, "unsupported_media_type", "application/json");
    let huge = json!({"name": "a", "secret": SEED, "attribute": "x".repeat(20_000)})
        .to_string()
        .into_bytes();
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/vault/apps",
        Some(&token),
        json_ct,
        huge,
    )
    .await;
    assert_error(&got, 413, "payload_too_large", "too large");
    let got = raw(
        &srv,
        reqwest::Method::POST,
        "/v1/vault/apps",
        Some(&token),
        json_ct,
        b"{\"name\":".to_vec(),
    )
    .await;
    assert_error(&got, 400, "bad_request", "malformed JSON");
    let got = raw(
        &srv,
        reqwest::Method::PUT,
        "/v1/vault/apps/1",
        Some(&token),
        json_ct,
        vec![],
    )
    .await;
    assert_error(&got, 405, "method_not_allowed", "PUT");
    // Nothing was added by any of that.
    let (_, list) = srv.get("/v1/vault/apps", &token).await;
    assert_eq!(list, json!([]));
}
