//! `mfac duo`: Duo integrations (issue 14), what lets Duo's own Unix clients (pam_duo,
//! login_duo, duo_client) ask mfad. Each has a public ikey and a secret skey; the skey is
//! printed once, inside the `[duo]` lines to paste into the client's config, and stored only
//! sealed (the store does that).

use std::net::IpAddr;

use anyhow::anyhow;
use clap::Subcommand;
use mfa_core::Alias;
use mfa_store::{DuoIntegration, NewDuoIntegration};
use serde::Serialize;

use crate::context::Context;
use crate::output::{print_done, print_json, print_list};
use crate::shared::parse_hosts;

#[derive(Debug, Subcommand)]
pub enum DuoCommand {
    /// Make a Duo integration for some hosts: prints its ikey and skey (once), as the lines
    /// of pam_duo.conf / login_duo.conf.
    Add {
        name: String,
        /// Hosts it may ask about, comma-separated: exact names, `*.domain` or `*`.
        #[arg(long, num_args = 1.., value_delimiter = ',', required = true)]
        hosts: Vec<String>,
        /// Also allow the old `/rest/v1/*.bson` dialect (Debian's duo-unix 1.x). Its
        /// signatures carry no date, so a captured request can be replayed: use it only for
        /// clients that speak nothing else.
        #[arg(long)]
        legacy: bool,
    },
    /// List Duo integrations (never their skeys).
    List,
    /// Remove a Duo integration; its ikey stops working at once.
    Remove { name: String },
    /// Give a Duo integration a new skey (printed once, with the config lines); the old one
    /// stops working. The ikey stays.
    Rotate { name: String },
}

#[derive(Serialize)]
struct DuoView {
    name: String,
    ikey: String,
    hosts: Vec<String>,
    legacy: bool,
    created_at: String,
    skey_rotated_at: Option<String>,
}

impl From<&DuoIntegration> for DuoView {
    fn from(d: &DuoIntegration) -> Self {
        Self {
            name: d.name.to_string(),
            ikey: d.ikey.clone(),
            hosts: d.hosts.iter().map(ToString::to_string).collect(),
            legacy: d.legacy,
            created_at: d.created_at.to_string(),
            skey_rotated_at: d.skey_rotated_at.map(|t| t.to_string()),
        }
    }
}

/// What `add` and `rotate` print with `--json`: the integration with its skey (this once) and
/// the `host` its clients are to use.
#[derive(Serialize)]
struct WithSkey<'a> {
    name: &'a str,
    ikey: &'a str,
    skey: &'a str,
    host: &'a str,
    hosts: &'a [String],
    legacy: bool,
}

pub async fn run(ctx: &Context, cmd: DuoCommand) -> anyhow::Result<()> {
    match cmd {
        DuoCommand::Add {
            name,
            hosts,
            legacy,
        } => {
            let name = parse_name(&name)?;
            let hosts = parse_hosts(&hosts)?;
            let (added, skey) = ctx
                .store
                .add_duo_integration(NewDuoIntegration {
                    name: &name,
                    hosts: &hosts,
                    legacy,
                    now: ctx.now(),
                })
                .await?;
            let view = DuoView::from(&added);
            if !ctx.json {
                println!(
                    "Added Duo integration {name}: it may ask for MFA for {}.",
                    view.hosts.join(", ")
                );
            }
            show_keys(ctx, &view, skey.expose())
        }
        DuoCommand::List => {
            let views: Vec<DuoView> = ctx
                .store
                .duo_integrations()
                .await?
                .iter()
                .map(Into::into)
                .collect();
            print_list(
                ctx.json,
                &views,
                &["NAME", "IKEY", "HOSTS", "LEGACY", "CREATED", "SKEY ROTATED"],
                |v| {
                    vec![
                        v.name.clone(),
                        v.ikey.clone(),
                        v.hosts.join(","),
                        if v.legacy { "yes" } else { "no" }.to_owned(),
                        v.created_at.clone(),
                        v.skey_rotated_at.clone().unwrap_or_else(|| "never".into()),
                    ]
                },
            )
        }
        DuoCommand::Remove { name } => {
            let name = parse_name(&name)?;
            ctx.store.remove_duo_integration(&name).await?;
            print_done(
                ctx.json,
                "name",
                name.as_str(),
                "removed",
                format_args!("Duo integration {name} removed; its ikey no longer works."),
            )
        }
        DuoCommand::Rotate { name } => {
            let name = parse_name(&name)?;
            // The ikey for the config lines (it never changes), and a clear error before
            // anything is made when the name is unknown.
            let integration = ctx.store.duo_integration(&name).await?;
            let skey = ctx.store.rotate_duo_skey(&name, ctx.now()).await?;
            let view = DuoView::from(&integration);
            if !ctx.json {
                println!("New skey for Duo integration {name}; the old one no longer works.");
            }
            show_keys(ctx, &view, skey.expose())
        }
    }
}

/// Prints the keys of a new or rotated integration: JSON, or the `[duo]` lines to paste and
/// what to do with them; then the warnings that apply (on stderr).
fn show_keys(ctx: &Context, view: &DuoView, skey: &str) -> anyhow::Result<()> {
    let host = ctx.config.host_authority();
    if ctx.json {
        print_json(&WithSkey {
            name: &view.name,
            ikey: &view.ikey,
            skey,
            host: &host,
            hosts: &view.hosts,
            legacy: view.legacy,
        })?;
    } else {
        println!(
            "Its keys (the skey is shown once; mfad keeps it sealed and cannot show it again):"
        );
        println!();
        for line in config_lines(&view.ikey, skey, &host) {
            println!("{line}");
        }
        println!();
        println!(
            "On {}'s hosts, put these lines in /etc/duo/pam_duo.conf (or login_duo.conf), readable \
             by root only, with cafile naming the PEM file of the CA that signed mfad's certificate.",
            view.name
        );
        if let Some((cert, _)) = ctx.config.tls.files() {
            println!(
                "(For a self-signed certificate, that is the certificate itself: a copy of {}.)",
                cert.display()
            );
        }
    }
    for warning in warnings(ctx.config.tls.files().is_some(), &host, view.legacy) {
        eprintln!("mfac: warning: {warning}");
    }
    Ok(())
}

/// The `[duo]` section of pam_duo.conf / login_duo.conf.
fn config_lines(ikey: &str, skey: &str, host: &str) -> [String; 6] {
    [
        "[duo]".to_owned(),
        format!("ikey = {ikey}"),
        format!("skey = {skey}"),
        format!("host = {host}"),
        "cafile = <path of the CA that signed mfad's certificate>".to_owned(),
        "failmode = secure".to_owned(),
    ]
}

/// What may stop Duo's clients from working, or weaken them: no HTTPS, an IP address as
/// `host`, the legacy dialect.
fn warnings(tls: bool, host: &str, legacy: bool) -> Vec<String> {
    let mut warnings = Vec::new();
    if !tls {
        warnings.push(
            "mfad's config has no [tls], but Duo's clients speak only HTTPS: give mfad a \
             certificate ([tls] cert and key), or serve it behind an HTTPS proxy at host_addr"
                .to_owned(),
        );
    }
    if is_ip_address(host) {
        warnings.push(format!(
            "host {host} is an IP address, but Duo's clients check DNS names only: use a DNS \
             name in host_addr"
        ));
    }
    if legacy {
        warnings.push(
            "this integration is --legacy: it may also use /rest/v1/*.bson, whose signatures carry no \
             date, so a captured request can be replayed"
                .to_owned(),
        );
    }
    warnings
}

/// Whether an authority (`host[:port]`) names its host by an IP address.
fn is_ip_address(authority: &str) -> bool {
    if authority.starts_with('[') {
        return true; // an IPv6 literal
    }
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    host.parse::<IpAddr>().is_ok() || authority.parse::<IpAddr>().is_ok()
}

/// Integration names: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.
fn parse_name(s: &str) -> anyhow::Result<Alias> {
    Alias::new(s).map_err(|_| {
        anyhow!(
            "invalid Duo integration name {s:?}: use 1-64 letters, digits, '.', '_' or '-', \
             starting with a letter or digit"
        )
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ip_addresses_are_told_from_names() {
        for ip in [
            "127.0.0.1",
            "127.0.0.1:8420",
            "[::1]:8420",
            "[2001:db8::1]",
            "::1",
        ] {
            assert!(is_ip_address(ip), "{ip}");
        }
        for name in [
            "mfa.example.org",
            "mfa.example.org:8443",
            "localhost",
            "1.example",
        ] {
            assert!(!is_ip_address(name), "{name}");
        }
    }

    #[test]
    fn warnings_name_what_applies() {
        assert!(warnings(true, "mfa.example.org", false).is_empty());
        let all = warnings(false, "192.0.2.7:443", true);
        assert_eq!(all.len(), 3, "{all:?}");
        assert!(all[0].contains("no [tls]"), "{all:?}");
        assert!(all[1].contains("use a DNS name in host_addr"), "{all:?}");
        assert!(all[2].contains("replayed"), "{all:?}");
    }

    #[test]
    fn names() {
        assert_eq!(parse_name("pam-1").unwrap().as_str(), "pam-1");
        let err = parse_name("a b").unwrap_err().to_string();
        assert!(err.contains("invalid Duo integration name"), "{err}");
    }

    #[test]
    fn config_lines_are_what_duo_reads() {
        let lines = config_lines(
            "DIXXXXXXXXXXXXXXXXXX",
            "s".repeat(40).as_str(),
            "mfa.example.org",
        );
        assert_eq!(lines[0], "[duo]");
        assert_eq!(lines[1], "ikey = DIXXXXXXXXXXXXXXXXXX");
        assert_eq!(lines[3], "host = mfa.example.org");
        assert_eq!(lines[5], "failmode = secure");
    }
}
