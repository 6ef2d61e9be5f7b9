//! `mfac session`: elevated sessions (MFA remembered for a user, address and scope).

use anyhow::bail;
use clap::Subcommand;
use mfa_store::Session;
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_done, print_json, print_list};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List the elevated sessions in force.
    List {
        /// Only this user's.
        #[arg(long)]
        user: Option<String>,
    },
    /// End a session (or all of a user's) at once: the next login asks again.
    Revoke {
        /// The session's id (from `mfac session list`).
        #[arg(required_unless_present = "user", conflicts_with = "user")]
        id: Option<String>,
        /// Every session of this user.
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Serialize)]
struct SessionView {
    id: String,
    user: String,
    /// `null`: a login without an address (local).
    client_ip: Option<String>,
    scope: String,
    factors: String,
    server: Option<String>,
    created_at: String,
    expires_at: String,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        Self {
            id: s.id.clone(),
            user: s.user.clone(),
            client_ip: s.client_ip.clone(),
            scope: s.scope.clone(),
            factors: s.factors.to_string(),
            server: s.server.clone(),
            created_at: s.created_at.to_string(),
            expires_at: s.expires_at.to_string(),
        }
    }
}

pub async fn run(ctx: &Context, cmd: SessionCommand) -> anyhow::Result<()> {
    match cmd {
        SessionCommand::List { user } => {
            let user = user.as_deref().map(parse_alias).transpose()?;
            let sessions = ctx
                .store
                .sessions(user.as_ref().map(|u| u.as_str()), ctx.now())
                .await?;
            let views: Vec<SessionView> = sessions.iter().map(SessionView::from).collect();
            print_list(
                ctx.json,
                &views,
                &["ID", "USER", "FROM", "SCOPE", "FACTORS", "UNTIL"],
                |v| {
                    vec![
                        v.id.clone(),
                        v.user.clone(),
                        v.client_ip.clone().unwrap_or_else(|| "local".into()),
                        v.scope.clone(),
                        v.factors.clone(),
                        v.expires_at.clone(),
                    ]
                },
            )
        }
        SessionCommand::Revoke { id, user } => match (id, user) {
            (Some(id), _) => {
                if !ctx.store.revoke_session(id.trim()).await? {
                    bail!("no session {id}: see mfac session list");
                }
                print_done(
                    ctx.json,
                    "id",
                    &id,
                    "revoked",
                    format_args!("Session {id} revoked: the next login asks for MFA again."),
                )
            }
            (None, Some(user)) => {
                let user = parse_alias(&user)?;
                let n = ctx
                    .store
                    .revoke_user_sessions(user.as_str(), ctx.now())
                    .await?;
                if ctx.json {
                    return print_json(&serde_json::json!({"user": user.as_str(), "revoked": n}));
                }
                println!(
                    "Revoked {n} session{} of {user}.",
                    if n == 1 { "" } else { "s" }
                );
                Ok(())
            }
            (None, None) => bail!("give a session id or --user"),
        },
    }
}
