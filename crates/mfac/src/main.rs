//! `mfac`, the mfa admin CLI: enrol clients, route apps to them, allow servers (and Duo's
//! clients) to ask, lift lockouts, read the audit log, and manage API tokens and the TOTP
//! vault, on the same config and database as `mfad`.

mod admin;
mod app;
mod audit;
mod backup;
mod cli;
mod client;
mod context;
mod credentials;
mod duo;
mod enrol_link;
mod group;
mod import;
mod key;
mod lockout;
mod output;
mod owner;
mod rule;
mod server;
mod session;
mod shared;
mod token;
mod user;
mod vault;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // `--generate-docs OUTDIR` (hidden): man pages and completions (scripts/gen-docs.sh).
    if let Some(code) = mfa_docgen::intercept::<cli::Args>("8") {
        return code;
    }
    let args = cli::Args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mfac: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the outermost context and its causes.
            eprintln!("mfac: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: cli::Args) -> anyhow::Result<()> {
    let (global, command) = args.into_command()?;
    // A key rotation opens the database itself: exclusively, and whatever key files it finds.
    let command = match command {
        cli::Command::Key(cmd) => {
            return key::run(global.config.as_deref(), global.json, cmd).await;
        }
        other => other,
    };
    let ctx = context::Context::open(global.config.as_deref(), global.json).await?;
    let result = match command {
        cli::Command::Client(cmd) => client::run(&ctx, cmd).await,
        cli::Command::App(cmd) => app::run(&ctx, cmd).await,
        cli::Command::Server(cmd) => server::run(&ctx, cmd).await,
        cli::Command::Duo(cmd) => duo::run(&ctx, cmd).await,
        cli::Command::Admin(cmd) => admin::run(&ctx, cmd).await,
        cli::Command::Lockout(cmd) => lockout::run(&ctx, cmd).await,
        cli::Command::Audit(args) => audit::run(&ctx, args).await,
        cli::Command::Token(cmd) => token::run(&ctx, cmd).await,
        cli::Command::Vault(cmd) => vault::run(&ctx, cmd).await,
        cli::Command::User(cmd) => user::run(&ctx, cmd).await,
        cli::Command::Group(cmd) => group::run_groups(&ctx, cmd).await,
        cli::Command::HostGroup(cmd) => group::run_host_groups(&ctx, cmd).await,
        cli::Command::Rule(cmd) => rule::run_rules(&ctx, cmd).await,
        cli::Command::Policy(cmd) => rule::run_policy(&ctx, cmd).await,
        cli::Command::Session(cmd) => session::run(&ctx, cmd).await,
        cli::Command::Backup(args) => backup::run(&ctx, args).await,
        cli::Command::Import(cmd) => import::run(&ctx, cmd).await,
        cli::Command::Key(_) => Ok(()), // run above, before the store was opened
    };
    ctx.store.close().await;
    result
}

/// The module graph, read from the sources: command modules own their clap types and code,
/// `cli` only names them, and the shared modules import no command, so nothing is circular.
#[cfg(test)]
mod module_graph {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// Modules every command may use; they use none of the commands.
    const SHARED: &[&str] = &["context", "output", "owner", "shared"];

    /// The `crate::<module>` paths in `source` (also inside `use crate::{a, b::c}`), outside
    /// comments.
    fn uses(source: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
        let code: String = source
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        let mut found = BTreeSet::new();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names = match rest.strip_prefix('{') {
                Some(group) => group_heads(group),
                None => vec![ident(rest)],
            };
            found.extend(names.into_iter().filter(|n| modules.contains(n)));
        }
        found
    }

    /// The first segment of each item of a `{a::{x, y}, b}` group (`group` starts after its
    /// opening brace): `a` and `b`.
    fn group_heads(group: &str) -> Vec<String> {
        let (mut heads, mut item, mut depth) = (Vec::new(), String::new(), 0);
        for c in group.chars() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => heads.push(std::mem::take(&mut item)),
                _ if depth == 0 => item.push(c),
                _ => {}
            }
        }
        heads.push(item);
        heads.iter().map(|i| ident(i)).collect()
    }

    fn ident(s: &str) -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    }

    fn graph() -> BTreeMap<String, BTreeSet<String>> {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let files: Vec<_> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .filter(|p| p.file_stem().is_some_and(|s| s != "main"))
            .collect();
        let modules: BTreeSet<String> = files
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        files
            .iter()
            .map(|p| {
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                let mut deps = uses(&std::fs::read_to_string(p).unwrap(), &modules);
                deps.remove(&name);
                (name, deps)
            })
            .collect()
    }

    /// A cycle through `node`, as the path that closes it, if there is one.
    fn cycle_from(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = cycle_from(graph, next, path) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }

    #[test]
    fn modules_import_each_other_in_no_circle() {
        let graph = graph();
        assert!(
            graph.contains_key("cli") && graph.contains_key("client"),
            "{graph:?}"
        );
        for node in graph.keys() {
            if let Some(cycle) = cycle_from(&graph, node, &mut Vec::new()) {
                panic!("module cycle: {}", cycle.join(" -> "));
            }
        }
    }

    #[test]
    fn shared_modules_import_no_command() {
        for (module, deps) in graph() {
            if SHARED.contains(&module.as_str()) {
                let commands: Vec<_> = deps
                    .iter()
                    .filter(|d| !SHARED.contains(&d.as_str()))
                    .collect();
                assert!(commands.is_empty(), "{module} imports {commands:?}");
            }
        }
    }

    #[test]
    fn uses_are_found_in_every_form() {
        let modules: BTreeSet<String> = ["cli", "client", "output"].map(String::from).into();
        let found = uses(
            "use crate::cli::X;\n// crate::output in a comment\nlet a = crate::client::f();\n\
             use crate::nothing;",
            &modules,
        );
        assert_eq!(found, ["cli", "client"].map(String::from).into());
        let grouped = uses("use crate::{output::{a, b}, cli};", &modules);
        assert_eq!(grouped, ["cli", "output"].map(String::from).into());
    }
}
