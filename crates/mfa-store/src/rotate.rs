//! Sealing key rotation (`mfac key rotate`): a new key, every sealed secret re-sealed under it
//! in one transaction, and a crash at any point leaving the database readable with one of the
//! key files beside `mfa.key`.
//!
//! The steps, with the exclusive use lock held ([`crate::lock`]: no mfad, no other mfac):
//!
//! 1. Put right what an interrupted rotation left (below), so `mfa.key` holds the
//!    database's key and neither `mfa.key.old` nor `mfa.key.new` exists.
//! 2. Copy the current key to `mfa.key.old` and write a new key to `mfa.key.new` (both
//!    mode 0600, new files, synced with their directory).
//! 3. One transaction: check that `meta.seal_key_id` still names the old key and point it at
//!    the new one, open every sealed secret (client TOTP seeds, OTP credentials, vault seeds,
//!    Duo integrations' skeys) with the old key and seal it with the new, and delete the
//!    pending one-time codes (below). Commit.
//! 4. Rename `mfa.key.new` onto `mfa.key` (atomic) and sync the directory.
//! 5. Remove `mfa.key.old`.
//!
//! What a crash leaves, and what puts it right (the key ids decide, never a guess):
//!
//! - before the commit (1–3): the database and `mfa.key` still hold the old key; the
//!   leftover `.old` (a copy) and `.new` (never used) are removed by the next rotation.
//! - after the commit, before the rename (3–4): the database names the key in
//!   `mfa.key.new`. The next [`Store::open_with_key_file`] (mfad, any mfac command) or
//!   rotation sees that, and finishes: renames it onto `mfa.key` and removes `mfa.key.old`.
//! - after the rename (4–5): everything matches; the next rotation removes `mfa.key.old`.
//!
//! Re-running `mfac key rotate` after a crash first does that, then rotates afresh.
//!
//! One-time codes (the OTP service's emailed/texted kind) are stored as a keyed hash under
//! the sealing key, and their plaintext is gone, so they cannot be re-hashed: the rotation
//! deletes them and says how many were still pending; their senders must send new ones.
//! Recovery codes, client keys and API tokens are plain hashes, and passwords argon2id:
//! no key involved.

use std::path::{Path, PathBuf};

use mfa_core::Timestamp;
use mfa_secrets::{SealKey, Sealer};
use sqlx::{AnyConnection, AnyPool, Row};

use crate::lock::{Mode, UseLock};
use crate::open::{Backend, connect, prepare_sqlite_file};
use crate::rows::invalid;
use crate::{Store, StoreError};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    pub key_file: PathBuf,
    pub old_key_id: String,
    pub new_key_id: String,
    pub resealed: Resealed,
    /// Pending one-time codes deleted: hashed with the old key, they could never verify.
    pub invalidated_one_time_codes: u64,
    /// What an interrupted rotation had left and this one put right first.
    pub recovered: Vec<String>,
}

/// How many secrets of each kind were re-sealed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resealed {
    pub client_totp_seeds: u64,
    pub otp_credentials: u64,
    pub vault_seeds: u64,
    /// Duo integrations' skeys.
    pub duo_skeys: u64,
    /// The seeds enrolment links show.
    pub enrol_links: u64,
    /// Console admins' TOTP seeds.
    pub admin_totp_seeds: u64,
}

/// Where a rotation is, for a hook to watch (and a crash test to kill it at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotatePoint {
    /// Every secret is re-sealed in the transaction, which is not committed yet.
    Resealed,
    /// Committed: the database names the new key; `mfa.key` still holds the old one.
    Committed,
}

/// `<key_file>.old`: the old key, kept until the rotation is done.
pub fn old_key_path(key_file: &Path) -> PathBuf {
    sibling(key_file, "old")
}

/// `<key_file>.new`: the new key, until it is renamed onto `key_file`.
pub fn new_key_path(key_file: &Path) -> PathBuf {
    sibling(key_file, "new")
}

fn sibling(key_file: &Path, suffix: &str) -> PathBuf {
    let mut name = key_file.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    key_file.with_file_name(name)
}

/// A key file that may be half-written or absent (what a crash leaves): its key, if whole.
fn try_load(path: &Path) -> Option<SealKey> {
    mfa_secrets::load_key(path).ok()
}

/// Finishes a rotation that committed and was interrupted before its rename: if
/// `<key_file>.new` holds key `sealed_with`, renames it onto `key_file`, removes
/// `<key_file>.old`, and returns the key. `None`: it does not (nothing touched). The caller
/// must hold the use lock, so no rotation is running.
pub(crate) fn finish_interrupted(
    key_file: &Path,
    sealed_with: &str,
) -> Result<Option<SealKey>, StoreError> {
    let new = new_key_path(key_file);
    let Some(key) = try_load(&new).filter(|k| k.id_hex() == sealed_with) else {
        return Ok(None);
    };
    mfa_secrets::replace_key_file(&new, key_file)?;
    mfa_secrets::remove_key_file(&old_key_path(key_file))?;
    tracing::warn!(
        key_file = %key_file.display(),
        key_id = %sealed_with,
        "finished an interrupted `mfac key rotate`: moved the new key file into place"
    );
    Ok(Some(key))
}

impl Store {
    /// Rotates the sealing key of the database at `url`, whose key file is `key_file` (see
    /// the module's doc). Refuses with [`StoreError::Locked`] while anything else has the
    /// database open. `now` tells pending one-time codes from expired ones; `at` is called at
    /// each [`RotatePoint`].
    pub async fn rotate_key_file(
        url: &str,
        key_file: &Path,
        now: Timestamp,
        mut at: impl FnMut(RotatePoint),
    ) -> Result<KeyRotation, StoreError> {
        let backend = Backend::from_url(url)?;
        if backend == Backend::Sqlite {
            prepare_sqlite_file(url)?;
        }
        let lock = UseLock::take(url, backend, Mode::Exclusive).await?;
        let pool = connect(url, backend).await?;
        let result = rotate_locked(&pool, backend, key_file, now, &mut at).await;
        pool.close().await;
        lock.release().await;
        result
    }
}

/// Steps 1–5, with the exclusive lock held.
async fn rotate_locked(
    pool: &AnyPool,
    backend: Backend,
    key_file: &Path,
    now: Timestamp,
    at: &mut impl FnMut(RotatePoint),
) -> Result<KeyRotation, StoreError> {
    let mut conn = pool.acquire().await?;
    let (old, recovered) = settle_key_files(&mut conn, key_file).await?;
    drop(conn);
    let new = SealKey::generate()?;
    let (old_path, new_path) = (old_key_path(key_file), new_key_path(key_file));
    mfa_secrets::write_new_key(&old_path, &old)?;
    mfa_secrets::write_new_key(&new_path, &new)?;
    let (old_sealer, new_sealer) = (Sealer::new(old), Sealer::new(new));
    let (resealed, invalidated_one_time_codes) =
        match reseal_and_commit(pool, backend, &old_sealer, &new_sealer, now, at).await {
            Ok(done) => done,
            Err(e) => {
                // Nothing committed: the old key stays; its copy and the new key go.
                let _ = mfa_secrets::remove_key_file(&new_path);
                let _ = mfa_secrets::remove_key_file(&old_path);
                return Err(e);
            }
        };
    at(RotatePoint::Committed);
    if let Err(e) = mfa_secrets::replace_key_file(&new_path, key_file) {
        return Err(StoreError::Rotate(format!(
            "the database is re-sealed with key {} (in {}), but it could not be moved into \
             place ({e}): the next start of mfad or mfac moves it, or move it onto {} yourself",
            new_sealer.key_id_hex(),
            new_path.display(),
            key_file.display()
        )));
    }
    if let Err(e) = mfa_secrets::remove_key_file(&old_path) {
        return Err(StoreError::Rotate(format!(
            "the database is re-sealed with key {}, now in {}, but the old key's copy could \
             not be removed ({e}): remove {} yourself",
            new_sealer.key_id_hex(),
            key_file.display(),
            old_path.display()
        )));
    }
    Ok(KeyRotation {
        key_file: key_file.to_owned(),
        old_key_id: old_sealer.key_id_hex(),
        new_key_id: new_sealer.key_id_hex(),
        resealed,
        invalidated_one_time_codes,
        recovered,
    })
}

/// Step 3: the one transaction, committed.
async fn reseal_and_commit(
    pool: &AnyPool,
    backend: Backend,
    old: &Sealer,
    new: &Sealer,
    now: Timestamp,
    at: &mut impl FnMut(RotatePoint),
) -> Result<(Resealed, u64), StoreError> {
    let mut tx = match backend {
        Backend::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => pool.begin().await?,
    };
    let done = reseal(&mut tx, old, new, now).await?;
    at(RotatePoint::Resealed);
    tx.commit().await?;
    Ok(done)
}

/// Step 1: finds which key file holds the database's key and puts the files in order (that
/// one as `key_file`, no `.old`, no `.new`); returns that key and what it did.
async fn settle_key_files(
    conn: &mut AnyConnection,
    key_file: &Path,
) -> Result<(SealKey, Vec<String>), StoreError> {
    let mut recovered = Vec::new();
    let (old_path, new_path) = (old_key_path(key_file), new_key_path(key_file));
    let sealed_with: Option<String> =
        sqlx::query_scalar("SELECT value FROM meta WHERE key = 'seal_key_id'")
            .fetch_optional(&mut *conn)
            .await?;
    let current = match sealed_with {
        // A database never opened: it takes the key file's key, as a first start would.
        None => {
            let key = mfa_secrets::load_or_create_key(key_file)?;
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('seal_key_id', $1) \
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(key.id_hex())
            .execute(&mut *conn)
            .await?;
            key
        }
        Some(sealed_with) => {
            let in_key_file = match mfa_secrets::load_key(key_file) {
                Ok(key) => Some(key),
                Err(mfa_secrets::SecretsError::KeyFileRead { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    None
                }
                Err(e) => return Err(e.into()),
            };
            let have = in_key_file
                .as_ref()
                .map_or_else(|| "none (the file is missing)".to_owned(), SealKey::id_hex);
            match in_key_file {
                Some(key) if key.id_hex() == sealed_with => key,
                _ => match finish_interrupted(key_file, &sealed_with)? {
                    Some(key) => {
                        recovered.push(format!(
                            "an earlier rotation had committed but not moved its new key into \
                             place: moved {} onto {}",
                            new_path.display(),
                            key_file.display()
                        ));
                        key
                    }
                    None => {
                        return Err(StoreError::wrong_key_file(key_file, sealed_with, have));
                    }
                },
            }
        }
    };
    if mfa_secrets::remove_key_file(&new_path)? {
        recovered.push(format!(
            "removed {}: the unused key of an earlier rotation interrupted before its commit",
            new_path.display()
        ));
    }
    if mfa_secrets::remove_key_file(&old_path)? {
        recovered.push(format!(
            "removed {}: the old key left by an earlier, interrupted rotation",
            old_path.display()
        ));
    }
    Ok((current, recovered))
}

/// Step 3, inside the transaction: every sealed secret from `old` to `new`, the key id in
/// `meta`, the pending one-time codes; returns what it re-sealed and how many pending codes
/// it deleted.
async fn reseal(
    conn: &mut AnyConnection,
    old: &Sealer,
    new: &Sealer,
    now: Timestamp,
) -> Result<(Resealed, u64), StoreError> {
    let moved = sqlx::query("UPDATE meta SET value = $1 WHERE key = 'seal_key_id' AND value = $2")
        .bind(new.key_id_hex())
        .bind(old.key_id_hex())
        .execute(&mut *conn)
        .await?;
    if moved.rows_affected() != 1 {
        return Err(StoreError::Rotate(
            "the database's key id changed while the rotation started: nothing re-sealed".into(),
        ));
    }
    let client_totp_seeds = reseal_table(
        conn,
        (old, new),
        "SELECT alias AS row_key, totp_sealed AS sealed FROM clients ORDER BY alias",
        "UPDATE clients SET totp_sealed = $1 WHERE alias = $2",
        &crate::clients::totp_aad,
        "a client's TOTP seed",
    )
    .await?;
    let otp_credentials = reseal_table(
        conn,
        (old, new),
        "SELECT id AS row_key, secret_sealed AS sealed FROM otp_credentials ORDER BY id",
        "UPDATE otp_credentials SET secret_sealed = $1 WHERE id = $2",
        &crate::otp::otp_aad,
        "an OTP credential",
    )
    .await?;
    let vault_seeds = reseal_vault(conn, old, new).await?;
    let duo_skeys = reseal_table(
        conn,
        (old, new),
        "SELECT ikey AS row_key, skey_sealed AS sealed FROM duo_integrations ORDER BY ikey",
        "UPDATE duo_integrations SET skey_sealed = $1 WHERE ikey = $2",
        &crate::duo::skey_aad,
        "a Duo integration's skey",
    )
    .await?;
    let enrol_links = reseal_table(
        conn,
        (old, new),
        "SELECT token_hash AS row_key, totp_sealed AS sealed FROM enrol_links ORDER BY token_hash",
        "UPDATE enrol_links SET totp_sealed = $1 WHERE token_hash = $2",
        &crate::enrol::link_aad,
        "an enrolment link's seed",
    )
    .await?;
    let admin_totp_seeds = reseal_table(
        conn,
        (old, new),
        "SELECT name AS row_key, totp_sealed AS sealed FROM admins ORDER BY name",
        "UPDATE admins SET totp_sealed = $1 WHERE name = $2",
        &crate::admins::admin_totp_aad,
        "an admin's TOTP seed",
    )
    .await?;

    let resealed = Resealed {
        client_totp_seeds,
        otp_credentials,
        vault_seeds,
        duo_skeys,
        enrol_links,
        admin_totp_seeds,
    };

    let pending: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM otp_codes WHERE used_at IS NULL AND expires_at > $1",
    )
    .bind(now.millis())
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM otp_codes")
        .execute(&mut *conn)
        .await?;
    Ok((
        resealed,
        u64::try_from(pending).map_err(invalid("one-time code count"))?,
    ))
}

/// Re-seals one sealed column of a table keyed by text: `select` yields `row_key` and
/// `sealed`, `update` takes the new blob and the key. Returns how many rows it re-sealed.
async fn reseal_table(
    conn: &mut AnyConnection,
    (old, new): (&Sealer, &Sealer),
    select: &'static str,
    update: &'static str,
    aad: &dyn Fn(&str) -> Vec<u8>,
    what: &str,
) -> Result<u64, StoreError> {
    let rows = sqlx::query(select).fetch_all(&mut *conn).await?;
    for row in &rows {
        let key: String = row.try_get("row_key")?;
        let sealed = reseal_one(old, new, &row.try_get::<Vec<u8>, _>("sealed")?, &aad(&key))
            .map_err(|e| StoreError::Rotate(format!("{what} ({key}): {e}")))?;
        sqlx::query(update)
            .bind(sealed)
            .bind(key)
            .execute(&mut *conn)
            .await?;
    }
    Ok(rows.len() as u64)
}

/// The vault's seeds, keyed by number.
async fn reseal_vault(
    conn: &mut AnyConnection,
    old: &Sealer,
    new: &Sealer,
) -> Result<u64, StoreError> {
    let rows = sqlx::query("SELECT id, secret_sealed FROM vault_apps ORDER BY id")
        .fetch_all(&mut *conn)
        .await?;
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        let aad = crate::vault::vault_aad(id);
        let sealed = reseal_one(old, new, &row.try_get::<Vec<u8>, _>("secret_sealed")?, &aad)
            .map_err(|e| StoreError::Rotate(format!("vault app {id}: {e}")))?;
        sqlx::query("UPDATE vault_apps SET secret_sealed = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(rows.len() as u64)
}

fn reseal_one(
    old: &Sealer,
    new: &Sealer,
    sealed: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>, mfa_secrets::SecretsError> {
    let plain = old.open(sealed, aad)?;
    new.seal(&plain, aad)
}
