//! The mixed load: one task per kind of request, each on random nodes, recording in the
//! ledger what mfad acknowledged; and the checks once every node is up again.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mfa_otp::{Algorithm, Digits, Hotp, Secret, Totp, TotpParams};
use serde_json::{Value, json};

use crate::cluster::{Cluster, HOST, USER};
use crate::ledger::{Fate, Ledger, MadeCode};
use crate::rng::Rng;

pub struct Ctx {
    ledger: Arc<Ledger>,
    http: reqwest::Client,
    otp_token: String,
    server_token: String,
    client_key: String,
    stop: AtomicBool,
}

pub struct Workers {
    ctx: Arc<Ctx>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// An answer, or none: the connection was refused, reset or timed out, so the request may or
/// may not have taken effect.
enum Reply {
    Answer(u16, Value),
    Lost,
}

impl Ctx {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::SeqCst)
    }

    async fn call(
        &self,
        rng: &mut Rng,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> Reply {
        let node = rng.below(self.ledger.bases.len() as u64) as usize;
        self.call_node(node, method, path, bearer, body).await
    }

    async fn call_node(
        &self,
        node: usize,
        method: &str,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> Reply {
        let url = format!("{}{path}", self.ledger.bases[node]);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.http.request(method, url).bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                response.bytes().await.map(|b| (status, b))
            }
            Err(e) => Err(e),
        };
        let (status, bytes) = match answer {
            Ok(answer) => answer,
            Err(e) => {
                self.ledger.lost(node, !e.is_connect());
                // The node is down or going: give it a moment rather than spin.
                tokio::time::sleep(Duration::from_millis(10)).await;
                return Reply::Lost;
            }
        };
        self.ledger.books().answered += 1;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status >= 500 {
            self.ledger.violation(format!("{path}: {status} {value}"));
        }
        Reply::Answer(status, value)
    }

    /// `POST .../verify`: Some(ok) when answered 200, None when lost or throttled.
    async fn verify(&self, rng: &mut Rng, path: &str, code: &str) -> Option<bool> {
        let body = json!({ "code": code });
        match self
            .call(rng, "POST", path, &self.otp_token, Some(body))
            .await
        {
            Reply::Answer(200, v) => Some(v["ok"] == true),
            Reply::Answer(429, _) | Reply::Lost => None,
            Reply::Answer(status, v) => {
                self.ledger.violation(format!("{path}: {status} {v}"));
                None
            }
        }
    }

    /// A new credential of `kind`, once mfad acknowledged it.
    async fn enrol(&self, rng: &mut Rng, kind: &str) -> Option<(String, Secret)> {
        let body = json!({ "type": kind });
        let Reply::Answer(201, v) = self
            .call(
                rng,
                "POST",
                "/v1/otp/credentials",
                &self.otp_token,
                Some(body),
            )
            .await
        else {
            return None;
        };
        let id = v["id"].as_str().unwrap().to_owned();
        let secret = Secret::from_base32(v["secret"].as_str().unwrap()).unwrap();
        self.ledger
            .books()
            .credentials
            .push((id.clone(), kind.to_owned()));
        Some((id, secret))
    }
}

pub fn start(cluster: &Cluster, ledger: Arc<Ledger>, mut rng: Rng) -> Workers {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let ctx = Arc::new(Ctx {
        ledger,
        http,
        otp_token: cluster.otp_token.clone(),
        server_token: cluster.server_token.clone(),
        client_key: cluster.client_key.clone(),
        stop: AtomicBool::new(false),
    });
    let tasks = vec![
        tokio::spawn(hotp(ctx.clone(), rng.fork())),
        tokio::spawn(totp(ctx.clone(), rng.fork())),
        tokio::spawn(one_time_codes(ctx.clone(), rng.fork())),
        tokio::spawn(pushes(ctx.clone(), rng.fork())),
        tokio::spawn(replays(ctx.clone(), rng.fork())),
    ];
    Workers { ctx, tasks }
}

/// Stops the load; its context serves the checks.
pub async fn stop(workers: Workers) -> Arc<Ctx> {
    workers.ctx.stop.store(true, Ordering::SeqCst);
    for task in workers.tasks {
        task.await.unwrap();
    }
    workers.ctx
}

fn verify_path(id: &str) -> String {
    format!("/v1/otp/credentials/{id}/verify")
}

/// HOTP: each credential's codes in counter order; a lost answer sends the same code again
/// (it must be refused if the lost one was accepted).
async fn hotp(ctx: Arc<Ctx>, mut rng: Rng) {
    let mut creds: Vec<(String, Hotp, u64)> = Vec::new();
    while ctx.running() {
        if creds.len() < 3 || rng.chance(10) {
            if let Some((id, secret)) = ctx.enrol(&mut rng, "hotp").await {
                creds.push((id, Hotp::new(secret, Algorithm::Sha1, Digits::default()), 0));
            }
            continue;
        }
        let pick = rng.below(creds.len() as u64) as usize;
        let (id, otp, next) = &mut creds[pick];
        let code = otp.code(*next);
        let path = verify_path(id);
        match ctx.verify(&mut rng, &path, &code).await {
            Some(true) => {
                ctx.ledger
                    .accepted(format!("hotp {id} counter {next}"), &path, &code);
                *next += 1;
            }
            // Refused: a lost answer before may have used this counter; the next is in the
            // server's look-ahead window.
            Some(false) => *next += 1,
            None => {}
        }
    }
}

/// TOTP: each credential once per time step; a lost answer sends the same step's code again
/// while it is within the skew.
async fn totp(ctx: Arc<Ctx>, mut rng: Rng) {
    let mut creds: Vec<(String, Totp, Option<u64>)> = Vec::new();
    while ctx.running() {
        let step = unix_now() / 30;
        let ready: Vec<usize> = (0..creds.len())
            .filter(|&i| creds[i].2.is_none_or(|s| s < step))
            .collect();
        if ready.is_empty() || rng.chance(10) {
            if let Some((id, secret)) = ctx.enrol(&mut rng, "totp").await {
                creds.push((id, Totp::new(secret, TotpParams::default()), None));
            }
            continue;
        }
        let (id, otp, last) = &mut creds[ready[rng.below(ready.len() as u64) as usize]];
        let code = otp.code_for_step(step);
        let path = verify_path(id);
        match ctx.verify(&mut rng, &path, &code).await {
            Some(true) => {
                ctx.ledger
                    .accepted(format!("totp {id} step {step}"), &path, &code);
                *last = Some(step);
            }
            Some(false) => *last = Some(step),
            None => {}
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// One-time codes: most are verified at once, some are left for the check at the end (they
/// must still work then).
async fn one_time_codes(ctx: Arc<Ctx>, mut rng: Rng) {
    let mut unsure: Vec<String> = Vec::new();
    while ctx.running() {
        let id = if !unsure.is_empty() && rng.chance(30) {
            unsure.swap_remove(0)
        } else {
            match make_code(&ctx, &mut rng).await {
                Some(id) if rng.chance(80) => id,
                _ => continue,
            }
        };
        if verify_code(&ctx, &mut rng, &id).await.is_none() {
            unsure.push(id);
        }
    }
}

async fn make_code(ctx: &Ctx, rng: &mut Rng) -> Option<String> {
    let body = json!({ "ttl_seconds": 3600, "max_attempts": 10 });
    let Reply::Answer(201, v) = ctx
        .call(rng, "POST", "/v1/otp/codes", &ctx.otp_token, Some(body))
        .await
    else {
        return None;
    };
    let id = v["id"].as_str().unwrap().to_owned();
    let code = v["code"].as_str().unwrap().to_owned();
    ctx.ledger
        .books()
        .codes
        .insert(id.clone(), MadeCode { code, tried: false });
    Some(id)
}

/// Verifies a one-time code the ledger holds; a code never tried before must be accepted.
async fn verify_code(ctx: &Ctx, rng: &mut Rng, id: &str) -> Option<bool> {
    let (code, tried_before) = {
        let mut books = ctx.ledger.books();
        let made = books.codes.get_mut(id).unwrap();
        (made.code.clone(), std::mem::replace(&mut made.tried, true))
    };
    let path = format!("/v1/otp/codes/{id}/verify");
    let ok = ctx.verify(rng, &path, &code).await;
    match ok {
        Some(true) => ctx.ledger.accepted(format!("code {id}"), &path, &code),
        Some(false) if !tried_before => ctx.ledger.violation(format!(
            "acknowledged one-time code {id} was refused on its first try"
        )),
        _ => {}
    }
    ok
}

/// Pushes: half approved with the number, a quarter denied, a quarter left alone.
async fn pushes(ctx: Arc<Ctx>, mut rng: Rng) {
    while ctx.running() {
        let Some((txid, number)) = send_push(&ctx, &mut rng).await else {
            continue;
        };
        let (decision, sent, done) = match rng.below(4) {
            0 | 1 => ("approve", Fate::ApproveSent, Fate::Approved),
            2 => ("deny", Fate::DenySent, Fate::Denied),
            _ => continue,
        };
        ctx.ledger.set_fate(&txid, sent);
        let body = json!({ "decision": decision, "number": number });
        let path = format!("/v1/client/requests/{txid}");
        match ctx
            .call(&mut rng, "POST", &path, &ctx.client_key, Some(body))
            .await
        {
            Reply::Answer(200, v) if v["decided"] == true => ctx.ledger.set_fate(&txid, done),
            Reply::Answer(status, v) => ctx
                .ledger
                .violation(format!("{decision} {txid}: {status} {v}")),
            Reply::Lost => {}
        }
    }
}

/// A push for tux's ssh login: its txid and number once mfad acknowledged it.
async fn send_push(ctx: &Ctx, rng: &mut Rng) -> Option<(String, Option<u8>)> {
    let body = json!({ "user": USER, "host": HOST, "service": "sshd", "method": "push" });
    let Reply::Answer(status, v) = ctx
        .call(rng, "POST", "/v1/auth", &ctx.server_token, Some(body))
        .await
    else {
        return None;
    };
    if status != 200 || v["result"] != "pending" {
        ctx.ledger.violation(format!("push: {status} {v}"));
        return None;
    }
    let txid = v["txid"].as_str().unwrap().to_owned();
    let number = v["number"].as_u64().map(|n| n as u8);
    ctx.ledger
        .books()
        .pushes
        .insert(txid.clone(), (Fate::Untouched, number));
    Some((txid, number))
}

/// Sends accepted codes again once a kill has happened since: a node that forgot an acceptance
/// would take them.
async fn replays(ctx: Arc<Ctx>, mut rng: Rng) {
    while ctx.running() {
        let epoch = ctx.ledger.epoch();
        let due = {
            let mut books = ctx.ledger.books();
            let at = books.replays.iter().position(|r| r.epoch < epoch);
            at.map(|i| books.replays.swap_remove(i))
        };
        let Some(replay) = due else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        match ctx.verify(&mut rng, &replay.path, &replay.code).await {
            Some(false) => ctx.ledger.books().refused_after_restart += 1,
            Some(true) => ctx
                .ledger
                .violation(format!("{} accepted again after a restart", replay.what)),
            None => ctx.ledger.books().replays.push(replay),
        }
    }
}

/// With every node up: acknowledged credentials exist, untried codes work, replays are
/// refused, and each push stands as its acknowledged decision (or lack of one) says.
pub async fn check_after(ctx: &Ctx) {
    let mut rng = Rng::new(1);
    let (credentials, replays, untried, pushes) = {
        let books = ctx.ledger.books();
        let untried: Vec<String> = books
            .codes
            .iter()
            .filter(|(_, c)| !c.tried)
            .map(|(id, _)| id.clone())
            .collect();
        (
            books.credentials.clone(),
            books.replays.clone(),
            untried,
            books.pushes.clone(),
        )
    };
    for (id, kind) in credentials {
        let path = format!("/v1/otp/credentials/{id}");
        match ctx.call(&mut rng, "GET", &path, &ctx.otp_token, None).await {
            Reply::Answer(200, v) if v["type"] == kind.as_str() => {}
            Reply::Answer(status, v) => ctx
                .ledger
                .violation(format!("acknowledged {kind} credential {id}: {status} {v}")),
            Reply::Lost => ctx.ledger.violation(format!("{path}: no answer")),
        }
    }
    for replay in replays {
        if ctx.verify(&mut rng, &replay.path, &replay.code).await != Some(false) {
            ctx.ledger
                .violation(format!("{} was not refused at the end", replay.what));
        }
    }
    for id in untried {
        if verify_code(ctx, &mut rng, &id).await != Some(true) {
            ctx.ledger
                .violation(format!("acknowledged one-time code {id} does not work"));
        }
    }
    for (txid, (fate, _)) in pushes {
        check_push(ctx, &mut rng, &txid, fate).await;
    }
}

/// A push is approved exactly when an approval was acknowledged (or maybe, when its answer
/// was lost), and denied when a denial was acknowledged.
async fn check_push(ctx: &Ctx, rng: &mut Rng, txid: &str, fate: Fate) {
    let path = format!("/v1/auth/{txid}?wait=0");
    let Reply::Answer(200, v) = ctx.call(rng, "GET", &path, &ctx.server_token, None).await else {
        ctx.ledger.violation(format!("{path}: no status"));
        return;
    };
    let state = v["state"].as_str().unwrap_or_default();
    let fine = match fate {
        Fate::Approved => state == "approved",
        Fate::Denied => state == "denied",
        Fate::ApproveSent => state != "denied",
        Fate::Untouched | Fate::DenySent => state != "approved",
    };
    if !fine {
        ctx.ledger
            .violation(format!("push {txid} ({fate:?}) is {state}: {v}"));
    }
}
