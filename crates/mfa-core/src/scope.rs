use std::fmt;
use std::str::FromStr;

use crate::DomainError;

/// What an API token (`mfat_...`) may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// The OTP service: HOTP/TOTP credentials and one-time codes (each token sees its own).
    Otp,
    /// List vault apps and fetch their current codes.
    VaultRead,
    /// Add and remove vault apps.
    VaultWrite,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Otp, Scope::VaultRead, Scope::VaultWrite];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Otp => "otp",
            Scope::VaultRead => "vault:read",
            Scope::VaultWrite => "vault:write",
        }
    }

    /// Whether the scope concerns the vault (and so an app restriction applies to it).
    pub fn is_vault(self) -> bool {
        matches!(self, Scope::VaultRead | Scope::VaultWrite)
    }
}

impl FromStr for Scope {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Scope::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DomainError::Scope(s.to_owned()))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty, ordered, duplicate-free set of scopes, stored as "otp,vault:read".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    pub fn new(scopes: impl IntoIterator<Item = Scope>) -> Result<Self, DomainError> {
        let mut list: Vec<Scope> = scopes.into_iter().collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            return Err(DomainError::NoScopes);
        }
        Ok(Self(list))
    }

    /// Parses words as typed on a command line: "otp,vault:read", or several words.
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Self, DomainError> {
        let scopes = words
            .iter()
            .flat_map(|w| w.as_ref().split(','))
            .filter(|w| !w.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Scope>, _>>()?;
        Self::new(scopes)
    }

    pub fn contains(&self, s: Scope) -> bool {
        self.0.contains(&s)
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromStr for Scopes {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(&[s])
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|s| s.as_str()).collect();
        f.write_str(&words.join(","))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_sorts_and_dedups() {
        let s = Scopes::parse(&["vault:write,otp", "OTP", " vault:read "]).unwrap();
        assert_eq!(s.to_string(), "otp,vault:read,vault:write");
        assert_eq!("otp".parse::<Scopes>().unwrap().to_string(), "otp");
        assert!(s.contains(Scope::VaultRead));
        assert!(!"otp".parse::<Scopes>().unwrap().contains(Scope::VaultRead));
    }

    #[test]
    fn rejects_unknown_and_empty() {
        let err = Scopes::parse(&["otp,vault"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown scope \"vault\": expected one or more of otp, vault:read, vault:write"
        );
        assert_eq!(Scopes::parse(&[" , "]).unwrap_err(), DomainError::NoScopes);
        assert!(Scope::VaultRead.is_vault() && !Scope::Otp.is_vault());
    }
}
