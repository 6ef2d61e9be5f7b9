//! mfad nodes on fixed ports of 127.0.0.1 (a restarted node comes back where its clients
//! expect it), sharing one database and key file, set up with the real mfac.

use std::path::PathBuf;
use std::process::Command;

use mfa_testkit::postgres::PgSchema;
use mfa_testkit::{Daemon, write_private};

/// The user whose logins the pushes are for, the host they are on.
pub const USER: &str = "tux";
pub const HOST: &str = "crash.example.org";

pub enum Database {
    /// The default: `<data_dir>/mfa.db`.
    Sqlite,
    /// A schema of its own on the server `MFA_TEST_POSTGRES_URL` names, dropped on drop.
    Postgres(PgSchema),
}

impl Database {
    pub fn sqlite() -> Self {
        Self::Sqlite
    }

    /// `None`, saying so, when no PostgreSQL server is configured.
    pub fn postgres() -> Option<Self> {
        PgSchema::from_env("crash").map(Self::Postgres)
    }
}

pub struct Cluster {
    dir: tempfile::TempDir,
    database: Database,
    configs: Vec<PathBuf>,
    ports: Vec<u16>,
    nodes: Vec<Option<Daemon>>,
    /// Tokens and keys made by mfac for the load.
    pub otp_token: String,
    pub server_token: String,
    pub client_key: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Cluster {
    /// Writes one config per node, sets up tokens and the push app with mfac, starts the nodes.
    pub fn start(database: Database, nodes: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let database_line = match &database {
            Database::Sqlite => String::new(),
            Database::Postgres(schema) => format!("database_url = \"{}\"\n", schema.url()),
        };
        let ports: Vec<u16> = (0..nodes).map(|_| free_port()).collect();
        let configs: Vec<PathBuf> = ports
            .iter()
            .enumerate()
            .map(|(n, port)| {
                let path = dir.path().join(format!("mfad-{n}.toml"));
                // Failures (replays, denied pushes) are part of the load: no lockouts.
                let text = format!(
                    "server_name = \"mfa.test\"\nlisten = \"127.0.0.1:{port}\"\n\
                     data_dir = \"{}\"\n{database_line}max_failed_attempts = 1000\n\
                     auth_timeout = 600\n",
                    data.display()
                );
                write_private(&path, &text);
                path
            })
            .collect();
        let mut cluster = Self {
            dir,
            database,
            configs,
            ports,
            nodes: Vec::new(),
            otp_token: String::new(),
            server_token: String::new(),
            client_key: String::new(),
        };
        cluster.set_up();
        cluster.nodes = (0..nodes)
            .map(|n| Some(Daemon::start(&cluster.configs[n])))
            .collect();
        cluster
    }

    fn mfac(&self, args: &[&str], field: &str) -> String {
        let out = Command::new(mfa_testkit::artefact("mfac"))
            .arg("--config")
            .arg(&self.configs[0])
            .args(args)
            .arg("--json")
            .env_remove("MFA_DATABASE_URL")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mfac {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        answer[field].as_str().unwrap_or_default().to_owned()
    }

    fn set_up(&mut self) {
        self.otp_token = self.mfac(&["token", "add", "crash", "--scope", "otp"], "api_token");
        self.server_token = self.mfac(&["server", "add", "crash", "--hosts", HOST], "api_token");
        self.client_key = self.mfac(&["client", "add", USER, "--notify", "none"], "client_key");
        let app = [
            "app",
            "add",
            "--user",
            USER,
            "--host",
            HOST,
            "--service",
            "*",
            "--client",
            USER,
            "--methods",
            "push",
        ];
        self.mfac(&app, "id");
    }

    /// `http://127.0.0.1:PORT` of every node, also while it is down.
    pub fn bases(&self) -> Vec<String> {
        self.ports
            .iter()
            .map(|p| format!("http://127.0.0.1:{p}"))
            .collect()
    }

    /// SIGKILL, as a crash or the OOM killer would.
    pub fn kill(&mut self, node: usize) {
        if let Some(daemon) = self.nodes[node].take() {
            daemon.stop();
        }
    }

    pub fn restart(&mut self, node: usize) {
        self.kill(node);
        self.nodes[node] = Some(Daemon::start(&self.configs[node]));
    }

    pub fn stop_all(&mut self) {
        for node in 0..self.nodes.len() {
            self.kill(node);
        }
    }

    /// SQLite's own check of the file after all the kills (PostgreSQL keeps its own).
    pub async fn assert_integrity(&self) {
        if let Database::Sqlite = self.database {
            use sqlx::ConnectOptions;
            let path = self.dir.path().join("data/mfa.db");
            let mut db = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .connect()
                .await
                .unwrap();
            let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_one(&mut db)
                .await
                .unwrap();
            assert_eq!(verdict, "ok", "{}", path.display());
        }
    }
}
