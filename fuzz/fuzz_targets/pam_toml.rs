//! The PAM module's `/etc/mfa/pam.toml` (pam_mfa::config::parse).
//!
//! An accepted config has the bounds parse promises (an http(s) URL without a trailing '/', a
//! token, timeouts in range); an error is one line and never quotes the token's value: it
//! goes to the system log.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_fuzz::{assert_one_line, text};
use pam_mfa::config;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    match config::parse(text) {
        Ok(c) => {
            assert!(c.url.starts_with("https://") || c.url.starts_with("http://"));
            assert!(!c.url.ends_with('/'), "{:?}", c.url);
            assert!(!c.token.trim().is_empty());
            assert!((5..=600).contains(&c.timeout));
            assert!((1..=60).contains(&c.connect_timeout));
        }
        Err(message) => {
            assert_one_line(&message);
            for value in token_values(text) {
                for run in token_like(value) {
                    if text.matches(run).count() == 1 {
                        assert!(
                            !message.contains(run),
                            "the error quotes the token's {run:?}: {message:?}"
                        );
                    }
                }
            }
        }
    }
});

/// The parts of a value that look like a token (`mfas_` and random letters and digits): runs
/// of 10 or more letters, digits and '_' with a digit in them. The messages' own examples
/// (`"https://mfa.example.org"`, `connect_timeout`) have none.
fn token_like(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|run| run.len() >= 10 && run.bytes().any(|b| b.is_ascii_digit()))
}

/// The values of `token = ...` lines, without quotes or spaces around them.
fn token_values(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "token").then(|| value.trim().trim_matches(['"', '\'']).trim())
    })
}
