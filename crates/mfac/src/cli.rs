use std::path::PathBuf;

use anyhow::bail;
use clap::{Args as ClapArgs, Parser, Subcommand};

/// The mfa admin CLI.
///
/// Reads the same mfad.toml as mfad (--config, $MFA_CONFIG, ./mfad.toml, else built-in defaults).
#[derive(Debug, Parser)]
#[command(name = "mfac", version)]
pub struct Args {
    #[command(flatten)]
    pub global: Global,

    #[command(subcommand)]
    pub command: Option<Command>,

    /// Enrol a client (same as `mfac client add ALIAS`).
    #[arg(long, value_name = "ALIAS", conflicts_with = "add_app")]
    pub add_client: Option<String>,

    /// Add an app (same as `mfac app add`, with --alias for --client).
    #[arg(long, requires_all = ["user", "host", "service", "alias", "methods"])]
    pub add_app: bool,
    #[arg(long, requires = "add_app")]
    pub user: Option<String>,
    #[arg(long, requires = "add_app")]
    pub host: Option<String>,
    #[arg(long, requires = "add_app")]
    pub service: Option<String>,
    /// The client(s) the app's logins go to.
    #[arg(long, requires = "add_app", num_args = 1.., value_delimiter = ',')]
    pub alias: Vec<String>,
    /// Methods, e.g. `push totp` or `push,totp`.
    #[arg(long, requires = "add_app", num_args = 1..)]
    pub methods: Vec<String>,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct Global {
    /// Path of mfad.toml.
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print one JSON object (or array) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrolled people and devices.
    #[command(subcommand)]
    Client(ClientCommand),
    /// (user, host, service) logins and the clients they go to.
    #[command(subcommand)]
    App(AppCommand),
    /// Trusted servers: hosts allowed to ask for MFA, each with its own API token.
    #[command(subcommand)]
    Server(ServerCommand),
    /// Users and addresses locked out after failures or a fraud report.
    #[command(subcommand)]
    Lockout(LockoutCommand),
    /// The decision log: who logged in where, how, and what mfad answered.
    Audit(AuditArgs),
    /// API tokens for the OTP service and the vault, each with its scopes.
    #[command(subcommand)]
    Token(TokenCommand),
    /// The shared TOTP vault: team seeds for shared accounts, handed out only as codes.
    #[command(subcommand)]
    Vault(VaultCommand),
    /// Login users' own settings: bypass for automation accounts.
    #[command(subcommand)]
    User(crate::user::UserCommand),
    /// Groups of login users, for rules.
    #[command(subcommand)]
    Group(crate::group::GroupCommand),
    /// Groups of hosts, for rules.
    #[command(subcommand)]
    HostGroup(crate::group::HostGroupCommand),
    /// Rules: who needs which factors where (the most specific rule wins).
    #[command(subcommand)]
    Rule(crate::rule::RuleCommand),
    /// What mfad would decide for a login or a step-up, and why.
    #[command(subcommand)]
    Policy(crate::rule::PolicyCommand),
    /// Elevated sessions: an MFA remembered for a user, address and scope.
    #[command(subcommand)]
    Session(crate::session::SessionCommand),
}

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
        #[arg(long)]
        authenticator_only: bool,
    },
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
#[derive(Debug, Default, ClapArgs)]
pub struct NotifyArgs {
    /// default (the config's notify.default), none, webhook or ntfy.
    #[arg(long, value_name = "PROVIDER")]
    pub notify: Option<String>,
    /// The ntfy topic (with --notify ntfy); without it an unguessable one is made.
    #[arg(long, value_name = "TOPIC")]
    pub ntfy_topic: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Route a user's logins on a host and service to clients.
    Add(AppAdd),
    /// List apps.
    List {
        /// Only this user's apps.
        #[arg(long)]
        user: Option<String>,
    },
    /// Show one app.
    Show { id: i64 },
    /// Remove an app.
    Remove { id: i64 },
}

#[derive(Debug, ClapArgs)]
pub struct AppAdd {
    /// The login user name.
    #[arg(long)]
    pub user: String,
    /// Host name, `*.domain` or `*`.
    #[arg(long)]
    pub host: String,
    /// PAM service (sshd, sudo, ...) or `*`.
    #[arg(long)]
    pub service: String,
    /// Client alias(es), comma-separated: each gets the push.
    #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
    pub client: Vec<String>,
    /// Allowed methods: push, totp, password (comma- or space-separated).
    #[arg(long, num_args = 1.., required = true)]
    pub methods: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Allow a server to ask for MFA for some hosts: prints its API token (once).
    Add {
        name: String,
        /// Hosts it may ask about, comma-separated: exact names, `*.domain` or `*`.
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        hosts: Vec<String>,
    },
    /// List servers.
    List,
    /// Remove a server; its token stops working.
    Remove { name: String },
    /// Give a server a new API token (printed once); the old one stops working.
    RotateToken { name: String },
}

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

#[derive(Debug, ClapArgs)]
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

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Add an API token: prints it (once).
    Add {
        name: String,
        /// What it may do, comma-separated: otp, vault:read, vault:write.
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        scope: Vec<String>,
        /// Limit its vault access to these vault app ids (comma-separated; see `mfac vault list`).
        #[arg(long, num_args = 1.., value_delimiter = ',', value_name = "ID")]
        apps: Vec<String>,
    },
    /// List API tokens (never the tokens themselves).
    List,
    /// Remove an API token; it stops working at once.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum VaultCommand {
    /// Add a seed: NAME (--secret BASE32 | --uri otpauth://totp/...) [--attribute A].
    Add(VaultAdd),
    /// List vault apps (never their seeds).
    List,
    /// Print an app's current code and how long it stays valid (audited).
    Code {
        /// The app's id, or its name if no other app has it.
        app: String,
    },
    /// Remove an app from the vault.
    Remove {
        /// The app's id, or its name if no other app has it.
        app: String,
    },
}

#[derive(Debug, ClapArgs)]
pub struct VaultAdd {
    /// What the seed is for, e.g. "AWS root".
    pub name: String,
    /// The seed in base32 (spaces and dashes allowed).
    #[arg(
        long,
        value_name = "BASE32",
        required_unless_present = "uri",
        conflicts_with = "uri"
    )]
    pub secret: Option<String>,
    /// A whole otpauth://totp/... URI (as in a QR code); it carries its own parameters.
    #[arg(long, value_name = "URI")]
    pub uri: Option<String>,
    /// Free text shown beside the name, e.g. the account.
    #[arg(long)]
    pub attribute: Option<String>,
    /// With --secret: SHA1 (default), SHA256 or SHA512.
    #[arg(long)]
    pub algorithm: Option<String>,
    /// With --secret: 6 (default), 7 or 8.
    #[arg(long)]
    pub digits: Option<String>,
    /// With --secret: seconds per code, 15..=120 (default 30).
    #[arg(long)]
    pub period: Option<String>,
}

impl Args {
    /// Maps the seed's flag syntax (`--add-client`, `--add-app`) onto the subcommands.
    pub fn into_command(self) -> anyhow::Result<(Global, Command)> {
        let command = match (self.command, self.add_client, self.add_app) {
            (Some(_), Some(_), _) | (Some(_), _, true) => {
                bail!("--add-client and --add-app cannot be combined with a subcommand")
            }
            (Some(c), None, false) => c,
            (None, Some(alias), _) => Command::Client(ClientCommand::Add {
                alias,
                notify: NotifyArgs::default(),
                authenticator_only: false,
            }),
            (None, None, true) => Command::App(AppCommand::Add(AppAdd {
                user: self.user.unwrap_or_default(),
                host: self.host.unwrap_or_default(),
                service: self.service.unwrap_or_default(),
                client: self.alias,
                methods: self.methods,
            })),
            (None, None, false) => bail!("no command given: try `mfac --help`"),
        };
        Ok((self.global, command))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        let args =
            Args::try_parse_from(std::iter::once("mfac").chain(args.iter().copied())).unwrap();
        args.into_command().unwrap().1
    }

    #[test]
    fn seed_syntax_maps_to_subcommands() {
        assert!(matches!(
            parse(&["--add-client", "tux"]),
            Command::Client(ClientCommand::Add { alias, .. }) if alias == "tux"
        ));
        let cmd = parse(&[
            "--add-app",
            "--user",
            "tux",
            "--host",
            "linux.example.org",
            "--service",
            "sshd",
            "--alias",
            "tux",
            "--methods",
            "push",
            "totp",
        ]);
        match cmd {
            Command::App(AppCommand::Add(a)) => {
                assert_eq!(a.user, "tux");
                assert_eq!(a.client, ["tux"]);
                assert_eq!(a.methods, ["push", "totp"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn global_flags_go_before_or_after_the_subcommand() {
        for args in [
            ["mfac", "--json", "client", "list"],
            ["mfac", "client", "list", "--json"],
        ] {
            let (global, _) = Args::try_parse_from(args).unwrap().into_command().unwrap();
            assert!(global.json);
        }
        let mixed = Args::try_parse_from(["mfac", "--add-client", "tux", "client", "list"]);
        assert!(mixed.is_err() || mixed.unwrap().into_command().is_err());
    }

    #[test]
    fn add_app_needs_all_its_flags() {
        let err = Args::try_parse_from(["mfac", "--add-app", "--user", "tux"]).unwrap_err();
        assert!(err.to_string().contains("--host"), "{err}");
    }

    #[test]
    fn methods_take_commas_or_words() {
        for form in [
            &["--methods", "push,totp"][..],
            &["--methods", "push", "totp"][..],
        ] {
            let mut args = vec![
                "app",
                "add",
                "--user",
                "tux",
                "--host",
                "*",
                "--service",
                "*",
                "--client",
                "a,b",
            ];
            args.extend_from_slice(form);
            match parse(&args) {
                Command::App(AppCommand::Add(a)) => assert_eq!(a.client, ["a", "b"]),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn admin_commands_parse() {
        match parse(&[
            "server",
            "add",
            "ssh-1",
            "--hosts",
            "a.example.org,*.lab.example.org",
        ]) {
            Command::Server(ServerCommand::Add { name, hosts }) => {
                assert_eq!(name, "ssh-1");
                assert_eq!(hosts, ["a.example.org", "*.lab.example.org"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Args::try_parse_from(["mfac", "server", "add", "ssh-1"]).is_err());
        assert!(matches!(
            parse(&["lockout", "clear", "ip", "192.0.2.7"]),
            Command::Lockout(LockoutCommand::Clear { kind, subject })
                if kind == "ip" && subject == "192.0.2.7"
        ));
        // A --since that starts with '-' reaches mfac's own check (and its one-line error).
        match parse(&["audit", "--since", "-1h", "--limit", "5", "--user", "tux"]) {
            Command::Audit(a) => {
                assert_eq!(a.since.as_deref(), Some("-1h"));
                assert_eq!(a.limit, Some(5));
            }
            other => panic!("{other:?}"),
        }
        assert!(Args::try_parse_from(["mfac", "audit", "--limit", "0"]).is_err());
        match parse(&[
            "token",
            "add",
            "ci",
            "--scope",
            "otp,vault:read",
            "--apps",
            "1,2",
        ]) {
            Command::Token(TokenCommand::Add { name, scope, apps }) => {
                assert_eq!(name, "ci");
                assert_eq!(scope, ["otp", "vault:read"]);
                assert_eq!(apps, ["1", "2"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Args::try_parse_from(["mfac", "token", "add", "ci"]).is_err());
        assert!(matches!(
            parse(&["vault", "add", "AWS", "--uri", "otpauth://totp/a?secret=x"]),
            Command::Vault(VaultCommand::Add(a)) if a.uri.is_some() && a.secret.is_none()
        ));
        assert!(Args::try_parse_from(["mfac", "vault", "add", "AWS"]).is_err());
        assert!(
            Args::try_parse_from(["mfac", "vault", "add", "AWS", "--secret", "A", "--uri", "B"])
                .is_err()
        );
        match parse(&[
            "client",
            "modify",
            "tux",
            "--notify",
            "ntfy",
            "--ntfy-topic",
            "t",
        ]) {
            Command::Client(ClientCommand::Modify { alias, notify }) => {
                assert_eq!(alias, "tux");
                assert_eq!(notify.notify.as_deref(), Some("ntfy"));
                assert_eq!(notify.ntfy_topic.as_deref(), Some("t"));
            }
            other => panic!("{other:?}"),
        }
    }
}
