use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// The name of an enrolled client or of a login user (`tux`).
///
/// Restricted to a portable character set so it is safe in URIs, logs and file names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Alias(String);

impl Alias {
    pub const MAX_LEN: usize = 64;
    /// What [`Alias::new`] accepts, as a regular expression (for the OpenAPI document; a test
    /// checks the two agree).
    pub const REGEX: &'static str = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";

    pub fn new(name: &str) -> Result<Self, DomainError> {
        let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        let starts_well = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
        if starts_well && name.len() <= Self::MAX_LEN && name.chars().all(valid_char) {
            Ok(Self(name.to_owned()))
        } else {
            Err(DomainError::Alias(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Alias {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Alias {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<Alias> for String {
    fn from(a: Alias) -> String {
        a.0
    }
}

impl fmt::Display for Alias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_login_names() {
        for ok in [
            "tux",
            "alice.smith",
            "robot-sync",
            "u_1",
            "A",
            &"x".repeat(64),
        ] {
            assert!(Alias::new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_unsafe_names() {
        for bad in [
            "",
            "-tux",
            ".hidden",
            "tux bar",
            "tux/..",
            "tüx",
            "a:b",
            &"x".repeat(65),
        ] {
            assert_eq!(
                Alias::new(bad),
                Err(DomainError::Alias(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
