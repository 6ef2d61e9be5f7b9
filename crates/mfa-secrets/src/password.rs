//! Passwords, stored as argon2id PHC strings (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`):
//! OWASP's parameters, a random 16-byte salt each. Only a hash can be stored: there is no way
//! to build a [`PasswordHash`] from a password except by hashing it.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use zeroize::Zeroizing;

use crate::SecretsError;
use crate::token::random;

/// A password's argon2id hash (PHC string format).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes `password` with a fresh salt. Slow on purpose (tens of milliseconds): call it
    /// off the async executor.
    pub fn new(password: &str) -> Result<Self, SecretsError> {
        let mut salt = Zeroizing::new([0u8; 16]);
        random(&mut salt[..])?;
        let hash = Argon2::default()
            .hash_password_with_salt(password.as_bytes(), &salt[..])
            .map_err(|e| SecretsError::Hash(e.to_string()))?;
        Ok(Self(hash.to_string()))
    }

    /// A hash read back from the database.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `password` is the one hashed (in constant time; false for a malformed hash).
    pub fn verify(&self, password: &str) -> bool {
        Argon2::default()
            .verify_password(password.as_bytes(), self.0.as_str())
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_differ_by_salt() {
        let a = PasswordHash::new("correct horse").unwrap();
        let b = PasswordHash::new("correct horse").unwrap();
        assert!(
            a.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            a.as_str()
        );
        assert_ne!(a, b, "same password, different salts");
        assert!(a.verify("correct horse"));
        assert!(!a.verify("correct horse "));
        assert!(!a.verify(""));
        assert!(!a.as_str().contains("correct"));
        let stored = PasswordHash::from_stored(a.as_str().to_owned());
        assert!(stored.verify("correct horse"));
        assert!(!PasswordHash::from_stored("garbage".into()).verify("correct horse"));
    }
}
