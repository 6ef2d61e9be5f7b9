//! mfa-duo's integration tests, one binary: Duo's published vectors, the real duo_client,
//! requests shaped as duo_unix sends them, BSON read back by the `bson` crate, properties.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test: fail loudly

mod bson_peer;
mod duo_client;
mod duo_unix;
mod properties;
mod vectors;
