//! The client's TOTP seed: handed out once (`POST /v1/client/enroll`, what `mfa enroll` calls),
//! so that a client key stolen later yields no TOTP codes and a requirement of `push,totp`
//! still takes two secrets.

use std::sync::Arc;

use mfa_core::Alias;
use mfa_otp::{Algorithm, Digits, Secret, Totp, TotpParams};
use serde_json::{Value, json};

use crate::support::{Fixture, TestServer, fixture, login};

/// `POST /v1/client/enroll` with `key`, no body: (status, body, Cache-Control).
pub(crate) async fn enroll(srv: &TestServer, key: &str) -> (u16, Value, Option<String>) {
    let resp = srv
        .http
        .post(srv.url("/v1/client/enroll"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, resp.json().await.unwrap_or(Value::Null), cache)
}

/// The generator an enroll answer describes.
pub(crate) fn totp_of(v: &Value) -> Totp {
    let params = TotpParams::new(
        v["algorithm"]
            .as_str()
            .unwrap()
            .parse::<Algorithm>()
            .unwrap(),
        Digits::new(u8::try_from(v["digits"].as_u64().unwrap()).unwrap()).unwrap(),
        u32::try_from(v["period"].as_u64().unwrap()).unwrap(),
    )
    .unwrap();
    Totp::new(
        Secret::from_base32(v["totp_secret"].as_str().unwrap()).unwrap(),
        params,
    )
}

async fn totp_login(f: &Fixture, code: &str) -> Value {
    let mut body = login("totp");
    body["passcode"] = json!(code);
    let (status, v) = f.srv.post("/v1/auth", &f.token, &body).await;
    assert_eq!(status, 200, "{v}");
    v
}

#[tokio::test]
async fn the_seed_is_delivered_once_and_the_key_alone_then_yields_no_codes() {
    let f = fixture("").await;
    let (status, v, cache) = enroll(&f.srv, &f.tux.key).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        cache.as_deref(),
        Some("no-store"),
        "a secret must not be cached"
    );
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["algorithm", "alias", "digits", "period", "totp_secret"],
        "{v}"
    );
    assert_eq!(v["alias"], "tux");
    let delivered = totp_of(&v);
    assert_eq!(delivered, f.tux.totp, "the seed mfad checks codes against");
    // Codes from the delivered seed work for a login.
    let code = delivered.code_at(f.srv.now().unix_secs());
    assert_eq!(totp_login(&f, &code).await["result"], "allow");

    // Now whoever holds the key gets neither the seed nor a code.
    let (status, gone, _) = enroll(&f.srv, &f.tux.key).await;
    assert_eq!(status, 410, "{gone}");
    assert_eq!(gone["error"], "gone");
    let message = gone["message"].as_str().unwrap();
    assert!(message.contains("mfac client reset-totp tux"), "{message}");
    let seed = f.tux.totp.secret.to_base32();
    assert!(!gone.to_string().contains(&seed), "{gone}");
    let (status, v) = f.srv.get("/v1/client/totp", &f.tux.key).await;
    assert_eq!(status, 404, "codes from the server-held seed: {v}");
    assert_eq!(v["error"], "not_found", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_racing_enrolls_get_the_seed_exactly_once() {
    let f = Arc::new(fixture("max_failed_attempts = 100").await);
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let f = f.clone();
            tokio::spawn(async move { enroll(&f.srv, &f.tux.key).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for r in racers {
        let (status, v, _) = r.await.unwrap();
        if status == 200 {
            assert_eq!(totp_of(&v), f.tux.totp);
        }
        statuses.push(status);
    }
    statuses.sort_unstable();
    let mut expected = vec![200];
    expected.extend([410; 15]);
    assert_eq!(statuses, expected);
}

#[tokio::test]
async fn a_reset_seed_is_deliverable_again_once() {
    let f = fixture("").await;
    assert_eq!(enroll(&f.srv, &f.tux.key).await.0, 200);
    let fresh = Secret::generate(20).unwrap();
    f.srv
        .state
        .store
        .reset_client_totp(&Alias::new("tux").unwrap(), &fresh, TotpParams::default())
        .await
        .unwrap();
    let (status, v, _) = enroll(&f.srv, &f.tux.key).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(totp_of(&v).secret, fresh);
    assert_eq!(enroll(&f.srv, &f.tux.key).await.0, 410);
}

#[tokio::test]
async fn enroll_needs_a_client_key() {
    let f = fixture("").await;
    for key in ["mfak_wrong", f.token.as_str(), ""] {
        let (status, v, _) = enroll(&f.srv, key).await;
        assert_eq!(status, 401, "{key:?}: {v}");
        assert_eq!(v["error"], "unauthorized", "{v}");
    }
    // None of that used up the seed.
    assert_eq!(enroll(&f.srv, &f.tux.key).await.0, 200);
    let resp = f
        .srv
        .http
        .get(f.srv.url("/v1/client/enroll"))
        .bearer_auth(&f.tux.key)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
}
