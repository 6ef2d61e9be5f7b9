//! The top-level command line: global flags, one subcommand per command module (each owns its
//! clap types), and the seed's `--add-client`/`--add-app` syntax.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args as ClapArgs, Parser, Subcommand};

use crate::admin::AdminCommand;
use crate::app::{AppAdd, AppCommand};
use crate::audit::AuditArgs;
use crate::backup::BackupArgs;
use crate::client::{ClientCommand, NotifyArgs};
use crate::duo::DuoCommand;
use crate::group::{GroupCommand, HostGroupCommand};
use crate::import::ImportCommand;
use crate::key::KeyCommand;
use crate::lockout::LockoutCommand;
use crate::rule::{PolicyCommand, RuleCommand};
use crate::server::ServerCommand;
use crate::session::SessionCommand;
use crate::token::TokenCommand;
use crate::user::UserCommand;
use crate::vault::VaultCommand;

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
    /// Duo integrations: an ikey and skey each, for Duo's own clients (pam_duo, login_duo).
    #[command(subcommand)]
    Duo(DuoCommand),
    /// Admins of the web console at /admin (password plus TOTP).
    #[command(subcommand)]
    Admin(AdminCommand),
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
    User(UserCommand),
    /// Groups of login users, for rules.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Groups of hosts, for rules.
    #[command(subcommand)]
    HostGroup(HostGroupCommand),
    /// Rules: who needs which factors where (the most specific rule wins).
    #[command(subcommand)]
    Rule(RuleCommand),
    /// What mfad would decide for a login or a step-up, and why.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Elevated sessions: an MFA remembered for a user, address and scope.
    #[command(subcommand)]
    Session(SessionCommand),
    /// A consistent copy of the SQLite database, taken while mfad runs (keep the key file too).
    Backup(BackupArgs),
    /// Move people in from another system with what they hold (google-authenticator files).
    #[command(subcommand)]
    Import(ImportCommand),
    /// The sealing key of TOTP, OTP and vault seeds (`key rotate`: a new one; stop mfad first).
    #[command(subcommand)]
    Key(KeyCommand),
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
                link: false,
                expires: crate::enrol_link::DEFAULT_EXPIRES.to_owned(),
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
    fn key_rotate_parses() {
        assert!(matches!(
            parse(&["key", "rotate", "--json"]),
            Command::Key(KeyCommand::Rotate)
        ));
        assert!(Args::try_parse_from(["mfac", "key"]).is_err());
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
        match parse(&[
            "duo",
            "add",
            "pam-1",
            "--hosts",
            "a.example.org,b.example.org",
            "--legacy",
        ]) {
            Command::Duo(DuoCommand::Add {
                name,
                hosts,
                legacy,
            }) => {
                assert_eq!(name, "pam-1");
                assert_eq!(hosts, ["a.example.org", "b.example.org"]);
                assert!(legacy);
            }
            other => panic!("{other:?}"),
        }
        assert!(Args::try_parse_from(["mfac", "duo", "add", "pam-1"]).is_err());
        assert!(matches!(
            parse(&["duo", "rotate", "pam-1"]),
            Command::Duo(DuoCommand::Rotate { name }) if name == "pam-1"
        ));
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
