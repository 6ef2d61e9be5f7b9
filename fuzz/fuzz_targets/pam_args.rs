//! The PAM module's arguments, as written after the module in /etc/pam.d/SERVICE and split on
//! white space by PAM (pam_mfa::args::parse).
//!
//! Exactly the documented arguments are accepted (a typo must be an error, never ignored),
//! later ones win as the parser says, and the syslog socket is found even when the
//! arguments are refused.
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use mfa_fuzz::{assert_one_line, text};
use pam_mfa::args;
use pam_mfa::config::FailMode;

fuzz_target!(|data: &[u8]| {
    let Some(text) = text(data) else { return };
    let given: Vec<&str> = text.split_ascii_whitespace().collect();
    let parsed = args::parse(given.iter().copied());
    let all_known = given.iter().all(|a| known(a));
    match parsed {
        Ok(a) => {
            assert!(all_known, "{given:?} accepted");
            let last = |key: &str| {
                given
                    .iter()
                    .rev()
                    .find_map(|a| a.strip_prefix(key).filter(|v| !v.is_empty()))
            };
            let config = last("config=").map_or(args::DEFAULT_CONFIG, |v| v);
            assert_eq!(a.config, PathBuf::from(config));
            assert_eq!(a.syslog_socket, last("syslog_socket=").map(PathBuf::from));
            let failmode = last("failmode=").map(|m| m.parse::<FailMode>());
            assert_eq!(a.failmode, failmode.and_then(Result::ok));
            assert_eq!(a.push_only, given.contains(&"push_only"));
            assert_eq!(a.debug, given.contains(&"debug"));
        }
        Err(message) => {
            assert!(!all_known, "{given:?} refused: {message}");
            assert_one_line(&message);
        }
    }
    let first_socket = given
        .iter()
        .find_map(|a| a.strip_prefix("syslog_socket=").filter(|v| !v.is_empty()));
    assert_eq!(
        args::syslog_socket(given.iter().copied()),
        first_socket.map(PathBuf::from)
    );
});

/// One documented argument, spelled as the README gives it.
fn known(arg: &str) -> bool {
    let value = |key: &str| arg.strip_prefix(key).filter(|v| !v.is_empty());
    matches!(arg, "push_only" | "debug")
        || value("config=").is_some()
        || value("syslog_socket=").is_some()
        || matches!(arg, "failmode=secure" | "failmode=safe")
}
