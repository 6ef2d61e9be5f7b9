use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// mfa, the end-user client of an mfa server: approve or deny login pushes, show TOTP codes.
///
/// The config (server URL, this client's key and TOTP secret) is read from --config, else
/// $MFA_CLIENT_CONFIG, else $XDG_CONFIG_HOME/mfa/client.toml, else ~/.config/mfa/client.toml.
#[derive(Debug, Parser)]
#[command(name = "mfa", version)]
pub struct Args {
    /// Path of the client config (TOML: server, key, [totp]).
    #[arg(long, global = true, value_name = "PATH", env = "MFA_CLIENT_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check this client's key, fetch its TOTP secret (the server hands it out once) and save
    /// both with the server URL (mode 0600).
    Enroll {
        /// The mfa server, e.g. https://mfa.example.org or http://127.0.0.1:8420.
        #[arg(long, value_name = "URL")]
        server: String,
        /// The client key `mfac client add` printed; read from stdin when not given (keeps
        /// it out of the shell history and the process list).
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Save without asking the server: the key is not checked and no TOTP secret is
        /// fetched (`mfa code` then does not work until `mfa enroll` runs without it).
        #[arg(long)]
        no_check: bool,
    },
    /// Wait for login requests and answer them (approve with the number shown at the login
    /// prompt, d to deny, r to report "this was not me").
    Listen,
    /// Print the current TOTP code and how many seconds it stays valid, computed from the saved
    /// secret (no network).
    Code {
        /// Print {"code": ..., "valid_for_seconds": ...}.
        #[arg(long)]
        json: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    #[test]
    fn the_cli_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn config_goes_before_or_after_the_subcommand() {
        for argv in [
            &["mfa", "--config", "/x.toml", "code"][..],
            &["mfa", "code", "--config", "/x.toml"][..],
        ] {
            let args = Args::try_parse_from(argv).unwrap();
            assert_eq!(args.config, Some(PathBuf::from("/x.toml")));
        }
        let args =
            Args::try_parse_from(["mfa", "enroll", "--server", "http://x", "--key", "k"]).unwrap();
        assert!(matches!(
            args.command,
            Command::Enroll { ref server, key: Some(ref key), no_check: false }
                if server == "http://x" && key == "k"
        ));
    }
}
