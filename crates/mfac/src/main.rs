//! `mfac`, the mfa admin CLI: enrol clients and route apps to them, on the same config and
//! database as `mfad`.

mod app;
mod cli;
mod client;
mod context;
mod output;

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
    let ctx = context::Context::open(&global).await?;
    let result = match command {
        cli::Command::Client(cmd) => client::run(&ctx, cmd).await,
        cli::Command::App(cmd) => app::run(&ctx, cmd).await,
    };
    ctx.store.close().await;
    result
}
