//! `mfa-bench`: mfad's hot paths under load, on 127.0.0.1, in one command.
//!
//! It builds nothing (`scripts/bench.sh` builds the release binaries and runs it). It starts
//! everything itself with fresh data: nginx (for the ceiling), then per backend — SQLite, and
//! PostgreSQL in a schema of its own (`mfa_bench_<pid>`, dropped afterwards; skipped, and said
//! so, when the server does not answer) — mfad from `--bin-dir` with its own `mfad.toml`
//! (0600) in a temp dir, its data made with mfac and the HTTP API; and the peer, privacyIDEA,
//! through `scripts/bench/privacyidea.sh` when that script is there. Each scenario runs for a
//! bounded time (`--seconds`, default 10), closed loop on `--connections` (16) HTTP/1.1
//! keep-alive connections, and every answer is checked: a run with any error says so loudly
//! and exits non-zero. One table follows, with ratios; `--json FILE` writes the same figures.
//!
//! # Scenarios
//!
//! - `ceiling`: `GET /healthz` of mfad (a database ping at most once a second) and nginx's
//!   `return 200`, each with this generator and with `wrk -t2 -c16`. nginx is the cheapest
//!   answer an HTTP server gives; if this generator gets about what wrk gets from it, the
//!   generator is not what limits the other rows, and `healthz / nginx` is mfad's own ceiling
//!   on this machine.
//! - `verify`: `POST /v1/otp/credentials/{id}/verify` with the next valid code of a credential
//!   (`--credentials` HOTP ones, default 1000: the credential's next counter; TOTP ones with a
//!   15 s period: each step once, oldest first, only while mfad's `skew` of 1 still accepts it,
//!   as many credentials as the run length needs — if they run out, the figures cover the time
//!   used). Every answer must be `ok: true`. Each verification counts the attempt and burns the
//!   code: one write transaction (grouped with concurrent ones on SQLite).
//! - `reject`: wrong codes to the same credentials; every answer must be `ok: false` and none
//!   throttled (429). HOTP costs mfad 11 HMACs (it looks 10 counters ahead), TOTP 3.
//! - `preauth`: `POST /v1/preauth` for the bench's users; every answer must be `auth`.
//! - `auth-totp`: `POST /v1/auth` with method `totp` and the code of the user's client (its seed
//!   fetched once through `POST /v1/client/enroll`); each (client, step) once; every answer
//!   must be `allow`. A login, its audit row and the burnt step.
//! - `push`: C concurrent logins (`--push-concurrency`, default 1, 100, 1000), each user with
//!   its own client on a WebSocket: `POST /v1/auth` method push, the client approves with the
//!   number as soon as mfad tells it, and the long poll `GET /v1/auth/{txid}?wait=30` must
//!   answer approved. Latency is end to end (POST sent to long poll answered).
//! - `pending`: `--pending` pushes (10 000) waiting at once, each with its own long poll open;
//!   mfad's resident memory (VmRSS) is sampled while they wait; then all are approved and the
//!   time is taken from the first approval sent until every long poll has answered. SQLite
//!   only by default (`--pending-backends sqlite,postgres` for both).
//! - `size`: `verify` on the HOTP credentials again after `--fill` (1 000 000) more were
//!   stored — copies of one credential's row written straight into mfad's database, never
//!   verified, so the table, its indexes and the file are as large as with that many
//!   credentials; the row `verify hotp large` gives its rate against `verify hotp`'s.
//! - the peer: privacyIDEA under the same `verify` (next HOTP code per user) and `reject`
//!   loads, `POST /validate/check`; the table gives mfa / privacyIDEA.
//!
//! # Why the generator is not the bottleneck
//!
//! Each connection is one task that builds a request, writes it and reads the answer on a bare
//! hyper HTTP/1.1 connection: no pool, no lock, no shared counter on the hot path (latencies go
//! to the task's own vector). The ceiling rows measure it against wrk on nginx side by side:
//! when both reach about the same requests/s there, the other rows measure mfad. On the 2-core
//! development machine it drove about half of what wrk drives from nginx (118 000 against
//! 219 000 requests/s) and the same as wrk from mfad's `/healthz` (23 000 against 25 000): five
//! times mfad's cheapest answer, which is the most any other row asks of it. The machine's
//! cores are shared by mfad, the generator and (for the ceiling) nginx or wrk, so absolute
//! figures move between runs; the ratios are what to compare.
//!
//! mfad's config raises what would cut the work short: `max_failed_attempts = 1000` with
//! `block_duration = 1` (rejects are never throttled), `auth_timeout = 600` (pending pushes
//! outlive the scenario), `max_connections` three quarters of the open-file limit (raised to the
//! hard limit for this process and mfad) and `max_connections_per_ip = 1000000`.

mod cli;
mod fill;
mod fleet;
mod http;
mod load;
mod postgres;
mod procs;
mod report;
mod run;
mod scenarios;
mod setup;
mod steps;
mod wrk;

use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let plan = match cli::Plan::new(args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("mfa-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mfa-bench: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(run::run(plan)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("mfa-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}
