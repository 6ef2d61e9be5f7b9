//! Elevated sessions: a successful MFA remembered for (user, source address, scope) until it
//! expires. Every check reads the table, so revoking (deleting) one ends it at once, on every
//! node.

use mfa_core::{Methods, Timestamp};
use mfa_secrets::random_id;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::rows::invalid;
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub user: String,
    /// `None`: a login without an address (local).
    pub client_ip: Option<String>,
    /// `login:SERVICE@HOST`, `action:ACTION@HOST` or `action:ACTION`.
    pub scope: String,
    /// The factors verified when it was made: it covers requirements these meet.
    pub factors: Methods,
    pub server: Option<String>,
    /// The push that made it, if one did.
    pub txid: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub user: String,
    pub client_ip: Option<String>,
    pub scope: String,
    pub factors: Methods,
    pub server: Option<String>,
    pub txid: Option<String>,
    pub now: Timestamp,
    pub seconds: u32,
}

macro_rules! session_columns {
    () => {
        "id, user_name, client_ip, scope, factors, server_name, txid, created_at, expires_at"
    };
}

fn session_from_row(row: &AnyRow) -> Result<Session, StoreError> {
    let ip: String = row.try_get("client_ip")?;
    let factors: String = row.try_get("factors")?;
    Ok(Session {
        id: row.try_get("id")?,
        user: row.try_get("user_name")?,
        client_ip: (!ip.is_empty()).then_some(ip),
        scope: row.try_get("scope")?,
        factors: factors.parse().map_err(invalid("session factors"))?,
        server: row.try_get("server_name")?,
        txid: row.try_get("txid")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
    })
}

impl Store {
    pub async fn create_session(&self, new: NewSession) -> Result<Session, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_session(&mut conn, &new).await
    }

    /// The unexpired sessions of `user` from `client_ip` for `scope`.
    pub async fn sessions_for(
        &self,
        user: &str,
        client_ip: Option<&str>,
        scope: &str,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM elevated_sessions WHERE user_name = $1 AND client_ip = $2 AND scope = $3 \
             AND expires_at > $4 ORDER BY expires_at DESC"
        ))
        .bind(user.to_owned())
        .bind(client_ip.unwrap_or_default().to_owned())
        .bind(scope.to_owned())
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(session_from_row)
        .collect()
    }

    /// Unexpired sessions, oldest first; only `user`'s when given.
    pub async fn sessions(
        &self,
        user: Option<&str>,
        now: Timestamp,
    ) -> Result<Vec<Session>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM elevated_sessions WHERE ($1 IS NULL OR user_name = $1) AND expires_at > $2 \
             ORDER BY created_at, id"
        ))
        .bind(user.map(str::to_owned))
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(session_from_row)
        .collect()
    }

    /// The session an approved push made, if it made one.
    pub async fn session_for_txid(&self, txid: &str) -> Result<Option<Session>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            session_columns!(),
            " FROM elevated_sessions WHERE txid = $1"
        ))
        .bind(txid.to_owned())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(session_from_row).transpose()
    }

    /// Ends a session now; false when there is no such (unexpired or expired) session.
    pub async fn revoke_session(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM elevated_sessions WHERE id = $1")
            .bind(id.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends every session of `user`; returns how many were unexpired.
    pub async fn revoke_user_sessions(
        &self,
        user: &str,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let live: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM elevated_sessions WHERE user_name = $1 AND expires_at > $2",
        )
        .bind(user.to_owned())
        .bind(now.millis())
        .fetch_one(&self.pool)
        .await?;
        sqlx::query("DELETE FROM elevated_sessions WHERE user_name = $1")
            .bind(user.to_owned())
            .execute(&self.pool)
            .await?;
        Ok(u64::try_from(live).unwrap_or(0))
    }
}

pub(crate) async fn insert_session(
    conn: &mut sqlx::AnyConnection,
    new: &NewSession,
) -> Result<Session, StoreError> {
    let id = random_id(10)?;
    let expires_at = new.now.plus_secs(i64::from(new.seconds));
    sqlx::query(concat!(
        "INSERT INTO elevated_sessions (",
        session_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(id.clone())
    .bind(new.user.clone())
    .bind(new.client_ip.clone().unwrap_or_default())
    .bind(new.scope.clone())
    .bind(new.factors.to_string())
    .bind(new.server.clone())
    .bind(new.txid.clone())
    .bind(new.now.millis())
    .bind(expires_at.millis())
    .execute(&mut *conn)
    .await?;
    Ok(Session {
        id,
        user: new.user.clone(),
        client_ip: new.client_ip.clone(),
        scope: new.scope.clone(),
        factors: new.factors.clone(),
        server: new.server.clone(),
        txid: new.txid.clone(),
        created_at: new.now,
        expires_at,
    })
}
