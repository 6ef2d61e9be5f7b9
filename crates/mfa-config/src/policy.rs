//! Keys for the policy: the global `mfa_policy`, elevated sessions, the password policy.

use serde::{Deserialize, Serialize};

use crate::validate;

/// `[password]`: the password policy, as in The Bastion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// Days a password must be kept before its owner may change it (admins may always reset).
    #[serde(deserialize_with = "validate::days")]
    pub min_days: u32,
    /// Days a password is valid; 0: it never expires.
    #[serde(deserialize_with = "validate::days")]
    pub max_days: u32,
    /// Days before expiry from which answers carry a warning.
    #[serde(deserialize_with = "validate::days")]
    pub warn_days: u32,
    /// Days after expiry during which the old password still works, only to change it.
    #[serde(deserialize_with = "validate::days")]
    pub inactive_days: u32,
    /// The shortest password accepted, in characters.
    #[serde(deserialize_with = "validate::min_length")]
    pub min_length: u32,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        let p = mfa_core::policy::PasswordPolicy::default();
        Self {
            min_days: p.min_days,
            max_days: p.max_days,
            warn_days: p.warn_days,
            inactive_days: p.inactive_days,
            min_length: p.min_length,
        }
    }
}

impl PasswordConfig {
    pub fn policy(&self) -> mfa_core::policy::PasswordPolicy {
        mfa_core::policy::PasswordPolicy {
            min_days: self.min_days,
            max_days: self.max_days,
            warn_days: self.warn_days,
            inactive_days: self.inactive_days,
            min_length: self.min_length,
        }
    }
}
