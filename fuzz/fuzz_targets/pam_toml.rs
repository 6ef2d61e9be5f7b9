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
                if value.len() >= 8 && text.matches(value).count() == 1 {
                    assert!(
                        !message.contains(value),
                        "the error quotes the token {value:?}: {message:?}"
                    );
                }
            }
        }
    }
});

/// The values of `token = ...` lines, without quotes or spaces around them.
fn token_values(text: &str) -> impl Iterator<Item = &str> {
    text.lines().filter_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == "token").then(|| value.trim().trim_matches(['"', '\'']).trim())
    })
}
