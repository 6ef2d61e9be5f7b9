//! Faults around the real mfad: its PostgreSQL database stopped and started again under it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// TOTP codes follow the wall clock mfad reads; recovery is waited for in real time.
#![allow(clippy::disallowed_methods)]

mod cluster;
mod outage;
