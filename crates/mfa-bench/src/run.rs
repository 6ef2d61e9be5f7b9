//! The whole run: nginx's ceiling, each backend's test bed and scenarios, the peer, then the
//! table (and the JSON file).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use mfa_wire::OtpType;

use crate::cli::{Backend, Plan, Scenario};
use crate::fill;
use crate::fleet::Fleet;
use crate::postgres::Schema;
use crate::procs::{self, Mfad, Nginx, which};
use crate::report::{self, Row};
use crate::scenarios::peer::Peer;
use crate::scenarios::{Bed, ceiling, login, otp, pending, push};
use crate::setup::{self, Install};

/// Progress on stderr, with the seconds since the start.
fn say(message: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let secs = START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_secs_f64();
    eprintln!("mfa-bench [{secs:6.1} s]: {message}");
}

/// What the run gathers.
struct Run {
    plan: Plan,
    open_files: u64,
    wrk: Option<PathBuf>,
    rows: Vec<Row>,
    skipped: Vec<String>,
}

/// Runs everything the plan asks for; true when no row had an error.
pub async fn run(plan: Plan) -> anyhow::Result<bool> {
    for bin in ["mfad", "mfac"] {
        let path = plan.bin_dir.join(bin);
        if !path.is_file() {
            bail!(
                "{} is missing: build it first (scripts/bench.sh builds the release binaries)",
                path.display()
            );
        }
    }
    let open_files = procs::raise_open_file_limit();
    let mut run = Run {
        wrk: which("wrk"),
        plan,
        open_files,
        rows: Vec::new(),
        skipped: Vec::new(),
    };
    run.fit_pending();
    run.note_pending_backends();
    say(&format!(
        "{:.0} s per scenario, {} connections, {} cores shared by mfad and the generator",
        run.plan.seconds.as_secs_f64(),
        run.plan.connections,
        cores()
    ));
    if run.plan.runs(Scenario::Ceiling) {
        run.nginx().await;
    }
    for backend in run.plan.backends.clone() {
        run.backend(backend).await;
    }
    run.peer().await;
    run.finish()
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Run {
    /// Both sides hold one descriptor per waiting login: cut `--pending` to what fits.
    fn fit_pending(&mut self) {
        let usable = (self.open_files - self.open_files / 4) as usize;
        let room = usable.saturating_sub(self.plan.users + self.plan.connections + 256);
        if self.plan.runs(Scenario::Pending) && self.plan.pending > room {
            self.skipped.push(format!(
                "pending cut from {} to {room}: the open-file limit is {}",
                self.plan.pending, self.open_files
            ));
            self.plan.pending = room.max(1);
        }
    }

    fn note_pending_backends(&mut self) {
        let elsewhere: Vec<&str> = (self.plan.backends.iter())
            .filter(|b| !self.plan.pending_backends.contains(b))
            .map(|b| b.name())
            .collect();
        if self.plan.runs(Scenario::Pending) && !elsewhere.is_empty() {
            self.skipped.push(format!(
                "pending not run on {} (--pending-backends)",
                elsewhere.join(", ")
            ));
        }
    }

    async fn nginx(&mut self) {
        let Some(bin) = which("nginx") else {
            self.skipped.push(
                "nginx rows skipped: nginx is not installed (Debian: apt-get install nginx)".into(),
            );
            return;
        };
        let nginx = match Nginx::start(&bin).await {
            Ok(n) => n,
            Err(e) => {
                self.skipped.push(format!("nginx rows skipped: {e:#}"));
                return;
            }
        };
        let (conns, secs) = (self.plan.connections, self.plan.seconds);
        say("nginx: return 200");
        let row = ceiling::ours("return 200", "nginx", &nginx.target, "/", conns, secs).await;
        self.rows.push(row);
        if let Some(wrk) = &self.wrk {
            let url = format!("{}/", nginx.target.url());
            let row = ceiling::theirs(wrk, "return 200", "nginx", &url, conns, secs).await;
            self.rows.push(row);
        } else {
            self.skipped.push(
                "wrk rows skipped: wrk is not installed (Debian: apt-get install wrk)".into(),
            );
        }
        nginx.stop().await;
    }

    async fn backend(&mut self, backend: Backend) {
        let name = backend.name();
        let schema = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => match Schema::create(&self.plan.postgres_url) {
                Ok(schema) => Some(schema),
                Err(e) => {
                    let why = format!("PostgreSQL rows SKIPPED: {e:#}");
                    say(&why);
                    self.skipped.push(why);
                    return;
                }
            },
        };
        let url = schema.as_ref().map(Schema::url);
        match self.bed_rows(backend, url.as_deref()).await {
            Ok(rows) => self.rows.extend(rows),
            Err(e) => self.rows.push(Row::failed("setup", name, format!("{e:#}"))),
        }
        drop(schema);
    }

    /// Sets up one backend's bed and runs its scenarios.
    async fn bed_rows(&self, which: Backend, url: Option<&str>) -> anyhow::Result<Vec<Row>> {
        let backend = which.name();
        let mut bed = self.make_bed(backend, url).await?;
        let mut rows = Vec::new();
        self.request_scenarios(&mut bed, &mut rows).await?;
        let pending = self.plan.runs_on(Scenario::Pending, which);
        if self.plan.runs(Scenario::Push) || pending {
            say(&format!(
                "{backend}: connecting {} client WebSockets",
                bed.users.len()
            ));
            let fleet = Arc::new(Fleet::connect(&bed.mfad.target, &bed.users).await?);
            self.push_scenarios(&bed, &fleet, pending, &mut rows).await;
            if let Ok(fleet) = Arc::try_unwrap(fleet) {
                fleet.close().await;
            }
        }
        if let Some(why) = bed.mfad.exited() {
            rows.push(Row::failed("mfad", backend, why));
        }
        bed.mfad.stop().await;
        Ok(rows)
    }

    async fn make_bed(&self, backend: &'static str, url: Option<&str>) -> anyhow::Result<Bed> {
        let plan = &self.plan;
        let install = Install::new(&plan.bin_dir, url, self.open_files)?;
        let uses_users = plan.runs_any(&[
            Scenario::Preauth,
            Scenario::AuthTotp,
            Scenario::Push,
            Scenario::Pending,
        ]);
        say(&format!("{backend}: setting up (mfac)"));
        let server_token = setup::server_token(&install).await?;
        let otp_token = setup::otp_token(&install).await?;
        let users = if uses_users {
            setup::add_users(&install, plan.users).await?
        } else {
            Vec::new()
        };
        let mfad = Mfad::start(&install.bin("mfad"), &install.config).await?;
        let users = if plan.runs(Scenario::AuthTotp) {
            setup::enroll(&mfad.target, users)
                .await
                .context("enrolling the clients")?
        } else {
            users
        };
        let hotp = if plan.runs_any(&[Scenario::Verify, Scenario::Reject, Scenario::Size]) {
            setup::credentials(&mfad.target, &otp_token, OtpType::Hotp, plan.credentials).await?
        } else {
            Vec::new()
        };
        Ok(Bed {
            backend,
            install,
            mfad,
            server_token: server_token.into(),
            otp_token: otp_token.into(),
            users,
            hotp,
            totp: Vec::new(),
        })
    }

    /// The closed-loop request/answer scenarios, in the table's order.
    async fn request_scenarios(&self, bed: &mut Bed, rows: &mut Vec<Row>) -> anyhow::Result<()> {
        let (plan, b) = (&self.plan, bed.backend);
        let (conns, secs) = (plan.connections, plan.seconds);
        if plan.runs(Scenario::Ceiling) {
            say(&format!("{b}: healthz"));
            let target = bed.mfad.target.clone();
            rows.push(ceiling::ours("healthz", b, &target, "/healthz", conns, secs).await);
            if let Some(wrk) = &self.wrk {
                let url = format!("{}/healthz", target.url());
                rows.push(ceiling::theirs(wrk, "healthz", b, &url, conns, secs).await);
            }
        }
        if plan.runs(Scenario::Preauth) {
            say(&format!("{b}: preauth"));
            rows.push(login::preauth(bed, conns, secs).await);
        }
        if plan.runs(Scenario::Verify) {
            say(&format!("{b}: verify hotp"));
            let hotp = otp::verify_hotp(bed, conns, secs).await;
            let rate = (hotp.count > 0).then_some(hotp.rate);
            rows.push(hotp);
            let n = otp::totp_needed(rate, secs, plan.credentials);
            say(&format!("{b}: making {n} TOTP credentials"));
            otp::ensure_totp(bed, n).await?;
            say(&format!("{b}: verify totp"));
            rows.push(otp::verify_totp(bed, conns, secs).await);
        }
        if plan.runs(Scenario::Reject) {
            otp::ensure_totp(bed, plan.credentials).await?;
            say(&format!("{b}: reject hotp, reject totp"));
            rows.push(otp::reject_hotp(bed, conns, secs).await);
            rows.push(otp::reject_totp(bed, conns, secs, plan.credentials).await);
        }
        if plan.runs(Scenario::AuthTotp) {
            say(&format!("{b}: auth totp"));
            rows.push(login::auth_totp(bed, conns, secs).await);
        }
        if plan.runs(Scenario::Size) {
            self.size(bed, rows).await;
        }
        Ok(())
    }

    /// verify hotp on the same credentials before (unless verify ran already) and after the
    /// table was filled to `--fill` more rows.
    async fn size(&self, bed: &mut Bed, rows: &mut Vec<Row>) {
        let (plan, b) = (&self.plan, bed.backend);
        let (conns, secs) = (plan.connections, plan.seconds);
        if !plan.runs(Scenario::Verify) {
            say(&format!("{b}: verify hotp"));
            rows.push(otp::verify_hotp(bed, conns, secs).await);
        }
        say(&format!("{b}: storing {} more credentials", plan.fill));
        let took = match fill::fill(&bed.install.database_url, plan.fill).await {
            Ok(took) => took,
            Err(e) => return rows.push(Row::failed(otp::LARGE, b, format!("{e:#}"))),
        };
        say(&format!("{b}: verify hotp among them"));
        let mut row = otp::verify_hotp(bed, conns, secs).await;
        row.scenario = otp::LARGE.into();
        row.notes.push(format!(
            "{} credentials stored ({} copies written in {:.0} s)",
            plan.fill + bed.hotp.len() as u64 + bed.totp.len() as u64,
            plan.fill,
            took.as_secs_f64()
        ));
        rows.push(row);
    }

    async fn push_scenarios(
        &self,
        bed: &Bed,
        fleet: &Arc<Fleet>,
        pending: bool,
        rows: &mut Vec<Row>,
    ) {
        let plan = &self.plan;
        if plan.runs(Scenario::Push) {
            for &c in &plan.push_concurrency {
                say(&format!("{}: push C={c}", bed.backend));
                rows.push(push::push(bed, fleet, c, plan.seconds).await);
            }
        }
        if pending {
            say(&format!("{}: pending {}", bed.backend, plan.pending));
            rows.push(pending::pending(bed, fleet, plan.pending, plan.connections).await);
        }
    }

    async fn peer(&mut self) {
        let plan = &self.plan;
        if !plan.runs_any(&[Scenario::Verify, Scenario::Reject]) {
            return;
        }
        if !plan.peer {
            self.skipped
                .push("privacyIDEA rows skipped: --no-peer".into());
            return;
        }
        if !plan.peer_script.is_file() {
            self.skipped.push(format!(
                "privacyIDEA rows skipped: {} is not there (it starts and stops the peer)",
                plan.peer_script.display()
            ));
            return;
        }
        say("privacyIDEA: starting (scripts/bench/privacyidea.sh)");
        let mut peer = match Peer::start(&plan.peer_script, plan.credentials).await {
            Ok(p) => p,
            Err(e) => {
                self.rows
                    .push(Row::failed("peer start", report::PEER, format!("{e:#}")));
                return;
            }
        };
        say(&format!(
            "privacyIDEA: verify, reject ({} users)",
            peer.users()
        ));
        let (conns, secs) = (plan.connections, plan.seconds);
        if plan.runs(Scenario::Verify) {
            self.rows.push(peer.verify(conns, secs).await);
        }
        if plan.runs(Scenario::Reject) {
            self.rows.push(peer.reject(conns, secs).await);
        }
        if let Err(e) = peer.stop().await {
            self.skipped
                .push(format!("privacyIDEA did not stop cleanly: {e:#}"));
        }
    }

    /// Prints the table, the skipped parts and the errors; writes the JSON; true when clean.
    fn finish(mut self) -> anyhow::Result<bool> {
        report::add_ratios(&mut self.rows);
        println!();
        print!("{}", report::table(&self.rows));
        println!(
            "({:.0} s per scenario, {} connections, {} cores shared by mfad and the generator; \
             compare the ratios, not the absolute figures)",
            self.plan.seconds.as_secs_f64(),
            self.plan.connections,
            cores()
        );
        for line in &self.skipped {
            println!("note: {line}");
        }
        if let Some(path) = &self.plan.json {
            let json = report::JsonReport {
                seconds: self.plan.seconds.as_secs_f64(),
                connections: self.plan.connections,
                cores: cores(),
                rows: &self.rows,
                skipped: &self.skipped,
            };
            let text = serde_json::to_string_pretty(&json)?;
            std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
        }
        let errors = report::error_lines(&self.rows);
        if errors.is_empty() {
            return Ok(true);
        }
        println!(
            "\n!!! ERRORS: {} rows had errors; these figures are not to be trusted:",
            errors.len()
        );
        for line in &errors {
            println!("!!! {line}");
        }
        Ok(false)
    }
}
