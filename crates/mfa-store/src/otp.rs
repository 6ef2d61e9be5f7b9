//! The OTP service's records: HOTP/TOTP credentials and one-time codes, each owned by the API
//! token (by name) that created it.
//!
//! Every attempt is first counted by one conditional UPDATE (so concurrent guesses cannot slip
//! past the throttle or the attempt limit), and a code is accepted by a second conditional UPDATE
//! that only one caller can win. [`Store::verify_otp`] does both in one write transaction.

use mfa_core::Timestamp;
use mfa_otp::{Algorithm, Digits, OtpKind, Secret};
use mfa_secrets::Sealer;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::rows::invalid;
use crate::{Store, StoreError};

/// A HOTP or TOTP credential, without its seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpCredential {
    pub id: String,
    /// The API token (name) it belongs to.
    pub owner: String,
    /// TOTP with its period, or HOTP with the next counter expected.
    pub kind: OtpKind,
    pub algorithm: Algorithm,
    pub digits: Digits,
    pub issuer: Option<String>,
    pub label: String,
    pub created_at: Timestamp,
}

pub struct NewOtpCredential<'a> {
    pub id: &'a str,
    pub owner: &'a str,
    pub secret: &'a Secret,
    pub kind: OtpKind,
    pub algorithm: Algorithm,
    pub digits: Digits,
    pub issuer: Option<&'a str>,
    pub label: &'a str,
    pub now: Timestamp,
}

/// How many attempts a credential gets within a window before it is refused until the window
/// (counted from the first of them) has passed.
#[derive(Debug, Clone, Copy)]
pub struct Throttle {
    pub max_attempts: u32,
    pub window_secs: i64,
}

/// The outcome of counting an attempt on a credential.
enum OtpAttempt {
    /// The attempt is counted: check the code against `secret`, then burn what it matched.
    Go {
        credential: OtpCredential,
        secret: Secret,
        /// TOTP: the highest step accepted so far.
        last_step: Option<u64>,
    },
    /// Too many attempts in the window: no code is checked before `until`.
    Throttled { until: Timestamp },
}

/// What a code matched: the TOTP step or the HOTP counter to burn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpMatch {
    Step(u64),
    Counter(u64),
}

/// The outcome of [`Store::verify_otp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpVerdict {
    /// The code matched and is burnt now.
    Accepted(OtpMatch),
    /// A wrong code, or one used already.
    Refused,
    /// Too many attempts in the window: no code is checked before `until`.
    Throttled { until: Timestamp },
}

macro_rules! credential_columns {
    () => {
        "id, owner, kind, algorithm, digits, period, counter, issuer, label, created_at"
    };
}

pub(crate) fn otp_aad(id: &str) -> Vec<u8> {
    format!("otp:{id}").into_bytes()
}

fn code_context(id: &str) -> Vec<u8> {
    format!("otp-code:{id}").into_bytes()
}

fn to_u64(v: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(invalid(what))
}

fn credential_from_row(row: &AnyRow) -> Result<OtpCredential, StoreError> {
    let kind: String = row.try_get("kind")?;
    let algorithm: String = row.try_get("algorithm")?;
    let digits: i64 = row.try_get("digits")?;
    let period: Option<i64> = row.try_get("period")?;
    let counter: Option<i64> = row.try_get("counter")?;
    let kind = match (kind.as_str(), period, counter) {
        ("totp", Some(period), _) => OtpKind::Totp {
            period: u32::try_from(period).map_err(invalid("otp period"))?,
        },
        ("hotp", _, Some(counter)) => OtpKind::Hotp {
            counter: to_u64(counter, "otp counter")?,
        },
        (other, _, _) => {
            return Err(StoreError::Invalid(format!(
                "otp credential kind {other:?}"
            )));
        }
    };
    Ok(OtpCredential {
        id: row.try_get("id")?,
        owner: row.try_get("owner")?,
        kind,
        algorithm: algorithm.parse().map_err(invalid("otp algorithm"))?,
        digits: u8::try_from(digits)
            .map_err(|e| e.to_string())
            .and_then(|d| Digits::new(d).map_err(|e| e.to_string()))
            .map_err(invalid("otp digits"))?,
        issuer: row.try_get("issuer")?,
        label: row.try_get("label")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
    })
}

fn not_found(id: &str) -> StoreError {
    StoreError::NotFound(format!("otp credential {id}"))
}

/// The result of checking a one-time code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The right code: it is used up now.
    Accepted,
    /// A wrong code; `attempts_left` more may be tried.
    Wrong {
        attempts_left: u32,
    },
    /// Accepted before: a code works once.
    Used,
    Expired,
    /// Out of attempts: the code is dead.
    Exhausted,
}

pub struct NewOneTimeCode<'a> {
    pub id: &'a str,
    pub owner: &'a str,
    pub code: &'a str,
    pub max_attempts: u32,
    pub now: Timestamp,
    pub expires_at: Timestamp,
}

/// Expired one-time codes are kept this long (so a late check says "expired"), then purged.
const KEEP_EXPIRED_SECS: i64 = 86_400;

impl Store {
    pub async fn add_otp_credential(
        &self,
        new: NewOtpCredential<'_>,
    ) -> Result<OtpCredential, StoreError> {
        let sealed = self.sealer.seal(new.secret.as_bytes(), &otp_aad(new.id))?;
        let (kind, period, counter) = match new.kind {
            OtpKind::Totp { period } => ("totp", Some(i64::from(period)), None),
            OtpKind::Hotp { counter } => (
                "hotp",
                None,
                Some(i64::try_from(counter).map_err(invalid("otp counter"))?),
            ),
        };
        let credential = OtpCredential {
            id: new.id.to_owned(),
            owner: new.owner.to_owned(),
            kind: new.kind,
            algorithm: new.algorithm,
            digits: new.digits,
            issuer: new.issuer.map(str::to_owned),
            label: new.label.to_owned(),
            created_at: new.now,
        };
        let row = (credential.clone(), kind, sealed, period, counter);
        self.write(row, |conn, (c, kind, sealed, period, counter)| {
            Box::pin(async move {
                sqlx::query(
                    "INSERT INTO otp_credentials (id, owner, kind, secret_sealed, algorithm, \
                     digits, period, counter, issuer, label, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                )
                .bind(&c.id)
                .bind(&c.owner)
                .bind(*kind)
                .bind(sealed)
                .bind(c.algorithm.to_string())
                .bind(i64::from(c.digits.get()))
                .bind(*period)
                .bind(*counter)
                .bind(&c.issuer)
                .bind(&c.label)
                .bind(c.created_at.millis())
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await?;
        Ok(credential)
    }

    /// The credential `id` of `owner`; another owner's is NotFound, like a missing one.
    pub async fn otp_credential(&self, id: &str, owner: &str) -> Result<OtpCredential, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            credential_columns!(),
            " FROM otp_credentials WHERE id = $1 AND owner = $2"
        ))
        .bind(id.to_owned())
        .bind(owner.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| not_found(id))?;
        credential_from_row(&row)
    }

    pub async fn remove_otp_credential(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM otp_credentials WHERE id = $1 AND owner = $2")
            .bind(id.to_owned())
            .bind(owner.to_owned())
            .execute(&self.pool)
            .await?;
        crate::rows::one_row(done.rows_affected(), || format!("otp credential {id}"))
    }

    /// A whole verification in one write: counts the attempt, hands the credential to `check`
    /// (which compares the code and names the step or counter it matched), and burns what it
    /// matched. The attempt is counted before the comparison, and the burn is conditional, so
    /// of concurrent submissions of one code exactly one is accepted.
    pub async fn verify_otp<F>(
        &self,
        id: &str,
        owner: &str,
        throttle: Throttle,
        now: Timestamp,
        check: F,
    ) -> Result<OtpVerdict, StoreError>
    where
        F: Fn(&OtpCredential, Secret, Option<u64>) -> Option<OtpMatch> + Send + Sync + 'static,
    {
        let data = (id.to_owned(), owner.to_owned(), self.sealer.clone(), check);
        self.write(data, move |conn, (id, owner, sealer, check)| {
            Box::pin(async move {
                let attempt = count_attempt(conn, sealer, id, owner, throttle, now).await?;
                let (credential, secret, last_step) = match attempt {
                    OtpAttempt::Go {
                        credential,
                        secret,
                        last_step,
                    } => (credential, secret, last_step),
                    OtpAttempt::Throttled { until } => return Ok(OtpVerdict::Throttled { until }),
                };
                let Some(matched) = check(&credential, secret, last_step) else {
                    return Ok(OtpVerdict::Refused);
                };
                Ok(match burn(conn, id, matched).await? {
                    true => OtpVerdict::Accepted(matched),
                    false => OtpVerdict::Refused,
                })
            })
        })
        .await
    }

    /// Stores a one-time code as a keyed hash (the code itself is never stored), and purges codes
    /// that expired more than a day ago.
    pub async fn add_one_time_code(&self, new: NewOneTimeCode<'_>) -> Result<(), StoreError> {
        let hash = self
            .sealer
            .keyed_hash(&code_context(new.id), new.code.as_bytes());
        let (max_attempts, now, expires_at) = (new.max_attempts, new.now, new.expires_at);
        let data = (new.id.to_owned(), new.owner.to_owned(), hash);
        self.write(data, move |conn, (id, owner, hash)| {
            Box::pin(async move {
                sqlx::query("DELETE FROM otp_codes WHERE expires_at < $1")
                    .bind(now.plus_secs(-KEEP_EXPIRED_SECS).millis())
                    .execute(&mut *conn)
                    .await?;
                sqlx::query(
                    "INSERT INTO otp_codes (id, owner, code_hash, attempts, max_attempts, \
                     created_at, expires_at) VALUES ($1, $2, $3, 0, $4, $5, $6)",
                )
                .bind(id)
                .bind(owner)
                .bind(hash)
                .bind(i64::from(max_attempts))
                .bind(now.millis())
                .bind(expires_at.millis())
                .execute(&mut *conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Checks one-time code `id` of `owner`, in one write: the attempt is counted first, by one
    /// conditional statement, so at most `max_attempts` codes are ever compared however many
    /// arrive at once; the right one is then burned by a second, which only one caller can win.
    pub async fn check_one_time_code(
        &self,
        id: &str,
        owner: &str,
        code: &str,
        now: Timestamp,
    ) -> Result<CodeCheck, StoreError> {
        let presented = self.sealer.keyed_hash(&code_context(id), code.as_bytes());
        let data = (id.to_owned(), owner.to_owned(), presented);
        self.write(data, move |conn, (id, owner, presented)| {
            Box::pin(async move { check_code(conn, id, owner, presented, now).await })
        })
        .await
    }
}

/// Counts an attempt on credential `id` of `owner` and hands out what checking the code needs; or
/// refuses, when `throttle.max_attempts` attempts fell within the window already. One statement,
/// so concurrent attempts are counted exactly. A success resets the count.
async fn count_attempt(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    id: &str,
    owner: &str,
    throttle: Throttle,
    now: Timestamp,
) -> Result<OtpAttempt, StoreError> {
    let window_start = now.plus_secs(-throttle.window_secs).millis();
    let row = sqlx::query(concat!(
        "UPDATE otp_credentials SET \
           failures = CASE WHEN fail_since <= $3 THEN 1 ELSE failures + 1 END, \
           fail_since = CASE WHEN fail_since <= $3 THEN $4 ELSE fail_since END \
         WHERE id = $1 AND owner = $2 AND (fail_since <= $3 OR failures < $5) \
         RETURNING ",
        credential_columns!(),
        ", secret_sealed, last_step"
    ))
    .bind(id.to_owned())
    .bind(owner.to_owned())
    .bind(window_start)
    .bind(now.millis())
    .bind(i64::from(throttle.max_attempts))
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        let since: Option<i64> = sqlx::query_scalar(
            "SELECT fail_since FROM otp_credentials WHERE id = $1 AND owner = $2",
        )
        .bind(id.to_owned())
        .bind(owner.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
        let since = since.ok_or_else(|| not_found(id))?;
        return Ok(OtpAttempt::Throttled {
            until: Timestamp::from_millis(since).plus_secs(throttle.window_secs),
        });
    };
    let credential = credential_from_row(&row)?;
    let sealed: Vec<u8> = row.try_get("secret_sealed")?;
    let last: Option<i64> = row.try_get("last_step")?;
    let seed = sealer.open(&sealed, &otp_aad(id))?;
    Ok(OtpAttempt::Go {
        credential,
        secret: Secret::from_bytes(&seed).map_err(invalid("otp seed"))?,
        last_step: last.map(|s| to_u64(s, "otp last_step")).transpose()?,
    })
}

/// Burns what a code matched, in one conditional statement that only one caller can win, and
/// resets the attempt count. TOTP: the step (and every one before it); HOTP: the counter, which
/// moves on to the matched one + 1.
async fn burn(conn: &mut AnyConnection, id: &str, matched: OtpMatch) -> Result<bool, StoreError> {
    let done = match matched {
        OtpMatch::Step(step) => {
            let step = i64::try_from(step).map_err(invalid("otp step"))?;
            sqlx::query(
                "UPDATE otp_credentials SET last_step = $1, failures = 0 \
                 WHERE id = $2 AND kind = 'totp' AND (last_step IS NULL OR last_step < $1)",
            )
            .bind(step)
            .bind(id.to_owned())
            .execute(&mut *conn)
            .await?
        }
        OtpMatch::Counter(matched) => {
            let matched = i64::try_from(matched).map_err(invalid("otp counter"))?;
            let Some(next) = matched.checked_add(1) else {
                return Ok(false);
            };
            sqlx::query(
                "UPDATE otp_credentials SET counter = $1, failures = 0 \
                 WHERE id = $2 AND kind = 'hotp' AND counter <= $3",
            )
            .bind(next)
            .bind(id.to_owned())
            .bind(matched)
            .execute(&mut *conn)
            .await?
        }
    };
    Ok(done.rows_affected() == 1)
}

/// Counts an attempt on one-time code `id` and burns it if `presented` (its keyed hash) is right.
async fn check_code(
    conn: &mut AnyConnection,
    id: &str,
    owner: &str,
    presented: &str,
    now: Timestamp,
) -> Result<CodeCheck, StoreError> {
    let row = sqlx::query(
        "UPDATE otp_codes SET attempts = attempts + 1 \
         WHERE id = $1 AND owner = $2 AND used_at IS NULL AND expires_at > $3 \
           AND attempts < max_attempts \
         RETURNING code_hash, attempts, max_attempts",
    )
    .bind(id.to_owned())
    .bind(owner.to_owned())
    .bind(now.millis())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        let found: Option<(Option<i64>, i64)> = sqlx::query_as(
            "SELECT used_at, expires_at FROM otp_codes WHERE id = $1 AND owner = $2",
        )
        .bind(id.to_owned())
        .bind(owner.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
        return match found {
            None => Err(StoreError::NotFound(format!("one-time code {id}"))),
            Some((Some(_), _)) => Ok(CodeCheck::Used),
            Some((None, expires)) if expires <= now.millis() => Ok(CodeCheck::Expired),
            Some(_) => Ok(CodeCheck::Exhausted),
        };
    };
    let stored: String = row.try_get("code_hash")?;
    let attempts: i64 = row.try_get("attempts")?;
    let max: i64 = row.try_get("max_attempts")?;
    if !mfa_secrets::ct_eq(stored.as_bytes(), presented.as_bytes()) {
        let left = u32::try_from(max.saturating_sub(attempts).max(0)).unwrap_or(0);
        return Ok(CodeCheck::Wrong {
            attempts_left: left,
        });
    }
    let done = sqlx::query(
        "UPDATE otp_codes SET used_at = $1 WHERE id = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now.millis())
    .bind(id.to_owned())
    .execute(&mut *conn)
    .await?;
    Ok(if done.rows_affected() == 1 {
        CodeCheck::Accepted
    } else {
        CodeCheck::Used
    })
}
