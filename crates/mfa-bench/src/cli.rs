//! The command line, and the plan it makes (`--smoke` picks small sizes and 1 s per scenario).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// GET /healthz of mfad and nginx's `return 200`, with this generator and with wrk.
    Ceiling,
    /// POST /v1/preauth.
    Preauth,
    /// The next valid HOTP and TOTP code of a credential (and the peer's HOTP).
    Verify,
    /// Wrong codes to the same credentials (and the peer's).
    Reject,
    /// POST /v1/auth with a client's TOTP code.
    AuthTotp,
    /// Logins approved over the client WebSocket, C at a time.
    Push,
    /// Ten thousand pushes waiting at once, then all approved.
    Pending,
    /// verify hotp again after the credential table was filled to --fill rows.
    Size,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Loads mfad's hot paths on 127.0.0.1 and prints one table with ratios. Starts everything
/// itself (mfad per backend, nginx, the peer) with fresh data; builds nothing (scripts/bench.sh
/// builds the release binaries first).
#[derive(Debug, Parser)]
#[command(name = "mfa-bench", version)]
pub struct Args {
    /// Seconds per scenario (default 10; 1 with --smoke).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Keep-alive connections of the request/answer scenarios.
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// HOTP credentials for verify and reject (default 1000; 50 with --smoke). TOTP
    /// credentials are added as the run length needs.
    #[arg(long)]
    pub credentials: Option<usize>,
    /// Credentials stored for the size scenario (default 1000000; 10000 with --smoke): copies
    /// written straight into the database, never verified.
    #[arg(long)]
    pub fill: Option<u64>,
    /// Login users, each with a client of its own (default 1000; 10 with --smoke; at least
    /// the largest push concurrency).
    #[arg(long)]
    pub users: Option<usize>,
    /// Concurrent logins of the push scenario, comma-separated (default 1,100,1000; 1,10
    /// with --smoke).
    #[arg(long, value_delimiter = ',')]
    pub push_concurrency: Option<Vec<usize>>,
    /// Pushes waiting at once in the pending scenario (default 10000; 200 with --smoke).
    #[arg(long)]
    pub pending: Option<usize>,
    /// Backends the pending scenario runs on (it takes minutes at 10 000), comma-separated.
    #[arg(long, value_delimiter = ',', value_enum, default_values = ["sqlite"])]
    pub pending_backends: Vec<Backend>,
    /// Run only these scenarios, comma-separated.
    #[arg(long, value_delimiter = ',', value_enum)]
    pub only: Vec<Scenario>,
    /// Backends to run mfad on, comma-separated.
    #[arg(long, value_delimiter = ',', value_enum, default_values = ["sqlite", "postgres"])]
    pub backends: Vec<Backend>,
    /// Each scenario about 1 s with small sizes: checks the bench works, not how fast.
    #[arg(long)]
    pub smoke: bool,
    /// Leave out the privacyIDEA rows.
    #[arg(long)]
    pub no_peer: bool,
    /// Also write the figures to this file as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Where mfad and mfac are.
    #[arg(long, value_name = "DIR", default_value = "target/release")]
    pub bin_dir: PathBuf,
    /// The PostgreSQL server; the bench works in a schema of its own there and drops it.
    #[arg(
        long,
        env = "MFA_TEST_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    pub postgres_url: String,
    /// The script that starts and stops privacyIDEA (`start DIR USERS` prints `URL SEEDSFILE`;
    /// `stop DIR`).
    #[arg(
        long,
        value_name = "PATH",
        default_value = "scripts/bench/privacyidea.sh"
    )]
    pub peer_script: PathBuf,
}

/// What this run does, every size settled.
#[derive(Debug, Clone)]
pub struct Plan {
    pub seconds: Duration,
    pub connections: usize,
    pub credentials: usize,
    pub fill: u64,
    pub users: usize,
    pub push_concurrency: Vec<usize>,
    pub pending: usize,
    pub only: Vec<Scenario>,
    pub backends: Vec<Backend>,
    pub pending_backends: Vec<Backend>,
    pub peer: bool,
    pub bin_dir: PathBuf,
    pub postgres_url: String,
    pub peer_script: PathBuf,
    pub json: Option<PathBuf>,
}

impl Plan {
    pub fn new(args: Args) -> anyhow::Result<Self> {
        let smoke = args.smoke;
        let pick = |given: Option<usize>, full: usize, small: usize| {
            given.unwrap_or(if smoke { small } else { full })
        };
        let seconds = args.seconds.unwrap_or(if smoke { 1.0 } else { 10.0 });
        if !(0.1..=3600.0).contains(&seconds) {
            anyhow::bail!("--seconds must be between 0.1 and 3600, got {seconds}");
        }
        let push_concurrency = args.push_concurrency.unwrap_or_else(|| {
            if smoke {
                vec![1, 10]
            } else {
                vec![1, 100, 1000]
            }
        });
        if push_concurrency.contains(&0) || args.connections == 0 {
            anyhow::bail!("--connections and --push-concurrency must be at least 1");
        }
        let largest = push_concurrency.iter().copied().max().unwrap_or(1);
        Ok(Self {
            seconds: Duration::from_secs_f64(seconds),
            connections: args.connections,
            credentials: pick(args.credentials, 1000, 50).max(args.connections),
            fill: args.fill.unwrap_or(if smoke { 10_000 } else { 1_000_000 }),
            users: pick(args.users, 1000, 10).max(largest).max(1),
            push_concurrency,
            pending: pick(args.pending, 10_000, 200).max(1),
            only: args.only,
            backends: args.backends,
            pending_backends: args.pending_backends,
            peer: !args.no_peer,
            bin_dir: args.bin_dir,
            postgres_url: args.postgres_url,
            peer_script: args.peer_script,
            json: args.json,
        })
    }

    pub fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }

    /// Whether `scenario` runs on `backend`.
    pub fn runs_on(&self, scenario: Scenario, backend: Backend) -> bool {
        self.runs(scenario)
            && (scenario != Scenario::Pending || self.pending_backends.contains(&backend))
    }

    /// Whether any of `scenarios` runs.
    pub fn runs_any(&self, scenarios: &[Scenario]) -> bool {
        scenarios.iter().any(|s| self.runs(*s))
    }
}
