//! Fills the OTP credential table to a size (the `size` scenario): copies of one HOTP
//! credential's row under new ids, written straight into mfad's database in a few large
//! statements (making a million through the API would take longer than the rest of the run).
//! The copies are never verified: they are there for the indexes and the file to be as large
//! as those of an installation with that many credentials.

use std::time::{Duration, Instant};

use anyhow::Context as _;

/// Rows per statement (each its own transaction).
const CHUNK: i64 = 100_000;

/// `id` is the copies' own, `'fill-N'`; the rest is the template's.
const FILL: &str = "WITH RECURSIVE n(i) AS (SELECT CAST($1 AS BIGINT) UNION ALL \
                    SELECT i + 1 FROM n WHERE i < $2) \
    INSERT INTO otp_credentials (id, owner, kind, secret_sealed, algorithm, digits, period, \
      counter, last_step, issuer, label, failures, fail_since, created_at) \
    SELECT 'fill-' || i, t.owner, t.kind, t.secret_sealed, t.algorithm, t.digits, t.period, \
      t.counter, t.last_step, t.issuer, t.label, 0, 0, t.created_at \
    FROM n CROSS JOIN (SELECT * FROM otp_credentials WHERE kind = 'hotp' LIMIT 1) t";

/// Adds `rows` copies to the database at `url` (mfad's own); how long it took.
pub async fn fill(url: &str, rows: u64) -> anyhow::Result<Duration> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url)
        .await
        .context("connect to mfad's database")?;
    let started = Instant::now();
    let rows = i64::try_from(rows).context("--fill is too large")?;
    let mut from = 1;
    while from <= rows {
        let to = (from + CHUNK - 1).min(rows);
        let done = sqlx::query(FILL)
            .bind(from)
            .bind(to)
            .execute(&pool)
            .await
            .context("copy credential rows")?;
        anyhow::ensure!(
            done.rows_affected() == u64::try_from(to - from + 1)?,
            "the table holds no HOTP credential to copy"
        );
        from = to + 1;
    }
    pool.close().await;
    Ok(started.elapsed())
}
