//! Field validators, run *during* deserialization (via `#[serde(deserialize_with = ...)]`)
//! so that toml attaches the value's span to every error they return.
//!
//! Messages are one line and never echo a secret (the database URL may hold a password).

use std::ops::RangeInclusive;
use std::path::PathBuf;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

use mfa_otp::{Algorithm, Digits};

/// The URL schemes `database_url` may use.
pub(crate) const DATABASE_SCHEMES: [&str; 3] = ["sqlite:", "postgres:", "postgresql:"];

pub(crate) fn server_name<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let name = String::deserialize(d)?;
    check_server_name(&name).map_err(D::Error::custom)?;
    Ok(name)
}

/// A server name goes into otpauth labels (`tux@<server_name>`), so keep it printable and
/// free of `:` (the label's issuer separator).
pub(crate) fn check_server_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if name.trim() != name {
        return Err("must not start or end with whitespace".into());
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters".into());
    }
    if name.contains(':') {
        return Err(
            "must not contain `:` (it separates issuer and account in otpauth labels)".into(),
        );
    }
    Ok(())
}

pub(crate) fn path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    let path = PathBuf::deserialize(d)?;
    if path.as_os_str().is_empty() {
        return Err(D::Error::custom("must not be empty"));
    }
    Ok(path)
}

pub(crate) fn optional_path<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    path(d).map(Some)
}

pub(crate) fn database_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    check_database_url(&url).map_err(D::Error::custom)?;
    Ok(Some(url))
}

/// Only the scheme is checked (and only the scheme is ever quoted back).
pub(crate) fn check_database_url(url: &str) -> Result<(), String> {
    if DATABASE_SCHEMES.iter().any(|s| url.starts_with(s)) {
        return Ok(());
    }
    let expected = "expected a URL starting with sqlite:, postgres: or postgresql:";
    match url.split_once(':') {
        Some((scheme, _))
            if !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c)) =>
        {
            Err(format!(
                "unsupported database URL scheme `{scheme}`, {expected}"
            ))
        }
        _ => Err(format!("not a database URL, {expected}")),
    }
}

pub(crate) fn algorithm<'de, D: Deserializer<'de>>(d: D) -> Result<Algorithm, D::Error> {
    let name = String::deserialize(d)?;
    name.parse::<Algorithm>().map_err(D::Error::custom)
}

pub(crate) fn serialize_algorithm<S: Serializer>(a: &Algorithm, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(a)
}

pub(crate) fn digits<'de, D: Deserializer<'de>>(d: D) -> Result<Digits, D::Error> {
    let n = int_in_range(d, i64::from(Digits::MIN)..=i64::from(Digits::MAX), "")?;
    let n = u8::try_from(n).map_err(D::Error::custom)?;
    Digits::new(n).map_err(D::Error::custom)
}

pub(crate) fn serialize_digits<S: Serializer>(digits: &Digits, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u8(digits.get())
}

pub(crate) fn period<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 15..=120, " seconds")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn skew<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 0..=10, " steps")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn attempts<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=10, "")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn auth_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 5..=600, " seconds")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn max_failed_attempts<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=1000, "")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn block_duration<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=7 * 86_400, " seconds")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn max_block_duration<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=365 * 86_400, " seconds")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn audit_retention_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=36_500, " days")?;
    u32::try_from(n).map_err(D::Error::custom)
}

/// A number of days, 0..=3650.
pub(crate) fn days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 0..=3650, " days")?;
    u32::try_from(n).map_err(D::Error::custom)
}

pub(crate) fn min_length<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=1024, " characters")?;
    u32::try_from(n).map_err(D::Error::custom)
}

/// The longest elevated session anything may set or ask for: a week, in seconds.
pub const MAX_ELEVATED_SESSION: u32 = 7 * 86_400;

/// Seconds an elevated session lasts when a caller asks without a number (1..=1 week).
pub(crate) fn elevated_session<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=i64::from(MAX_ELEVATED_SESSION), " seconds")?;
    u32::try_from(n).map_err(D::Error::custom)
}

/// The longest elevated session, 0 (none) ..= 1 week.
pub(crate) fn max_elevated_session<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 0..=i64::from(MAX_ELEVATED_SESSION), " seconds")?;
    u32::try_from(n).map_err(D::Error::custom)
}

/// Connections served at once, 16..=1 000 000 (the open-file limit may cut it further).
pub(crate) fn max_connections<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 16..=1_000_000, " connections")?;
    u32::try_from(n).map_err(D::Error::custom)
}

/// Connections from one address at once, 1..=1 000 000.
pub(crate) fn max_connections_per_ip<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = int_in_range(d, 1..=1_000_000, " connections")?;
    u32::try_from(n).map_err(D::Error::custom)
}

/// The shortest metrics token accepted: long enough that guessing it is hopeless.
pub const MIN_METRICS_TOKEN: usize = 16;

/// Empty (no token: the metrics are open), or at least 16 printable ASCII characters without
/// spaces (it travels in an `Authorization` header). Errors never quote it: it is a secret.
pub(crate) fn metrics_token<'de, D: Deserializer<'de>>(d: D) -> Result<crate::Secret, D::Error> {
    let token = String::deserialize(d)?;
    check_metrics_token(&token).map_err(D::Error::custom)?;
    Ok(crate::Secret::new(token))
}

pub(crate) fn check_metrics_token(token: &str) -> Result<(), String> {
    if token.is_empty() {
        return Ok(());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "must be printable ASCII without spaces (it is sent in an Authorization \
                    header); the value is not shown"
                .into(),
        );
    }
    let n = token.len();
    if n < MIN_METRICS_TOKEN {
        return Err(format!(
            "must be at least {MIN_METRICS_TOKEN} characters, got {n} (the value is not shown); \
             make one with `openssl rand -hex 32`"
        ));
    }
    Ok(())
}

/// `http://` or `https://` and a host, no trailing slash (links are `{host_addr}/approve/...`).
pub(crate) fn host_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let url = String::deserialize(d)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| D::Error::custom("must start with http:// or https://"))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(D::Error::custom(
            "must name a host, e.g. https://mfa.example.org",
        ));
    }
    Ok(Some(url.trim_end_matches('/').to_owned()))
}

/// CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses (`192.0.2.7`).
pub(crate) fn networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ipnet::IpNet>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    D::Error::custom(format!("{s:?} is not an IP address or CIDR network"))
                })
        })
        .collect()
}

fn int_in_range<'de, D: Deserializer<'de>>(
    d: D,
    range: RangeInclusive<i64>,
    unit: &str,
) -> Result<i64, D::Error> {
    let n = i64::deserialize(d)?;
    if range.contains(&n) {
        Ok(n)
    } else {
        Err(D::Error::custom(format!(
            "must be between {} and {}{unit}, got {n}",
            range.start(),
            range.end()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_errors_never_echo_credentials() {
        let err = check_database_url("mysql://root:hunter2@db/mfa").unwrap_err();
        assert!(err.contains("`mysql`"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = check_database_url("root:hunter2@db").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let err = check_database_url("/var/lib/mfa.db").unwrap_err();
        assert!(err.starts_with("not a database URL"), "{err}");
    }

    #[test]
    fn database_url_schemes() {
        for ok in [
            "sqlite://./x.db",
            "sqlite::memory:",
            "postgres://h/db",
            "postgresql://h/db",
        ] {
            assert_eq!(check_database_url(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn metrics_tokens() {
        assert_eq!(check_metrics_token(""), Ok(()));
        assert_eq!(check_metrics_token("0123456789abcdef"), Ok(()));
        for bad in ["short-secret", "0123456789 abcdef", "0123456789abcdéf"] {
            let err = check_metrics_token(bad).unwrap_err();
            assert!(!err.contains(bad), "{err}");
        }
    }

    #[test]
    fn server_names() {
        assert!(check_server_name("mfa.example.com").is_ok());
        for bad in ["", "  ", " a", "a\tb", "a:b"] {
            assert!(check_server_name(bad).is_err(), "{bad:?}");
        }
    }
}
