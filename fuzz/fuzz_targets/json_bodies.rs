//! Every JSON body of the HTTP API (mfa-wire): the requests mfad reads and the answers mfac,
//! `mfa` and the PAM module read. The first byte picks the shape, the rest is the body.
//!
//! Whatever deserializes serializes to JSON that deserializes to the same value, and
//! serializing that again gives the same text; unknown fields are refused by every request.
#![no_main]

use std::fmt::Debug;

use libfuzzer_sys::fuzz_target;
use mfa_wire as w;
use serde::Serialize;
use serde::de::DeserializeOwned;

fuzz_target!(|data: &[u8]| {
    let Some((&shape, body)) = data.split_first() else {
        return;
    };
    // Requests (deny_unknown_fields), then answers.
    match shape % 20 {
        0 => request::<w::PreauthRequest>(body),
        1 => request::<w::StepupRequest>(body),
        2 => request::<w::ServerAuthRequest>(body),
        3 => request::<w::ClientDecision>(body),
        4 => request::<w::NewOtpCredential>(body),
        5 => request::<w::VerifyCode>(body),
        6 => request::<w::NewOneTimeCode>(body),
        7 => request::<w::NewVaultApp>(body),
        8 => answer::<w::PreauthResponse>(body),
        9 => answer::<w::ServerAuthResponse>(body),
        10 => answer::<w::AuthStatus>(body),
        11 => answer::<w::PendingRequest>(body),
        12 => answer::<Vec<w::PendingRequest>>(body),
        13 => answer::<w::DecisionResult>(body),
        14 => answer::<w::EnrollResponse>(body),
        15 => answer::<w::OtpCredential>(body),
        16 => answer::<w::VerifyResult>(body),
        17 => answer::<w::OneTimeCode>(body),
        18 => answer::<w::VaultApp>(body),
        _ => {
            answer::<w::VaultCode>(body);
            answer::<w::ErrorBody>(body);
        }
    }
});

/// A request: round-trips, and an extra field makes it an error.
fn request<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) {
    let Some(json) = round_trip::<T>(body) else {
        return;
    };
    if let Some(fields) = json.strip_suffix('}').filter(|f| f.starts_with('{')) {
        let sep = if fields.len() > 1 { "," } else { "" };
        let extra = format!("{fields}{sep}\"fuzz_unknown_field\":1}}");
        assert!(
            serde_json::from_str::<T>(&extra).is_err(),
            "an unknown field was accepted: {extra}"
        );
    }
}

/// An answer: round-trips.
fn answer<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) {
    let _ = round_trip::<T>(body);
}

/// Deserializes `body`; if it is a `T`, checks the round trip and returns its JSON.
fn round_trip<T: Serialize + DeserializeOwned + PartialEq + Debug>(body: &[u8]) -> Option<String> {
    let value: T = serde_json::from_slice(body).ok()?;
    let json = serde_json::to_string(&value).unwrap_or_else(|e| panic!("{value:?}: {e}"));
    let again: T = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("{json} (from {value:?}) does not deserialize: {e}"));
    assert_eq!(again, value, "{json}");
    let json_again = serde_json::to_string(&again).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(json_again, json);
    Some(json)
}
