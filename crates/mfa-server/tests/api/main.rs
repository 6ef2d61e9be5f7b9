//! mfad's HTTP API, served in process on 127.0.0.1 over real TCP, against a real database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod admin;
mod audit;
mod bounds;
mod duo;
mod enrol_links;
mod enroll;
mod guessing;
mod health;
mod input;
mod lockouts;
mod metrics;
mod nodes;
mod notify;
mod openapi;
mod otp;
mod passkeys;
mod policy;
mod protections;
mod push;
mod revocation;
mod serve;
mod sessions;
mod stepup;
mod totp;
mod vault;
mod web;
mod websocket;
