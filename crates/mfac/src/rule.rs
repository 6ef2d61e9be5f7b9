//! `mfac rule` (who needs which factors where) and `mfac policy check` (what mfad would decide
//! for a login or a step-up, and why: the same inputs and the same pure decision as mfad).

use std::net::IpAddr;

use anyhow::bail;
use clap::{Args, Subcommand};
use mfa_core::policy::{
    Decision, Env, Outcome, Policy, Request, Requirement, Source, Subject, Target, decide,
};
use mfa_core::{Pattern, in_networks};
use mfa_store::{LockKind, NewRule, PolicyRule, RuleHost, describe_match};
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_done, print_json, print_list};
use crate::shared::parse_alias;

#[derive(Debug, Subcommand)]
pub enum RuleCommand {
    /// Add a rule: who (--user or --group; else everyone), where (--host or --host-group; else
    /// any host), what (--service or --action; else any), and what it requires.
    Add(RuleAdd),
    /// List rules.
    List,
    /// Change what a rule requires.
    Modify {
        id: i64,
        #[arg(long, value_name = "REQUIREMENT", required = true)]
        require: String,
    },
    /// Remove a rule.
    Remove { id: i64 },
}

#[derive(Debug, Args)]
pub struct RuleAdd {
    /// The login user it is about.
    #[arg(long, conflicts_with = "group")]
    pub user: Option<String>,
    /// The group (mfac group add) it is about.
    #[arg(long)]
    pub group: Option<String>,
    /// A host: exact name or `*.domain`.
    #[arg(long, conflicts_with = "host_group")]
    pub host: Option<String>,
    /// A host group (mfac host-group add).
    #[arg(long)]
    pub host_group: Option<String>,
    /// A PAM service (sshd, sudo, ...): the rule is about logins to it.
    #[arg(long, conflicts_with = "action")]
    pub service: Option<String>,
    /// An action: the rule is about step-ups (POST /v1/stepup) for it.
    #[arg(long)]
    pub action: Option<String>,
    /// none, any, or the factors that must all be given: push, totp, password, passkey (e.g.
    /// password,totp).
    #[arg(long, value_name = "REQUIREMENT")]
    pub require: String,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// What mfad would answer for a login (--service) or a step-up (--action), and why.
    Check(PolicyCheck),
}

#[derive(Debug, Args)]
pub struct PolicyCheck {
    #[arg(long)]
    pub user: String,
    /// The host logged into (required for a login).
    #[arg(long)]
    pub host: Option<String>,
    #[arg(long, conflicts_with = "action", required_unless_present = "action")]
    pub service: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    /// The address the login comes from (trusted networks, lockouts, elevated sessions).
    #[arg(long)]
    pub client_ip: Option<String>,
}

#[derive(Serialize)]
struct RuleView {
    id: i64,
    /// `null`: everyone (or anywhere, or anything).
    user: Option<String>,
    group: Option<String>,
    host: Option<String>,
    host_group: Option<String>,
    service: Option<String>,
    action: Option<String>,
    require: String,
    created_at: String,
}

impl From<&PolicyRule> for RuleView {
    fn from(r: &PolicyRule) -> Self {
        let (user, group) = match &r.subject {
            Subject::Everyone => (None, None),
            Subject::User(u) => (Some(u.to_string()), None),
            Subject::Group(g) => (None, Some(g.to_string())),
        };
        let (host, host_group) = match &r.host {
            RuleHost::Any => (None, None),
            RuleHost::Pattern(p) => (Some(p.to_string()), None),
            RuleHost::Group(g) => (None, Some(g.to_string())),
        };
        let (service, action) = match &r.target {
            Target::Any => (None, None),
            Target::Service(p) => (Some(p.to_string()), None),
            Target::Action(p) => (None, Some(p.to_string())),
        };
        Self {
            id: r.id,
            user,
            group,
            host,
            host_group,
            service,
            action,
            require: r.require.to_string(),
            created_at: r.created_at.to_string(),
        }
    }
}

fn requirement(s: &str) -> anyhow::Result<Requirement> {
    Ok(s.parse::<Requirement>()?)
}

/// A pattern for a rule; `*` means "any" (the same as leaving the option out).
fn pattern(s: &str) -> anyhow::Result<Pattern> {
    Ok(Pattern::new(s)?)
}

fn new_rule(add: RuleAdd) -> anyhow::Result<NewRule> {
    let subject = match (&add.user, &add.group) {
        (Some(u), _) => Subject::User(parse_alias(u)?),
        (None, Some(g)) => Subject::Group(parse_alias(g)?),
        (None, None) => Subject::Everyone,
    };
    let host = match (&add.host, &add.host_group) {
        (Some(h), _) => match pattern(h)? {
            Pattern::Any => RuleHost::Any,
            p => RuleHost::Pattern(p),
        },
        (None, Some(g)) => RuleHost::Group(parse_alias(g)?),
        (None, None) => RuleHost::Any,
    };
    let target = match (&add.service, &add.action) {
        (Some(s), _) => match pattern(s)? {
            Pattern::Any => Target::Any,
            p => Target::Service(p),
        },
        (None, Some(a)) => match pattern(a)? {
            Pattern::Any => Target::Any,
            p => Target::Action(p),
        },
        (None, None) => Target::Any,
    };
    Ok(NewRule {
        subject,
        host,
        target,
        require: requirement(&add.require)?,
    })
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "*".into())
}

pub async fn run_rules(ctx: &Context, cmd: RuleCommand) -> anyhow::Result<()> {
    match cmd {
        RuleCommand::Add(args) => add(ctx, args).await,
        RuleCommand::List => list(ctx).await,
        RuleCommand::Modify { id, require } => modify(ctx, id, &require).await,
        RuleCommand::Remove { id } => remove(ctx, id).await,
    }
}

/// Add a rule: who (--user or --group; else everyone), where (--host or --host-group; else
/// any host), what (--service or --action; else any), and what it requires.
async fn add(ctx: &Context, add: RuleAdd) -> anyhow::Result<()> {
    let rule = ctx.store.add_rule(&new_rule(add)?, ctx.now()).await?;
    if ctx.json {
        return print_json(&RuleView::from(&rule));
    }
    println!("Added {rule}.");
    Ok(())
}

/// List rules.
async fn list(ctx: &Context) -> anyhow::Result<()> {
    let rules = ctx.store.rules().await?;
    let views: Vec<RuleView> = rules.iter().map(RuleView::from).collect();
    print_list(
        ctx.json,
        &views,
        &["ID", "WHO", "HOST", "SERVICE", "ACTION", "REQUIRE"],
        |v| {
            let who = match (&v.user, &v.group) {
                (Some(u), _) => format!("user {u}"),
                (None, Some(g)) => format!("group {g}"),
                (None, None) => "*".into(),
            };
            let place = match (&v.host, &v.host_group) {
                (Some(h), _) => h.clone(),
                (None, Some(g)) => format!("@{g}"),
                (None, None) => "*".into(),
            };
            vec![
                v.id.to_string(),
                who,
                place,
                opt(&v.service),
                opt(&v.action),
                v.require.clone(),
            ]
        },
    )
}

/// Change what a rule requires.
async fn modify(ctx: &Context, id: i64, require: &str) -> anyhow::Result<()> {
    let require = requirement(require)?;
    ctx.store.set_rule_requirement(id, &require).await?;
    let rule = ctx.store.rule(id).await?;
    if ctx.json {
        return print_json(&RuleView::from(&rule));
    }
    println!("Changed {rule}.");
    Ok(())
}

/// Remove a rule.
async fn remove(ctx: &Context, id: i64) -> anyhow::Result<()> {
    let rule = ctx.store.rule(id).await?;
    ctx.store.remove_rule(id).await?;
    print_done(
        ctx.json,
        "id",
        id,
        "removed",
        format_args!(
            "Rule {id} ({}) removed.",
            describe_match(&rule.subject, &rule.host, &rule.target)
        ),
    )
}

#[derive(Serialize)]
struct CheckView {
    /// allow | deny | enroll | auth
    result: &'static str,
    reason: String,
    /// none | any | factors; `null` when the decision ended before the requirement.
    requirement: Option<String>,
    /// Where the requirement came from: `rule 3`, `rules 2, 5 (...)`, `mfa_policy = "..."`.
    source: Option<String>,
    rules: Vec<i64>,
    methods: Vec<String>,
    required: Vec<String>,
}

/// A name as mfad would accept it (exact, lower case).
fn name(field: &str, value: &str) -> anyhow::Result<String> {
    match Pattern::new(value) {
        Ok(Pattern::Exact(v)) => Ok(v),
        _ => bail!("--{field}: {value:?} is not a valid name"),
    }
}

async fn lock_reason(
    ctx: &Context,
    user: &str,
    ip: Option<&str>,
) -> anyhow::Result<Option<String>> {
    let now = ctx.now();
    let mut subjects = vec![(LockKind::User, user.to_owned())];
    // Counted as mfad counts it: one spelling per address, IPv6 per /64.
    subjects.extend(
        ip.and_then(mfa_core::parse_client_ip)
            .map(|ip| (LockKind::Ip, mfa_core::lockout_subject(ip))),
    );
    for (kind, subject) in subjects {
        if let Some(l) = ctx.store.lockout(kind, &subject, now).await? {
            return Ok(Some(l.message()));
        }
    }
    Ok(None)
}

pub async fn run_policy(ctx: &Context, cmd: PolicyCommand) -> anyhow::Result<()> {
    match cmd {
        PolicyCommand::Check(args) => check(ctx, args).await,
    }
}

/// What mfad would answer for a login (--service) or a step-up (--action), and why.
async fn check(ctx: &Context, check: PolicyCheck) -> anyhow::Result<()> {
    let user = parse_alias(&check.user)?;
    let host = check.host.as_deref().map(|h| name("host", h)).transpose()?;
    let ip = check
        .client_ip
        .as_deref()
        .map(|ip| match mfa_core::parse_client_ip(ip) {
            Some(addr) => Ok(addr.to_string()),
            None => Err(anyhow::anyhow!("--client-ip: {ip:?} is not an IP address")),
        })
        .transpose()?;
    let req = request(&check, user.as_str(), host.as_deref())?;
    let now = ctx.now();
    let mut inputs = ctx.store.policy_inputs(&req, ip.as_deref(), now).await?;
    inputs.user.locked = lock_reason(ctx, user.as_str(), ip.as_deref()).await?;
    let trusted = ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .is_some_and(|ip| in_networks(&ctx.config.trusted_ip_networks, ip));
    let policy = Policy {
        global: ctx.config.mfa_policy,
        rules: &inputs.rules,
    };
    let d: Decision = decide(
        &policy,
        &inputs.user,
        &req,
        Env {
            trusted_network: trusted,
            now,
        },
    );
    let view = CheckView::from(&d);
    if ctx.json {
        return print_json(&view);
    }
    print_check(&req, &view);
    Ok(())
}

/// The request `policy check` asks about: a login (--service, to --host) or a step-up
/// (--action); `host` and `user` already checked.
fn request(check: &PolicyCheck, user: &str, host: Option<&str>) -> anyhow::Result<Request> {
    Ok(match (&check.service, &check.action) {
        (Some(service), _) => {
            let Some(host) = host else {
                bail!("--host is required with --service (a login is to a host)");
            };
            Request::login(user, host, &name("service", service)?)
        }
        (None, Some(action)) => Request::step_up(user, &name("action", action)?, host),
        (None, None) => bail!("give --service (a login) or --action (a step-up)"),
    })
}

impl From<&Decision> for CheckView {
    fn from(d: &Decision) -> Self {
        let names = |m: &[mfa_core::Method]| m.iter().map(|m| m.to_string()).collect::<Vec<_>>();
        let (result, methods, required) = match &d.outcome {
            Outcome::Allow(_) => ("allow", vec![], vec![]),
            Outcome::Deny => ("deny", vec![], vec![]),
            Outcome::Enroll => ("enroll", vec![], vec![]),
            Outcome::Auth { methods, required } => ("auth", names(methods), names(required)),
        };
        Self {
            result,
            reason: d.reason.clone(),
            requirement: d.requirement.as_ref().map(ToString::to_string),
            source: d.source.as_ref().map(Source::describe),
            rules: match &d.source {
                Some(Source::Rules(ids)) => ids.clone(),
                _ => vec![],
            },
            methods,
            required,
        }
    }
}

/// `policy check`'s answer as text.
fn print_check(req: &Request, view: &CheckView) {
    println!("request:      {req}");
    println!("result:       {}", view.result);
    println!("reason:       {}", view.reason);
    if let (Some(r), Some(s)) = (&view.requirement, &view.source) {
        println!("requirement:  {r} (from {s})");
    }
    if !view.methods.is_empty() {
        let how = if view.required.is_empty() {
            "any one of"
        } else {
            "all of"
        };
        println!("asks for:     {how} {}", view.methods.join(", "));
    }
}
