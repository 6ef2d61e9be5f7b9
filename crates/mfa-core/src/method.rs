use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::DomainError;

/// A way a person proves a login is theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Approve a request on an enrolled device (terminal client, web link, ntfy).
    Push,
    /// A time-based code from an authenticator app.
    Totp,
    /// A password the client's person knows (stored as an argon2id hash).
    Password,
    /// A push approved with one of the client's passkeys (WebAuthn, user verification), on
    /// its approve page or through a device link: bound to mfa's origin, so it cannot be
    /// phished onto another site.
    Passkey,
}

impl Method {
    pub const ALL: [Method; 4] = [
        Method::Push,
        Method::Totp,
        Method::Password,
        Method::Passkey,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Push => "push",
            Method::Totp => "totp",
            Method::Password => "password",
            Method::Passkey => "passkey",
        }
    }

    /// Push and TOTP prove the person holds an enrolled device (a recovery code stands in for
    /// either); a password proves they know something. A passkey is a device too, but no
    /// recovery code stands in for it: requiring one asks for what cannot be phished.
    pub fn is_device(self) -> bool {
        matches!(self, Method::Push | Method::Totp)
    }
}

impl FromStr for Method {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| DomainError::Method(s.to_owned()))
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A non-empty, ordered, duplicate-free set of methods, stored as "push,totp".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<Method>", into = "Vec<Method>")]
pub struct Methods(Vec<Method>);

impl Methods {
    pub fn new(methods: impl IntoIterator<Item = Method>) -> Result<Self, DomainError> {
        let mut list: Vec<Method> = methods.into_iter().collect();
        list.sort();
        list.dedup();
        if list.is_empty() {
            return Err(DomainError::NoMethods);
        }
        Ok(Self(list))
    }

    /// Parses words as typed on a command line: "push,totp", or several words "push" "totp".
    pub fn parse<S: AsRef<str>>(words: &[S]) -> Result<Self, DomainError> {
        let methods = words
            .iter()
            .flat_map(|w| w.as_ref().split(','))
            .filter(|w| !w.trim().is_empty())
            .map(str::parse)
            .collect::<Result<Vec<Method>, _>>()?;
        Self::new(methods)
    }

    pub fn contains(&self, m: Method) -> bool {
        self.0.contains(&m)
    }

    pub fn iter(&self) -> impl Iterator<Item = Method> + '_ {
        self.0.iter().copied()
    }

    /// A set of one.
    pub fn from_one(m: Method) -> Methods {
        Methods(vec![m])
    }

    /// Both sets together.
    pub fn union(&self, other: &Methods) -> Methods {
        let mut list = self.0.clone();
        list.extend(other.iter());
        list.sort();
        list.dedup();
        Methods(list)
    }

    pub fn as_slice(&self) -> &[Method] {
        &self.0
    }
}

impl TryFrom<Vec<Method>> for Methods {
    type Error = DomainError;
    fn try_from(v: Vec<Method>) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}

impl From<Methods> for Vec<Method> {
    fn from(m: Methods) -> Vec<Method> {
        m.0
    }
}

impl fmt::Display for Methods {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|m| m.as_str()).collect();
        f.write_str(&words.join(","))
    }
}

impl FromStr for Methods {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(&[s])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_comma_and_space_separated_words() {
        let both = Methods::new([Method::Push, Method::Totp]).unwrap();
        assert_eq!(Methods::parse(&["push,totp"]).unwrap(), both);
        assert_eq!(Methods::parse(&["totp", "push"]).unwrap(), both);
        assert_eq!(Methods::parse(&["TOTP", "push", "push"]).unwrap(), both);
        assert_eq!(both.to_string(), "push,totp");
        assert_eq!("push,totp".parse::<Methods>().unwrap(), both);
    }

    #[test]
    fn rejects_unknown_and_empty() {
        assert_eq!(
            Methods::parse(&["push", "sms"]),
            Err(DomainError::Method("sms".into()))
        );
        assert_eq!(Methods::parse::<&str>(&[]), Err(DomainError::NoMethods));
        assert_eq!(Methods::parse(&[","]), Err(DomainError::NoMethods));
    }
}
