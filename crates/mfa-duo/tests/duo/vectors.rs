//! Duo's own published test vectors, ported from duo_client_python's `tests/test_client.py`
//! (github.com/duosecurity/duo_client_python, Apache-2.0/BSD: `TestQueryParameters`,
//! `TestCanonicalize`, `TestSign`). The expected strings and signatures are theirs, verbatim.

use mfa_duo::sign::{
    CanonicalInput, ParamOrder, SigDigest, SigVersion, authorization_header, canonicalize, sign_hex,
};
use mfa_duo::{Dialect, Params, SignedRequest, Verified, verify};

fn params(pairs: &[(&str, &str)]) -> Params {
    let mut p = Params::new();
    for (k, v) in pairs {
        p.push(*k, *v);
    }
    p
}

#[test]
fn canon_params_zero_one_two() {
    assert_eq!(Params::new().canonical(), "");
    assert_eq!(
        params(&[("realname", "First Last")]).canonical(),
        "realname=First%20Last"
    );
    assert_eq!(
        params(&[("username", "root"), ("realname", "First Last")]).canonical(),
        "realname=First%20Last&username=root"
    );
    // test_with_boolean_true_int_and_string: normalize_params turns True into "true", 5 into "5".
    assert_eq!(
        params(&[("words", "First Last"), ("success", "true"), ("digit", "5")]).canonical(),
        "digit=5&success=true&words=First%20Last"
    );
}

#[test]
fn canon_params_printable_ascii() {
    let p = params(&[
        ("digits", "0123456789"),
        (
            "letters",
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        ),
        ("punctuation", "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
        ("whitespace", "\t\n\x0b\x0c\r "),
    ]);
    assert_eq!(
        p.canonical(),
        "digits=0123456789&letters=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ&punctuation=%21%22%23%24%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F%40%5B%5C%5D%5E_%60%7B%7C%7D~&whitespace=%09%0A%0B%0C%0D%20"
    );
}

#[test]
fn canon_params_unicode_values() {
    let p = params(&[
        (
            "bar",
            "\u{2815}\u{aaa3}\u{37cf}\u{4bb7}\u{36e9}\u{cc05}\u{668e}\u{8162}\u{c2bd}\u{a1f1}",
        ),
        (
            "baz",
            "\u{0df3}\u{84bd}\u{5669}\u{9985}\u{b8a4}\u{ac3a}\u{7be7}\u{6f69}\u{934a}\u{b91c}",
        ),
        (
            "foo",
            "\u{d4ce}\u{d6d6}\u{7938}\u{50c0}\u{8a20}\u{8f15}\u{fd0b}\u{8024}\u{5cb3}\u{c655}",
        ),
        (
            "qux",
            "\u{8b97}\u{c846}-\u{828e}\u{831a}\u{ccca}\u{a2d4}\u{8c3e}\u{b8b2}\u{99be}",
        ),
    ]);
    assert_eq!(
        p.canonical(),
        "bar=%E2%A0%95%EA%AA%A3%E3%9F%8F%E4%AE%B7%E3%9B%A9%EC%B0%85%E6%9A%8E%E8%85%A2%EC%8A%BD%EA%87%B1&baz=%E0%B7%B3%E8%92%BD%E5%99%A9%E9%A6%85%EB%A2%A4%EA%B0%BA%E7%AF%A7%E6%BD%A9%E9%8D%8A%EB%A4%9C&foo=%ED%93%8E%ED%9B%96%E7%A4%B8%E5%83%80%E8%A8%A0%E8%BC%95%EF%B4%8B%E8%80%A4%E5%B2%B3%EC%99%95&qux=%E8%AE%97%EC%A1%86-%E8%8A%8E%E8%8C%9A%EC%B3%8A%EA%8B%94%E8%B0%BE%EB%A2%B2%E9%A6%BE"
    );
}

/// The four unicode keys and values of test_unicode_fuzz_keys_and_values, test_v1, test_v2 and
/// TestSign.
fn unicode_keys_and_values() -> Params {
    params(&[
        (
            "\u{469a}\u{287b}\u{35d0}\u{8ef3}\u{6727}\u{502a}\u{0810}\u{d091}\u{c8}\u{c170}",
            "\u{0f45}\u{1a76}\u{341a}\u{654c}\u{c23f}\u{9b09}\u{abe2}\u{8343}\u{1b27}\u{60d0}",
        ),
        (
            "\u{7449}\u{7e4b}\u{ccfb}\u{59ff}\u{fe5f}\u{83b7}\u{adcc}\u{900c}\u{cfd1}\u{7813}",
            "\u{8db7}\u{5022}\u{92d3}\u{42ef}\u{207d}\u{8730}\u{acfe}\u{5617}\u{0946}\u{4e30}",
        ),
        (
            "\u{7470}\u{9314}\u{901c}\u{9eae}\u{40d8}\u{4201}\u{82d8}\u{8c70}\u{1d31}\u{a042}",
            "\u{17d9}\u{0ba8}\u{9358}\u{aadf}\u{a42a}\u{48be}\u{fb96}\u{6fe9}\u{b7ff}\u{32f3}",
        ),
        (
            "\u{c2c5}\u{2c1d}\u{2620}\u{3617}\u{96b3}F\u{8605}\u{20e8}\u{ac21}\u{5934}",
            "\u{fba9}\u{41aa}\u{bd83}\u{840b}\u{2615}\u{3e6e}\u{652d}\u{a8b5}\u{d56b}U",
        ),
    ])
}

const UNICODE_CANON: &str = "%E4%9A%9A%E2%A1%BB%E3%97%90%E8%BB%B3%E6%9C%A7%E5%80%AA%E0%A0%90%ED%82%91%C3%88%EC%85%B0=%E0%BD%85%E1%A9%B6%E3%90%9A%E6%95%8C%EC%88%BF%E9%AC%89%EA%AF%A2%E8%8D%83%E1%AC%A7%E6%83%90&%E7%91%89%E7%B9%8B%EC%B3%BB%E5%A7%BF%EF%B9%9F%E8%8E%B7%EA%B7%8C%E9%80%8C%EC%BF%91%E7%A0%93=%E8%B6%B7%E5%80%A2%E9%8B%93%E4%8B%AF%E2%81%BD%E8%9C%B0%EA%B3%BE%E5%98%97%E0%A5%86%E4%B8%B0&%E7%91%B0%E9%8C%94%E9%80%9C%E9%BA%AE%E4%83%98%E4%88%81%E8%8B%98%E8%B1%B0%E1%B4%B1%EA%81%82=%E1%9F%99%E0%AE%A8%E9%8D%98%EA%AB%9F%EA%90%AA%E4%A2%BE%EF%AE%96%E6%BF%A9%EB%9F%BF%E3%8B%B3&%EC%8B%85%E2%B0%9D%E2%98%A0%E3%98%97%E9%9A%B3F%E8%98%85%E2%83%A8%EA%B0%A1%E5%A4%B4=%EF%AE%A9%E4%86%AA%EB%B6%83%E8%90%8B%E2%98%95%E3%B9%AE%E6%94%AD%EA%A2%B5%ED%95%ABU";

#[test]
fn canon_params_unicode_keys_and_values_and_common_prefix() {
    assert_eq!(unicode_keys_and_values().canonical(), UNICODE_CANON);
    assert_eq!(
        params(&[("foo_bar", "2"), ("foo", "1")]).canonical(),
        "foo=1&foo_bar=2"
    );
}

const HOST: &str = "foO.BAr52.cOm";
const URI: &str = "/Foo/BaR2/qux";
const DATE_2012: &str = "Fri, 07 Dec 2012 17:18:00 -0000";
const SKEY: &[u8] = b"gtdfxv9YgVBYcF6dl2Eq17KUQJN2PLM2ODVTkvoT";
// The JSON_STRING of test_client.py: Client.canon_json of JSON_BODY.
const JSON_STRING: &str =
    r#"{"alpha":["a","b","c","d"],"data":"abc123","info":{"another":2,"test":1}}"#;

fn input<'a>(
    host: &'a str,
    params: &'a Params,
    date: &'a str,
    body: &'a [u8],
    headers: &'a [(&'a str, &'a str)],
) -> CanonicalInput<'a> {
    CanonicalInput {
        method: "PoSt",
        host,
        path: URI,
        params,
        date,
        body,
        duo_headers: headers,
    }
}

#[test]
fn canonicalize_v1_and_v2() {
    let p = unicode_keys_and_values();
    // duo_client's v1 lowercases the host; canonicalize keeps V1's host as given (duo_unix),
    // and verify tries the lowercased candidate too.
    assert_eq!(
        canonicalize(
            &input("foo.bar52.com", &p, "", b"", &[]),
            SigVersion::V1,
            ParamOrder::KeyThenValue
        ),
        format!("POST\nfoo.bar52.com\n/Foo/BaR2/qux\n{UNICODE_CANON}")
    );
    assert_eq!(
        canonicalize(
            &input(HOST, &p, DATE_2012, b"", &[]),
            SigVersion::V2,
            ParamOrder::KeyThenValue
        ),
        format!("{DATE_2012}\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n{UNICODE_CANON}")
    );
}

#[test]
fn canonicalize_v4_and_v5_with_json() {
    let empty = Params::new();
    let body_hash = data_encoding::HEXLOWER.encode(&{
        use sha2::Digest;
        sha2::Sha512::digest(JSON_STRING.as_bytes())
    });
    assert_eq!(
        canonicalize(
            &input(
                "foO.BaR52.cOm",
                &empty,
                "Tue, 04 Jul 2017 14:12:00",
                JSON_STRING.as_bytes(),
                &[]
            ),
            SigVersion::V4,
            ParamOrder::KeyThenValue
        ),
        format!("Tue, 04 Jul 2017 14:12:00\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n{body_hash}")
    );
    let date = "Tue, 17 Nov 2020 14:12:00";
    assert_eq!(
        canonicalize(
            &input(
                "foO.BaR52.cOm",
                &empty,
                date,
                JSON_STRING.as_bytes(),
                &[("X-Duo-Header-1", "header_value_1")]
            ),
            SigVersion::V5,
            ParamOrder::KeyThenValue
        ),
        format!(
            "{date}\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n{body_hash}\n630b4bfe7e9abd03da2eee8f0a5d4e60a254ec880a839bcc2223bb5b9443e8ef24d58f0254f1f5934bf8c017ebd0fd5b1acf86766bdbe74185e712a4092df3ed"
        )
    );
    // test_signature_v5_lowers_and_then_sorts_headers
    assert_eq!(
        canonicalize(
            &input(
                "foO.BaR52.cOm",
                &empty,
                date,
                JSON_STRING.as_bytes(),
                &[("x-duo-A", "header_value_1"), ("X-Duo-B", "header_value_2")]
            ),
            SigVersion::V5,
            ParamOrder::KeyThenValue
        ),
        format!(
            "{date}\nPOST\nfoo.bar52.com\n/Foo/BaR2/qux\n\n{body_hash}\n60be11a30e0756f2ee2afdce1db849b987dcf86c1133394bd7bbbc9877920330c4d78aceacbb377ab8cbd9a8efe6a410fed4047376635ac71226ab46ca10d2b1"
        )
    );
}

const SIG_SHA1: &str = "f01811cbbf9561623ab45b893096267fd46a5178";
const SIG_SHA512: &str = "0508065035a03b2a1de2f453e629e791d180329e157f65df6b3e0f08299d4321e1c5c7a7c7ee6b9e5fc80d1fb6fbf3ad5eb7c44dd3b3985a02c37aca53ec3698";

#[test]
fn sign_hmac_sha1_and_sha512() {
    let p = unicode_keys_and_values();
    let canonical = canonicalize(
        &input(HOST, &p, DATE_2012, b"", &[]),
        SigVersion::V2,
        ParamOrder::KeyThenValue,
    );
    assert_eq!(sign_hex(SKEY, &canonical, SigDigest::Sha1), SIG_SHA1);
    assert_eq!(sign_hex(SKEY, &canonical, SigDigest::Sha512), SIG_SHA512);
    assert_eq!(
        authorization_header("test_ikey", SKEY, &canonical, SigDigest::Sha1),
        format!(
            "Basic {}",
            data_encoding::BASE64.encode(format!("test_ikey:{SIG_SHA1}").as_bytes())
        )
    );
}

/// The TestSign vectors through `verify`, as a server receives them: the params as a form body
/// with duo_client's wire encoding (`urlencode`, space as `+`).
#[test]
fn verify_accepts_the_published_signatures_as_a_server_receives_them() {
    let p = unicode_keys_and_values();
    let body: String = p
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
    let now: jiff::Timestamp = "2012-12-07T17:20:00Z".parse().unwrap();
    for sig in [SIG_SHA1, SIG_SHA512] {
        let auth = format!(
            "Basic {}",
            data_encoding::BASE64.encode(format!("test_ikey:{sig}").as_bytes())
        );
        let headers = [("Authorization", auth.as_str()), ("Date", DATE_2012)];
        let req = SignedRequest {
            dialect: Dialect::AuthV2,
            method: "POST",
            host: HOST,
            path: URI,
            query: b"",
            body: body.as_bytes(),
            body_kind: mfa_duo::BodyKind::Form,
            headers: &headers,
        };
        let v: Verified = verify(&req, SKEY, now, mfa_duo::MAX_SKEW).unwrap();
        assert_eq!(v.ikey, "test_ikey");
        assert_eq!(v.version, SigVersion::V2);
        assert_eq!(v.params, p);
        // Ten minutes later the same request is stale, and says by how much.
        let later = now + jiff::SignedDuration::from_secs(600);
        assert_eq!(
            verify(&req, SKEY, later, mfa_duo::MAX_SKEW),
            Err(mfa_duo::DuoAuthError::StaleDate {
                seconds: -720,
                max: 300
            })
        );
        assert_eq!(
            verify(&req, b"another skey", now, mfa_duo::MAX_SKEW),
            Err(mfa_duo::DuoAuthError::Mismatch)
        );
    }
}
