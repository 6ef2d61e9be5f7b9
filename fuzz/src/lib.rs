//! What the fuzz targets share: the code of two crates the targets cannot depend on cheaply,
//! and small checks of invariants every target asserts.
//!
//! `mfa-client` is a binary crate and `mfa-store` pulls in sqlx; the two pure files the
//! targets need are compiled here from their own source (`#[path]`), so the fuzzed code is
//! the crates' very code, without their dependency trees.

/// `mfa listen`'s reading of a typed answer (crates/mfa-client/src/listen/answer.rs).
#[path = "../../crates/mfa-client/src/listen/answer.rs"]
pub mod client_answer;

/// Checks of OTP parameters and vault seeds as the HTTP API gets them
/// (crates/mfa-store/src/params.rs).
#[path = "../../crates/mfa-store/src/params.rs"]
pub mod store_params;

/// The input as text, or `None` when it is not UTF-8 (every parser here takes `&str`).
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Error messages are one line: they end up in logs and in one-line JSON errors.
pub fn assert_one_line(message: &str) {
    assert!(
        !message.contains('\n') && !message.contains('\r'),
        "a message of more than one line: {message:?}"
    );
}

/// The longest runs of base32 symbols (A-Z, a-z, 2-7) in `text` that are at least `min` long:
/// what a secret looks like. No word of any error message template is 10 symbols long, so a
/// run of 10 or more found in a message came from the input.
pub fn base32_runs(text: &str, min: usize) -> Vec<&str> {
    let is_symbol = |c: char| c.is_ascii_alphabetic() || ('2'..='7').contains(&c);
    text.split(|c: char| !is_symbol(c))
        .filter(|run| run.len() >= min)
        .collect()
}

/// Asserts that `message` quotes no base32 run of `secret` (as long as the run occurs only once
/// in `input`, so that it cannot have been quoted from somewhere else in it; not checked when
/// `input` has percent escapes, which could spell the run a second time).
pub fn assert_secret_not_quoted(message: &str, secret: &str, input: &str) {
    if input.contains('%') {
        return;
    }
    for run in base32_runs(secret, 10) {
        if input.matches(run).count() == 1 {
            assert!(
                !message.contains(run),
                "the message quotes the secret {run:?}: {message:?}"
            );
        }
    }
}

/// The raw `secret=` value of an otpauth URI, found the way the parser finds it (after `://`,
/// before `#`, in the query), or "" when there is none.
pub fn otpauth_secret(uri: &str) -> &str {
    let Some((_, rest)) = uri.trim().split_once("://") else {
        return "";
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let Some((_, query)) = rest.split_once('?') else {
        return "";
    };
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| key.eq_ignore_ascii_case("secret"))
        .map_or("", |(_, value)| value)
}
