//! The peer, privacyIDEA, under the same `verify` and `reject` workloads: each request the
//! user's next HOTP code (or a wrong one), `POST /validate/check` with form fields `user` and
//! `pass` (the PIN is empty, so the pass is the code); accepted when `result.value` is true.
//!
//! `scripts/bench/privacyidea.sh start DIR USERS` starts it and prints `URL SEEDSFILE` (lines
//! `user,seed_hex`: HOTP, SHA1, 6 digits, counter 0); `... stop DIR` stops it.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use hyper::StatusCode;
use mfa_otp::{Algorithm, Digits, Hotp, Secret};
use serde_json::Value;

use super::wrong_code;
use crate::http::{self, Req, Target};
use crate::load::{self, Job, deal};
use crate::report::{PEER, Row};

/// Starting privacyIDEA may install it first.
const START_LIMIT: Duration = Duration::from_secs(20 * 60);
const STOP_LIMIT: Duration = Duration::from_secs(120);

#[derive(Clone)]
struct Token {
    user: String,
    hotp: Hotp,
    counter: u64,
    wrong: String,
}

/// A running privacyIDEA and its tokens.
pub struct Peer {
    script: std::path::PathBuf,
    dir: tempfile::TempDir,
    target: Target,
    tokens: Vec<Token>,
}

async fn script(script: &Path, args: &[&str], limit: Duration) -> anyhow::Result<String> {
    let run = tokio::process::Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(limit, run)
        .await
        .map_err(|_| {
            anyhow!(
                "{} {} took over {} s",
                script.display(),
                args[0],
                limit.as_secs()
            )
        })?
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !out.status.success() {
        bail!("{} {} failed ({})", script.display(), args[0], out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn read_seeds(path: &Path) -> anyhow::Result<Vec<Token>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seeds file {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (user, seed) = line
                .split_once(',')
                .ok_or_else(|| anyhow!("seeds file line {line:?} is not user,seed_hex"))?;
            let bytes = hex(seed).ok_or_else(|| anyhow!("seed of {user} is not hex"))?;
            let secret = Secret::from_bytes(&bytes).map_err(|e| anyhow!("seed of {user}: {e}"))?;
            Ok(Token {
                user: user.trim().to_owned(),
                hotp: Hotp::new(secret, Algorithm::Sha1, Digits::default()),
                counter: 0,
                wrong: String::new(),
            })
        })
        .collect()
}

impl Peer {
    pub async fn start(script_path: &Path, users: usize) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir for privacyIDEA")?;
        let dir_arg = dir.path().display().to_string();
        let out = script(
            script_path,
            &["start", &dir_arg, &users.to_string()],
            START_LIMIT,
        )
        .await?;
        let line = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .ok_or_else(|| anyhow!("the start printed nothing (expected URL SEEDSFILE)"))?;
        let (url, seeds) = line
            .split_once(' ')
            .ok_or_else(|| anyhow!("the start printed {line:?}, not URL SEEDSFILE"))?;
        let peer = Self {
            script: script_path.to_owned(),
            target: Target::parse(url.trim())?,
            tokens: read_seeds(Path::new(seeds.trim()))?,
            dir,
        };
        if peer.tokens.is_empty() {
            bail!("the seeds file has no users");
        }
        Ok(peer)
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let dir_arg = self.dir.path().display().to_string();
        script(&self.script, &["stop", &dir_arg], STOP_LIMIT).await?;
        Ok(())
    }

    pub fn users(&self) -> usize {
        self.tokens.len()
    }

    pub async fn verify(&mut self, connections: usize, seconds: Duration) -> Row {
        let jobs = deal(self.tokens.clone(), connections)
            .into_iter()
            .map(|tokens| Check::new(tokens, true))
            .collect();
        match load::run(&self.target, jobs, seconds).await {
            Ok((out, jobs)) => {
                self.tokens = jobs.into_iter().flat_map(|j| j.tokens).collect();
                Row::from_outcome("verify hotp", PEER, "req/s", out)
            }
            Err(e) => Row::failed("verify hotp", PEER, format!("{e:#}")),
        }
    }

    pub async fn reject(&mut self, connections: usize, seconds: Duration) -> Row {
        let mut tokens = self.tokens.clone();
        for t in &mut tokens {
            let valid: Vec<String> = (t.counter.saturating_sub(5)..=t.counter + 20)
                .map(|c| t.hotp.code(c))
                .collect();
            t.wrong = wrong_code(&valid, 6);
        }
        let jobs = deal(tokens, connections)
            .into_iter()
            .map(|tokens| Check::new(tokens, false))
            .collect();
        match load::run(&self.target, jobs, seconds).await {
            Ok((out, jobs)) => {
                let locked: u64 = jobs.iter().map(|j| j.locked).sum();
                let mut row = Row::from_outcome("reject hotp", PEER, "req/s", out);
                if locked > 0 {
                    row.notes.push(format!(
                        "{locked} answers were refusals of a token past its fail counter"
                    ));
                }
                row
            }
            Err(e) => Row::failed("reject hotp", PEER, format!("{e:#}")),
        }
    }
}

/// `POST /validate/check` with the next code (`want` true) or a wrong one.
struct Check {
    tokens: Vec<Token>,
    want: bool,
    next: usize,
    locked: u64,
}

impl Check {
    fn new(tokens: Vec<Token>, want: bool) -> Self {
        Self {
            tokens,
            want,
            next: 0,
            locked: 0,
        }
    }
}

/// `application/x-www-form-urlencoded` for a value.
fn form_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Job for Check {
    fn next(&mut self, target: &Target) -> Option<Req> {
        let i = self.next;
        self.next = (i + 1) % self.tokens.len();
        let token = &mut self.tokens[i];
        let pass = if self.want {
            let code = token.hotp.code(token.counter);
            token.counter += 1;
            code
        } else {
            token.wrong.clone()
        };
        let body = format!("user={}&pass={pass}", form_value(&token.user));
        Some(http::post_form(target, "/validate/check", body))
    }

    fn check(&mut self, status: StatusCode, body: &[u8]) -> Result<(), String> {
        let answer: Value = http::json(status, body)?;
        if answer["result"]["status"] != Value::Bool(true) {
            return Err(format!("privacyIDEA: {}", http::snippet(body)));
        }
        let accepted = answer["result"]["value"] == Value::Bool(true);
        let message = answer["detail"]["message"].as_str().unwrap_or_default();
        if !accepted && message.to_lowercase().contains("failcounter") {
            self.locked += 1;
        }
        match (accepted, self.want) {
            (true, true) | (false, false) => Ok(()),
            (false, true) => Err(format!("a valid code was refused: {message}")),
            (true, false) => Err("a wrong code was accepted".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_read_as_hex() {
        assert_eq!(hex("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex("0"), None);
        assert_eq!(hex("zz"), None);
        assert_eq!(form_value("a b&c"), "a%20b%26c");
    }
}
