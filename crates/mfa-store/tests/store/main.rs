//! The store conformance suite: every test runs against SQLite and, when
//! `MFA_TEST_POSTGRES_URL` is set, against that PostgreSQL server too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod apps;
mod backup;
mod clients;
mod duo;
mod enrol;
mod open;
mod otp;
mod policy;
mod requests;
mod rotate;
mod tokens;
mod vault;
