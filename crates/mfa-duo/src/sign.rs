//! Canonical strings and request signatures of Duo's Auth API, as its clients compute them.
//!
//! Read from the clients' sources:
//! - duo_client_python 5.6.1, `duo_client/client.py`: `canon_params`, `canon_x_duo_headers`,
//!   `canonicalize` (sig versions 1, 2, 4, 5), `sign` (HMAC, hex, `Basic base64(ikey:hex)`),
//!   `api_call` (v1/v2: params in the query or a form body; v4/v5: POST params as a JSON body
//!   `json.dumps(sort_keys=True, separators=(',', ':'))` and the query empty, GET params in the
//!   query and the body `""`; v4/v5 always HMAC-SHA512; the date is `email.utils.formatdate()`
//!   in the `Date` header).
//! - duo_unix 1.11.3 (Debian's libpam-duo), `lib/https.c` `https_send`: HMAC-SHA1 over
//!   `METHOD\nhost\nuri\nqs` where `host` is the configured host with any `:port` cut off and its
//!   case kept (not lowercased), `qs` the `key=value` strings sorted by `strcmp`; no date. The
//!   same `qs` is the wire body (POST) or query (GET). duo_unix 2.x signs
//!   `date\nMETHOD\nhost\nuri\nqs` with the date in `X-Duo-Date`.

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha512};

use crate::params::Params;

/// A signature version (the canonical string's shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigVersion {
    /// `METHOD\nhost\npath\nparams`, no date: duo_unix 1.x `/rest/v1/*.bson` (duo_client's 1).
    V1,
    /// `date\nMETHOD\nhost\npath\nparams`.
    V2,
    /// V2 plus the SHA-512 hex of the body (JSON for POST, empty for GET).
    V4,
    /// V4 plus the SHA-512 hex of the `X-Duo-*` headers.
    V5,
}

/// The HMAC hash, told apart by the length of the presented hex signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigDigest {
    /// 40 hex digits.
    Sha1,
    /// 128 hex digits.
    Sha512,
}

/// Parameter order in the canonical string (see [`Params::canonical_strcmp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamOrder {
    /// duo_client: sorted by encoded key, then encoded value.
    KeyThenValue,
    /// duo_unix: `key=value` strings sorted by `strcmp`.
    Strcmp,
}

/// Everything a canonical string is made of.
#[derive(Debug, Clone, Copy)]
pub struct CanonicalInput<'a> {
    /// The HTTP method (uppercased in the canonical string).
    pub method: &'a str,
    /// The host exactly as the client signed it (see [`crate::verify`] for the candidates).
    pub host: &'a str,
    /// The request path without the query.
    pub path: &'a str,
    /// The decoded parameters (query and form body).
    pub params: &'a Params,
    /// The date header's value, verbatim (unused by V1).
    pub date: &'a str,
    /// The raw body (hashed by V4 and V5).
    pub body: &'a [u8],
    /// The `X-Duo-*` headers, names in any case (hashed by V5).
    pub duo_headers: &'a [(&'a str, &'a str)],
}

/// The SHA-512 hex of the `X-Duo-*` headers as duo_client's `canon_x_duo_headers`: names
/// lowercased and sorted, then `name\0value\0name\0value...`.
#[must_use]
pub fn canon_x_duo_headers(headers: &[(&str, &str)]) -> String {
    let mut lowered: Vec<(String, &str)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .collect();
    lowered.sort();
    let parts: Vec<&str> = lowered.iter().flat_map(|(n, v)| [n.as_str(), *v]).collect();
    hex_sha512(parts.join("\0").as_bytes())
}

fn hex_sha512(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(&Sha512::digest(bytes))
}

/// The canonical string a client signs, for one version and parameter order. The host is
/// lowercased for V2, V4 and V5 (every Duo client and Duo's service do); for V1 it is used as
/// given, since duo_unix 1.x signs the configured host without lowercasing it (callers try both).
#[must_use]
pub fn canonicalize(input: &CanonicalInput<'_>, version: SigVersion, order: ParamOrder) -> String {
    let method = input.method.to_ascii_uppercase();
    let params = match order {
        ParamOrder::KeyThenValue => input.params.canonical(),
        ParamOrder::Strcmp => input.params.canonical_strcmp(),
    };
    let host = input.host.to_ascii_lowercase();
    match version {
        SigVersion::V1 => [method.as_str(), input.host, input.path, &params].join("\n"),
        SigVersion::V2 => [input.date, &method, &host, input.path, &params].join("\n"),
        SigVersion::V4 => [
            input.date,
            &method,
            &host,
            input.path,
            &params,
            &hex_sha512(input.body),
        ]
        .join("\n"),
        SigVersion::V5 => [
            input.date,
            &method,
            &host,
            input.path,
            &params,
            &hex_sha512(input.body),
            &canon_x_duo_headers(input.duo_headers),
        ]
        .join("\n"),
    }
}

/// The HMAC of a canonical string with the skey, as lowercase hex (what clients send).
#[must_use]
pub fn sign_hex(skey: &[u8], canonical: &str, digest: SigDigest) -> String {
    data_encoding::HEXLOWER.encode(&mac_bytes(skey, canonical, digest))
}

fn mac_bytes(skey: &[u8], canonical: &str, digest: SigDigest) -> Vec<u8> {
    // HMAC takes a key of any length: new_from_slice cannot fail for it.
    match digest {
        SigDigest::Sha1 => match <Hmac<Sha1> as KeyInit>::new_from_slice(skey) {
            Ok(mut mac) => {
                mac.update(canonical.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
        SigDigest::Sha512 => match <Hmac<Sha512> as KeyInit>::new_from_slice(skey) {
            Ok(mut mac) => {
                mac.update(canonical.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        },
    }
}

/// Checks a presented MAC (raw bytes) against the canonical string, in constant time
/// (`Mac::verify_slice`).
#[must_use]
pub fn mac_matches(skey: &[u8], canonical: &str, digest: SigDigest, presented: &[u8]) -> bool {
    match digest {
        SigDigest::Sha1 => <Hmac<Sha1> as KeyInit>::new_from_slice(skey).is_ok_and(|mut mac| {
            mac.update(canonical.as_bytes());
            mac.verify_slice(presented).is_ok()
        }),
        SigDigest::Sha512 => {
            <Hmac<Sha512> as KeyInit>::new_from_slice(skey).is_ok_and(|mut mac| {
                mac.update(canonical.as_bytes());
                mac.verify_slice(presented).is_ok()
            })
        }
    }
}

/// The `Authorization` header value for a request: `Basic base64(ikey:hex)`. For tests and for
/// a server that must sign its own requests the way duo_unix does.
#[must_use]
pub fn authorization_header(ikey: &str, skey: &[u8], canonical: &str, digest: SigDigest) -> String {
    let hex = sign_hex(skey, canonical, digest);
    format!(
        "Basic {}",
        data_encoding::BASE64.encode(format!("{ikey}:{hex}").as_bytes())
    )
}
