use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use mfa_config::NotifyProvider;
use mfa_core::Alias;
use mfa_otp::{OtpAuthUri, OtpKind, Secret, TotpParams};
use mfa_secrets::{Token, random_id};
use mfa_store::{Client, NewClient, Notify};
use serde::Serialize;

use crate::context::Context;
use crate::output::{list_or_none, print_done, print_json, print_list, qr_for_terminal};
use crate::shared::{CLIENT_KEY_PREFIX, parse_alias};

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Enrol a client: prints its key (once), TOTP secret, otpauth:// URI and QR code. The
    /// secret is also handed once to the first `mfa enroll` with the key.
    Add {
        alias: String,
        #[command(flatten)]
        notify: NotifyArgs,
        /// The TOTP secret is for an authenticator app only: mark it delivered now, so no
        /// `mfa enroll` ever receives it (`mfa code` then does not work for this client).
        #[arg(long, conflicts_with = "link")]
        authenticator_only: bool,
        /// Print a single-use enrolment link instead of the key and secret: its page shows
        /// the QR code, asks for one current code before the client's TOTP comes into force,
        /// then shows the client's key and recovery codes once.
        #[arg(long)]
        link: bool,
        /// How long the link works (with --link): 30m, 24h, 7d (at most 30d).
        #[arg(long, value_name = "DURATION", default_value = crate::enrol_link::DEFAULT_EXPIRES, requires = "link")]
        expires: String,
    },
    /// Print a single-use enrolment link for an existing client (a new or lost phone): its
    /// page shows a new TOTP secret, and confirming a code from it replaces the client's
    /// secret, key and recovery codes.
    EnrolLink {
        alias: String,
        /// How long the link works: 30m, 24h, 7d (at most 30d).
        #[arg(long, value_name = "DURATION", default_value = crate::enrol_link::DEFAULT_EXPIRES)]
        expires: String,
    },
    /// Print a single-use link whose page registers a passkey for the client (host_addr
    /// must name a DNS host).
    PasskeyLink {
        alias: String,
        /// How long the link works: 30m, 24h, 7d (at most 30d).
        #[arg(long, value_name = "DURATION", default_value = crate::enrol_link::DEFAULT_EXPIRES)]
        expires: String,
    },
    /// List a client's passkeys: name, when registered, when last used.
    Passkeys { alias: String },
    /// Remove a client's passkey by name (a lost device). With none left, its approve page
    /// approves with the plain form again.
    PasskeyRemove { alias: String, name: String },
    /// Change how a client hears of a push.
    Modify {
        alias: String,
        #[command(flatten)]
        notify: NotifyArgs,
    },
    /// List clients.
    List,
    /// Show one client and the apps that route to it.
    Show { alias: String },
    /// Remove a client (refused while apps name it).
    Remove { alias: String },
    /// Give a client a new TOTP secret; the old one stops working. The new one is handed once
    /// to the next `mfa enroll`.
    ResetTotp {
        alias: String,
        /// The new secret is for an authenticator app only: no `mfa enroll` receives it.
        #[arg(long)]
        authenticator_only: bool,
    },
    /// Give a client a new key; the old one stops working.
    RotateKey { alias: String },
    /// Set a client's password (read from stdin, or asked for twice on a terminal; never an
    /// argument), or remove it.
    Password {
        alias: String,
        /// Remove the password instead.
        #[arg(long)]
        remove: bool,
    },
    /// Print 10 new single-use recovery codes (once); the client's old codes stop working.
    RecoveryCodes { alias: String },
}

/// How a client hears of a push besides its WebSocket.
#[derive(Debug, Default, Args)]
pub struct NotifyArgs {
    /// default (the config's notify.default), none, webhook or ntfy.
    #[arg(long, value_name = "PROVIDER")]
    pub notify: Option<String>,
    /// The ntfy topic (with --notify ntfy); without it an unguessable one is made.
    #[arg(long, value_name = "TOPIC")]
    pub ntfy_topic: Option<String>,
}

#[derive(Serialize)]
struct ClientView {
    alias: String,
    algorithm: String,
    digits: u8,
    period: u32,
    /// default | none | webhook | ntfy
    notify: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ntfy_topic: Option<String>,
    created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    apps: Option<Vec<i64>>,
    /// `show` only: "none", or when it was set and where it stands.
    #[serde(skip_serializing_if = "Option::is_none")]
    password: Option<String>,
    /// `show` only: unused recovery codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_codes_left: Option<i64>,
    /// When the TOTP seed was handed to `mfa enroll` (or marked for an authenticator app
    /// only); null: the first `mfa enroll` with the key gets it.
    totp_delivered_at: Option<String>,
    /// False: made with an enrolment link whose code was not confirmed yet, so no TOTP code
    /// is accepted.
    totp_active: bool,
    /// `show` only: when each of its enrolment links that can still be used expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    open_enrol_links: Option<Vec<String>>,
    /// `show` only: the names of its passkeys.
    #[serde(skip_serializing_if = "Option::is_none")]
    passkeys: Option<Vec<String>>,
}

impl ClientView {
    fn new(c: &Client, apps: Option<Vec<i64>>) -> Self {
        Self {
            alias: c.alias.to_string(),
            algorithm: c.totp.algorithm.to_string(),
            digits: c.totp.digits.get(),
            period: c.totp.period,
            notify: notify_name(&c.notify),
            ntfy_topic: ntfy_topic(&c.notify),
            created_at: c.created_at.to_string(),
            apps,
            password: None,
            recovery_codes_left: None,
            totp_delivered_at: c.totp_delivered_at.map(|t| t.to_string()),
            totp_active: c.totp_active,
            open_enrol_links: None,
            passkeys: None,
        }
    }
}

/// What enrolment hands out, once.
#[derive(Serialize)]
struct Enrolment {
    alias: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_key: Option<String>,
    totp_secret: String,
    otpauth_uri: String,
    algorithm: String,
    digits: u8,
    period: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ntfy_topic: Option<String>,
    /// True: the secret is marked delivered, no `mfa enroll` receives it.
    authenticator_only: bool,
}

pub async fn run(ctx: &Context, cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Add {
            alias,
            notify,
            authenticator_only,
            link,
            expires,
        } => {
            let alias = parse_alias(&alias)?;
            let notify = parse_notify(&alias, &notify)?.unwrap_or_default();
            if link {
                let expires = crate::enrol_link::parse_expires(&expires)?;
                return crate::enrol_link::add_with_link(ctx, &alias, notify, expires).await;
            }
            add(ctx, &alias, notify, authenticator_only).await
        }
        ClientCommand::PasskeyLink { alias, expires } => {
            let expires = crate::enrol_link::parse_expires(&expires)?;
            crate::enrol_link::add_passkey_link(ctx, &parse_alias(&alias)?, expires).await
        }
        ClientCommand::Passkeys { alias } => {
            crate::enrol_link::list_passkeys(ctx, &parse_alias(&alias)?).await
        }
        ClientCommand::PasskeyRemove { alias, name } => {
            crate::enrol_link::remove_passkey(ctx, &parse_alias(&alias)?, &name).await
        }
        ClientCommand::EnrolLink { alias, expires } => {
            let expires = crate::enrol_link::parse_expires(&expires)?;
            crate::enrol_link::add_link(ctx, &parse_alias(&alias)?, expires).await
        }
        ClientCommand::Modify { alias, notify } => {
            let alias = parse_alias(&alias)?;
            let Some(notify) = parse_notify(&alias, &notify)? else {
                bail!("nothing to change: give --notify default|none|webhook|ntfy");
            };
            modify(ctx, &alias, &notify).await
        }
        ClientCommand::List => list(ctx).await,
        ClientCommand::Show { alias } => show(ctx, &parse_alias(&alias)?).await,
        ClientCommand::Remove { alias } => {
            let alias = parse_alias(&alias)?;
            ctx.store.remove_client(&alias).await?;
            print_done(
                ctx.json,
                "alias",
                alias.as_str(),
                "removed",
                format_args!("Client {alias} removed."),
            )
        }
        ClientCommand::ResetTotp {
            alias,
            authenticator_only,
        } => reset_totp(ctx, &parse_alias(&alias)?, authenticator_only).await,
        ClientCommand::RotateKey { alias } => rotate_key(ctx, &parse_alias(&alias)?).await,
        ClientCommand::Password { alias, remove } => {
            crate::credentials::password(ctx, &parse_alias(&alias)?, remove).await
        }
        ClientCommand::RecoveryCodes { alias } => {
            crate::credentials::recovery_codes(ctx, &parse_alias(&alias)?).await
        }
    }
}

/// ntfy topics are 1-64 of these characters (ntfy refuses others).
fn valid_topic(topic: &str) -> bool {
    (1..=64).contains(&topic.len())
        && topic
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

/// An unguessable topic (80 random bits): whoever knows a topic can read its pushes and press
/// their buttons, so it must not be derivable from the alias alone.
fn new_topic(alias: &Alias) -> anyhow::Result<String> {
    let random = random_id(10).context("cannot make an ntfy topic")?;
    // "mfa-" + alias + "-" + 16 random characters, within ntfy's 64.
    let name: String = alias
        .as_str()
        .chars()
        .map(|c| if c == '.' { '-' } else { c })
        .take(64 - 4 - 1 - random.len())
        .collect();
    Ok(format!("mfa-{name}-{random}"))
}

/// What --notify/--ntfy-topic ask for; `None` when neither is given.
fn parse_notify(alias: &Alias, args: &NotifyArgs) -> anyhow::Result<Option<Notify>> {
    let topic = args.ntfy_topic.as_deref();
    let Some(provider) = args.notify.as_deref() else {
        if topic.is_some() {
            bail!("--ntfy-topic goes with --notify ntfy");
        }
        return Ok(None);
    };
    let notify = match provider {
        "ntfy" => Notify::Ntfy {
            topic: match topic {
                Some(t) if valid_topic(t) => t.to_owned(),
                Some(t) => bail!(
                    "invalid ntfy topic {t:?}: use 1-64 letters, digits, '-' or '_' (or leave \
                     --ntfy-topic out for an unguessable one)"
                ),
                None => new_topic(alias)?,
            },
        },
        _ if topic.is_some() => {
            bail!("--ntfy-topic goes with --notify ntfy, not --notify {provider}")
        }
        "default" => Notify::Default,
        "none" => Notify::None,
        "webhook" => Notify::Webhook,
        other => {
            bail!("unknown notify provider {other:?}: expected one of default, none, webhook, ntfy")
        }
    };
    Ok(Some(notify))
}

fn notify_name(n: &Notify) -> &'static str {
    match n {
        Notify::Default => "default",
        Notify::None => "none",
        Notify::Webhook => "webhook",
        Notify::Ntfy { .. } => "ntfy",
    }
}

fn ntfy_topic(n: &Notify) -> Option<String> {
    match n {
        Notify::Ntfy { topic } => Some(topic.clone()),
        _ => None,
    }
}

/// How a person reads a client's provider: the default spelled out, the topic with its URL.
fn describe_notify(ctx: &Context, n: &Notify) -> String {
    match n {
        Notify::Default => {
            let provider = match ctx.config.notify.default {
                NotifyProvider::None => "none",
                NotifyProvider::Webhook => "webhook",
                NotifyProvider::Ntfy => "ntfy",
            };
            format!("default ({provider}, from notify.default)")
        }
        Notify::None => "none".to_owned(),
        Notify::Webhook => "webhook".to_owned(),
        Notify::Ntfy { topic } => format!("ntfy, topic {topic} ({})", ntfy_url(ctx, topic)),
    }
}

fn ntfy_url(ctx: &Context, topic: &str) -> String {
    format!(
        "{}/{topic}",
        ctx.config.notify.ntfy.server.trim_end_matches('/')
    )
}

/// Tells the person to subscribe, when there is a topic to subscribe to.
fn print_subscribe_hint(ctx: &Context, n: &Notify) {
    if let Notify::Ntfy { topic } = n {
        println!(
            "Subscribe to {} in the ntfy app on the client's phone; keep the topic private \
             (whoever knows it sees the pushes).",
            ntfy_url(ctx, topic)
        );
    }
}

async fn modify(ctx: &Context, alias: &Alias, notify: &Notify) -> anyhow::Result<()> {
    ctx.store.set_client_notify(alias, notify).await?;
    if ctx.json {
        return print_json(&serde_json::json!({
            "alias": alias.as_str(),
            "notify": notify_name(notify),
            "ntfy_topic": ntfy_topic(notify),
        }));
    }
    println!(
        "Client {alias} now hears of pushes by: {}.",
        describe_notify(ctx, notify)
    );
    print_subscribe_hint(ctx, notify);
    Ok(())
}

fn new_totp(ctx: &Context) -> anyhow::Result<(Secret, TotpParams)> {
    let params = ctx.config.totp.params();
    let secret = Secret::generate_for(params.algorithm).context("cannot make a TOTP secret")?;
    Ok((secret, params))
}

async fn add(
    ctx: &Context,
    alias: &Alias,
    notify: Notify,
    authenticator_only: bool,
) -> anyhow::Result<()> {
    let key = Token::generate(CLIENT_KEY_PREFIX)?;
    let (secret, totp) = new_totp(ctx)?;
    ctx.store
        .add_client(NewClient {
            alias,
            key_hash: &key.hash(),
            totp_secret: &secret,
            totp,
            notify: notify.clone(),
            now: ctx.now(),
        })
        .await?;
    if authenticator_only {
        // Nobody holds the key yet, so marking it after the insert leaves no window.
        ctx.store.deliver_client_totp(alias, ctx.now()).await?;
    }
    let seed = NewSeed {
        secret: &secret,
        totp,
        authenticator_only,
    };
    print_enrolment(ctx, alias, Some((&key, &notify)), &seed)
}

async fn reset_totp(ctx: &Context, alias: &Alias, authenticator_only: bool) -> anyhow::Result<()> {
    let (secret, totp) = new_totp(ctx)?;
    let delivered = authenticator_only.then(|| ctx.now());
    ctx.store
        .replace_client_totp(alias, &secret, totp, delivered)
        .await?;
    let seed = NewSeed {
        secret: &secret,
        totp,
        authenticator_only,
    };
    print_enrolment(ctx, alias, None, &seed)
}

/// A TOTP secret just made, and whether `mfa enroll` may still fetch it.
struct NewSeed<'a> {
    secret: &'a Secret,
    totp: TotpParams,
    authenticator_only: bool,
}

async fn rotate_key(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let key = Token::generate(CLIENT_KEY_PREFIX)?;
    ctx.store.set_client_key(alias, &key.hash()).await?;
    if ctx.json {
        return print_json(
            &serde_json::json!({ "alias": alias.as_str(), "client_key": key.expose() }),
        );
    }
    println!("New key for client {alias} (shown once; the old key no longer works):");
    println!();
    println!("  client key:  {}", key.expose());
    println!();
    println!("{}", enroll_hint(ctx, &key));
    Ok(())
}

fn enroll_hint(ctx: &Context, key: &Token) -> String {
    format!(
        "On the client's device: mfa enroll --server http://{} --key {}",
        ctx.config.listen,
        key.expose()
    )
}

/// Prints a new TOTP secret; for a new client (`new` with its key and provider), everything.
fn print_enrolment(
    ctx: &Context,
    alias: &Alias,
    new: Option<(&Token, &Notify)>,
    seed: &NewSeed<'_>,
) -> anyhow::Result<()> {
    let (secret, totp) = (seed.secret, seed.totp);
    let key = new.map(|(key, _)| key);
    let notify = new.map(|(_, notify)| notify);
    let uri = OtpAuthUri {
        kind: OtpKind::Totp {
            period: totp.period,
        },
        issuer: Some("mfa".to_owned()),
        account: format!("{alias}@{}", ctx.config.server_name),
        secret: secret.clone(),
        algorithm: totp.algorithm,
        digits: totp.digits,
    }
    .to_uri();
    let enrolment = Enrolment {
        alias: alias.to_string(),
        client_key: key.map(|k| k.expose().to_owned()),
        totp_secret: secret.to_base32(),
        otpauth_uri: uri,
        algorithm: totp.algorithm.to_string(),
        digits: totp.digits.get(),
        period: totp.period,
        notify: notify.map(notify_name),
        ntfy_topic: notify.and_then(ntfy_topic),
        authenticator_only: seed.authenticator_only,
    };
    if ctx.json {
        return print_json(&enrolment);
    }
    match key {
        Some(_) => println!("Enrolled client {alias}. Keep what follows secret: it is shown once."),
        None => println!("New TOTP secret for client {alias} (the old one no longer works):"),
    }
    println!();
    if let Some(key) = &enrolment.client_key {
        println!("  client key:   {key}");
    }
    println!("  TOTP secret:  {}", enrolment.totp_secret);
    println!(
        "  parameters:   {} {} digits every {}s",
        enrolment.algorithm, enrolment.digits, enrolment.period
    );
    println!("  otpauth URI:  {}", enrolment.otpauth_uri);
    if let Some(notify) = notify {
        println!("  notify:       {}", describe_notify(ctx, notify));
    }
    println!();
    println!("Scan with an authenticator app:");
    println!("{}", qr_for_terminal(&enrolment.otpauth_uri)?);
    if seed.authenticator_only {
        println!("This TOTP secret is for an authenticator app only: no `mfa enroll` receives it.");
    } else {
        println!(
            "The first `mfa enroll` with this key fetches this TOTP secret, once, for `mfa code`."
        );
    }
    if let Some(key) = key {
        println!("{}", enroll_hint(ctx, key));
    }
    if let Some(notify) = notify {
        print_subscribe_hint(ctx, notify);
    }
    Ok(())
}

/// Where the TOTP seed stands, for `show`.
fn describe_delivery(delivered_at: Option<&str>) -> String {
    match delivered_at {
        None => {
            "not delivered yet (the first `mfa enroll` with the client's key fetches it)".to_owned()
        }
        Some(at) => format!(
            "delivered {at} (to `mfa enroll`, or for an authenticator app only); \
             `mfac client reset-totp` makes a new one"
        ),
    }
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let clients = ctx.store.clients().await?;
    let views: Vec<ClientView> = clients.iter().map(|c| ClientView::new(c, None)).collect();
    print_list(
        ctx.json,
        &views,
        &["ALIAS", "TOTP", "NOTIFY", "CREATED"],
        |v| {
            vec![
                v.alias.clone(),
                format!("{}/{}/{}s", v.algorithm, v.digits, v.period),
                v.notify.to_owned(),
                v.created_at.clone(),
            ]
        },
    )
}

async fn show(ctx: &Context, alias: &Alias) -> anyhow::Result<()> {
    let client = ctx.store.client(alias).await?;
    let apps: Vec<i64> = ctx
        .store
        .apps()
        .await?
        .iter()
        .filter(|a| a.clients.contains(alias))
        .map(|a| a.id)
        .collect();
    let mut view = ClientView::new(&client, Some(apps.clone()));
    view.password = Some(crate::credentials::describe_password(ctx, alias).await?);
    view.recovery_codes_left = Some(ctx.store.recovery_codes_left(alias).await?);
    let links = ctx.store.open_enrol_links(alias, ctx.now()).await?;
    view.open_enrol_links = Some(links.iter().map(|l| l.expires_at.to_string()).collect());
    let passkeys = ctx.store.passkeys(alias).await?;
    view.passkeys = Some(passkeys.iter().map(|p| p.name.clone()).collect());
    if ctx.json {
        return print_json(&view);
    }
    println!("alias:    {}", view.alias);
    println!(
        "totp:     {} {} digits every {}s",
        view.algorithm, view.digits, view.period
    );
    println!("notify:   {}", describe_notify(ctx, &client.notify));
    println!("created:  {}", view.created_at);
    let seed = if view.totp_active {
        describe_delivery(view.totp_delivered_at.as_deref())
    } else {
        "not in force yet: waiting for the code on its enrolment link".to_owned()
    };
    println!("seed:     {seed}");
    for expires in view.open_enrol_links.iter().flatten() {
        println!("link:     an enrolment link works until {expires}");
    }
    let names = view.passkeys.clone().unwrap_or_default();
    println!(
        "passkeys: {}",
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    );
    println!("password: {}", view.password.as_deref().unwrap_or("none"));
    println!(
        "recovery: {} unused code{}",
        view.recovery_codes_left.unwrap_or(0),
        if view.recovery_codes_left == Some(1) {
            ""
        } else {
            "s"
        }
    );
    let apps: Vec<String> = apps.iter().map(i64::to_string).collect();
    println!("apps:     {}", list_or_none(&apps));
    Ok(())
}
