use mfa_core::push::{Move, Push, When};
use mfa_core::{Alias, Methods, PushState, Timestamp};
use mfa_secrets::TokenHash;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::rows::invalid;
use crate::{
    AuditEntry, LockoutChange, LockoutRule, NewSession, Recorded, Store, StoreError, Verdict,
};

/// A push: who is logging in where, which clients were asked, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    pub txid: String,
    pub user: String,
    pub host: String,
    pub service: String,
    pub client_ip: Option<String>,
    pub server: String,
    pub app_id: i64,
    pub clients: Vec<Alias>,
    /// The number the person must type back, when number matching is on.
    pub number: Option<u8>,
    pub state: PushState,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub decided_at: Option<Timestamp>,
    /// What an approval completes, when more than the push was asked for (`password,push`):
    /// the other factors were verified when the push was sent. `None`: the push alone.
    pub factors: Option<Methods>,
    /// The elevated session to make when the push is approved.
    pub remember: Option<Remember>,
    /// What else the approver is shown (a Duo client's command and server address).
    pub details: Option<String>,
}

/// An elevated session a push makes when it is approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remember {
    /// What the session covers (`login:sshd@host`, `action:deploy`).
    pub scope: String,
    pub seconds: u32,
}

impl AuthRequest {
    /// What the push life cycle's rules need of it.
    pub fn push(&self) -> Push {
        Push {
            state: self.state,
            expires_at: self.expires_at,
            number: self.number,
        }
    }

    /// Pending and not yet past its expiry.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.push().is_open(now)
    }

    /// The factors an approval completes: the push, and what was verified before it.
    pub fn completes(&self) -> Methods {
        self.factors
            .clone()
            .unwrap_or_else(|| Methods::from_one(mfa_core::Method::Push))
    }
}

/// A single-use token that lets one client decide one request (web link, ntfy action).
#[derive(Clone)]
pub struct ApproveLink {
    pub token_hash: TokenHash,
    pub client: Alias,
}

macro_rules! request_columns {
    () => {
        "txid, user_name, host, service, client_ip, server_name, app_id, clients, number, state, \
         reason, decided_by, created_at, expires_at, decided_at, factors, scope, remember_secs, details"
    };
}

fn request_from_row(row: &AnyRow) -> Result<AuthRequest, StoreError> {
    let clients: String = row.try_get("clients")?;
    let number: Option<i64> = row.try_get("number")?;
    let state: String = row.try_get("state")?;
    let decided_at: Option<i64> = row.try_get("decided_at")?;
    let factors: Option<String> = row.try_get("factors")?;
    let scope: Option<String> = row.try_get("scope")?;
    let remember_secs: Option<i64> = row.try_get("remember_secs")?;
    let remember = match (scope, remember_secs) {
        (Some(scope), Some(secs)) => Some(Remember {
            scope,
            seconds: u32::try_from(secs).map_err(invalid("request remember_secs"))?,
        }),
        _ => None,
    };
    Ok(AuthRequest {
        factors: factors
            .map(|f| f.parse::<Methods>())
            .transpose()
            .map_err(invalid("request factors"))?,
        remember,
        txid: row.try_get("txid")?,
        user: row.try_get("user_name")?,
        host: row.try_get("host")?,
        service: row.try_get("service")?,
        client_ip: row.try_get("client_ip")?,
        server: row.try_get("server_name")?,
        app_id: row.try_get("app_id")?,
        clients: clients
            .split(',')
            .filter(|c| !c.is_empty())
            .map(|c| Alias::new(c).map_err(invalid("request clients")))
            .collect::<Result<_, _>>()?,
        number: number
            .map(u8::try_from)
            .transpose()
            .map_err(invalid("request number"))?,
        state: state.parse().map_err(invalid("request state"))?,
        reason: row.try_get("reason")?,
        decided_by: row.try_get("decided_by")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?),
        expires_at: Timestamp::from_millis(row.try_get("expires_at")?),
        decided_at: decided_at.map(Timestamp::from_millis),
        details: row.try_get("details")?,
    })
}

impl Store {
    /// Stores a new pending request and its approve links in one transaction.
    pub async fn create_request(
        &self,
        r: &AuthRequest,
        links: &[ApproveLink],
    ) -> Result<(), StoreError> {
        self.write((r.clone(), links.to_vec()), |conn, (r, links)| {
            Box::pin(async move {
                let clients: Vec<&str> = r.clients.iter().map(Alias::as_str).collect();
                sqlx::query(concat!(
                    "INSERT INTO auth_requests (",
                    request_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)"
                ))
                .bind(r.txid.clone())
                .bind(r.user.clone())
                .bind(r.host.clone())
                .bind(r.service.clone())
                .bind(r.client_ip.clone())
                .bind(r.server.clone())
                .bind(r.app_id)
                .bind(clients.join(","))
                .bind(r.number.map(i64::from))
                .bind(r.state.as_str())
                .bind(r.reason.clone())
                .bind(r.decided_by.clone())
                .bind(r.created_at.millis())
                .bind(r.expires_at.millis())
                .bind(r.decided_at.map(Timestamp::millis))
                .bind(r.factors.as_ref().map(ToString::to_string))
                .bind(r.remember.as_ref().map(|m| m.scope.clone()))
                .bind(r.remember.as_ref().map(|m| i64::from(m.seconds)))
                .bind(r.details.clone())
                .execute(&mut *conn)
                .await?;
                for link in links {
                    sqlx::query(
                        "INSERT INTO approve_tokens (token_hash, txid, client_alias) VALUES ($1, $2, $3)",
                    )
                    .bind(link.token_hash.as_str())
                    .bind(r.txid.clone())
                    .bind(link.client.as_str())
                    .execute(&mut *conn)
                    .await?;
                }
                Ok(())
            })
        })
        .await
    }

    pub async fn request(&self, txid: &str) -> Result<AuthRequest, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM auth_requests WHERE txid = $1"
        ))
        .bind(txid.to_owned())
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("request {txid}")))?;
        request_from_row(&row)
    }

    /// The request an approve token belongs to, and the client it was sent to.
    pub async fn request_by_link(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<(AuthRequest, Alias)>, StoreError> {
        let found: Option<(String, String)> =
            sqlx::query_as("SELECT txid, client_alias FROM approve_tokens WHERE token_hash = $1")
                .bind(token_hash.as_str())
                .fetch_optional(&self.pool)
                .await?;
        let Some((txid, client)) = found else {
            return Ok(None);
        };
        let client = Alias::new(&client).map_err(invalid("approve token client"))?;
        Ok(Some((self.request(&txid).await?, client)))
    }

    /// Open requests a client was asked about, oldest first.
    pub async fn pending_requests_for(
        &self,
        client: &Alias,
        now: Timestamp,
    ) -> Result<Vec<AuthRequest>, StoreError> {
        // Every client a push went to has its approve token: an exact, indexed match (a LIKE on
        // the `clients` list would let `t_x` match `tux`, and ignores case on SQLite).
        let rows = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM auth_requests WHERE state = 'pending' AND expires_at > $1 \
             AND txid IN (SELECT txid FROM approve_tokens WHERE client_alias = $2) \
             ORDER BY created_at"
        ))
        .bind(now.millis())
        .bind(client.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Every push still waiting for an answer at `now`, oldest first (the admin console).
    pub async fn pending_requests(&self, now: Timestamp) -> Result<Vec<AuthRequest>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM auth_requests WHERE state = 'pending' AND expires_at > $1 ORDER BY created_at"
        ))
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Persists `mv`, a move of pending request `txid` (from [`Push`]'s rules), by one
    /// conditional UPDATE, in one transaction with what `verdict` makes of the result (its
    /// audit entry and lockout change) and, for an approval that asked for one, the elevated
    /// session. `None` when the request was no longer pending (or, for an answer, expired;
    /// for an expiry, not yet due): of racing callers on any number of nodes exactly one gets
    /// `Some`.
    pub async fn settle_request(
        &self,
        txid: &str,
        mv: &Move,
        by: Option<&str>,
        rule: LockoutRule,
        now: Timestamp,
        verdict: impl Fn(&AuthRequest) -> (AuditEntry, LockoutChange) + Send + Sync + 'static,
    ) -> Result<Option<(AuthRequest, Recorded)>, StoreError> {
        let data = (txid.to_owned(), mv.clone(), by.map(str::to_owned), verdict);
        self.write(data, move |conn, (txid, mv, by, verdict)| {
            Box::pin(async move {
                let Some(row) = move_row(conn, txid, mv, by.as_deref(), now).await? else {
                    return Ok(None);
                };
                let request = request_from_row(&row)?;
                let (audit, lockouts) = verdict(&request);
                let v = Verdict {
                    audit,
                    lockouts,
                    session: session_for(&request, now),
                };
                let recorded = crate::record::write(conn, &v, rule, now).await?;
                Ok(Some((request, recorded)))
            })
        })
        .await
    }

    /// Notes that a server waits for `txid` until `until` (a status poll): after a restart,
    /// pushes nobody waits for are withdrawn ([`Store::abandoned_requests`]).
    pub async fn polled(&self, txid: &str, until: Timestamp) -> Result<(), StoreError> {
        self.write(txid.to_owned(), move |conn, txid| {
            Box::pin(async move {
                sqlx::query(
                    "UPDATE auth_requests SET polled_until = $1 WHERE txid = $2 \
                     AND (polled_until IS NULL OR polled_until < $1)",
                )
                .bind(until.millis())
                .bind(txid)
                .execute(conn)
                .await?;
                Ok(())
            })
        })
        .await
    }

    /// Pending pushes made before `started` that no server has waited for since `since`: their
    /// logins went with the node that served them.
    pub async fn abandoned_requests(
        &self,
        started: Timestamp,
        since: Timestamp,
    ) -> Result<Vec<AuthRequest>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            request_columns!(),
            " FROM auth_requests WHERE state = 'pending' AND created_at < $1 \
             AND (polled_until IS NULL OR polled_until < $2)"
        ))
        .bind(started.millis())
        .bind(since.millis())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    /// Pending requests past their expiry: the sweeper's work list.
    pub async fn overdue_requests(&self, now: Timestamp) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT txid FROM auth_requests WHERE state = 'pending' AND expires_at <= $1",
        )
        .bind(now.millis())
        .fetch_all(&self.pool)
        .await?)
    }
}

/// The conditional UPDATE of a move, returning the request as it left it.
/// The elevated session an approval makes, when its push asked to be remembered.
fn session_for(request: &AuthRequest, now: Timestamp) -> Option<NewSession> {
    match (&request.remember, request.state) {
        (Some(m), PushState::Approved) => Some(NewSession {
            user: request.user.clone(),
            client_ip: request.client_ip.clone(),
            scope: m.scope.clone(),
            factors: request.completes(),
            server: Some(request.server.clone()),
            txid: Some(request.txid.clone()),
            now,
            seconds: m.seconds,
        }),
        _ => None,
    }
}

async fn move_row(
    conn: &mut sqlx::AnyConnection,
    txid: &str,
    mv: &Move,
    by: Option<&str>,
    now: Timestamp,
) -> Result<Option<AnyRow>, StoreError> {
    let due = match mv.when {
        When::Open => "expires_at > $4",
        When::Overdue => "expires_at <= $4",
    };
    Ok(sqlx::query(AssertSqlSafe(format!(
        concat!(
            "UPDATE auth_requests SET state = $1, reason = $2, decided_by = $3, decided_at = $4 \
             WHERE txid = $5 AND state = 'pending' AND {}",
            " RETURNING ",
            request_columns!()
        ),
        due
    )))
    .bind(mv.to.as_str())
    .bind(mv.reason.clone())
    .bind(by.map(str::to_owned))
    .bind(now.millis())
    .bind(txid.to_owned())
    .fetch_optional(&mut *conn)
    .await?)
}
