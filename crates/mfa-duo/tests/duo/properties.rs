//! Properties of the form codec and of verify.

use mfa_duo::params::{decode_component, encode_component};
use mfa_duo::sign::{CanonicalInput, ParamOrder, SigDigest, SigVersion, canonicalize, sign_hex};
use mfa_duo::{Dialect, MAX_SKEW, Params, SignedRequest, verify};
use proptest::prelude::*;

fn pairs() -> impl Strategy<Value = Vec<(Vec<u8>, Vec<u8>)>> {
    proptest::collection::vec(
        (
            proptest::collection::vec(any::<u8>(), 0..12),
            proptest::collection::vec(any::<u8>(), 0..12),
        ),
        0..8,
    )
}

fn form(pairs: &[(Vec<u8>, Vec<u8>)], plus_for_space: bool) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |b: &[u8]| {
                let s = encode_component(b);
                if plus_for_space {
                    s.replace("%20", "+")
                } else {
                    s
                }
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let enc = encode_component(&bytes);
        prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"_~.-%".contains(&b)));
        prop_assert_eq!(decode_component(enc.as_bytes(), 0).unwrap(), bytes);
    }

    #[test]
    fn any_strings_round_trip_through_a_form(s in ".{0,24}", t in "\\PC{0,24}") {
        let mut p = Params::new();
        p.push(s.as_bytes(), t.as_bytes());
        let back = Params::parse_form(form(p.pairs(), true).as_bytes()).unwrap();
        prop_assert_eq!(back.get(&s), Some(t.as_str()));
    }

    #[test]
    fn forms_round_trip_exactly_with_either_space_encoding(pairs in pairs(), plus in any::<bool>()) {
        // Empty keys with empty values ("=") decode to ("", ""), so they round-trip too.
        let parsed = Params::parse_form(form(&pairs, plus).as_bytes()).unwrap();
        prop_assert_eq!(parsed.pairs(), pairs.as_slice());
        // The canonical line is the same whatever order the pairs came in.
        let mut reversed = Params::new();
        for (k, v) in pairs.iter().rev() {
            reversed.push(k.clone(), v.clone());
        }
        prop_assert_eq!(parsed.canonical(), reversed.canonical());
        prop_assert_eq!(parsed.canonical_strcmp(), reversed.canonical_strcmp());
    }

    #[test]
    fn parse_form_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = Params::parse_form(&bytes);
    }

    #[test]
    fn a_signed_v2_request_verifies_and_a_changed_param_does_not(
        pairs in pairs(),
        skey in proptest::collection::vec(any::<u8>(), 1..64),
        sha1 in any::<bool>(),
    ) {
        let mut params = Params::new();
        for (k, v) in &pairs {
            params.push(k.clone(), v.clone());
        }
        let date = "Thu, 03 Dec 2026 07:30:00 -0000";
        let input = CanonicalInput {
            method: "POST", host: "mfa.example", path: "/auth/v2/auth", params: &params,
            date, body: b"", duo_headers: &[],
        };
        let digest = if sha1 { SigDigest::Sha1 } else { SigDigest::Sha512 };
        let canonical = canonicalize(&input, SigVersion::V2, ParamOrder::KeyThenValue);
        let auth = format!("Basic {}", data_encoding::BASE64.encode(
            format!("DIX:{}", sign_hex(&skey, &canonical, digest)).as_bytes()));
        let headers = [("Date", date), ("Authorization", auth.as_str())];
        let body = form(&pairs, true);
        let now: jiff::Timestamp = "2026-12-03T07:30:00Z".parse().unwrap();
        let req = SignedRequest {
            dialect: Dialect::AuthV2, method: "POST", host: "mfa.example",
            path: "/auth/v2/auth", query: b"", body: body.as_bytes(), body_kind: mfa_duo::BodyKind::Form,
            headers: &headers,
        };
        prop_assert!(verify(&req, &skey, now, MAX_SKEW).is_ok());
        let more = format!("{body}&extra=1");
        let req2 = SignedRequest { body: more.as_bytes(), ..req };
        prop_assert!(verify(&req2, &skey, now, MAX_SKEW).is_err());
    }
}
