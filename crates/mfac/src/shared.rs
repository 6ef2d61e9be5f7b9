//! Argument parsing every command shares. Like `output` and `context`, it imports no command
//! module: commands depend on it, never the other way round.

use anyhow::bail;
use mfa_core::{Alias, Pattern};

pub use mfa_store::CLIENT_KEY_PREFIX;

/// A client alias, login user or group name, as the store takes it.
pub fn parse_alias(s: &str) -> anyhow::Result<Alias> {
    Ok(Alias::new(s)?)
}

/// Host patterns, in the order given, without repeats.
pub fn parse_hosts(hosts: &[String]) -> anyhow::Result<Vec<Pattern>> {
    let mut patterns: Vec<Pattern> = Vec::new();
    for host in hosts.iter().filter(|h| !h.trim().is_empty()) {
        let pattern = Pattern::new(host)?;
        if !patterns.contains(&pattern) {
            patterns.push(pattern);
        }
    }
    if patterns.is_empty() {
        bail!("no hosts given: use --hosts NAME[,NAME...] (exact names, '*.domain' or '*')");
    }
    Ok(patterns)
}

/// A duration written `90s`, `30m`, `1h`, `2d` or `1w`, in seconds; `None`: not one.
pub fn parse_duration_secs(s: &str) -> Option<i64> {
    let s = s.trim();
    let unit = s.chars().last().filter(|c| c.is_ascii_alphabetic())?;
    let digits = &s[..s.len() - 1];
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let per: i64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    digits.parse::<i64>().ok()?.checked_mul(per)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_take_a_number_and_one_unit() {
        assert_eq!(parse_duration_secs("90s"), Some(90));
        assert_eq!(parse_duration_secs("24h"), Some(86_400));
        assert_eq!(parse_duration_secs("1w"), Some(604_800));
        for bad in [
            "",
            "h",
            "1",
            "1y",
            "-1h",
            "1.5h",
            "1 h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration_secs(bad), None, "{bad}");
        }
    }

    #[test]
    fn hosts_keep_order_and_drop_repeats() {
        let hosts: Vec<String> = ["b.example.org", "*.lab.example.org", "B.example.org", ""]
            .map(String::from)
            .to_vec();
        let got: Vec<String> = parse_hosts(&hosts)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(got, ["b.example.org", "*.lab.example.org"]);
        assert!(parse_hosts(&[String::new()]).is_err());
        assert!(parse_hosts(&["a b".to_owned()]).is_err());
    }
}
