//! The bounds the server checks, written into the document's request schemas: which numbers,
//! names and texts it takes. utoipa's attributes take only literals, so the bounds come from
//! the constants the checks themselves use, and are patched into the generated JSON here: one
//! source of truth, and a document as strict as the server (schemathesis sends what the
//! document allows and expects it accepted, and what it forbids and expects it refused).
//!
//! What JSON Schema cannot say (`method: totp` needs a `passcode`; a vault seed is `secret` or
//! `uri`, in valid base32 or as a valid `otpauth://` URI) stays in the operations' 400
//! descriptions.

use mfa_core::push::ANSWER_NUMBERS;
use mfa_core::{Alias, Pattern};
use mfa_otp::{Algorithm, Digits, Secret};
use mfa_store::{MAX_TEXT_CHARS, NON_BLANK_TEXT_REGEX, TEXT_REGEX, TOTP_PERIODS};
use serde_json::{Map, Value, json};

use crate::otp_api::{CODE_ATTEMPTS, CODE_TTLS};

/// What a request field may hold.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// An integer in `min..=max`.
    Range(u64, u64),
    /// A string of `min..=max` characters matching `regex`.
    Text {
        min: usize,
        max: usize,
        regex: &'static str,
    },
    /// A string matching `regex`.
    Regex(&'static str),
    /// `""` (absent) or a host or service name.
    EmptyOrName,
    /// `""` (absent) or an IPv4 or IPv6 address.
    EmptyOrIp,
}

const ALGORITHM: Bound = Bound::Regex(Algorithm::REGEX);
const DIGITS: Bound = Bound::Range(Digits::MIN as u64, Digits::MAX as u64);
const PERIOD: Bound = Bound::Range(*TOTP_PERIODS.start(), *TOTP_PERIODS.end());
const USER: Bound = Bound::Text {
    min: 1,
    max: Alias::MAX_LEN,
    regex: Alias::REGEX,
};
const NAME: Bound = Bound::Text {
    min: 1,
    max: 253,
    regex: Pattern::EXACT_REGEX,
};
const TEXT: Bound = Bound::Text {
    min: 0,
    max: MAX_TEXT_CHARS,
    regex: TEXT_REGEX,
};
const NON_BLANK_TEXT: Bound = Bound::Text {
    min: 1,
    max: MAX_TEXT_CHARS,
    regex: NON_BLANK_TEXT_REGEX,
};

/// (schema, property, bound): the property `""` is the schema itself.
pub const BOUNDS: &[(&str, &str, Bound)] = &[
    ("NewOtpCredential", "algorithm", ALGORITHM),
    ("NewOtpCredential", "digits", DIGITS),
    ("NewOtpCredential", "period", PERIOD),
    ("NewOtpCredential", "issuer", TEXT),
    ("NewOtpCredential", "label", TEXT),
    (
        "NewOneTimeCode",
        "ttl_seconds",
        Bound::Range(*CODE_TTLS.start(), *CODE_TTLS.end()),
    ),
    ("NewOneTimeCode", "digits", DIGITS),
    (
        "NewOneTimeCode",
        "max_attempts",
        Bound::Range(*CODE_ATTEMPTS.start(), *CODE_ATTEMPTS.end()),
    ),
    ("NewVaultApp", "name", NON_BLANK_TEXT),
    ("NewVaultApp", "attribute", TEXT),
    ("NewVaultApp", "secret", Bound::Regex(Secret::BASE32_REGEX)),
    ("NewVaultApp", "algorithm", ALGORITHM),
    ("NewVaultApp", "digits", DIGITS),
    ("NewVaultApp", "period", PERIOD),
    (
        "ClientDecision",
        "number",
        Bound::Range(*ANSWER_NUMBERS.start() as u64, *ANSWER_NUMBERS.end() as u64),
    ),
    (
        "PasskeyApproval",
        "number",
        Bound::Range(*ANSWER_NUMBERS.start() as u64, *ANSWER_NUMBERS.end() as u64),
    ),
    ("PreauthRequest", "user", USER),
    ("PreauthRequest", "host", NAME),
    ("PreauthRequest", "service", NAME),
    ("PreauthRequest", "client_ip", Bound::EmptyOrIp),
    ("StepupRequest", "user", USER),
    ("StepupRequest", "action", NAME),
    ("StepupRequest", "host", Bound::EmptyOrName),
    ("StepupRequest", "client_ip", Bound::EmptyOrIp),
    ("ServerAuthRequest", "user", USER),
    ("ServerAuthRequest", "host", Bound::EmptyOrName),
    ("ServerAuthRequest", "service", Bound::EmptyOrName),
    ("ServerAuthRequest", "action", NAME),
    ("ServerAuthRequest", "client_ip", Bound::EmptyOrIp),
    (
        "Remember",
        "",
        Bound::Range(0, mfa_config::MAX_ELEVATED_SESSION as u64),
    ),
];

/// Writes [`BOUNDS`] into `doc` (the document as JSON); an error names a schema or property
/// that is not there (a type was renamed without its bound).
pub fn apply(doc: &mut Value) -> Result<(), String> {
    for &(schema, property, bound) in BOUNDS {
        let schemas = &mut doc["components"]["schemas"];
        let target = if property.is_empty() {
            schemas.get_mut(schema)
        } else {
            schemas
                .get_mut(schema)
                .and_then(|s| s.get_mut("properties"))
                .and_then(|p| p.get_mut(property))
        };
        let target = target.ok_or_else(|| format!("no schema {schema}.{property} to bound"))?;
        constrain(target, bound).map_err(|why| format!("{schema}.{property}: {why}"))?;
    }
    // A rule across fields that JSON Schema can state: `period` is for TOTP credentials.
    let credential = doc["components"]["schemas"]
        .get_mut("NewOtpCredential")
        .and_then(Value::as_object_mut)
        .ok_or("no schema NewOtpCredential")?;
    credential.insert(
        "if".into(),
        json!({"properties": {"type": {"const": "hotp"}}, "required": ["type"]}),
    );
    credential.insert(
        "then".into(),
        json!({"properties": {"period": {"type": "null"}}}),
    );
    Ok(())
}

fn constrain(schema: &mut Value, bound: Bound) -> Result<(), String> {
    // `Remember` is `oneOf: [boolean, integer]`: the bound is the integer's.
    if let Some(items) = schema.get_mut("oneOf").and_then(Value::as_array_mut) {
        let integer = items
            .iter_mut()
            .find(|s| s["type"] == "integer")
            .ok_or("a oneOf without an integer")?;
        return constrain(integer, bound);
    }
    let object = schema.as_object_mut().ok_or("not a schema object")?;
    let alternatives = match bound {
        Bound::Range(..) | Bound::Text { .. } | Bound::Regex(_) => {
            object.extend(keywords(bound));
            return Ok(());
        }
        Bound::EmptyOrName => {
            let mut name = keywords(NAME);
            name.insert("type".into(), json!("string"));
            vec![Value::Object(name)]
        }
        Bound::EmptyOrIp => ["ipv4", "ipv6"]
            .map(|format| json!({"type": "string", "format": format}))
            .into(),
    };
    // `""` (and `null`, when the field is optional) or one of the alternatives.
    let nullable = object["type"]
        .as_array()
        .is_some_and(|t| t.iter().any(|t| t == "null"));
    let mut any_of = vec![json!({"type": "string", "maxLength": 0})];
    if nullable {
        any_of.push(json!({"type": "null"}));
    }
    any_of.extend(alternatives);
    object.retain(|key, _| key == "description" || key == "default");
    object.insert("anyOf".into(), Value::Array(any_of));
    Ok(())
}

/// The JSON Schema keywords of a range or a text bound.
fn keywords(bound: Bound) -> Map<String, Value> {
    let keywords = match bound {
        Bound::Range(min, max) => json!({"minimum": min, "maximum": max}),
        Bound::Text { min, max, regex } => {
            json!({"minLength": min, "maxLength": max, "pattern": regex})
        }
        Bound::Regex(regex) => json!({"pattern": regex}),
        Bound::EmptyOrName | Bound::EmptyOrIp => json!({}),
    };
    match keywords {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use mfa_core::{Alias, Pattern};
    use mfa_otp::{Algorithm, Secret};
    use regex_automata::meta::Regex;
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        serde_json::from_str(crate::openapi::json().unwrap()).unwrap()
    }

    #[test]
    fn every_bound_is_in_the_document() {
        let doc = document();
        for &(schema, property, bound) in BOUNDS {
            let mut field = &doc["components"]["schemas"][schema];
            if !property.is_empty() {
                field = &field["properties"][property];
            }
            let text = field.to_string();
            let expected = match bound {
                Bound::Range(min, max) => {
                    vec![format!("\"minimum\":{min}"), format!("\"maximum\":{max}")]
                }
                Bound::Text { max, regex, .. } => {
                    vec![
                        format!("\"maxLength\":{max}"),
                        serde_json::to_string(regex).unwrap(),
                    ]
                }
                Bound::Regex(regex) => vec![serde_json::to_string(regex).unwrap()],
                Bound::EmptyOrName => vec![serde_json::to_string(Pattern::EXACT_REGEX).unwrap()],
                Bound::EmptyOrIp => vec!["\"ipv6\"".into()],
            };
            for keyword in expected {
                assert!(
                    text.contains(&keyword),
                    "{schema}.{property}: no {keyword} in {text}"
                );
            }
        }
    }

    /// Deterministic strings over an alphabet that reaches every branch of the validators:
    /// their characters, whitespace, controls, padding, many-byte characters.
    fn samples() -> Vec<String> {
        let alphabet: Vec<char> = "aZ09._-:*/ \t\n=\u{7f}\u{85}\u{a0}\u{3000}é2 7sShHA15-_x"
            .chars()
            .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut out: Vec<String> = [
            "",
            " ",
            "sha1",
            "SHA-256",
            "s_h_a_5_1_2",
            "sha3",
            "tux",
            "-tux",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for _ in 0..40_000 {
            let len = usize::try_from(next() % 40).unwrap();
            let s = (0..len)
                .map(|_| alphabet[usize::try_from(next()).unwrap() % alphabet.len()])
                .collect();
            out.push(s);
        }
        // Base32 of every length around the minimum, with separators and padding.
        for n in 0..40 {
            let symbols: String = "JBSWY3DPEHPK3PXPjbswy3dpehpk3pxpJBSWY3DP"
                .chars()
                .take(n)
                .collect();
            out.push(symbols.clone());
            out.push(format!("{symbols}===="));
            out.push(symbols.chars().flat_map(|c| [c, ' ']).collect());
        }
        out
    }

    fn agree(regex: &str, lengths: std::ops::RangeInclusive<usize>, valid: impl Fn(&str) -> bool) {
        let re = Regex::new(regex).unwrap();
        for s in samples() {
            let by_schema = re.is_match(&s) && lengths.contains(&s.chars().count());
            assert_eq!(
                by_schema,
                valid(&s),
                "{regex} and the validator disagree on {s:?}"
            );
        }
    }

    #[test]
    fn the_patterns_say_what_the_validators_accept() {
        agree(Alias::REGEX, 1..=Alias::MAX_LEN, |s| Alias::new(s).is_ok());
        agree(Pattern::EXACT_REGEX, 1..=253, |s| {
            matches!(Pattern::new(s), Ok(Pattern::Exact(_))) && s.trim() == s
        });
        agree(TEXT_REGEX, 0..=MAX_TEXT_CHARS, |s| {
            mfa_store::check_text("f", Some(s)).is_ok()
        });
        agree(NON_BLANK_TEXT_REGEX, 1..=MAX_TEXT_CHARS, |s| {
            matches!(mfa_store::check_text("f", Some(s)), Ok(Some(_)))
        });
        agree(Algorithm::REGEX, 0..=usize::MAX, |s| {
            s.parse::<Algorithm>().is_ok()
        });
        agree(Secret::BASE32_REGEX, 0..=usize::MAX, |s| {
            Secret::from_base32(s).is_ok()
        });
    }

    #[test]
    fn hotp_credentials_take_no_period_in_the_document() {
        let doc = document();
        let credential = &doc["components"]["schemas"]["NewOtpCredential"];
        assert_eq!(credential["if"]["properties"]["type"]["const"], "hotp");
        assert_eq!(credential["then"]["properties"]["period"]["type"], "null");
    }
}
