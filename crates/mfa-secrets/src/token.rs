use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::SecretsError;

pub(crate) fn random(buf: &mut [u8]) -> Result<(), SecretsError> {
    getrandom::fill(buf).map_err(|e| SecretsError::Random(e.to_string()))
}

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut buf = [0u8; N];
    random(&mut buf)?;
    Ok(buf)
}

/// An unguessable identifier (e.g. a transaction id): `bytes` random bytes, base32, lowercase.
pub fn random_id(bytes: usize) -> Result<String, SecretsError> {
    let mut buf = vec![0u8; bytes];
    random(&mut buf)?;
    Ok(data_encoding::BASE32_NOPAD
        .encode(&buf)
        .to_ascii_lowercase())
}

/// A uniformly random number in `0..n` (rejection sampling: no modulo bias).
pub fn random_below(n: u32) -> Result<u32, SecretsError> {
    if n == 0 {
        return Ok(0);
    }
    let zone = u32::MAX - (u32::MAX % n);
    loop {
        let mut b = [0u8; 4];
        random(&mut b)?;
        let v = u32::from_le_bytes(b);
        if v < zone {
            return Ok(v % n);
        }
    }
}

/// A bearer secret (client key, API token, approve-link token): 256 random bits, shown once.
///
/// Written as `<prefix>_<base32>` so a leaked one is recognisable (e.g. by secret scanners).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Token(String);

impl Token {
    pub fn generate(prefix: &str) -> Result<Self, SecretsError> {
        let mut bytes = [0u8; 32];
        random(&mut bytes)?;
        let body = data_encoding::BASE32_NOPAD
            .encode(&bytes)
            .to_ascii_lowercase();
        bytes.zeroize();
        Ok(Self(format!("{prefix}_{body}")))
    }

    /// Wraps a token presented by a caller.
    pub fn from_presented(s: &str) -> Self {
        Self(s.trim().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(..)")
    }
}

/// What is stored instead of a token: SHA-256, hex. A fast hash is enough because tokens carry
/// 256 bits of entropy (nothing to brute-force); looking one up by its hash reveals nothing
/// about other tokens, so the database index can do the search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        Self(data_encoding::HEXLOWER.encode(&Sha256::digest(token.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        Self(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Constant-time equality for secrets compared in memory (codes, CSRF tokens, numbers).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hash_stably() {
        let a = Token::generate("mfak").unwrap();
        let b = Token::generate("mfak").unwrap();
        assert!(a.expose().starts_with("mfak_"));
        assert_eq!(a.expose().len(), 5 + 52);
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), Token::from_presented(a.expose()).hash());
        assert_ne!(a.hash(), b.hash());
        assert_eq!(a.hash().as_str().len(), 64);
        assert!(!a.hash().as_str().contains(&a.expose()[5..]));
        assert_eq!(format!("{a:?}"), "Token(..)");
    }

    #[test]
    fn random_helpers() {
        let a = random_id(16).unwrap();
        assert_eq!(a.len(), 26);
        assert_ne!(a, random_id(16).unwrap());
        let mut seen = [false; 10];
        for _ in 0..500 {
            let v = random_below(10).unwrap() as usize;
            seen[v] = true;
        }
        assert!(seen.iter().all(|s| *s), "all of 0..10 drawn: {seen:?}");
        assert_eq!(random_below(1).unwrap(), 0);
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq(b"123456", b"123456"));
        assert!(!ct_eq(b"123456", b"123457"));
        assert!(!ct_eq(b"12345", b"123456"));
    }
}
