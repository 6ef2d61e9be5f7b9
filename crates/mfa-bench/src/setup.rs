//! A fresh installation per backend: its own `mfad.toml` (mode 0600) in a temp dir, data made
//! with mfac (clients, apps, the server token, the OTP API token) and over the HTTP API (OTP
//! credentials, each client's TOTP seed through `POST /v1/client/enroll`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use mfa_otp::{Algorithm, Digits, Hotp, Secret, Totp, TotpParams};
use mfa_wire::{EnrollResponse, NewOtpCredential, OtpCredential, OtpType};
use serde_json::Value;

use crate::http::{self, Conn, Target};
use crate::load::REQUEST_TIMEOUT;

/// The host and service every bench login names (JSON fields only: nothing is sent there).
pub const HOST: &str = "linux.example.org";
pub const SERVICE: &str = "sshd";
/// `[totp] skew` in the bench's config: mfad's default.
pub const SKEW: u32 = 1;
/// The shortest period mfad allows, for client seeds and TOTP credentials: the most fresh
/// steps per second (the period does not change what a verification costs).
pub const PERIOD: u32 = 15;
/// mfac processes run at once while setting up (each waits mostly on its commit).
const MFAC_PARALLEL: usize = 8;
/// Connections used to make credentials and enrol clients.
const SETUP_CONNECTIONS: usize = 16;

/// One mfa installation: a temp dir with `mfad.toml` and its data.
pub struct Install {
    _dir: tempfile::TempDir,
    pub config: PathBuf,
    /// mfad's database (the size scenario writes into it).
    pub database_url: String,
    bin_dir: PathBuf,
}

/// The config: throttles raised so they never cut the work short, pushes that outlive the
/// pending scenario, and connection limits that fit ten thousand waiting logins.
fn config_text(data_dir: &Path, database_url: Option<&str>, open_files: u64) -> String {
    let max_connections = (open_files - open_files / 4).clamp(16, 1_000_000);
    let database = database_url
        .map(|url| format!("database_url = \"{url}\"\n"))
        .unwrap_or_default();
    format!(
        "server_name = \"mfa-bench\"\n\
         listen = \"127.0.0.1:0\"\n\
         data_dir = \"{}\"\n\
         {database}\
         log = \"warn,mfad=info\"\n\
         auth_timeout = 600\n\
         max_failed_attempts = 1000\n\
         block_duration = 1\n\
         max_connections = {max_connections}\n\
         max_connections_per_ip = 1000000\n\
         [totp]\n\
         period = {PERIOD}\n\
         skew = {SKEW}\n",
        data_dir.display()
    )
}

impl Install {
    pub fn new(
        bin_dir: &Path,
        database_url: Option<&str>,
        open_files: u64,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir().context("temp dir for mfad")?;
        let config = dir.path().join("mfad.toml");
        let data_dir = dir.path().join("data");
        let text = config_text(&data_dir, database_url, open_files);
        write_private(&config, &text)?;
        // mfad's default when no database_url is set.
        let database_url = database_url.map_or_else(
            || format!("sqlite://{}/mfa.db", data_dir.display()),
            str::to_owned,
        );
        Ok(Self {
            _dir: dir,
            config,
            database_url,
            bin_dir: bin_dir.to_owned(),
        })
    }

    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// `mfac --config CONFIG ARGS... --json`, its answer.
    pub async fn mfac(&self, args: &[String]) -> anyhow::Result<Value> {
        mfac(&self.bin("mfac"), &self.config, args).await
    }

    /// Many mfac calls, a few at a time; the answers in order.
    pub async fn mfac_many(&self, calls: Vec<Vec<String>>) -> anyhow::Result<Vec<Value>> {
        let gate = Arc::new(tokio::sync::Semaphore::new(MFAC_PARALLEL));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, args) in calls.into_iter().enumerate() {
            let (gate, bin, config) = (gate.clone(), self.bin("mfac"), self.config.clone());
            tasks.spawn(async move {
                let _turn = gate.acquire_owned().await;
                (i, mfac(&bin, &config, &args).await)
            });
        }
        let mut answers = Vec::new();
        while let Some(done) = tasks.join_next().await {
            let (i, answer) = done?;
            answers.push((i, answer?));
        }
        answers.sort_by_key(|(i, _)| *i);
        Ok(answers.into_iter().map(|(_, a)| a).collect())
    }
}

/// mfad and mfac refuse a config others may read: 0600, as an admin must.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("chmod 600 {}", path.display()))
}

async fn mfac(bin: &Path, config: &Path, args: &[String]) -> anyhow::Result<Value> {
    let out = tokio::process::Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .arg("--json")
        .env_remove("MFA_DATABASE_URL")
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "mfac {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("mfac {}: not JSON", args.join(" ")))
}

fn field(answer: &Value, name: &str) -> anyhow::Result<String> {
    answer[name]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no {name} in mfac's answer: {answer}"))
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// A login user, its own client (key and, once enrolled, TOTP seed) and the address its
/// logins come from.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub client: String,
    pub key: String,
    pub client_ip: String,
    pub totp: Option<Totp>,
}

/// Addresses from 198.18.0.0/15, the range set aside for benchmarks (RFC 2544); they only
/// appear in request bodies as the login's source.
fn client_ip(i: usize) -> String {
    format!("198.{}.{}.{}", 18 + (i >> 16) % 2, (i >> 8) & 255, i & 255)
}

/// `n` users `u0000...`, each with a client `c0000...` and an app (push, totp) routing its
/// sshd logins on [`HOST`] to that client.
pub async fn add_users(install: &Install, n: usize) -> anyhow::Result<Vec<User>> {
    let names: Vec<(String, String)> = (0..n)
        .map(|i| (format!("u{i:05}"), format!("c{i:05}")))
        .collect();
    let clients = names
        .iter()
        .map(|(_, c)| strings(&["client", "add", c]))
        .collect();
    let answers = install.mfac_many(clients).await?;
    let apps = names
        .iter()
        .map(|(u, c)| {
            strings(&[
                "app",
                "add",
                "--user",
                u,
                "--host",
                HOST,
                "--service",
                SERVICE,
                "--client",
                c,
                "--methods",
                "push,totp",
            ])
        })
        .collect();
    install.mfac_many(apps).await?;
    names
        .into_iter()
        .zip(answers)
        .enumerate()
        .map(|(i, ((name, client), answer))| {
            Ok(User {
                name,
                client,
                key: field(&answer, "client_key")?,
                client_ip: client_ip(i),
                totp: None,
            })
        })
        .collect()
}

/// A server allowed every host: its API token.
pub async fn server_token(install: &Install) -> anyhow::Result<String> {
    let answer = install
        .mfac(&strings(&["server", "add", "bench", "--hosts", "*"]))
        .await?;
    field(&answer, "api_token")
}

/// An API token with scope `otp`.
pub async fn otp_token(install: &Install) -> anyhow::Result<String> {
    let answer = install
        .mfac(&strings(&["token", "add", "bench-otp", "--scope", "otp"]))
        .await?;
    field(&answer, "api_token")
}

/// Runs `each` for every item, on a few connections at once (items split between them).
async fn on_connections<I, O, F, Fut>(
    target: &Target,
    items: Vec<I>,
    each: F,
) -> anyhow::Result<Vec<O>>
where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(Target, Conn, I) -> Fut + Send + Sync + Clone + 'static,
    Fut: Future<Output = anyhow::Result<(Conn, O)>> + Send,
{
    let mut lanes: Vec<Vec<(usize, I)>> = (0..SETUP_CONNECTIONS).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        lanes[i % SETUP_CONNECTIONS].push((i, item));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for lane in lanes.into_iter().filter(|l| !l.is_empty()) {
        let (target, each) = (target.clone(), each.clone());
        tasks.spawn(async move {
            let mut conn = Conn::open(&target).await?;
            let mut done = Vec::new();
            for (i, item) in lane {
                let (c, out) = each(target.clone(), conn, item).await?;
                conn = c;
                done.push((i, out));
            }
            anyhow::Ok(done)
        });
    }
    let mut all = Vec::new();
    while let Some(done) = tasks.join_next().await {
        all.extend(done??);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, o)| o).collect())
}

/// Hands each user's client its TOTP seed, once, as `mfa enroll` does.
pub async fn enroll(target: &Target, users: Vec<User>) -> anyhow::Result<Vec<User>> {
    on_connections(target, users, |target, mut conn, mut user| async move {
        let req = http::post_empty(&target, "/v1/client/enroll", Some(&user.key));
        let (status, body) = conn.send(req, REQUEST_TIMEOUT).await?;
        let seed: EnrollResponse =
            http::json(status, &body).map_err(|e| anyhow!("enrol {}: {e}", user.client))?;
        user.totp = Some(totp_of(
            &seed.totp_secret,
            &seed.algorithm,
            seed.digits,
            seed.period,
        )?);
        Ok((conn, user))
    })
    .await
}

fn totp_of(secret: &str, algorithm: &str, digits: u8, period: u32) -> anyhow::Result<Totp> {
    let secret = Secret::from_base32(secret).map_err(|e| anyhow!("seed: {e}"))?;
    let algorithm: Algorithm = algorithm.parse().map_err(|e| anyhow!("algorithm: {e}"))?;
    let digits = Digits::new(digits).map_err(|e| anyhow!("digits: {e}"))?;
    let params = TotpParams::new(algorithm, digits, period).map_err(|e| anyhow!("period: {e}"))?;
    Ok(Totp::new(secret, params))
}

/// An OTP service credential as its application keeps it.
#[derive(Clone)]
pub struct Credential {
    pub id: String,
    pub kind: CredentialKind,
}

#[derive(Clone)]
pub enum CredentialKind {
    /// The next counter the server expects.
    Hotp {
        hotp: Hotp,
        counter: u64,
    },
    Totp(Totp),
}

/// Makes `n` credentials of `kind` through `POST /v1/otp/credentials` (the server makes the
/// secret and returns it this once).
pub async fn credentials(
    target: &Target,
    token: &str,
    kind: OtpType,
    n: usize,
) -> anyhow::Result<Vec<Credential>> {
    let token: Arc<str> = token.into();
    on_connections(target, vec![(); n], move |target, mut conn, ()| {
        let token = token.clone();
        async move {
            let body = NewOtpCredential {
                kind,
                algorithm: None,
                digits: None,
                period: (kind == OtpType::Totp).then_some(u64::from(PERIOD)),
                issuer: None,
                label: None,
            };
            let body = serde_json::to_string(&body)?;
            let req = http::post_json(&target, "/v1/otp/credentials", Some(&token), body);
            let (status, answer) = conn.send(req, REQUEST_TIMEOUT).await?;
            let made: OtpCredential =
                http::json(status, &answer).map_err(|e| anyhow!("make a credential: {e}"))?;
            Ok((conn, credential_of(made)?))
        }
    })
    .await
}

fn credential_of(made: OtpCredential) -> anyhow::Result<Credential> {
    let secret = made
        .secret
        .as_deref()
        .ok_or_else(|| anyhow!("credential {} came without its secret", made.id))?;
    let kind = match made.kind {
        OtpType::Hotp => {
            let hotp = Hotp::new(
                Secret::from_base32(secret).map_err(|e| anyhow!("secret: {e}"))?,
                made.algorithm
                    .parse()
                    .map_err(|e| anyhow!("algorithm: {e}"))?,
                Digits::new(made.digits).map_err(|e| anyhow!("digits: {e}"))?,
            );
            CredentialKind::Hotp {
                hotp,
                counter: made.counter.unwrap_or(0),
            }
        }
        OtpType::Totp => CredentialKind::Totp(totp_of(
            secret,
            &made.algorithm,
            made.digits,
            made.period.unwrap_or(PERIOD),
        )?),
    };
    Ok(Credential { id: made.id, kind })
}
