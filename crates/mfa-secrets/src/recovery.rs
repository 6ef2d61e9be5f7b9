//! Recovery codes: single-use stand-ins for a lost device. 80 random bits each, written
//! `abcd-efgh-ijkl-mnop` (base32: no 0/1/8/9 to confuse with O/I/B/g). Stored as SHA-256 like
//! tokens: 80 bits cannot be brute-forced from a stolen hash, so a slow hash buys nothing and
//! a fast one lets the database find a code by its hash.

use zeroize::Zeroizing;

use crate::token::random;
use crate::{SecretsError, TokenHash};

/// Characters in a code, without the dashes.
const LEN: usize = 16;

/// How many codes `mfac client recovery-codes` hands out at a time.
pub const RECOVERY_CODES: usize = 10;

/// A freshly generated recovery code, as shown to the person (once).
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    pub fn generate() -> Result<Self, SecretsError> {
        let mut bytes = Zeroizing::new([0u8; LEN * 5 / 8]);
        random(&mut bytes[..])?;
        let body = Zeroizing::new(
            data_encoding::BASE32_NOPAD
                .encode(&bytes[..])
                .to_ascii_lowercase(),
        );
        let groups: Vec<&str> = (0..LEN / 4).map(|i| &body[i * 4..i * 4 + 4]).collect();
        Ok(Self(Zeroizing::new(groups.join("-"))))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> TokenHash {
        recovery_hash(&self.0).unwrap_or_else(|| TokenHash::of(""))
    }
}

/// The hash a typed code is looked up by, if it has the shape of a recovery code (case,
/// spaces and dashes do not matter); `None` for anything else (a TOTP code, say).
pub fn recovery_hash(typed: &str) -> Option<TokenHash> {
    let normal: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let base32 = |c: char| c.is_ascii_lowercase() || ('2'..='7').contains(&c);
    (normal.len() == LEN && normal.chars().all(base32))
        .then(|| TokenHash::of(&format!("recovery:{normal}")))
}

/// The stored form of an imported scratch code (pam_google_authenticator's eight digits),
/// kept among a client's recovery codes; `None` when `typed` is not eight digits. Checked
/// where a TOTP code is, as pam_google_authenticator did.
pub fn scratch_hash(typed: &str) -> Option<TokenHash> {
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| TokenHash::of(&format!("scratch:{digits}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_grouped_random_and_hash_however_typed() {
        let a = RecoveryCode::generate().unwrap();
        let b = RecoveryCode::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 19);
        assert_eq!(a.expose().matches('-').count(), 3);
        let typed = a.expose().to_ascii_uppercase().replace('-', " ");
        assert_eq!(recovery_hash(&typed), Some(a.hash()));
        assert_eq!(recovery_hash(&a.expose().replace('-', "")), Some(a.hash()));
        assert_ne!(a.hash(), b.hash());
        for not_a_code in [
            "123456",
            "12345678",
            "",
            "abcd-efgh-ijkl",
            "abcd-efgh-ijkl-mno1",
        ] {
            assert_eq!(recovery_hash(not_a_code), None, "{not_a_code}");
        }
    }
}
