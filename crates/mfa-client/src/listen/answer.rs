//! What a typed line means at the prompt of a login request.

/// One line typed at the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Approve; with the number from the login prompt when the request needs one.
    Approve(Option<u8>),
    Deny,
    /// Deny and report "this was not me" (asks for confirmation first).
    Report,
    Help,
    /// An empty line: show the prompt again.
    Nothing,
    /// Not an answer; the text says what to type instead.
    Invalid(String),
}

/// The short list of choices, as shown in the prompt.
pub fn choices(number_required: bool) -> &'static str {
    if number_required {
        "number / d / r"
    } else {
        "a / d / r"
    }
}

/// What to type, in a sentence.
pub fn hint(number_required: bool, user: &str) -> String {
    let approve = if number_required {
        "type the two-digit number shown at the login prompt to approve"
    } else {
        "type a to approve"
    };
    format!(
        "To answer: {approve}, d to deny, r to deny and report \"this was not me\" (locks {user} out until an admin clears it)."
    )
}

pub fn parse(line: &str, number_required: bool) -> Answer {
    let word = line.trim().to_ascii_lowercase();
    match word.as_str() {
        "" => Answer::Nothing,
        "d" | "n" | "no" | "deny" => Answer::Deny,
        "r" | "report" => Answer::Report,
        "?" | "h" | "help" => Answer::Help,
        "a" | "y" | "yes" | "approve" if number_required => Answer::Invalid(
            "this login needs the number shown at its prompt: type those two digits to approve"
                .into(),
        ),
        "a" | "y" | "yes" | "approve" => Answer::Approve(None),
        digits if digits.bytes().all(|b| b.is_ascii_digit()) => {
            if !number_required {
                Answer::Invalid("this login needs no number: type a to approve".into())
            } else if digits.len() != 2 {
                // A typo is not an answer: a wrong number would deny the login.
                Answer::Invalid(
                    "the number at the login prompt has two digits: type both to approve".into(),
                )
            } else {
                match digits.parse::<u8>() {
                    Ok(n) => Answer::Approve(Some(n)),
                    Err(_) => Answer::Invalid("type the two-digit number".into()),
                }
            }
        }
        _ => Answer::Invalid(format!(
            "{:?} is not an answer: {} (? for help)",
            line.trim(),
            choices(number_required)
        )),
    }
}

/// The answer to "really report?": only an explicit yes reports.
pub fn confirms(line: &str) -> bool {
    matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes" | "r" | "report"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_approve_when_a_number_is_required() {
        assert_eq!(parse("42", true), Answer::Approve(Some(42)));
        assert_eq!(parse("  07 \r", true), Answer::Approve(Some(7)));
        assert_eq!(parse("99", true), Answer::Approve(Some(99)));
        for typo in ["4", "421", "0042"] {
            assert!(matches!(parse(typo, true), Answer::Invalid(m) if m.contains("two digits")));
        }
        for word in ["a", "y", "YES", "approve"] {
            assert!(
                matches!(parse(word, true), Answer::Invalid(m) if m.contains("needs the number")),
                "{word}"
            );
        }
    }

    #[test]
    fn a_or_y_approve_when_no_number_is_required() {
        for word in ["a", "A", "y", "yes", " approve "] {
            assert_eq!(parse(word, false), Answer::Approve(None), "{word}");
        }
        assert!(matches!(parse("42", false), Answer::Invalid(m) if m.contains("no number")));
    }

    #[test]
    fn deny_report_help_and_nothing() {
        for required in [true, false] {
            for word in ["d", "D", "n", "no", "deny"] {
                assert_eq!(parse(word, required), Answer::Deny, "{word}");
            }
            assert_eq!(parse("r", required), Answer::Report);
            assert_eq!(parse("Report", required), Answer::Report);
            assert_eq!(parse("?", required), Answer::Help);
            assert_eq!(parse("help", required), Answer::Help);
            assert_eq!(parse("", required), Answer::Nothing);
            assert_eq!(parse("   ", required), Answer::Nothing);
            assert!(
                matches!(parse("maybe", required), Answer::Invalid(m) if m.contains("\"maybe\" is not an answer"))
            );
        }
    }

    #[test]
    fn only_yes_confirms_a_report() {
        for yes in ["y", "yes", "Y", "r"] {
            assert!(confirms(yes), "{yes}");
        }
        for no in ["", "n", "no", "d", "42", "yess"] {
            assert!(!confirms(no), "{no}");
        }
    }

    #[test]
    fn the_hint_warns_about_the_lockout() {
        let h = hint(true, "tux");
        assert!(h.contains("two-digit number"), "{h}");
        assert!(h.contains("locks tux out until an admin clears it"), "{h}");
        assert!(hint(false, "tux").contains("type a to approve"));
    }
}
