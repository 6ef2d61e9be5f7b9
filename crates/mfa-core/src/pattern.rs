use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A host or service name as an app or a trusted server names it: exact, `*.domain`, or `*`.
/// Matching ignores ASCII case (DNS names are case-insensitive; service names are lowercase).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Pattern {
    /// `*`: anything.
    Any,
    /// `*.lab.example.org`: any name ending in `.lab.example.org` (not the bare domain).
    Suffix(String),
    Exact(String),
}

impl Pattern {
    /// An exact name (a host or service a login names) as a regular expression, without the
    /// surrounding whitespace [`Pattern::new`] trims (for the OpenAPI document; a test checks
    /// they agree).
    pub const EXACT_REGEX: &'static str = "^[A-Za-z0-9._:-]{1,253}$";

    pub fn new(s: &str) -> Result<Self, DomainError> {
        let s = s.trim();
        let name_ok = |n: &str| {
            !n.is_empty()
                && n.len() <= 253
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        };
        match s {
            "*" => Ok(Pattern::Any),
            _ if s.starts_with("*.") && name_ok(&s[2..]) => {
                Ok(Pattern::Suffix(s[1..].to_ascii_lowercase()))
            }
            _ if name_ok(s) => Ok(Pattern::Exact(s.to_ascii_lowercase())),
            _ => Err(DomainError::Pattern(s.to_owned())),
        }
    }

    pub fn matches(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        match self {
            Pattern::Any => true,
            Pattern::Suffix(suffix) => name.len() > suffix.len() && name.ends_with(suffix.as_str()),
            Pattern::Exact(exact) => *exact == name,
        }
    }

    /// How narrowly this pattern names things: exact > longer suffix > shorter suffix > `*`.
    pub fn specificity(&self) -> (u8, usize) {
        match self {
            Pattern::Any => (0, 0),
            Pattern::Suffix(s) => (1, s.len()),
            Pattern::Exact(s) => (2, s.len()),
        }
    }

    pub fn cmp_specificity(&self, other: &Pattern) -> Ordering {
        self.specificity().cmp(&other.specificity())
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pattern::Any => f.write_str("*"),
            Pattern::Suffix(s) => write!(f, "*{s}"),
            Pattern::Exact(s) => f.write_str(s),
        }
    }
}

impl FromStr for Pattern {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Pattern {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Pattern> for String {
    fn from(p: Pattern) -> String {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Pattern {
        Pattern::new(s).unwrap()
    }

    #[test]
    fn matching() {
        assert!(p("*").matches("anything.example.org"));
        assert!(p("linux.example.org").matches("Linux.Example.org"));
        assert!(!p("linux.example.org").matches("linux.example.org.evil"));
        assert!(p("*.lab.example.org").matches("a.lab.example.org"));
        assert!(!p("*.lab.example.org").matches("lab.example.org"));
        assert!(!p("*.lab.example.org").matches("evillab.example.org"));
    }

    #[test]
    fn display_round_trips() {
        for s in ["*", "*.lab.example.org", "sshd", "10.0.0.1"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn rejects_bad_patterns() {
        for bad in ["", "a b", "*.", "**", "a*", "x/y", "*.*"] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn specificity_order() {
        assert!(
            p("a.lab.example.org")
                .cmp_specificity(&p("*.lab.example.org"))
                .is_gt()
        );
        assert!(
            p("*.lab.example.org")
                .cmp_specificity(&p("*.example.org"))
                .is_gt()
        );
        assert!(p("*.example.org").cmp_specificity(&p("*")).is_gt());
    }
}
