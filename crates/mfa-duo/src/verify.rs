//! Verifying a signed request: `Authorization: Basic base64(ikey:hex)`, the date, the HMAC.

use jiff::{SignedDuration, Timestamp};
use thiserror::Error;

use crate::params::{FormError, Params};
use crate::sign::{CanonicalInput, ParamOrder, SigDigest, SigVersion, canonicalize, mac_matches};

/// The clock skew allowed between a client's date and the server's clock (Duo's, and
/// duo_unix's test server's, window).
pub const MAX_SKEW: SignedDuration = SignedDuration::from_secs(300);

/// Why a request's credentials were refused. The messages name what is wrong and never echo
/// the presented signature, the skey or a canonical string.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DuoAuthError {
    /// No `Authorization` header.
    #[error("no Authorization header")]
    MissingAuthorization,
    /// A header that must appear once appears more than once (its lowercased name).
    #[error("more than one {0} header")]
    DuplicateHeader(String),
    /// The `Authorization` header is not `Basic ...`.
    #[error("the Authorization header is not Basic credentials")]
    NotBasic,
    /// The Basic credentials are not base64.
    #[error("the Authorization credentials are not valid base64")]
    BadBase64,
    /// The decoded credentials are not `ikey:signature` (UTF-8, a non-empty ikey).
    #[error("the Authorization credentials are not ikey:signature")]
    MalformedCredentials,
    /// The signature is not hex.
    #[error("the signature is not hex")]
    SignatureNotHex,
    /// The signature's length fits no HMAC the dialect uses.
    #[error("a signature of {0} hex digits is neither HMAC-SHA1 (40) nor HMAC-SHA512 (128)")]
    UnknownSignatureLength(usize),
    /// Neither `X-Duo-Date` nor `Date` (Auth API v2 signs the date).
    #[error("no X-Duo-Date or Date header")]
    MissingDate,
    /// The date header is not an RFC 2822 date.
    #[error("the request date is not an RFC 2822 date")]
    BadDate,
    /// The signed date is too far from the server's clock (replay or a wrong clock).
    #[error(
        "the request date is {seconds} s away from the server's clock (at most {max} s allowed)"
    )]
    StaleDate {
        /// Signed date minus now, in seconds.
        seconds: i64,
        /// The allowed skew, in seconds.
        max: i64,
    },
    /// The query, form body or JSON body is malformed.
    #[error("malformed request parameters: {0}")]
    BadParams(#[from] FormError),
    /// The signature is well formed but does not match the request under this skey.
    #[error("the signature does not match the request")]
    Mismatch,
}

impl DuoAuthError {
    /// The code for the `{"stat":"FAIL","code":...}` answer: 40101 when credentials are
    /// missing or unreadable, 40103 when they do not verify (both with HTTP 401, as Duo
    /// answers), 40002 for malformed parameters (HTTP 400).
    #[must_use]
    pub fn duo_code(&self) -> u32 {
        match self {
            Self::MissingAuthorization
            | Self::DuplicateHeader(_)
            | Self::NotBasic
            | Self::BadBase64
            | Self::MalformedCredentials
            | Self::MissingDate => crate::answer::CODE_MISSING_CREDENTIALS,
            Self::BadParams(_) => crate::answer::CODE_INVALID_PARAMS,
            Self::SignatureNotHex
            | Self::UnknownSignatureLength(_)
            | Self::BadDate
            | Self::StaleDate { .. }
            | Self::Mismatch => crate::answer::CODE_INVALID_SIGNATURE,
        }
    }

    /// The HTTP status Duo sends with [`DuoAuthError::duo_code`]: 401, or 400 for malformed
    /// parameters. (Refusing a *login* is never one of these: that is HTTP 200 with
    /// `result: deny`, since clients with `failmode = safe` let a 401 or 5xx through.)
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::BadParams(_) => 400,
            _ => 401,
        }
    }
}

/// Which API the request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// duo_unix 1.x `/rest/v1/*.bson`: sig version 1, no date (replayable by design).
    Legacy,
    /// `/auth/v2/*`: sig versions 2, 4 and 5, with a date.
    AuthV2,
}

/// What a request body holds, which decides how it is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// `application/x-www-form-urlencoded`: its pairs are signed params (v1, v2; duo_unix and
    /// duo_client's v2).
    Form,
    /// `application/json`: an object of params whose bytes v4 and v5 hash (duo_client's
    /// default). Only v4 and v5 are accepted with such a body: v2 would leave it unsigned.
    Json,
    /// No body, or one of another type (never read as params; v4/v5 still hash its bytes).
    Other,
}

impl BodyKind {
    /// From a `Content-Type` value (parameters such as `; charset=utf-8` ignored); `Other`
    /// for None.
    #[must_use]
    pub fn from_content_type(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Self::Other;
        };
        let essence = value.split(';').next().unwrap_or_default().trim();
        if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            Self::Form
        } else if essence.eq_ignore_ascii_case("application/json") {
            Self::Json
        } else {
            Self::Other
        }
    }
}

/// The parts of an HTTP request a signature covers, as received.
#[derive(Debug, Clone, Copy)]
pub struct SignedRequest<'a> {
    /// The API the path belongs to.
    pub dialect: Dialect,
    /// The HTTP method.
    pub method: &'a str,
    /// The `Host` header as received (it may carry `:port`).
    pub host: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The raw query string, without `?` (empty when there is none).
    pub query: &'a [u8],
    /// The raw body.
    pub body: &'a [u8],
    /// What the body is, from its `Content-Type` (see [`BodyKind::from_content_type`]).
    pub body_kind: BodyKind,
    /// The request headers, names in any case. Only `Authorization`, `Date` and `X-Duo-*` are
    /// read.
    pub headers: &'a [(&'a str, &'a str)],
}

/// Decoded Basic credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The integration key (look its skey up with it).
    pub ikey: String,
    /// The presented MAC, decoded from hex.
    pub mac: Vec<u8>,
    /// The HMAC hash its length implies.
    pub digest: SigDigest,
}

/// Parses `Basic base64(ikey:hexsignature)`.
pub fn parse_authorization(value: &str) -> Result<Authorization, DuoAuthError> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').ok_or(DuoAuthError::NotBasic)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(DuoAuthError::NotBasic);
    }
    let decoded = data_encoding::BASE64
        .decode(rest.trim().as_bytes())
        .map_err(|_| DuoAuthError::BadBase64)?;
    let decoded = String::from_utf8(decoded).map_err(|_| DuoAuthError::MalformedCredentials)?;
    let (ikey, hex) = decoded
        .split_once(':')
        .ok_or(DuoAuthError::MalformedCredentials)?;
    if ikey.is_empty() {
        return Err(DuoAuthError::MalformedCredentials);
    }
    let digest = match hex.len() {
        40 => SigDigest::Sha1,
        128 => SigDigest::Sha512,
        n => {
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(DuoAuthError::SignatureNotHex);
            }
            return Err(DuoAuthError::UnknownSignatureLength(n));
        }
    };
    let mac = data_encoding::HEXLOWER_PERMISSIVE
        .decode(hex.as_bytes())
        .map_err(|_| DuoAuthError::SignatureNotHex)?;
    Ok(Authorization {
        ikey: ikey.to_owned(),
        mac,
        digest,
    })
}

/// Parses an RFC 2822 date as Duo's clients write it (`Thu, 03 Dec 2026 07:17:00 -0000` from
/// duo_client, `... +0000` from duo_unix 2.x).
pub fn parse_date(value: &str) -> Result<Timestamp, DuoAuthError> {
    jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(value.trim())
        .map_err(|_| DuoAuthError::BadDate)
}

/// What a verified request proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The integration key.
    pub ikey: String,
    /// The signature version that matched.
    pub version: SigVersion,
    /// The HMAC hash.
    pub digest: SigDigest,
    /// The signed date (None for the legacy dialect).
    pub date: Option<Timestamp>,
    /// The request's parameters for the handler, whatever the version: the query's pairs, then
    /// the form body's or the JSON body's (see [`Params::from_json`]).
    pub params: Params,
}

impl<'a> SignedRequest<'a> {
    /// The one value of a header (case-insensitive name), refusing duplicates.
    pub fn header(&self, name: &str) -> Result<Option<&'a str>, DuoAuthError> {
        let mut found = None;
        for (n, v) in self.headers {
            if n.eq_ignore_ascii_case(name) {
                if found.is_some() {
                    return Err(DuoAuthError::DuplicateHeader(name.to_ascii_lowercase()));
                }
                found = Some(*v);
            }
        }
        Ok(found)
    }

    /// The parsed `Authorization` header (its ikey names the skey to verify with).
    pub fn authorization(&self) -> Result<Authorization, DuoAuthError> {
        let value = self
            .header("authorization")?
            .ok_or(DuoAuthError::MissingAuthorization)?;
        parse_authorization(value)
    }

    /// The parameters the canonical string lists: the query's pairs, then a form body's (a
    /// JSON body is hashed instead; see [`Verified::params`]).
    pub fn signed_params(&self) -> Result<Params, DuoAuthError> {
        let mut params = Params::parse_form(self.query)?;
        if self.body_kind == BodyKind::Form {
            params.extend_form(self.body)?;
        }
        Ok(params)
    }

    /// The `X-Duo-*` headers (v5 signs them), refusing a name given twice in any case.
    pub fn duo_headers(&self) -> Result<Vec<(&'a str, &'a str)>, DuoAuthError> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for (n, v) in self.headers {
            if n.as_bytes()
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"x-duo-"))
            {
                if out.iter().any(|(m, _)| m.eq_ignore_ascii_case(n)) {
                    return Err(DuoAuthError::DuplicateHeader(n.to_ascii_lowercase()));
                }
                out.push((*n, *v));
            }
        }
        Ok(out)
    }
}

/// The host strings a client may have signed for a received `Host` header: the header itself
/// and the host without its port (duo_unix cuts the port off before signing; duo_client signs
/// `host:port` when that is its configured host), each as received and lowercased (duo_unix 1.x
/// does not lowercase). Duplicates removed, order fixed.
#[must_use]
pub fn host_candidates(host_header: &str) -> Vec<String> {
    let host = host_header.trim();
    let without_port = strip_port(host);
    let mut out: Vec<String> = Vec::with_capacity(4);
    for h in [
        without_port.to_owned(),
        without_port.to_ascii_lowercase(),
        host.to_owned(),
        host.to_ascii_lowercase(),
    ] {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        // [v6]:port
        return match host.find(']') {
            Some(end) => &host[..=end],
            None => host,
        };
    }
    match host.rsplit_once(':') {
        Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// Verifies a request's signature with the skey of its ikey and, for Auth API v2, its date
/// against `now` within `max_skew`.
///
/// Tries every canonical form a real client produces for the dialect: legacy, sig version 1
/// (HMAC-SHA1 from duo_unix, either hash from duo_client); Auth API v2, version 2 (either hash)
/// and, for HMAC-SHA512, versions 4 and 5; each over the host candidates of
/// [`host_candidates`] and, for versions 1 and 2, both parameter orders. The MAC comparison is
/// constant-time; a mismatch says only that.
pub fn verify(
    request: &SignedRequest<'_>,
    skey: &[u8],
    now: Timestamp,
    max_skew: SignedDuration,
) -> Result<Verified, DuoAuthError> {
    let auth = request.authorization()?;
    let params = request.signed_params()?;
    let (date_str, date) = match request.dialect {
        Dialect::Legacy => ("", None),
        Dialect::AuthV2 => {
            let value = match request.header("x-duo-date")? {
                Some(v) => v,
                None => request.header("date")?.ok_or(DuoAuthError::MissingDate)?,
            };
            (value, Some(parse_date(value)?))
        }
    };
    let duo_headers = request.duo_headers()?;
    let versions: &[SigVersion] = match (request.dialect, auth.digest, request.body_kind) {
        (Dialect::Legacy, _, _) => &[SigVersion::V1],
        // A JSON body is params: only a version that hashes the body may carry it.
        (Dialect::AuthV2, SigDigest::Sha1, BodyKind::Json) => &[],
        (Dialect::AuthV2, SigDigest::Sha512, BodyKind::Json) => &[SigVersion::V5, SigVersion::V4],
        (Dialect::AuthV2, SigDigest::Sha1, _) => &[SigVersion::V2],
        (Dialect::AuthV2, SigDigest::Sha512, _) => {
            &[SigVersion::V2, SigVersion::V5, SigVersion::V4]
        }
    };
    let hosts = host_candidates(request.host);
    let mut matched = None;
    'search: for &version in versions {
        let orders: &[ParamOrder] = match version {
            SigVersion::V1 | SigVersion::V2 => &[ParamOrder::KeyThenValue, ParamOrder::Strcmp],
            SigVersion::V4 | SigVersion::V5 => &[ParamOrder::KeyThenValue],
        };
        let mut tried: Vec<String> = Vec::new();
        for host in &hosts {
            for &order in orders {
                let input = CanonicalInput {
                    method: request.method,
                    host,
                    path: request.path,
                    params: &params,
                    date: date_str,
                    body: request.body,
                    duo_headers: &duo_headers,
                };
                let canonical = canonicalize(&input, version, order);
                if tried.contains(&canonical) {
                    continue;
                }
                if mac_matches(skey, &canonical, auth.digest, &auth.mac) {
                    matched = Some(version);
                    break 'search;
                }
                tried.push(canonical);
            }
        }
    }
    let version = matched.ok_or(DuoAuthError::Mismatch)?;
    let mut params = params;
    if request.body_kind == BodyKind::Json {
        params.extend(&Params::from_json(request.body)?);
    }
    if let Some(date) = date {
        let skew = date.duration_since(now);
        if skew.abs() > max_skew.abs() {
            return Err(DuoAuthError::StaleDate {
                seconds: skew.as_secs(),
                max: max_skew.abs().as_secs(),
            });
        }
    }
    Ok(Verified {
        ikey: auth.ikey,
        version,
        digest: auth.digest,
        date,
        params,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_duo_codes() {
        assert_eq!(DuoAuthError::MissingAuthorization.duo_code(), 40101);
        assert_eq!(DuoAuthError::Mismatch.duo_code(), 40103);
        assert_eq!(DuoAuthError::Mismatch.http_status(), 401);
        let bad = DuoAuthError::BadParams(FormError::BadEscape(0));
        assert_eq!((bad.duo_code(), bad.http_status()), (40002, 400));
    }

    #[test]
    fn body_kind_from_content_type() {
        let k = BodyKind::from_content_type;
        assert_eq!(k(Some("application/x-www-form-urlencoded")), BodyKind::Form);
        assert_eq!(k(Some("Application/JSON; charset=utf-8")), BodyKind::Json);
        assert_eq!(k(Some("text/plain")), BodyKind::Other);
        assert_eq!(k(None), BodyKind::Other);
    }

    #[test]
    fn hosts_are_tried_with_and_without_port_and_case() {
        assert_eq!(
            host_candidates("Mfa.Example:8443"),
            [
                "Mfa.Example",
                "mfa.example",
                "Mfa.Example:8443",
                "mfa.example:8443"
            ]
        );
        assert_eq!(host_candidates("localhost"), ["localhost"]);
        assert_eq!(host_candidates("[::1]:443"), ["[::1]", "[::1]:443"]);
    }

    #[test]
    fn authorization_parsing_names_the_problem() {
        assert_eq!(parse_authorization("Bearer x"), Err(DuoAuthError::NotBasic));
        assert_eq!(parse_authorization("Basic"), Err(DuoAuthError::NotBasic));
        assert_eq!(
            parse_authorization("Basic !!"),
            Err(DuoAuthError::BadBase64)
        );
        let b64 = |s: &str| format!("Basic {}", data_encoding::BASE64.encode(s.as_bytes()));
        assert_eq!(
            parse_authorization(&b64("nocolon")),
            Err(DuoAuthError::MalformedCredentials)
        );
        assert_eq!(
            parse_authorization(&b64(&format!(":{}", "a".repeat(40)))),
            Err(DuoAuthError::MalformedCredentials)
        );
        assert_eq!(
            parse_authorization(&b64("DIX:abcd")),
            Err(DuoAuthError::UnknownSignatureLength(4))
        );
        assert_eq!(
            parse_authorization(&b64(&format!("DIX:{}", "g".repeat(40)))),
            Err(DuoAuthError::SignatureNotHex)
        );
        let ok = parse_authorization(&b64(&format!("DIX:{}", "aB".repeat(64)))).unwrap();
        assert_eq!(ok.ikey, "DIX");
        assert_eq!(ok.digest, SigDigest::Sha512);
        assert_eq!(ok.mac, vec![0xab; 64]);
    }

    #[test]
    fn dates_parse_as_clients_write_them() {
        let want: Timestamp = "2012-12-07T17:18:00Z".parse().unwrap();
        assert_eq!(parse_date("Fri, 07 Dec 2012 17:18:00 -0000").unwrap(), want);
        assert_eq!(parse_date("Fri, 07 Dec 2012 17:18:00 +0000").unwrap(), want);
        assert_eq!(parse_date("Fri, 07 Dec 2012 18:18:00 +0100").unwrap(), want);
        assert_eq!(
            parse_date("Tue, 04 Jul 2017 14:12:00"),
            Err(DuoAuthError::BadDate)
        );
        assert_eq!(parse_date(""), Err(DuoAuthError::BadDate));
    }
}
