//! The server API of a login: `POST /v1/preauth` (every answer must be `auth`), and
//! `POST /v1/auth` with the client's TOTP code (every answer must be `allow`). Each worker
//! owns its users, so each (client, step) is sent once.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use mfa_otp::Totp;
use mfa_wire::{AuthResult, PreauthResponse, PreauthResult, ServerAuthResponse};
use serde_json::json;

use super::Bed;
use crate::http::{self, Req, Target};
use crate::load::{self, Job, deal};
use crate::report::Row;
use crate::setup::{HOST, SERVICE, User};
use crate::steps::{Steps, now_ms};

struct Preauth {
    token: Arc<str>,
    users: Vec<User>,
    next: usize,
}

impl Job for Preauth {
    fn next(&mut self, target: &Target) -> Option<Req> {
        let user = &self.users[self.next];
        self.next = (self.next + 1) % self.users.len();
        let body = json!({"user": user.name, "host": HOST, "service": SERVICE,
            "client_ip": user.client_ip});
        Some(http::post_json(
            target,
            "/v1/preauth",
            Some(&self.token),
            body.to_string(),
        ))
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        let answer: PreauthResponse = http::json(status, body)?;
        match answer.result {
            PreauthResult::Auth => Ok(()),
            other => Err(format!(
                "preauth answered {other:?}: {}",
                answer.reason.unwrap_or_default()
            )),
        }
    }
}

pub async fn preauth(bed: &Bed, connections: usize, seconds: Duration) -> Row {
    let jobs = deal(bed.users.clone(), connections)
        .into_iter()
        .map(|users| Preauth {
            token: bed.server_token.clone(),
            users,
            next: 0,
        })
        .collect();
    match load::run(&bed.mfad.target, jobs, seconds).await {
        Ok((out, _)) => Row::from_outcome("preauth", bed.backend, "req/s", out),
        Err(e) => Row::failed("preauth", bed.backend, format!("{e:#}")),
    }
}

struct Login {
    user: User,
    totp: Totp,
    steps: Steps,
}

struct AuthTotp {
    token: Arc<str>,
    logins: Vec<Login>,
    next: usize,
}

impl Job for AuthTotp {
    /// The next user (round robin) whose client's seed still has a fresh step.
    fn next(&mut self, target: &Target) -> Option<Req> {
        let now = now_ms();
        for _ in 0..self.logins.len() {
            let i = self.next;
            self.next = (i + 1) % self.logins.len();
            let login = &mut self.logins[i];
            if let Some(step) = login.steps.next(login.totp.params.period, now) {
                let body = json!({"user": login.user.name, "host": HOST, "service": SERVICE,
                    "client_ip": login.user.client_ip, "method": "totp",
                    "passcode": login.totp.code_for_step(step)});
                return Some(http::post_json(
                    target,
                    "/v1/auth",
                    Some(&self.token),
                    body.to_string(),
                ));
            }
        }
        None
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        let answer: ServerAuthResponse = http::json(status, body)?;
        match answer.result {
            AuthResult::Allow => Ok(()),
            other => Err(format!(
                "a valid TOTP code got {other:?}: {}",
                answer.reason.unwrap_or_default()
            )),
        }
    }
}

pub async fn auth_totp(bed: &Bed, connections: usize, seconds: Duration) -> Row {
    let logins: Vec<Login> = bed
        .users
        .iter()
        .filter_map(|u| {
            Some(Login {
                totp: u.totp.clone()?,
                user: u.clone(),
                steps: Steps::default(),
            })
        })
        .collect();
    let users = logins.len();
    let jobs = deal(logins, connections)
        .into_iter()
        .map(|logins| AuthTotp {
            token: bed.server_token.clone(),
            logins,
            next: 0,
        })
        .collect();
    let mut row = match load::run(&bed.mfad.target, jobs, seconds).await {
        Ok((out, _)) => Row::from_outcome("auth totp", bed.backend, "logins/s", out),
        Err(e) => Row::failed("auth totp", bed.backend, format!("{e:#}")),
    };
    row.notes.push(format!("{users} users"));
    row
}
