//! What a login must present: the global `mfa_policy` and the requirement a rule names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::{DomainError, Method, Methods};

/// The global setting `mfa_policy` in mfad.toml: what a login needs when no rule says more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MfaPolicy {
    /// MFA is off: every login is allowed without a second factor; rules are not consulted.
    Disabled,
    /// MFA is optional: a login that routes to an app needs one of its methods, a login that
    /// does not is allowed; rules can require more.
    Enabled,
    /// Every login needs one of its app's methods (the behaviour before policies existed).
    #[default]
    AnyRequired,
    /// Every login needs a TOTP code.
    TotpRequired,
    /// Every login needs a password.
    PasswordRequired,
}

impl MfaPolicy {
    pub const ALL: [MfaPolicy; 5] = [
        MfaPolicy::Disabled,
        MfaPolicy::Enabled,
        MfaPolicy::AnyRequired,
        MfaPolicy::TotpRequired,
        MfaPolicy::PasswordRequired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Disabled => "disabled",
            MfaPolicy::Enabled => "enabled",
            MfaPolicy::AnyRequired => "any-required",
            MfaPolicy::TotpRequired => "totp-required",
            MfaPolicy::PasswordRequired => "password-required",
        }
    }

    /// The requirement for a login no rule covers; `None` for `disabled` and `enabled`, which
    /// the decision treats specially (off, and optional).
    pub fn requirement(self) -> Option<Requirement> {
        match self {
            MfaPolicy::Disabled | MfaPolicy::Enabled => None,
            MfaPolicy::AnyRequired => Some(Requirement::Any),
            MfaPolicy::TotpRequired => Some(Requirement::only(Method::Totp)),
            MfaPolicy::PasswordRequired => Some(Requirement::only(Method::Password)),
        }
    }
}

impl fmt::Display for MfaPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a login (or a step-up) must present besides its first factor (the SSH key, the
/// system password).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing: the login goes ahead without a second factor.
    None,
    /// Any one of the methods the login's app allows.
    Any,
    /// Each of these factors, in one request (`password,totp` is three factors with the SSH key).
    All(Methods),
}

impl Requirement {
    pub fn only(m: Method) -> Self {
        Requirement::All(Methods::from_one(m))
    }

    /// `none`, `any`, or factors: `totp`, `password,totp`, ...
    pub fn parse(s: &str) -> Result<Self, DomainError> {
        let bad = || DomainError::Requirement(s.to_owned());
        let words: Vec<&str> = s
            .split(',')
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            [] => Err(bad()),
            [w] if w.eq_ignore_ascii_case("none") => Ok(Requirement::None),
            [w] if w.eq_ignore_ascii_case("any") => Ok(Requirement::Any),
            _ => {
                let methods = words
                    .iter()
                    .map(|w| w.parse::<Method>())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| bad())?;
                Methods::new(methods)
                    .map(Requirement::All)
                    .map_err(|_| bad())
            }
        }
    }

    /// What two equally specific rules ask for together: everything either asks for.
    /// `none` < `any` < factors; factor sets are joined.
    pub fn and(&self, other: &Requirement) -> Requirement {
        match (self, other) {
            (Requirement::All(a), Requirement::All(b)) => Requirement::All(a.union(b)),
            (Requirement::All(a), _) | (_, Requirement::All(a)) => Requirement::All(a.clone()),
            (Requirement::Any, _) | (_, Requirement::Any) => Requirement::Any,
            (Requirement::None, Requirement::None) => Requirement::None,
        }
    }

    /// Whether the factors verified (in a request, or when a session was made) meet it.
    pub fn satisfied_by(&self, factors: &[Method]) -> bool {
        match self {
            Requirement::None => true,
            Requirement::Any => !factors.is_empty(),
            Requirement::All(all) => all.iter().all(|m| factors.contains(&m)),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::None => f.write_str("none"),
            Requirement::Any => f.write_str("any"),
            Requirement::All(m) => write!(f, "{m}"),
        }
    }
}

impl FromStr for Requirement {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(s: &str) -> Requirement {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_form() {
        let table = [
            ("none", "none"),
            ("ANY", "any"),
            ("totp", "totp"),
            ("push", "push"),
            ("password", "password"),
            ("totp,password", "totp,password"),
            (" password , totp ,", "totp,password"),
            ("push,totp,password,push", "push,totp,password"),
        ];
        for (input, shown) in table {
            assert_eq!(req(input).to_string(), shown, "{input}");
        }
        for bad in ["", ",", "sms", "any,totp", "none,password", "totp,sms"] {
            assert_eq!(
                Requirement::parse(bad),
                Err(DomainError::Requirement(bad.to_owned())),
                "{bad}"
            );
        }
    }

    #[test]
    fn and_is_everything_either_asks_for() {
        let table = [
            ("none", "none", "none"),
            ("none", "any", "any"),
            ("any", "any", "any"),
            ("any", "totp", "totp"),
            ("none", "password", "password"),
            ("push", "totp", "push,totp"),
            ("password,totp", "push", "push,totp,password"),
        ];
        for (a, b, want) in table {
            assert_eq!(req(a).and(&req(b)).to_string(), want, "{a} and {b}");
            assert_eq!(req(b).and(&req(a)).to_string(), want, "{b} and {a}");
        }
    }

    #[test]
    fn satisfaction() {
        use Method::*;
        let table: [(&str, &[Method], bool); 9] = [
            ("none", &[], true),
            ("any", &[], false),
            ("any", &[Push], true),
            ("any", &[Password], true),
            ("totp", &[Push], false),
            ("totp", &[Totp], true),
            ("password,totp", &[Totp], false),
            ("password,totp", &[Password, Totp], true),
            ("password,totp", &[Password, Totp, Push], true),
        ];
        for (r, factors, want) in table {
            assert_eq!(req(r).satisfied_by(factors), want, "{r} by {factors:?}");
        }
    }

    #[test]
    fn global_policies() {
        let table = [
            ("disabled", None),
            ("enabled", None),
            ("any-required", Some("any")),
            ("totp-required", Some("totp")),
            ("password-required", Some("password")),
        ];
        for (name, want) in table {
            let p = MfaPolicy::ALL
                .into_iter()
                .find(|p| p.as_str() == name)
                .unwrap();
            assert_eq!(p.requirement().map(|r| r.to_string()).as_deref(), want);
        }
        assert_eq!(MfaPolicy::default(), MfaPolicy::AnyRequired);
    }
}
