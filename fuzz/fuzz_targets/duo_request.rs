//! What the Duo-compatible endpoints read from a request before they trust it (mfa-duo):
//! `Authorization: Basic base64(ikey:hex)`, the RFC 2822 date, the form-encoded query and body,
//! a JSON body, the Host header, and `verify` over all of them.
//!
//! Nothing panics; a form that parses re-encodes (Duo's way) to a form that parses to the same
//! pairs; a request signed with the skey (v1, v2 either hash, v4, v5) verifies, and with a byte
//! of its body, query or date changed, or under another skey, it does not (or proves another
//! ikey); errors never quote the skey.
#![no_main]

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_duo::sign::{CanonicalInput, ParamOrder, SigDigest, SigVersion, authorization_header};
use mfa_duo::{
    BodyKind, Dialect, MAX_SKEW, Params, SignedRequest, host_candidates, parse_authorization,
    parse_date, verify,
};

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

const SKEY: &str = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep";

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let text: &str = u.arbitrary()?;
    let _ = parse_authorization(text);
    let _ = parse_date(text);
    let _ = host_candidates(text);
    let bytes: &[u8] = u.arbitrary()?;
    form_round_trip(bytes);
    let _ = Params::from_json(bytes);

    // An arbitrary request: verify must not panic, and must not let it through unsigned.
    let method: &str = u.arbitrary()?;
    let host: &str = u.arbitrary()?;
    let path: &str = u.arbitrary()?;
    let query: &[u8] = u.arbitrary()?;
    let body: &[u8] = u.arbitrary()?;
    let kind = *u.choose(&[BodyKind::Form, BodyKind::Json, BodyKind::Other])?;
    let dialect = *u.choose(&[Dialect::Legacy, Dialect::AuthV2])?;
    let headers: Vec<(&str, &str)> = u.arbitrary()?;
    let now = jiff::Timestamp::from_second(u.int_in_range(0..=4_000_000_000)?)
        .unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    let req = SignedRequest {
        dialect,
        method,
        host,
        path,
        query,
        body,
        body_kind: kind,
        headers: &headers,
    };
    if let Err(e) = verify(&req, SKEY.as_bytes(), now, MAX_SKEW) {
        assert!(!e.to_string().contains(SKEY));
    }

    // The same parts, signed the way a client signs them: accepted, and refused when changed.
    let version = *u.choose(&[
        SigVersion::V1,
        SigVersion::V2,
        SigVersion::V4,
        SigVersion::V5,
    ])?;
    let digest = match version {
        SigVersion::V1 | SigVersion::V2 => *u.choose(&[SigDigest::Sha1, SigDigest::Sha512])?,
        SigVersion::V4 | SigVersion::V5 => SigDigest::Sha512,
    };
    let (dialect, kind) = match version {
        SigVersion::V1 => (Dialect::Legacy, BodyKind::Form),
        SigVersion::V2 => (Dialect::AuthV2, BodyKind::Form),
        _ => (Dialect::AuthV2, BodyKind::Other),
    };
    let Ok(params) = Params::parse_form(query).and_then(|mut p| {
        if kind == BodyKind::Form {
            p.extend_form(body)?;
        }
        Ok(p)
    }) else {
        return Ok(());
    };
    let Ok(date) = jiff::fmt::rfc2822::DateTimePrinter::new().timestamp_to_string(&now) else {
        return Ok(());
    };
    let duo_headers: Vec<(&str, &str)> = headers
        .iter()
        .copied()
        .filter(|(n, _)| n.len() > 6 && n.is_ascii() && n[..6].eq_ignore_ascii_case("x-duo-"))
        // X-Duo-Date would stand in for the Date signed here.
        .filter(|(n, _)| !n.eq_ignore_ascii_case("x-duo-date"))
        .collect();
    let input = CanonicalInput {
        method,
        host,
        path,
        params: &params,
        date: &date,
        body,
        duo_headers: &duo_headers,
    };
    let canonical = mfa_duo::sign::canonicalize(&input, version, ParamOrder::KeyThenValue);
    let auth = authorization_header("DIFUZZ", SKEY.as_bytes(), &canonical, digest);
    let mut signed_headers = vec![("Authorization", auth.as_str()), ("Date", date.as_str())];
    signed_headers.extend(duo_headers.iter().copied());
    let signed = SignedRequest {
        dialect,
        method,
        host,
        path,
        query,
        body,
        body_kind: kind,
        headers: &signed_headers,
    };
    let host_ok = host_candidates(host).iter().any(|h| h == host);
    let dup = duo_headers.iter().enumerate().any(|(i, (n, _))| {
        duo_headers[..i]
            .iter()
            .any(|(m, _)| m.eq_ignore_ascii_case(n))
    });
    if host_ok && !dup {
        match verify(&signed, SKEY.as_bytes(), now, MAX_SKEW) {
            Ok(v) => assert_eq!(v.ikey, "DIFUZZ"),
            Err(e) => panic!("a correctly signed request was refused: {e}"),
        }
        assert!(verify(&signed, b"another skey", now, MAX_SKEW).is_err());
        if !body.is_empty() && version != SigVersion::V1 && version != SigVersion::V2 {
            let i = u.choose_index(body.len())?;
            let mut changed = body.to_vec();
            changed[i] ^= 1 << u.int_in_range(0..=7)?;
            let req = SignedRequest {
                body: &changed,
                ..signed
            };
            assert!(verify(&req, SKEY.as_bytes(), now, MAX_SKEW).is_err());
        }
    }
    Ok(())
}

/// A form that parses, encoded again Duo's way, parses to the same pairs.
fn form_round_trip(bytes: &[u8]) {
    let Ok(params) = Params::parse_form(bytes) else {
        return;
    };
    let again = params
        .pairs()
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                mfa_duo::params::encode_component(k),
                mfa_duo::params::encode_component(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let reparsed = Params::parse_form(again.as_bytes());
    assert_eq!(reparsed.as_ref().map(Params::pairs), Ok(params.pairs()));
    assert_eq!(reparsed.map(|p| p.canonical()), Ok(params.canonical()));
}
