//! What mfad answers Duo's clients, built once and written in either dialect: the legacy
//! `/rest/v1/*.bson` answers as duo_unix 1.x reads them (`status` strings, `prompt` and
//! `factors` at the top of preauth's response) and the Auth API v2 ones (`status_msg`, a
//! `prompt` object with `text` and `factors`, `devices` for duo_client).

use crate::Dialect;
use crate::answer::{fail_bson, fail_json, ok_bson, ok_json};
use crate::bson::{BsonError, Document, Value};

/// The factor name a push goes by in `factors` (Duo's first device's push).
pub const PUSH_FACTOR: &str = "push1";

/// What the person typed at the prompt (`prompt=` in v2, `auto=` in the legacy dialect), or
/// the factor duo_client named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice<'a> {
    /// Enter, `1`, `push`, `push1`...: send the push.
    Push,
    /// Anything else: a code (TOTP or a recovery code), trimmed.
    Passcode(&'a str),
    /// A phone call or a text message: mfa has neither.
    Unsupported(&'a str),
}

impl<'a> Choice<'a> {
    /// Reads a prompt answer the way Duo does: a factor name, a menu number, or a passcode.
    #[must_use]
    pub fn parse(input: &'a str) -> Self {
        let typed = input.trim();
        let lower = typed.to_ascii_lowercase();
        let factor = lower.trim_end_matches(|c: char| c.is_ascii_digit());
        match (typed, factor) {
            ("" | "1", _) | (_, "push") => Self::Push,
            (_, "phone" | "sms") => Self::Unsupported(typed),
            _ => Self::Passcode(typed),
        }
    }
}

/// The login prompt a preauth hands out: what it offers and the number the push will show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prompt {
    /// Whether a push may be sent.
    pub push: bool,
    /// Whether a code may be typed.
    pub passcode: bool,
    /// The number the push will carry (number matching), reserved for this login.
    pub number: Option<u8>,
}

impl Prompt {
    /// The prompt text, printed verbatim by every client version, so the person knows the
    /// number before the push arrives (Duo itself cannot show it at an SSH prompt).
    #[must_use]
    pub fn text(&self) -> String {
        let push = match self.number {
            Some(n) => format!("Push with number {n} will be sent. "),
            None => String::new(),
        };
        match (self.push, self.passcode) {
            (true, true) => format!("{push}Passcode, or press Enter for push: "),
            (true, false) => format!("{push}Press Enter for push: "),
            (false, _) => "Passcode: ".to_owned(),
        }
    }

    fn factors(&self) -> Document {
        if self.push {
            Document::new()
                .with("default", PUSH_FACTOR)
                .with("1", PUSH_FACTOR)
        } else {
            Document::new()
        }
    }

    fn devices(&self) -> Value {
        let mut capabilities = Vec::new();
        if self.push {
            capabilities.extend([Value::from("auto"), Value::from("push")]);
        }
        Value::Array(vec![Value::Document(
            Document::new()
                .with("device", "mfa")
                .with("type", "phone")
                .with("name", "mfa")
                .with("display_name", "mfa push")
                .with("capabilities", Value::Array(capabilities)),
        )])
    }
}

/// A preauth's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preauth {
    /// A second factor is needed: prompt for it.
    Auth(Prompt),
    /// No second factor needed (a trusted network, a bypass); the reason.
    Allow(String),
    /// Refused (no app, a lockout, a rule); the reason, shown to the person.
    Deny(String),
    /// MFA is required but the user has nothing to use; what to ask an admin for.
    Enroll(String),
}

/// A decided (or, for a status poll, still open) login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Let in; the message shown.
    Allow(String),
    /// Refused; the reason shown.
    Deny(String),
    /// The push is still open.
    Waiting,
}

/// The `response` of a preauth.
#[must_use]
pub fn preauth(dialect: Dialect, answer: &Preauth) -> Document {
    let (result, message) = match answer {
        Preauth::Auth(prompt) => return auth_prompt(dialect, prompt),
        Preauth::Allow(m) => ("allow", m),
        Preauth::Deny(m) => ("deny", m),
        Preauth::Enroll(m) => ("enroll", m),
    };
    Document::new()
        .with("result", result)
        .with(status_key(dialect), message.as_str())
}

fn auth_prompt(dialect: Dialect, prompt: &Prompt) -> Document {
    let doc = Document::new().with("result", "auth");
    match dialect {
        Dialect::Legacy => doc
            .with("prompt", prompt.text())
            .with("factors", prompt.factors()),
        Dialect::AuthV2 => doc
            .with("status_msg", "Account is active")
            .with("devices", prompt.devices())
            .with(
                "prompt",
                Document::new()
                    .with("text", prompt.text())
                    .with("factors", prompt.factors()),
            ),
    }
}

fn status_key(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Legacy => "status",
        Dialect::AuthV2 => "status_msg",
    }
}

/// The `response` of a synchronous auth or of a status poll.
#[must_use]
pub fn decision(dialect: Dialect, decision: &Decision) -> Document {
    let (result, status, message) = match decision {
        Decision::Allow(m) => ("allow", "allow", m.as_str()),
        Decision::Deny(m) => ("deny", "deny", m.as_str()),
        Decision::Waiting => (
            "waiting",
            "pushed",
            "Pushed a login request to your device...",
        ),
    };
    match (dialect, decision) {
        // duo_unix 1.x polls again on an answer without a result.
        (Dialect::Legacy, Decision::Waiting) => Document::new().with("status", message),
        (Dialect::Legacy, _) => Document::new()
            .with("result", result)
            .with("status", message),
        (Dialect::AuthV2, _) => Document::new()
            .with("result", result)
            .with("status", status)
            .with("status_msg", message),
    }
}

/// The `response` of an asynchronous auth: the transaction to poll.
#[must_use]
pub fn pending(txid: &str) -> Document {
    Document::new().with("txid", txid)
}

/// The `response` of `ping` and `check`: the server's time, which v2 clients take their clock
/// offset from.
#[must_use]
pub fn time(unix_seconds: i64) -> Document {
    Document::new().with("time", unix_seconds)
}

/// An encoded answer and its content type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// `{"stat":"OK","response":...}` in the dialect's encoding.
pub fn ok(dialect: Dialect, response: Document) -> Result<Encoded, BsonError> {
    Ok(match dialect {
        Dialect::Legacy => Encoded {
            content_type: BSON,
            body: ok_bson(response)?,
        },
        Dialect::AuthV2 => Encoded {
            content_type: JSON,
            body: ok_json(response.to_json()).map_err(|_| BsonError::TooLarge)?,
        },
    })
}

/// `{"stat":"FAIL","code":...,"message":...}` in the dialect's encoding.
pub fn fail(dialect: Dialect, code: u32, message: &str, detail: Option<&str>) -> Encoded {
    match dialect {
        Dialect::Legacy => Encoded {
            content_type: BSON,
            // A code and a message without NULs always encode; a message with one is cut.
            body: fail_bson(
                i32::try_from(code).unwrap_or(i32::MAX),
                message.split('\0').next().unwrap_or_default(),
            )
            .unwrap_or_default(),
        },
        Dialect::AuthV2 => Encoded {
            content_type: JSON,
            body: fail_json(code, message, detail),
        },
    }
}

const BSON: &str = "application/bson";
const JSON: &str = "application/json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_answers_read_as_duo_reads_them() {
        for push in ["", "  ", "1", "push", "push1", "PUSH2", "\n"] {
            assert_eq!(Choice::parse(push), Choice::Push, "{push:?}");
        }
        for other in ["phone1", "sms", "SMS2"] {
            assert!(
                matches!(Choice::parse(other), Choice::Unsupported(_)),
                "{other}"
            );
        }
        assert_eq!(Choice::parse(" 123456 "), Choice::Passcode("123456"));
        assert_eq!(Choice::parse("abcd-efgh"), Choice::Passcode("abcd-efgh"));
        assert_eq!(Choice::parse("2"), Choice::Passcode("2"));
    }

    #[test]
    fn the_prompt_names_the_number_and_what_may_be_typed() {
        let p = Prompt {
            push: true,
            passcode: true,
            number: Some(42),
        };
        assert_eq!(
            p.text(),
            "Push with number 42 will be sent. Passcode, or press Enter for push: "
        );
        let p = Prompt { number: None, ..p };
        assert_eq!(p.text(), "Passcode, or press Enter for push: ");
        let p = Prompt {
            push: false,
            passcode: true,
            number: None,
        };
        assert_eq!(p.text(), "Passcode: ");
    }

    #[test]
    fn answers_have_each_dialects_shape() {
        let prompt = Prompt {
            push: true,
            passcode: true,
            number: Some(17),
        };
        let v2 = preauth(Dialect::AuthV2, &Preauth::Auth(prompt)).to_json();
        assert_eq!(v2["result"], "auth");
        assert_eq!(v2["prompt"]["factors"]["default"], PUSH_FACTOR);
        assert!(v2["prompt"]["text"].as_str().unwrap().contains("17"));
        assert_eq!(v2["devices"][0]["capabilities"][1], "push");
        let v1 = preauth(Dialect::Legacy, &Preauth::Auth(prompt)).to_json();
        assert!(v1["prompt"].as_str().unwrap().contains("17"));
        assert_eq!(v1["factors"]["1"], PUSH_FACTOR);
        let deny = Preauth::Deny("locked".into());
        assert_eq!(
            preauth(Dialect::Legacy, &deny).to_json()["status"],
            "locked"
        );
        assert_eq!(
            preauth(Dialect::AuthV2, &deny).to_json()["status_msg"],
            "locked"
        );
        let waiting = decision(Dialect::Legacy, &Decision::Waiting).to_json();
        assert!(waiting.get("result").is_none(), "{waiting}");
        let waiting = decision(Dialect::AuthV2, &Decision::Waiting).to_json();
        assert_eq!(waiting["result"], "waiting");
        let no = decision(Dialect::AuthV2, &Decision::Deny("timeout".into())).to_json();
        assert_eq!(
            (&no["result"], &no["status_msg"]),
            (&"deny".into(), &"timeout".into())
        );
    }

    #[test]
    fn encodings_follow_the_dialect() {
        let v2 = ok(Dialect::AuthV2, time(5)).unwrap();
        assert_eq!(v2.body, br#"{"stat":"OK","response":{"time":5}}"#);
        let v1 = ok(Dialect::Legacy, time(5)).unwrap();
        assert_eq!(v1.content_type, "application/bson");
        let f = fail(Dialect::Legacy, 40301, "no\0pe", None);
        assert!(!f.body.is_empty());
    }
}
