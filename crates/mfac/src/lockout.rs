use std::net::IpAddr;

use anyhow::bail;
use mfa_store::{LockKind, Lockout};
use serde::Serialize;

use crate::cli::LockoutCommand;
use crate::client::parse_alias;
use crate::context::Context;
use crate::output::{print_json, print_list};

/// What `lockout list` shows for a lock that lasts until an admin clears it.
const UNTIL_CLEARED: &str = "until cleared";

#[derive(Serialize)]
struct LockoutView {
    kind: &'static str,
    subject: String,
    failures: i64,
    /// RFC 3339; `null`: until an admin clears it.
    until: Option<String>,
    reason: String,
}

impl From<&Lockout> for LockoutView {
    fn from(l: &Lockout) -> Self {
        Self {
            kind: l.kind.as_str(),
            subject: l.subject.clone(),
            failures: l.failures,
            until: l.until.map(|t| t.to_string()),
            reason: l.reason.clone(),
        }
    }
}

pub async fn run(ctx: &Context, cmd: LockoutCommand) -> anyhow::Result<()> {
    match cmd {
        LockoutCommand::List => {
            let locks = ctx.store.lockouts(ctx.now()).await?;
            let views: Vec<LockoutView> = locks.iter().map(Into::into).collect();
            print_list(
                ctx.json,
                &views,
                &["KIND", "SUBJECT", "FAILURES", "UNTIL", "REASON"],
                |v| {
                    vec![
                        v.kind.to_owned(),
                        v.subject.clone(),
                        v.failures.to_string(),
                        v.until.clone().unwrap_or_else(|| UNTIL_CLEARED.to_owned()),
                        v.reason.clone(),
                    ]
                },
            )
        }
        LockoutCommand::Clear { kind, subject } => {
            let Some(kind) = LockKind::parse(&kind) else {
                bail!("unknown lockout kind {kind:?}: expected user or ip");
            };
            let subject = clear(ctx, kind, &subject).await?;
            if ctx.json {
                return print_json(&serde_json::json!({
                    "kind": kind.as_str(),
                    "subject": subject,
                    "result": "cleared",
                }));
            }
            println!("Cleared {kind} {subject}: its lock and failures are gone.");
            Ok(())
        }
    }
}

/// Clears `subject`'s lock; returns the subject as stored. An error when there was nothing.
async fn clear(ctx: &Context, kind: LockKind, subject: &str) -> anyhow::Result<String> {
    let candidates = match kind {
        LockKind::User => vec![parse_alias(subject)?.to_string()],
        LockKind::Ip => {
            let given = subject.trim();
            if given.is_empty() || given.chars().any(char::is_whitespace) {
                bail!("invalid address {subject:?}: give an IP address such as 192.0.2.7");
            }
            // mfad stores what it saw: the canonical form of an address, or the name sshd
            // passed (UseDNS); try the text as given, then its canonical form.
            let mut c = vec![given.to_owned(), given.to_ascii_lowercase()];
            if let Ok(ip) = given.parse::<IpAddr>() {
                c.push(ip.to_string());
            }
            c.dedup();
            c
        }
    };
    for candidate in &candidates {
        if ctx.store.clear_lockout(kind, candidate).await? {
            return Ok(candidate.clone());
        }
    }
    bail!("nothing to clear: {kind} {subject} is not locked out and has no failures recorded")
}
