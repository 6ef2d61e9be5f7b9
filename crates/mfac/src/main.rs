//! `mfac`, the mfa admin CLI: enrol clients, route apps to them, allow servers to ask, lift
//! lockouts, read the audit log, and manage API tokens and the TOTP vault, on the same config
//! and database as `mfad`.

mod app;
mod audit;
mod cli;
mod client;
mod context;
mod credentials;
mod group;
mod lockout;
mod output;
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
    let ctx = context::Context::open(global.config.as_deref(), global.json).await?;
    let result = match command {
        cli::Command::Client(cmd) => client::run(&ctx, cmd).await,
        cli::Command::App(cmd) => app::run(&ctx, cmd).await,
        cli::Command::Server(cmd) => server::run(&ctx, cmd).await,
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
    };
    ctx.store.close().await;
    result
}
