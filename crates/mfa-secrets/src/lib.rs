//! Secrets at rest and on the wire: the sealing key and its file, sealed blobs, API tokens.
//!
//! - TOTP and vault seeds are sealed with XChaCha20-Poly1305 under a 256-bit key from a key file.
//! - Client keys and API tokens are random 256-bit strings; only their SHA-256 is stored.
//! - Passwords are stored as argon2id hashes.

mod error;
mod keyfile;
mod password;
mod recovery;
mod seal;
mod token;

pub use error::SecretsError;
pub use keyfile::{load_key, load_or_create_key, remove_key_file, replace_key_file, write_new_key};
pub use password::PasswordHash;
pub use recovery::{RECOVERY_CODES, RecoveryCode, recovery_hash, scratch_hash};
pub use seal::{SealKey, Sealer};
pub use token::{Token, TokenHash, ct_eq, random_below, random_bytes, random_id};
