//! `mfad`, the mfa server daemon.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use mfa_config::{Config, LogFormat};
use mfa_core::SystemClock;
use mfa_server::serve::tls::{Certificates, TlsFiles};
use mfa_store::Store;
use tokio::signal::unix::{SignalKind, signal};
use tokio_rustls::TlsAcceptor;
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
    /// Check the configuration and report the first problem with its key and line; with
    /// `[tls]`, also that the certificate and key load and match.
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
        Err(e) if e.is::<Logged>() => ExitCode::FAILURE,
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
    let tls = match TlsFiles::from_config(&loaded.config) {
        Some(files) => {
            let pair = files.load().with_context(|| format!("{source}: [tls]"))?;
            format!(
                "HTTPS, {} ({} certificates) with {}",
                files.cert.display(),
                pair.certificates,
                files.key.display()
            )
        }
        None => "plain HTTP".to_owned(),
    };
    println!(
        "{source}: OK (listen {}, {tls}, database {})",
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
    let format = config.log_format;
    init_logging(&config)?;
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
        .and_then(|runtime| runtime.block_on(run(config)));
    match (result, format) {
        // Every line on stderr stays JSON: the failure is logged as one.
        (Err(e), LogFormat::Json) => {
            tracing::error!(error = %format!("{e:#}"), "mfad cannot run");
            Err(Logged.into())
        }
        (result, _) => result,
    }
}

/// An error already written to the log (so `main` does not print it again).
#[derive(Debug)]
struct Logged;

impl std::fmt::Display for Logged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the error is in the log")
    }
}

impl std::error::Error for Logged {}

/// Text lines for people, or with `log_format = "json"` one JSON object a line, the event's
/// fields at the top level (`{"timestamp":...,"level":"INFO","message":"mfad ready",
/// "listen":"127.0.0.1:8420",...}`).
fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("log: invalid filter {:?}", config.log))?;
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => fmt
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
    let tls = start_tls(&config)?;
    let store = Store::open_with_key_file(&config.database_url(), &config.key_file())
        .await
        .context("cannot open the mfa database")?;
    let listener = mfa_server::serve::listen(config.listen)
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the listening address")?;
    // Tests (and admins using port 0) read the real address from this line.
    tracing::info!(
        listen = %bound, backend = ?store.backend(), tls = tls.is_some(), "mfad ready"
    );
    let limits = mfa_server::serve::Limits::from_config(&config);
    let state = mfa_server::AppState::new(store.clone(), config, Arc::new(SystemClock));
    mfa_server::spawn_background(&state)
        .await
        .context("cannot start the background tasks")?;
    let shutdown = shutdown_signal()?;
    notify_systemd(sd_notify::NotifyState::Ready);
    mfa_server::serve::serve(listener, mfa_server::router(state), limits, tls, shutdown).await;
    notify_systemd(sd_notify::NotifyState::Stopping);
    store.close().await;
    tracing::info!("mfad stopped");
    Ok(())
}

/// Tells systemd (Type=notify) where mfad is; nothing when not started by systemd.
fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if let Err(error) = sd_notify::notify(false, &[state]) {
        tracing::warn!(%error, "cannot notify systemd ($NOTIFY_SOCKET)");
    }
}

/// The `[tls]` acceptor, with a task that reloads the pair on SIGHUP and when it changes.
/// SIGHUP is handled with or without `[tls]`: its default action would end mfad.
fn start_tls(config: &Config) -> anyhow::Result<Option<TlsAcceptor>> {
    let mut hangups = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let Some(files) = TlsFiles::from_config(config) else {
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                tracing::info!("SIGHUP: nothing to reload (no [tls] in the configuration)");
            }
        });
        return Ok(None);
    };
    let certificates = Certificates::load(files).context("[tls]")?;
    let acceptor = certificates
        .acceptor()
        .context("cannot set up TLS with this certificate")?;
    let (hup_tx, hup_rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            // One reload pending is enough: a second SIGHUP meanwhile changes nothing.
            let _ = hup_tx.try_send(());
        }
    });
    tokio::spawn(certificates.watch(hup_rx));
    Ok(Some(acceptor))
}

/// SIGTERM or SIGINT, handled from the moment this is called: before readiness is announced,
/// so a stop that follows READY=1 at once is a graceful one, not the signal's default action.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}
