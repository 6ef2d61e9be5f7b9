use anyhow::bail;
use clap::Subcommand;
use ipnet::IpNet;
use mfa_store::{AuditFilter, LockKind, Lockout};
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_json, print_list};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum LockoutCommand {
    /// List the locks in force.
    List,
    /// Lift a lock and forget its failures: `user NAME`, `ip ADDRESS` (a login source) or
    /// `caller ADDRESS` (an HTTP caller that sent bad tokens).
    Clear {
        /// user, ip or caller.
        kind: String,
        /// The user name or address.
        subject: String,
    },
}

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
                bail!("unknown lockout kind {kind:?}: expected user, ip or caller");
            };
            let subject = clear(ctx, kind, &subject).await?;
            let still = match kind {
                LockKind::User => address_locks_of(ctx, &subject).await?,
                LockKind::Ip | LockKind::Caller => vec![],
            };
            if ctx.json {
                let still: Vec<_> = still
                    .iter()
                    .map(|l| {
                        serde_json::json!({
                            "kind": l.kind.as_str(),
                            "subject": l.subject,
                            "until": l.until.map(|t| t.to_string()),
                            "command": lift_command(l),
                        })
                    })
                    .collect();
                return print_json(&serde_json::json!({
                    "kind": kind.as_str(),
                    "subject": subject,
                    "result": "cleared",
                    "still_locked": still,
                }));
            }
            println!("Cleared {kind} {subject}: its lock and failures are gone.");
            for l in &still {
                println!(
                    "Logins of {subject} from {} are still refused: {}. Lift it with: {}",
                    l.subject,
                    l.message(),
                    lift_command(l)
                );
            }
            Ok(())
        }
    }
}

fn lift_command(l: &Lockout) -> String {
    format!("mfac lockout clear {} {}", l.kind, l.subject)
}

/// How far back to look for the addresses a user logged in from: locks last up to
/// `max_block_duration`, and a day covers any lock still in force for a user who just called
/// for help.
const RECENT_SECS: i64 = 86_400;

/// The address locks in force on the sources `user` recently logged in from: clearing the
/// user does not lift them, and the admin should hear so.
async fn address_locks_of(ctx: &Context, user: &str) -> anyhow::Result<Vec<Lockout>> {
    let now = ctx.now();
    let recent = i64::from(ctx.config.max_block_duration).max(RECENT_SECS);
    let entries = ctx
        .store
        .audit_entries(&AuditFilter {
            user: Some(user.to_owned()),
            since: Some(now.plus_secs(-recent)),
            limit: None,
        })
        .await?;
    let mut subjects: Vec<String> = entries
        .iter()
        .filter_map(|e| e.client_ip.as_deref())
        .filter_map(mfa_core::parse_client_ip)
        .map(mfa_core::lockout_subject)
        .collect();
    subjects.sort();
    subjects.dedup();
    let mut locks = Vec::new();
    for subject in subjects {
        if let Some(l) = ctx.store.lockout(LockKind::Ip, &subject, now).await? {
            locks.push(l);
        }
    }
    Ok(locks)
}

/// Clears `subject`'s lock; returns the subject as stored. An error when there was nothing.
async fn clear(ctx: &Context, kind: LockKind, subject: &str) -> anyhow::Result<String> {
    let candidates = match kind {
        LockKind::User => vec![parse_alias(subject)?.to_string()],
        LockKind::Ip | LockKind::Caller => address_candidates(subject)?,
    };
    for candidate in &candidates {
        if ctx.store.clear_lockout(kind, candidate).await? {
            return Ok(candidate.clone());
        }
    }
    let hint = match kind {
        LockKind::Ip => {
            " (bad tokens from an address lock it as a caller: mfac lockout clear caller ADDRESS)"
        }
        LockKind::Caller => {
            " (failed logins from an address lock it as ip: mfac lockout clear ip ADDRESS)"
        }
        LockKind::User => "",
    };
    bail!("nothing to clear: {kind} {subject} is not locked out and has no failures recorded{hint}")
}

/// The ways mfad may have stored an address: as it counts it (IPv6 per /64), as written (a
/// `2001:db8::/64` copied from `lockout list`), or as older versions stored it.
fn address_candidates(given: &str) -> anyhow::Result<Vec<String>> {
    let given = given.trim();
    if given.is_empty() || given.chars().any(char::is_whitespace) {
        bail!("invalid address {given:?}: give an IP address such as 192.0.2.7");
    }
    let mut c = Vec::new();
    if let Some(ip) = mfa_core::parse_client_ip(given) {
        c.push(mfa_core::lockout_subject(ip));
        c.push(ip.to_string());
    }
    if let Ok(net) = given.parse::<IpNet>() {
        c.push(net.trunc().to_string());
    }
    c.push(given.to_owned());
    c.push(given.to_ascii_lowercase());
    c.dedup();
    Ok(c)
}
