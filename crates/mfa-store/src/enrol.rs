//! Enrolment links (issue 15): a single-use, expiring link whose page shows a new TOTP seed
//! (a QR code) and makes it the client's once the person types a current code from it. The
//! link's token is stored hashed; the seed sealed, bound to that hash. Confirming replaces,
//! in one transaction, the client's seed, key and recovery codes, and uses the link up: only
//! one confirmation wins, however many race. Every code typed is counted before it is
//! compared, and a link that has had [`MAX_ENROL_ATTEMPTS`] codes is dead.

use mfa_core::{Alias, Timestamp};
use mfa_otp::{Secret, TotpParams};
use mfa_secrets::TokenHash;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::clients::{NewClient, insert_client, totp_aad};
use crate::revocation::bump_epoch;
use crate::rows::{invalid, one_row};
use crate::{Store, StoreError};

/// Enrolment link tokens look like `mfae_...`.
pub const ENROL_TOKEN_PREFIX: &str = "mfae";
/// Client keys look like `mfak_...`, so a leaked one is recognisable.
pub const CLIENT_KEY_PREFIX: &str = "mfak";

/// Codes a link's page accepts before the link is dead (a wrong code costs one).
pub const MAX_ENROL_ATTEMPTS: u32 = 5;

/// A new link for a client.
pub struct NewEnrolLink<'a> {
    pub token_hash: &'a TokenHash,
    /// The seed its page shows.
    pub totp_secret: &'a Secret,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// A link as its page sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolLink {
    pub client: Alias,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub used_at: Option<Timestamp>,
    pub attempts: u32,
}

impl EnrolLink {
    /// Why the link can no longer be used at `now`, if it cannot.
    pub fn closed(&self, now: Timestamp) -> Option<LinkClosed> {
        if self.used_at.is_some() {
            Some(LinkClosed::Used)
        } else if self.attempts >= MAX_ENROL_ATTEMPTS {
            Some(LinkClosed::TooManyCodes)
        } else if now >= self.expires_at {
            Some(LinkClosed::Expired)
        } else {
            None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkClosed {
    Used,
    Expired,
    TooManyCodes,
}

/// What confirming a link changes, besides using it up.
pub struct Confirmation<'a> {
    /// The TOTP step the typed code matched: it and every earlier one are burned.
    pub step: u64,
    pub totp: TotpParams,
    pub key_hash: &'a TokenHash,
    pub recovery_codes: &'a [TokenHash],
    pub now: Timestamp,
}

/// What binds a link's sealed seed to its row.
pub(crate) fn link_aad(token_hash: &str) -> Vec<u8> {
    format!("enrol:{token_hash}:totp").into_bytes()
}

fn link_from_row(row: &AnyRow) -> Result<EnrolLink, StoreError> {
    let alias: String = row.try_get("client_alias")?;
    let attempts: i64 = row.try_get("attempts")?;
    Ok(EnrolLink {
        client: Alias::new(&alias).map_err(invalid("alias"))?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        used_at: row
            .try_get::<Option<i64>, _>("used_at")?
            .map(Timestamp::from_millis),
        attempts: u32::try_from(attempts).map_err(invalid("attempts"))?,
    })
}

impl Store {
    /// A new client whose TOTP is not in force until its link's code, and that link, in one
    /// transaction. The client's key and seed are placeholders nobody knows: confirming the
    /// link replaces both.
    pub async fn add_client_with_link(
        &self,
        client: NewClient<'_>,
        link: NewEnrolLink<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_client(&mut tx, &self.sealer, &client, false).await?;
        self.insert_link(&mut tx, client.alias, &link).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A new link for an existing client; its current TOTP stays in force until the link's
    /// code is confirmed.
    pub async fn add_enrol_link(
        &self,
        alias: &Alias,
        link: NewEnrolLink<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        self.insert_link(&mut tx, alias, &link).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn insert_link(
        &self,
        conn: &mut AnyConnection,
        alias: &Alias,
        link: &NewEnrolLink<'_>,
    ) -> Result<(), StoreError> {
        let sealed = self.sealer.seal(
            link.totp_secret.as_bytes(),
            &link_aad(link.token_hash.as_str()),
        )?;
        sqlx::query(
            "INSERT INTO enrol_links (token_hash, client_alias, totp_sealed, created_at, expires_at) \
             SELECT $1, alias, $2, $3, $4 FROM clients WHERE alias = $5",
        )
        .bind(link.token_hash.as_str())
        .bind(sealed)
        .bind(link.now.millis())
        .bind(link.expires_at.millis())
        .bind(alias.as_str())
        .execute(&mut *conn)
        .await
        .map_err(StoreError::from)
        .and_then(|done| one_row(done.rows_affected(), || format!("client {alias}")))
    }

    /// The link and the seed its page shows; `None`: no such link.
    pub async fn enrol_link(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(EnrolLink, Secret)>, StoreError> {
        let row = sqlx::query(
            "SELECT client_alias, attempts, created_at, expires_at, used_at, totp_sealed \
             FROM enrol_links WHERE token_hash = $1",
        )
        .bind(token_hash.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| self.open_link(&row, token_hash)).transpose()
    }

    fn open_link(
        &self,
        row: &AnyRow,
        token_hash: &TokenHash,
    ) -> Result<(EnrolLink, Secret), StoreError> {
        let sealed: Vec<u8> = row.try_get("totp_sealed")?;
        let seed = self.sealer.open(&sealed, &link_aad(token_hash.as_str()))?;
        let secret = Secret::from_bytes(&seed).map_err(invalid("enrol seed"))?;
        Ok((link_from_row(row)?, secret))
    }

    /// Counts a code typed on the link's page, before it is compared, in one statement (so
    /// racing attempts are all counted), and hands out what comparing needs. `None`: no such
    /// link, or it is closed (used, expired, out of attempts): [`Store::enrol_link`] says which.
    pub async fn count_enrol_attempt(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<(EnrolLink, Secret)>, StoreError> {
        let hash = token_hash.as_str().to_owned();
        let row = self
            .write(hash, move |conn, hash| {
                Box::pin(async move {
                    Ok(sqlx::query(
                        "UPDATE enrol_links SET attempts = attempts + 1 \
                         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
                           AND attempts < $3 \
                         RETURNING client_alias, attempts, created_at, expires_at, used_at, \
                                   totp_sealed",
                    )
                    .bind(hash.as_str())
                    .bind(now.millis())
                    .bind(i64::from(MAX_ENROL_ATTEMPTS))
                    .fetch_optional(conn)
                    .await?)
                })
            })
            .await?;
        row.map(|row| self.open_link(&row, token_hash)).transpose()
    }

    /// Uses the link up and makes its seed the client's (in force, `step` burned, deliverable
    /// once to `mfa enroll`), with a new key and recovery codes, in one transaction. False:
    /// the link was used, expired or removed first (nothing changed).
    pub async fn confirm_enrolment(
        &self,
        token_hash: &TokenHash,
        confirmation: Confirmation<'_>,
    ) -> Result<bool, StoreError> {
        let c = confirmation;
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(
            "UPDATE enrol_links SET used_at = $1 \
             WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
             RETURNING client_alias, totp_sealed",
        )
        .bind(c.now.millis())
        .bind(token_hash.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(false);
        };
        let alias: String = row.try_get("client_alias")?;
        let alias = Alias::new(&alias).map_err(invalid("alias"))?;
        let seed = self.sealer.open(
            &row.try_get::<Vec<u8>, _>("totp_sealed")?,
            &link_aad(token_hash.as_str()),
        )?;
        let sealed = self.sealer.seal(&seed, &totp_aad(alias.as_str()))?;
        let step = i64::try_from(c.step).map_err(invalid("totp step"))?;
        let done = sqlx::query(
            "UPDATE clients SET totp_sealed = $1, totp_algorithm = $2, totp_digits = $3, \
             totp_period = $4, totp_last_step = $5, totp_delivered_at = NULL, totp_active = 1, \
             key_hash = $6 WHERE alias = $7",
        )
        .bind(sealed)
        .bind(c.totp.algorithm.to_string())
        .bind(i64::from(c.totp.digits.get()))
        .bind(i64::from(c.totp.period))
        .bind(step)
        .bind(c.key_hash.as_str())
        .bind(alias.as_str())
        .execute(&mut *tx)
        .await?;
        one_row(done.rows_affected(), || format!("client {alias}"))?;
        crate::credentials::replace_codes(&mut tx, &alias, c.recovery_codes, c.now).await?;
        // The other links of this client are superseded.
        sqlx::query("DELETE FROM enrol_links WHERE client_alias = $1 AND used_at IS NULL")
            .bind(alias.as_str())
            .execute(&mut *tx)
            .await?;
        bump_epoch(&mut tx, self.backend()).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The client's links that can still be used at `now`, newest first (`mfac client show`).
    pub async fn open_enrol_links(
        &self,
        alias: &Alias,
        now: Timestamp,
    ) -> Result<Vec<EnrolLink>, StoreError> {
        let rows = sqlx::query(
            "SELECT client_alias, attempts, created_at, expires_at, used_at FROM enrol_links \
             WHERE client_alias = $1 AND used_at IS NULL AND expires_at > $2 AND attempts < $3 \
             ORDER BY created_at DESC",
        )
        .bind(alias.as_str())
        .bind(now.millis())
        .bind(i64::from(MAX_ENROL_ATTEMPTS))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(link_from_row).collect()
    }
}
