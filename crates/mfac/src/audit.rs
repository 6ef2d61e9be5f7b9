use anyhow::anyhow;
use clap::Args;
use mfa_core::Timestamp;
use mfa_store::{AuditEntry, AuditFilter};
use serde::Serialize;

use crate::context::Context;
use crate::output::print_list;
use crate::shared::parse_alias;

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only this user's entries.
    #[arg(long)]
    pub user: Option<String>,
    /// From this time on: RFC 3339 (2026-11-26T09:00:00Z) or a duration ago (30m, 1h, 2d).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub since: Option<String>,
    /// At most the newest N entries.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: Option<u32>,
}

/// One entry as `mfac audit --json` prints it: every field always present, `null` when unset.
#[derive(Serialize)]
struct AuditView {
    time: Option<String>,
    user: String,
    host: Option<String>,
    service: Option<String>,
    client_ip: Option<String>,
    method: Option<String>,
    result: String,
    reason: Option<String>,
    server: Option<String>,
    client: Option<String>,
    txid: Option<String>,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        Self {
            time: e.at.map(|t| t.to_string()),
            user: e.user.clone(),
            host: e.host.clone(),
            service: e.service.clone(),
            client_ip: e.client_ip.clone(),
            method: e.method.clone(),
            result: e.result.clone(),
            reason: e.reason.clone(),
            server: e.server.clone(),
            client: e.client.clone(),
            txid: e.txid.clone(),
        }
    }
}

pub async fn run(ctx: &Context, args: AuditArgs) -> anyhow::Result<()> {
    let filter = AuditFilter {
        user: args
            .user
            .as_deref()
            .map(parse_alias)
            .transpose()?
            .map(|u| u.to_string()),
        since: args
            .since
            .as_deref()
            .map(|s| parse_since(s, ctx.now()))
            .transpose()?,
        limit: args.limit.map(i64::from),
    };
    let entries = ctx.store.audit_entries(&filter).await?;
    let views: Vec<AuditView> = entries.iter().map(Into::into).collect();
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".to_owned());
    print_list(
        ctx.json,
        &views,
        &[
            "TIME", "USER", "HOST", "SERVICE", "FROM", "METHOD", "RESULT", "CLIENT", "SERVER",
            "REASON",
        ],
        |v| {
            vec![
                dash(&v.time),
                v.user.clone(),
                dash(&v.host),
                dash(&v.service),
                dash(&v.client_ip),
                dash(&v.method),
                v.result.clone(),
                dash(&v.client),
                dash(&v.server),
                dash(&v.reason),
            ]
        },
    )
}

/// `--since`: an RFC 3339 time, or a duration ago (`90s`, `30m`, `1h`, `2d`, `1w`).
pub fn parse_since(s: &str, now: Timestamp) -> anyhow::Result<Timestamp> {
    let s = s.trim();
    let bad = || {
        anyhow!(
            "invalid --since {s:?}: use an RFC 3339 time such as 2026-11-26T09:00:00Z, or a \
             duration ago such as 30m, 1h or 2d"
        )
    };
    if let Some(secs) = crate::shared::parse_duration_secs(s) {
        return Ok(now.plus_secs(-secs));
    }
    Timestamp::parse_rfc3339(s).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn since_takes_times_and_durations_ago() {
        let now = Timestamp::parse_rfc3339("2026-11-26T12:00:00Z").unwrap();
        let at = |s: &str| parse_since(s, now).unwrap().to_string();
        assert_eq!(at("2026-11-26T09:00:00Z"), "2026-11-26T09:00:00Z");
        assert_eq!(at("2026-11-26T10:00:00+01:00"), "2026-11-26T09:00:00Z");
        assert_eq!(at("90s"), "2026-11-26T11:58:30Z");
        assert_eq!(at("30m"), "2026-11-26T11:30:00Z");
        assert_eq!(at("1h"), "2026-11-26T11:00:00Z");
        assert_eq!(at("2d"), "2026-11-24T12:00:00Z");
        assert_eq!(at("1w"), "2026-11-19T12:00:00Z");
        assert_eq!(at("0m"), "2026-11-26T12:00:00Z");
        for bad in [
            "",
            "h",
            "1",
            "-1h",
            "1x",
            "1.5h",
            "1h30m",
            "yesterday",
            "2026-11-26",
            "1 h",
            "99999999999999999999d",
        ] {
            let err = parse_since(bad, now).unwrap_err().to_string();
            assert!(err.starts_with("invalid --since"), "{bad:?}: {err}");
        }
    }
}
