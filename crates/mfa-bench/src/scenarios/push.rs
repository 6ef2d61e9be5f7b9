//! Push logins end to end, C at a time: `POST /v1/auth` (method push, server token), the
//! user's simulated client approves over its WebSocket with the number as soon as it is told,
//! and the long poll `GET /v1/auth/{txid}?wait=30` must answer `approved`. The latency is from
//! the POST sent to the long poll answered. Login loop `i` logs in user `i`, so no user has
//! two logins in flight.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mfa_wire::{AuthResult, AuthStatus, ServerAuthResponse};
use serde_json::json;

use super::Bed;
use crate::fleet::Fleet;
use crate::http::{self, Conn, Target};
use crate::load::{Outcome, REQUEST_TIMEOUT, reconnect};
use crate::report::Row;
use crate::setup::{HOST, SERVICE, User};

/// The long poll's `wait`, and how long the bench gives it.
const WAIT_SECS: u64 = 30;
const POLL_TIMEOUT: Duration = Duration::from_secs(WAIT_SECS + 15);
/// Connections opened at once.
const OPENING_AT_ONCE: usize = 64;

/// `n` connections to `target`, a few opened at a time.
pub async fn open_many(target: &Target, n: usize) -> anyhow::Result<Vec<Conn>> {
    let gate = Arc::new(tokio::sync::Semaphore::new(OPENING_AT_ONCE));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (target, gate) = (target.clone(), gate.clone());
        tasks.spawn(async move {
            let _turn = gate.acquire_owned().await;
            Conn::open(&target).await
        });
    }
    let mut conns = Vec::with_capacity(n);
    while let Some(done) = tasks.join_next().await {
        conns.push(done??);
    }
    Ok(conns)
}

/// Asks for a push for `user`; its txid and number.
pub async fn ask_push(
    conn: &mut Conn,
    target: &Target,
    token: &str,
    user: &User,
) -> Result<(String, Option<u8>), String> {
    let body = json!({"user": user.name, "host": HOST, "service": SERVICE,
        "client_ip": user.client_ip, "method": "push"});
    let req = http::post_json(target, "/v1/auth", Some(token), body.to_string());
    let (status, body) = conn
        .send(req, REQUEST_TIMEOUT)
        .await
        .map_err(|e| format!("POST /v1/auth: {e:#}"))?;
    let answer: ServerAuthResponse = http::json(status, &body)?;
    match (answer.result, answer.txid) {
        (AuthResult::Pending, Some(txid)) => Ok((txid, answer.number)),
        (result, _) => Err(format!(
            "a push login got {result:?}: {}",
            answer.reason.unwrap_or_default()
        )),
    }
}

/// One long poll; the push's state when it answered.
pub async fn poll(
    conn: &mut Conn,
    target: &Target,
    token: &str,
    txid: &str,
    wait: u64,
) -> Result<String, String> {
    let req = http::get(target, &format!("/v1/auth/{txid}?wait={wait}"), Some(token));
    let limit = Duration::from_secs(wait + 15);
    let (status, body) = conn
        .send(req, limit)
        .await
        .map_err(|e| format!("long poll: {e:#}"))?;
    let answer: AuthStatus = http::json(status, &body)?;
    Ok(answer.state)
}

async fn one_login(
    conn: &mut Conn,
    target: &Target,
    token: &str,
    user: &User,
    client: usize,
    fleet: &Fleet,
) -> Result<(), String> {
    let (txid, number) = ask_push(conn, target, token, user).await?;
    fleet.told(&txid, number, client);
    let state = tokio::time::timeout(POLL_TIMEOUT, poll(conn, target, token, &txid, WAIT_SECS))
        .await
        .map_err(|_| "long poll: no answer".to_owned())??;
    if state == "approved" {
        Ok(())
    } else {
        Err(format!("push {txid} ended {state}"))
    }
}

struct Loop {
    conn: Conn,
    target: Target,
    token: Arc<str>,
    user: User,
    client: usize,
    fleet: Arc<Fleet>,
}

impl Loop {
    async fn run(mut self, start: Instant, deadline: Instant) -> Outcome {
        let mut out = Outcome::default();
        while Instant::now() < deadline {
            let sent = Instant::now();
            let login = one_login(
                &mut self.conn,
                &self.target,
                &self.token,
                &self.user,
                self.client,
                &self.fleet,
            );
            match login.await {
                Ok(()) => out.record(sent.elapsed()),
                Err(e) => {
                    out.error(e);
                    if !self.conn.is_open() {
                        self.conn = reconnect(&self.target, self.conn).await;
                    }
                }
            }
        }
        out.elapsed = start.elapsed();
        out
    }
}

pub async fn push(bed: &Bed, fleet: &Arc<Fleet>, concurrency: usize, seconds: Duration) -> Row {
    let scenario = format!("push C={concurrency}");
    let target = &bed.mfad.target;
    let conns = match open_many(target, concurrency).await {
        Ok(c) => c,
        Err(e) => return Row::failed(&scenario, bed.backend, format!("{e:#}")),
    };
    fleet.hold(false);
    let _ = fleet.take_errors();
    let start = Instant::now();
    let deadline = start + seconds;
    let mut loops = tokio::task::JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
        let client = i % bed.users.len();
        let one = Loop {
            conn,
            target: target.clone(),
            token: bed.server_token.clone(),
            user: bed.users[client].clone(),
            client,
            fleet: fleet.clone(),
        };
        loops.spawn(one.run(start, deadline));
    }
    let mut total = Outcome::default();
    while let Some(done) = loops.join_next().await {
        match done {
            Ok(out) => total.merge(out),
            Err(e) => total.error(format!("login loop: {e}")),
        }
    }
    total.merge(fleet.take_errors());
    let mut row = Row::from_outcome(&scenario, bed.backend, "logins/s", total);
    let users = concurrency.min(bed.users.len());
    row.notes.push(match users {
        1 => "1 user, one login at a time".to_owned(),
        n => format!("{n} users, one login each in flight"),
    });
    row
}
