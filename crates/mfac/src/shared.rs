//! Argument parsing every command shares. Like `output` and `context`, it imports no command
//! module: commands depend on it, never the other way round.

use anyhow::bail;
use mfa_core::{Alias, Pattern};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

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
