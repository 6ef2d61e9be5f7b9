//! The OTP service: `POST /v1/otp/credentials/{id}/verify` with the next valid code of a
//! credential (every answer must be `ok: true`), and with wrong codes (every answer must be
//! `ok: false`, never 429). Each worker owns its credentials, so no two requests for one
//! credential are ever in flight together.

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use mfa_otp::{Hotp, Totp};
use mfa_wire::{OtpType, VerifyResult};

use super::{Bed, wrong_code};
use crate::http::{self, Req, Target};
use crate::load::{self, Job, deal};
use crate::report::Row;
use crate::setup::{self, Credential, CredentialKind, PERIOD};
use crate::steps::{Steps, now_ms, steps_per_seed};

/// The size scenario's row: verify hotp with the table filled.
pub const LARGE: &str = "verify hotp large";

/// TOTP credentials made at most, whatever the run length (setting up takes time too).
const MAX_TOTP_CREDENTIALS: usize = 40_000;
/// Verifications per second assumed for TOTP sizing when HOTP was not measured first.
const GUESSED_RATE: f64 = 2_000.0;

fn verify_request(target: &Target, token: &str, id: &str, code: &str) -> Req {
    let path = format!("/v1/otp/credentials/{id}/verify");
    http::post_json(
        target,
        &path,
        Some(token),
        format!("{{\"code\":\"{code}\"}}"),
    )
}

/// `ok: true` expected (`want`), or `ok: false` and not throttled.
fn judge(status: StatusCode, body: &[u8], want: bool) -> Result<(), String> {
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(format!("throttled (429): {}", http::snippet(body)));
    }
    let answer: VerifyResult = http::json(status, body)?;
    match (answer.ok, want) {
        (true, true) | (false, false) => Ok(()),
        (false, true) => Err(format!(
            "a valid code was refused: {}",
            answer.reason.unwrap_or_default()
        )),
        (true, false) => Err("a wrong code was accepted".into()),
    }
}

struct HotpCred {
    id: String,
    hotp: Hotp,
    counter: u64,
    /// Reject only: a code valid for none of the counters mfad looks at.
    wrong: String,
}

struct VerifyHotp {
    token: Arc<str>,
    creds: Vec<HotpCred>,
    next: usize,
}

impl Job for VerifyHotp {
    fn next(&mut self, target: &Target) -> Option<Req> {
        let i = self.next;
        self.next = (i + 1) % self.creds.len();
        let cred = &mut self.creds[i];
        let code = cred.hotp.code(cred.counter);
        // Counted as used whatever the answer: mfad looks 10 counters ahead.
        cred.counter += 1;
        Some(verify_request(target, &self.token, &cred.id, &code))
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        judge(status, body, true)
    }
}

struct RejectHotp {
    token: Arc<str>,
    creds: Vec<HotpCred>,
    next: usize,
}

impl Job for RejectHotp {
    fn next(&mut self, target: &Target) -> Option<Req> {
        let i = self.next;
        self.next = (i + 1) % self.creds.len();
        let cred = &self.creds[i];
        Some(verify_request(target, &self.token, &cred.id, &cred.wrong))
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        judge(status, body, false)
    }
}

struct TotpCred {
    id: String,
    totp: Totp,
    steps: Steps,
}

struct VerifyTotp {
    token: Arc<str>,
    creds: Vec<TotpCred>,
    next: usize,
}

impl Job for VerifyTotp {
    /// The next credential (round robin) that still has a fresh step; none left: done.
    fn next(&mut self, target: &Target) -> Option<Req> {
        let now = now_ms();
        for _ in 0..self.creds.len() {
            let i = self.next;
            self.next = (i + 1) % self.creds.len();
            let cred = &mut self.creds[i];
            if let Some(step) = cred.steps.next(cred.totp.params.period, now) {
                let code = cred.totp.code_for_step(step);
                return Some(verify_request(target, &self.token, &cred.id, &code));
            }
        }
        None
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        judge(status, body, true)
    }
}

struct RejectTotp {
    token: Arc<str>,
    creds: Vec<TotpCred>,
    next: usize,
}

impl Job for RejectTotp {
    fn next(&mut self, target: &Target) -> Option<Req> {
        let i = self.next;
        self.next = (i + 1) % self.creds.len();
        let cred = &self.creds[i];
        let step = cred.totp.step(now_ms() / 1000);
        // Wider than the window mfad accepts (skew 1), in case a step turns meanwhile.
        let valid: Vec<String> = (step.saturating_sub(2)..=step + 2)
            .map(|s| cred.totp.code_for_step(s))
            .collect();
        let code = wrong_code(&valid, usize::from(cred.totp.params.digits.get()));
        Some(verify_request(target, &self.token, &cred.id, &code))
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        judge(status, body, false)
    }
}

fn hotp_creds(creds: &[Credential]) -> Vec<HotpCred> {
    creds
        .iter()
        .filter_map(|c| match &c.kind {
            CredentialKind::Hotp { hotp, counter } => Some(HotpCred {
                id: c.id.clone(),
                hotp: hotp.clone(),
                counter: *counter,
                wrong: String::new(),
            }),
            CredentialKind::Totp(_) => None,
        })
        .collect()
}

fn totp_creds(creds: &[Credential]) -> Vec<TotpCred> {
    creds
        .iter()
        .filter_map(|c| match &c.kind {
            CredentialKind::Totp(totp) => Some(TotpCred {
                id: c.id.clone(),
                totp: totp.clone(),
                steps: Steps::default(),
            }),
            CredentialKind::Hotp { .. } => None,
        })
        .collect()
}

/// Writes the counters the workers reached back into the bed (reject needs them).
fn keep_counters(bed: &mut Bed, jobs: Vec<VerifyHotp>) {
    let reached: std::collections::HashMap<String, u64> = jobs
        .into_iter()
        .flat_map(|j| j.creds)
        .map(|c| (c.id, c.counter))
        .collect();
    for cred in &mut bed.hotp {
        if let (CredentialKind::Hotp { counter, .. }, Some(n)) =
            (&mut cred.kind, reached.get(&cred.id))
        {
            *counter = *n;
        }
    }
}

pub async fn verify_hotp(bed: &mut Bed, connections: usize, seconds: Duration) -> Row {
    let token = bed.otp_token.clone();
    let jobs = deal(hotp_creds(&bed.hotp), connections)
        .into_iter()
        .map(|creds| VerifyHotp {
            token: token.clone(),
            creds,
            next: 0,
        })
        .collect();
    match load::run(&bed.mfad.target, jobs, seconds).await {
        Ok((out, jobs)) => {
            keep_counters(bed, jobs);
            Row::from_outcome("verify hotp", bed.backend, "req/s", out)
        }
        Err(e) => Row::failed("verify hotp", bed.backend, format!("{e:#}")),
    }
}

/// TOTP credentials enough for `seconds` at `rate` (each yields a few fresh steps at once and
/// one per period), at least `floor`.
pub fn totp_needed(rate: Option<f64>, seconds: Duration, floor: usize) -> usize {
    let rate = rate.filter(|r| *r > 0.0).unwrap_or(GUESSED_RATE);
    let secs = seconds.as_secs_f64();
    let needed = (rate * 1.3 * secs / steps_per_seed(PERIOD, secs)).ceil() as usize;
    needed.clamp(floor, MAX_TOTP_CREDENTIALS)
}

/// Makes TOTP credentials until the bed has `n`.
pub async fn ensure_totp(bed: &mut Bed, n: usize) -> anyhow::Result<()> {
    if bed.totp.len() < n {
        let more = n - bed.totp.len();
        let made =
            setup::credentials(&bed.mfad.target, &bed.otp_token, OtpType::Totp, more).await?;
        bed.totp.extend(made);
    }
    Ok(())
}

pub async fn verify_totp(bed: &Bed, connections: usize, seconds: Duration) -> Row {
    let token = bed.otp_token.clone();
    let jobs = deal(totp_creds(&bed.totp), connections)
        .into_iter()
        .map(|creds| VerifyTotp {
            token: token.clone(),
            creds,
            next: 0,
        })
        .collect();
    let mut row = match load::run(&bed.mfad.target, jobs, seconds).await {
        Ok((out, _)) => Row::from_outcome("verify totp", bed.backend, "req/s", out),
        Err(e) => Row::failed("verify totp", bed.backend, format!("{e:#}")),
    };
    row.notes.push(format!("{} credentials", bed.totp.len()));
    row
}

pub async fn reject_hotp(bed: &Bed, connections: usize, seconds: Duration) -> Row {
    let token = bed.otp_token.clone();
    let mut creds = hotp_creds(&bed.hotp);
    for cred in &mut creds {
        // Any counter a failed request may have moved it to, and the 10 mfad looks ahead.
        let valid: Vec<String> = (cred.counter.saturating_sub(5)..=cred.counter + 20)
            .map(|c| cred.hotp.code(c))
            .collect();
        cred.wrong = wrong_code(&valid, usize::from(cred.hotp.digits.get()));
    }
    let jobs = deal(creds, connections)
        .into_iter()
        .map(|creds| RejectHotp {
            token: token.clone(),
            creds,
            next: 0,
        })
        .collect();
    match load::run(&bed.mfad.target, jobs, seconds).await {
        Ok((out, _)) => Row::from_outcome("reject hotp", bed.backend, "req/s", out),
        Err(e) => Row::failed("reject hotp", bed.backend, format!("{e:#}")),
    }
}

pub async fn reject_totp(bed: &Bed, connections: usize, seconds: Duration, n: usize) -> Row {
    let token = bed.otp_token.clone();
    let creds: Vec<TotpCred> = totp_creds(&bed.totp).into_iter().take(n).collect();
    let jobs = deal(creds, connections)
        .into_iter()
        .map(|creds| RejectTotp {
            token: token.clone(),
            creds,
            next: 0,
        })
        .collect();
    match load::run(&bed.mfad.target, jobs, seconds).await {
        Ok((out, _)) => Row::from_outcome("reject totp", bed.backend, "req/s", out),
        Err(e) => Row::failed("reject totp", bed.backend, format!("{e:#}")),
    }
}
