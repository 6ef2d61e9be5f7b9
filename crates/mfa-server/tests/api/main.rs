//! mfad's HTTP API, served in process on 127.0.0.1 over real TCP, against a real database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod input;
mod nodes;
mod notify;
mod protections;
mod push;
mod totp;
mod web;
mod websocket;
