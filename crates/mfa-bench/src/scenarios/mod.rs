//! The scenarios, each a function from a test bed (one backend's mfad and its data) to rows.

pub mod ceiling;
pub mod login;
pub mod otp;
pub mod peer;
pub mod pending;
pub mod push;

use std::sync::Arc;

use crate::procs::Mfad;
use crate::setup::{Credential, Install, User};

/// One backend's installation, its running mfad and the data made for it.
pub struct Bed {
    pub backend: &'static str,
    /// Its temp dir (config and data) is removed with the bed.
    pub install: Install,
    pub mfad: Mfad,
    pub server_token: Arc<str>,
    pub otp_token: Arc<str>,
    pub users: Vec<User>,
    pub hotp: Vec<Credential>,
    pub totp: Vec<Credential>,
}

/// A wrong code of `digits` digits that is none of `valid`.
pub fn wrong_code(valid: &[String], digits: usize) -> String {
    (0u64..)
        .map(|n| format!("{n:0digits$}"))
        .find(|code| !valid.contains(code))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_code_avoids_the_valid_ones() {
        let valid = vec!["000000".to_owned(), "000001".to_owned()];
        assert_eq!(wrong_code(&valid, 6), "000002");
        assert_eq!(wrong_code(&[], 8), "00000000");
    }
}
