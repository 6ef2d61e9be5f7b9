//! What `mfa listen` makes of a line typed at its prompt (mfa-client listen/answer.rs).
//!
//! Approve only on an explicit answer: with number matching, exactly the two digits; without,
//! a/y/yes/approve; a report needs an explicit yes. Case and surrounding space never change
//! the meaning; the hint for anything else is one line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mfa_fuzz::assert_one_line;
use mfa_fuzz::client_answer::{Answer, confirms, parse};

fuzz_target!(|data: &[u8]| {
    // `mfa listen` reads lines lossily as UTF-8, without the line end.
    let line = String::from_utf8_lossy(data);
    let line = line.trim_end_matches(['\n', '\r']);
    for number_required in [true, false] {
        let answer = parse(line, number_required);
        let word = line.trim().to_ascii_lowercase();
        match &answer {
            Answer::Approve(Some(n)) => {
                assert!(number_required);
                assert!(
                    word.len() == 2 && word.bytes().all(|b| b.is_ascii_digit()),
                    "{line:?}"
                );
                assert_eq!(word.parse::<u8>().ok(), Some(*n));
            }
            Answer::Approve(None) => {
                assert!(!number_required);
                assert!(
                    matches!(word.as_str(), "a" | "y" | "yes" | "approve"),
                    "{line:?}"
                );
            }
            Answer::Deny => assert!(matches!(word.as_str(), "d" | "n" | "no" | "deny")),
            Answer::Report => assert!(matches!(word.as_str(), "r" | "report")),
            Answer::Help => assert!(matches!(word.as_str(), "?" | "h" | "help")),
            Answer::Nothing => assert!(word.is_empty()),
            Answer::Invalid(hint) => assert_one_line(hint),
        }
        // Case and padding do not change what an answer means.
        let shouted = format!(" {} ", line.to_ascii_uppercase());
        let same = parse(&shouted, number_required);
        match (&answer, &same) {
            (Answer::Invalid(_), Answer::Invalid(_)) => {}
            _ => assert_eq!(same, answer, "{line:?} vs {shouted:?}"),
        }
    }
    if confirms(line) {
        assert!(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes" | "r" | "report"
        ));
    }
});
