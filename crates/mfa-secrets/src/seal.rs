use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::SecretsError;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// The 256-bit key that seals secrets at rest.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SealKey([u8; 32]);

impl SealKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn generate() -> Result<Self, SecretsError> {
        let mut bytes = [0u8; 32];
        crate::token::random(&mut bytes)?;
        Ok(Self(bytes))
    }

    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A short public fingerprint of the key, stored beside each sealed blob, so that a wrong key
    /// file is reported as such rather than as corrupt data.
    pub fn id(&self) -> [u8; KEY_ID_LEN] {
        let digest = Sha256::new_with_prefix(b"mfa seal key id\0")
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }

    pub fn id_hex(&self) -> String {
        hex(&self.id())
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SealKey(id {})", self.id_hex())
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

/// Seals and opens secrets. A blob is `version | key id | nonce | ciphertext+tag`; the caller's
/// associated data (e.g. "client:tux:totp") binds a blob to its record, so a blob copied onto
/// another row does not open.
#[derive(Clone, Debug)]
pub struct Sealer {
    key: SealKey,
}

impl Sealer {
    pub fn new(key: SealKey) -> Self {
        Self { key }
    }

    pub fn key_id_hex(&self) -> String {
        self.key.id_hex()
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(self.key.as_bytes().into())
    }

    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, SecretsError> {
        let mut nonce = [0u8; NONCE_LEN];
        crate::token::random(&mut nonce)?;
        let ciphertext = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| SecretsError::Corrupt)?;
        let mut blob = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        blob.push(VERSION);
        blob.extend_from_slice(&self.key.id());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        Ok(blob)
    }

    /// A keyed hash (HMAC-SHA-256 under a key derived from the sealing key), hex: for short
    /// secrets that need only be compared, never read back (one-time codes). Unlike a plain
    /// SHA-256, a stolen database without the key file cannot be searched for the few million
    /// possible codes. `context` binds the hash to its record, like a sealed blob's associated
    /// data.
    pub fn keyed_hash(&self, context: &[u8], data: &[u8]) -> String {
        let mut subkey = Zeroizing::new([0u8; 32]);
        subkey.copy_from_slice(
            &Sha256::new_with_prefix(b"mfa keyed hash\0")
                .chain_update(self.key.as_bytes())
                .finalize(),
        );
        // HMAC takes keys of any length, so this never fails; an empty hash never matches.
        let Ok(mut mac) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&subkey[..]) else {
            return String::new();
        };
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context);
        mac.update(data);
        hex(&mac.finalize().into_bytes())
    }

    pub fn open(&self, blob: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, SecretsError> {
        if blob.len() < HEADER_LEN || blob[0] != VERSION {
            return Err(SecretsError::Corrupt);
        }
        let (key_id, rest) = blob[1..].split_at(KEY_ID_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        if key_id != self.key.id() {
            return Err(SecretsError::WrongKey {
                sealed_with: hex(key_id),
                have: self.key.id_hex(),
            });
        }
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(nonce);
        self.cipher()
            .decrypt(
                &XNonce::from(nonce_bytes),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretsError::Corrupt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(byte: u8) -> Sealer {
        Sealer::new(SealKey::from_bytes([byte; 32]))
    }

    #[test]
    fn round_trip_and_no_plaintext_in_blob() {
        let s = sealer(7);
        let secret = b"12345678901234567890";
        let blob = s.seal(secret, b"client:tux:totp").unwrap();
        assert!(!blob.windows(secret.len()).any(|w| w == secret));
        assert_eq!(&s.open(&blob, b"client:tux:totp").unwrap()[..], secret);
    }

    #[test]
    fn nonces_differ() {
        let s = sealer(7);
        assert_ne!(s.seal(b"x", b"a").unwrap(), s.seal(b"x", b"a").unwrap());
    }

    #[test]
    fn other_record_or_tampering_fails() {
        let s = sealer(7);
        let mut blob = s.seal(b"seed", b"client:tux:totp").unwrap();
        assert!(matches!(
            s.open(&blob, b"client:eve:totp"),
            Err(SecretsError::Corrupt)
        ));
        let last = blob.len() - 1;
        blob[last] ^= 1;
        assert!(matches!(
            s.open(&blob, b"client:tux:totp"),
            Err(SecretsError::Corrupt)
        ));
        assert!(matches!(s.open(&[], b""), Err(SecretsError::Corrupt)));
    }

    #[test]
    fn keyed_hash_depends_on_key_context_and_data() {
        let h = sealer(7).keyed_hash(b"otp-code:a", b"123456");
        assert_eq!(h.len(), 64);
        assert_eq!(h, sealer(7).keyed_hash(b"otp-code:a", b"123456"));
        assert_ne!(h, sealer(8).keyed_hash(b"otp-code:a", b"123456"));
        assert_ne!(h, sealer(7).keyed_hash(b"otp-code:b", b"123456"));
        assert_ne!(h, sealer(7).keyed_hash(b"otp-code:a", b"123457"));
        // The context length is hashed too, so the split point matters.
        assert_ne!(
            sealer(7).keyed_hash(b"ab", b"c"),
            sealer(7).keyed_hash(b"a", b"bc")
        );
    }

    #[test]
    fn wrong_key_is_named() {
        let blob = sealer(7).seal(b"seed", b"a").unwrap();
        match sealer(8).open(&blob, b"a") {
            Err(SecretsError::WrongKey { sealed_with, have }) => {
                assert_eq!(sealed_with, sealer(7).key_id_hex());
                assert_eq!(have, sealer(8).key_id_hex());
            }
            other => panic!("expected WrongKey, got {other:?}"),
        }
    }
}
