//! Runs the real `mfa` against a real `mfad`, set up with the real `mfac`; `mfa listen` runs in
//! a real terminal (tmux) and is driven with keystrokes, as a person would.
//!
//! `mfad` and `mfac` are other packages' binaries, which Cargo cannot build for this test
//! (a dev-dependency cannot name a binary). They are taken from the target directory this
//! test binary lives in, so they must be built first: `cargo nextest run --workspace` and
//! `cargo test --workspace` (what scripts/test.sh and CI run) build every binary before any
//! test; on its own, run `cargo build -p mfad -p mfac` before `cargo test -p mfa-client`
//! (or the tests use whatever mfad/mfac were built last).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod enroll;
mod listen;
mod support;
