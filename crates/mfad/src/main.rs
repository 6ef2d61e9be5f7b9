//! `mfad`, the mfa server daemon.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mfa_config::Config;
use mfa_core::SystemClock;
use mfa_store::Store;
use tracing_subscriber::EnvFilter;

/// The mfa server: HTTP API, push fan-out, policy decisions, web pages.
#[derive(Debug, Parser)]
#[command(name = "mfad", version)]
struct Args {
    /// Path of mfad.toml (else $MFA_CONFIG, ./mfad.toml, or built-in defaults).
    #[arg(long, global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve,
    /// Check the configuration and report the first problem with its key and line.
    CheckConfig,
    /// Print the OpenAPI document of the HTTP API (what `GET /openapi.json` serves) and exit.
    Openapi,
}

fn main() -> ExitCode {
    // `--generate-docs OUTDIR` (hidden): man pages and completions (scripts/gen-docs.sh).
    if let Some(code) = mfa_docgen::intercept::<Args>("8") {
        return code;
    }
    let args = Args::parse();
    let result = match args.command.unwrap_or(Command::Serve) {
        Command::CheckConfig => check_config(args.config),
        Command::Openapi => openapi(),
        Command::Serve => serve(args.config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mfad: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(path: Option<PathBuf>) -> anyhow::Result<()> {
    let loaded = mfa_config::load(path.as_deref())?;
    let source = loaded.source.map_or_else(
        || "built-in defaults".to_owned(),
        |p| p.display().to_string(),
    );
    println!(
        "{source}: OK (listen {}, database {})",
        loaded.config.listen,
        loaded
            .config
            .database_url()
            .split('@')
            .next_back()
            .unwrap_or_default()
    );
    Ok(())
}

/// The document needs no configuration, database or network: it is built from the code.
fn openapi() -> anyhow::Result<()> {
    let doc = mfa_server::openapi::json()
        .map_err(|e| anyhow::anyhow!("cannot build the OpenAPI document: {e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{doc}").context("cannot write to stdout")?;
    Ok(())
}

fn serve(path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = mfa_config::load(path.as_deref())?.config;
    init_logging(&config)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run(config))
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("log: invalid filter {:?}", config.log))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let store = Store::open_with_key_file(&config.database_url(), &config.key_file())
        .await
        .context("cannot open the mfa database")?;
    let listener = mfa_server::serve::listen(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // Tests (and admins using port 0) read the real address from this line.
    tracing::info!(listen = %bound, backend = ?store.backend(), "mfad ready");
    let limits = mfa_server::serve::Limits::from_config(&config);
    let state = mfa_server::AppState::new(store.clone(), config, Arc::new(SystemClock));
    mfa_server::spawn_background(&state)
        .await
        .context("cannot start the background tasks")?;
    mfa_server::serve::serve(
        listener,
        mfa_server::router(state),
        limits,
        shutdown_signal(),
    )
    .await;
    store.close().await;
    tracing::info!("mfad stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = ctrl_c.await;
            return;
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
}
