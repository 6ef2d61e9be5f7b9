//! The login requests waiting for this person, shown one at a time, and what each message from
//! the server or line from the keyboard does to them. No I/O: every method records what to
//! print and what to send, so the whole dialogue is unit-tested.

use std::collections::VecDeque;

use mfa_wire::{ClientMessage, Decision, PendingRequest, ServerMessage};

use super::answer::{self, Answer};

/// Something to do after an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Print a line.
    Say(String),
    /// Print a prompt (no newline) and wait for a line.
    Prompt(String),
    /// Send a message to the server.
    Send(ClientMessage),
}

/// An answer sent and not yet confirmed by a `result`.
#[derive(Debug)]
struct Sent {
    request: PendingRequest,
    decision: Decision,
}

#[derive(Debug, Default)]
pub struct Inbox {
    /// Open requests in arrival order; the first is the one on screen.
    queue: VecDeque<PendingRequest>,
    /// Answers sent, oldest first; the server answers them in order.
    sent: VecDeque<Sent>,
    /// The first request's "r" waits for "y".
    confirming_report: bool,
    out: Vec<Effect>,
}

impl Inbox {
    /// What the events since the last call asked for.
    pub fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.out)
    }

    pub fn on_message(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Hello { .. } => {}
            ServerMessage::Request(r) => self.on_request(r),
            ServerMessage::Withdrawn {
                txid,
                state,
                reason,
            } => self.on_withdrawn(&txid, &state, reason.as_deref()),
            ServerMessage::Result {
                txid,
                state,
                decided,
                reason,
            } => self.on_result(&txid, &state, decided, reason.as_deref()),
            ServerMessage::Error { message } => self.on_error(&message),
        }
    }

    fn on_request(&mut self, request: PendingRequest) {
        let known = self.queue.iter().any(|r| r.txid == request.txid)
            || self.sent.iter().any(|s| s.request.txid == request.txid);
        if known {
            return;
        }
        self.queue.push_back(request);
        if self.queue.len() == 1 {
            self.show_first();
        } else if let Some(r) = self.queue.back() {
            let line = format!(
                "Another login request is waiting: {} ({} in the queue after this one).",
                describe(r),
                self.queue.len() - 1
            );
            self.say(line);
            self.prompt();
        }
    }

    fn on_withdrawn(&mut self, txid: &str, state: &str, reason: Option<&str>) {
        let Some(pos) = self.queue.iter().position(|r| r.txid == txid) else {
            return;
        };
        let Some(request) = self.queue.remove(pos) else {
            return;
        };
        let what = match state {
            "approved" => "was approved elsewhere".to_owned(),
            "denied" => format!("was denied elsewhere{}", because(reason)),
            "expired" => "expired without an answer".to_owned(),
            "withdrawn" => format!("was {}", withdrawn(reason)),
            other => format!("is no longer open ({other})"),
        };
        self.say(format!(
            "The login request for {} {what}.",
            describe(&request)
        ));
        if pos == 0 {
            self.confirming_report = false;
            self.show_first();
        } else {
            self.prompt();
        }
    }

    fn on_result(&mut self, txid: &str, state: &str, decided: bool, reason: Option<&str>) {
        let sent = self
            .sent
            .iter()
            .position(|s| s.request.txid == txid)
            .and_then(|i| self.sent.remove(i));
        let what = sent.as_ref().map_or_else(
            || format!("login request {}", short(txid)),
            |s| describe(&s.request),
        );
        let line = match (decided, state, sent.as_ref().map(|s| s.decision)) {
            (true, "approved", _) => format!("Approved: {what}."),
            (true, "denied", Some(Decision::Fraud)) => {
                let user = sent
                    .as_ref()
                    .map_or("the user", |s| s.request.user.as_str());
                format!(
                    "Reported and denied: {what}. {user} is locked out until an admin clears it (mfac lockout clear user {user})."
                )
            }
            (true, "denied", _) if reason == Some("wrong number") => format!(
                "Denied: {what}: wrong number. If that login was yours, log in again and type the number its prompt shows."
            ),
            (true, "denied", _) => format!("Denied: {what}."),
            (true, other, _) => format!("{what}: {other}{}.", because(reason)),
            (false, "withdrawn", _) => {
                format!("Too late: {what} was already {}.", withdrawn(reason))
            }
            (false, other, _) => {
                format!("Too late: {what} was already {other}{}.", because(reason))
            }
        };
        self.say(line);
        self.prompt();
    }

    fn on_error(&mut self, message: &str) {
        match self.sent.pop_front() {
            // The oldest answer was not used: ask again.
            Some(s) => {
                self.say(format!(
                    "The server could not use your answer for {}: {message}",
                    describe(&s.request)
                ));
                self.queue.push_front(s.request);
                self.confirming_report = false;
                self.show_first();
            }
            None => {
                self.say(format!("The server reported an error: {message}"));
                self.prompt();
            }
        }
    }

    /// A line typed at the prompt.
    pub fn on_line(&mut self, line: &str) {
        let Some(first) = self.queue.front() else {
            if !line.trim().is_empty() {
                self.say("No login request is waiting.".to_owned());
            }
            return;
        };
        let (number_required, user) = (first.number_required, first.user.clone());
        if self.confirming_report {
            self.confirming_report = false;
            if answer::confirms(line) {
                self.decide(Decision::Fraud, None);
            } else {
                self.say("Not reported.".to_owned());
                self.prompt();
            }
            return;
        }
        match answer::parse(line, number_required) {
            Answer::Approve(number) => self.decide(Decision::Approve, number),
            Answer::Deny => self.decide(Decision::Deny, None),
            Answer::Report => {
                self.confirming_report = true;
                self.say(format!(
                    "Report this login as \"this was not me\"? It is denied, and {user} is locked out until an admin clears it."
                ));
                self.prompt();
            }
            Answer::Help => {
                self.say(answer::hint(number_required, &user));
                self.prompt();
            }
            Answer::Nothing => self.prompt(),
            Answer::Invalid(message) => {
                self.say(message);
                self.prompt();
            }
        }
    }

    /// The connection is gone: the server shows every open request again on reconnecting.
    pub fn on_disconnect(&mut self) {
        let open = self.queue.len() + self.sent.len();
        self.queue.clear();
        self.sent.clear();
        self.confirming_report = false;
        if open > 0 {
            self.say(format!(
                "{open} login request(s) will be shown again after reconnecting, if still open."
            ));
        }
    }

    fn decide(&mut self, decision: Decision, number: Option<u8>) {
        let Some(request) = self.queue.pop_front() else {
            return;
        };
        self.out.push(Effect::Send(ClientMessage::Decision {
            txid: request.txid.clone(),
            decision,
            number,
        }));
        self.sent.push_back(Sent { request, decision });
        self.show_first();
    }

    fn show_first(&mut self) {
        let Some(r) = self.queue.front() else {
            return;
        };
        let mut lines = vec![
            String::new(),
            format!("Login request: {} on {} ({})", r.user, r.host, r.service),
            format!("  user:     {}", r.user),
            format!("  host:     {}", r.host),
            format!("  service:  {}", r.service),
            format!(
                "  from:     {}",
                r.client_ip
                    .as_deref()
                    .unwrap_or("(no address: a local login)")
            ),
            format!(
                "  time:     {} (expires {})",
                clock(&r.created_at, true),
                clock(&r.expires_at, false)
            ),
        ];
        if let Some(details) = &r.details {
            lines.insert(6, format!("  details:  {details}"));
        }
        let more = self.queue.len() - 1;
        lines.push(if more == 0 {
            format!("  request:  {}", short(&r.txid))
        } else {
            format!("  request:  {} ({more} more waiting)", short(&r.txid))
        });
        lines.push(answer::hint(r.number_required, &r.user));
        for line in lines {
            self.say(line);
        }
        self.prompt();
    }

    fn prompt(&mut self) {
        let Some(r) = self.queue.front() else {
            return;
        };
        let text = if self.confirming_report {
            "Type y to report, anything else to go back > ".to_owned()
        } else {
            format!("{} > ", answer::choices(r.number_required))
        };
        self.out.push(Effect::Prompt(text));
    }

    fn say(&mut self, line: String) {
        self.out.push(Effect::Say(line));
    }
}

/// `tux on linux.example.org (sshd) from 192.0.2.1`
fn describe(r: &PendingRequest) -> String {
    let from = r
        .client_ip
        .as_deref()
        .map(|ip| format!(" from {ip}"))
        .unwrap_or_default();
    format!("{} on {} ({}){from}", r.user, r.host, r.service)
}

/// A push its server withdrew, in the server's words ("withdrawn: a code was used at the
/// login"); a reason in other words goes in brackets.
fn withdrawn(reason: Option<&str>) -> String {
    match reason {
        Some(r) if r.starts_with("withdrawn") => r.to_owned(),
        Some(r) => format!("withdrawn ({r})"),
        None => "withdrawn by the server that asked for it".to_owned(),
    }
}

fn because(reason: Option<&str>) -> String {
    reason.map(|r| format!(" ({r})")).unwrap_or_default()
}

/// The first 8 characters of a transaction id: enough to tell requests apart on screen.
fn short(txid: &str) -> &str {
    txid.get(..8).unwrap_or(txid)
}

/// An RFC 3339 time from the server as `2026-05-09 14:03:12 UTC` (or `14:03:12 UTC`); as
/// given if it does not parse.
fn clock(rfc3339: &str, with_date: bool) -> String {
    match rfc3339.parse::<jiff::Timestamp>() {
        Ok(t) if with_date => t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Ok(t) => t.strftime("%H:%M:%S UTC").to_string(),
        Err(_) => rfc3339.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(txid: &str, number_required: bool) -> PendingRequest {
        PendingRequest {
            txid: txid.into(),
            user: "tux".into(),
            host: "linux.example.org".into(),
            service: "sshd".into(),
            client_ip: Some("192.0.2.1".into()),
            created_at: "2026-05-09T14:03:12Z".into(),
            expires_at: "2026-05-09T14:03:42Z".into(),
            number_required,
            details: None,
        }
    }

    fn text(effects: &[Effect]) -> String {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Say(s) => Some(format!("{s}\n")),
                Effect::Prompt(s) => Some(s.clone()),
                Effect::Send(_) => None,
            })
            .collect()
    }

    fn sent(effects: &[Effect]) -> Vec<ClientMessage> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    fn decision(txid: &str, decision: Decision, number: Option<u8>) -> ClientMessage {
        ClientMessage::Decision {
            txid: txid.into(),
            decision,
            number,
        }
    }

    fn result(txid: &str, state: &str, decided: bool, reason: Option<&str>) -> ServerMessage {
        ServerMessage::Result {
            txid: txid.into(),
            state: state.into(),
            decided,
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn shows_who_where_what_and_asks_for_the_number() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("aaaaaaaaaaaa", true)));
        let out = text(&inbox.take());
        for want in [
            "Login request: tux on linux.example.org (sshd)",
            "user:     tux",
            "host:     linux.example.org",
            "service:  sshd",
            "from:     192.0.2.1",
            "time:     2026-05-09 14:03:12 UTC (expires 14:03:42 UTC)",
            "request:  aaaaaaaa\n",
            "two-digit number shown at the login prompt",
            "locks tux out until an admin clears it",
        ] {
            assert!(out.contains(want), "{want:?} missing in:\n{out}");
        }
        assert!(out.ends_with("number / d / r > "), "{out}");

        inbox.on_line("42");
        let effects = inbox.take();
        assert_eq!(
            sent(&effects),
            [decision("aaaaaaaaaaaa", Decision::Approve, Some(42))]
        );
        inbox.on_message(result("aaaaaaaaaaaa", "approved", true, None));
        assert_eq!(
            text(&inbox.take()),
            "Approved: tux on linux.example.org (sshd) from 192.0.2.1.\n"
        );
        inbox.on_line("42");
        assert_eq!(text(&inbox.take()), "No login request is waiting.\n");
    }

    #[test]
    fn invalid_input_sends_nothing_and_asks_again() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("t1", true)));
        inbox.take();
        for line in ["a", "4", "what", ""] {
            inbox.on_line(line);
            let effects = inbox.take();
            assert!(sent(&effects).is_empty(), "{line}");
            assert!(text(&effects).ends_with("number / d / r > "), "{line}");
        }
        inbox.on_line("?");
        assert!(text(&inbox.take()).contains("d to deny"));
    }

    #[test]
    fn requests_queue_and_show_one_at_a_time() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("first111", false)));
        inbox.take();
        let mut second = request("second22", false);
        second.host = "mail.example.org".into();
        inbox.on_message(ServerMessage::Request(second.clone()));
        let out = text(&inbox.take());
        assert!(
            out.contains("Another login request is waiting: tux on mail.example.org"),
            "{out}"
        );
        assert!(out.ends_with("a / d / r > "), "{out}");
        // The same request again (a resync) is not queued twice.
        inbox.on_message(ServerMessage::Request(second));
        assert!(inbox.take().is_empty());

        inbox.on_line("d");
        let effects = inbox.take();
        assert_eq!(sent(&effects), [decision("first111", Decision::Deny, None)]);
        let out = text(&effects);
        assert!(
            out.contains("Login request: tux on mail.example.org"),
            "{out}"
        );

        inbox.on_message(result("first111", "denied", true, Some("denied by tux")));
        let out = text(&inbox.take());
        assert!(out.starts_with("Denied: tux on linux.example.org"), "{out}");
        assert!(out.ends_with("a / d / r > "), "{out}");

        inbox.on_line("y");
        assert_eq!(
            sent(&inbox.take()),
            [decision("second22", Decision::Approve, None)]
        );
    }

    #[test]
    fn withdrawn_requests_go_away() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("first111", true)));
        inbox.on_message(ServerMessage::Request(request("second22", true)));
        inbox.on_message(ServerMessage::Request(request("third333", true)));
        inbox.take();
        // A queued one: a line, the current prompt again.
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "second22".into(),
            state: "expired".into(),
            reason: Some("timeout".into()),
        });
        let out = text(&inbox.take());
        assert!(out.contains("expired without an answer"), "{out}");
        assert!(!out.contains("Login request:"), "{out}");
        // The one on screen: the next one is shown.
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "first111".into(),
            state: "approved".into(),
            reason: None,
        });
        let out = text(&inbox.take());
        assert!(
            out.starts_with(
                "The login request for tux on linux.example.org (sshd) from 192.0.2.1 was approved elsewhere.\n"
            ),
            "{out}"
        );
        assert!(out.contains("request:  third333\n"), "{out}");
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "third333".into(),
            state: "denied".into(),
            reason: Some("denied by tux2".into()),
        });
        let out = text(&inbox.take());
        assert!(
            out.contains("was denied elsewhere (denied by tux2)."),
            "{out}"
        );
        // Unknown ids are ignored.
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "nope".into(),
            state: "approved".into(),
            reason: None,
        });
        assert!(inbox.take().is_empty());
    }

    /// A push its server withdrew (a code typed at the login, the login gave up, mfad
    /// restarted) shows the server's reason, not "denied elsewhere (cancelled)".
    #[test]
    fn a_push_withdrawn_by_its_server_shows_the_servers_reason() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("first111", true)));
        inbox.on_message(ServerMessage::Request(request("second22", true)));
        inbox.take();
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "first111".into(),
            state: "withdrawn".into(),
            reason: Some("withdrawn: a code was used at the login".into()),
        });
        let out = text(&inbox.take());
        assert!(
            out.starts_with(
                "The login request for tux on linux.example.org (sshd) from 192.0.2.1 was withdrawn: a code was used at the login.\n"
            ),
            "{out}"
        );
        assert!(!out.contains("denied"), "{out}");
        assert!(!out.contains("no longer open"), "{out}");
        assert!(
            out.contains("request:  second22\n"),
            "the next one is shown: {out}"
        );
        // Without a reason: still not "denied".
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "second22".into(),
            state: "withdrawn".into(),
            reason: None,
        });
        let out = text(&inbox.take());
        assert!(
            out.contains("was withdrawn by the server that asked for it."),
            "{out}"
        );
        // An answer that crosses the withdrawal is told so, with the reason.
        inbox.on_message(ServerMessage::Request(request("third333", true)));
        inbox.on_line("42");
        inbox.take();
        inbox.on_message(result(
            "third333",
            "withdrawn",
            false,
            Some("withdrawn: the login gave up"),
        ));
        let out = text(&inbox.take());
        assert_eq!(
            out,
            "Too late: tux on linux.example.org (sshd) from 192.0.2.1 was already withdrawn: the login gave up.\n"
        );
        // An older server's cancel reads as before.
        inbox.on_message(ServerMessage::Request(request("fourth44", true)));
        inbox.take();
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "fourth44".into(),
            state: "denied".into(),
            reason: Some("cancelled".into()),
        });
        assert!(text(&inbox.take()).contains("was denied elsewhere (cancelled)."));
    }

    #[test]
    fn reporting_asks_for_confirmation() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("t1", true)));
        inbox.take();
        inbox.on_line("r");
        let effects = inbox.take();
        assert!(sent(&effects).is_empty());
        let out = text(&effects);
        assert!(
            out.contains("tux is locked out until an admin clears it"),
            "{out}"
        );
        assert!(
            out.ends_with("Type y to report, anything else to go back > "),
            "{out}"
        );
        inbox.on_line("n");
        let out = text(&inbox.take());
        assert_eq!(out, "Not reported.\nnumber / d / r > ");

        inbox.on_line("r");
        inbox.take();
        inbox.on_line("y");
        assert_eq!(sent(&inbox.take()), [decision("t1", Decision::Fraud, None)]);
        inbox.on_message(result("t1", "denied", true, Some("fraud reported")));
        let out = text(&inbox.take());
        assert!(out.starts_with("Reported and denied: tux on"), "{out}");
        assert!(out.contains("mfac lockout clear user tux"), "{out}");
    }

    #[test]
    fn a_withdrawn_request_cancels_its_report_confirmation() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("t1", true)));
        inbox.on_message(ServerMessage::Request(request("t2", true)));
        inbox.on_line("r");
        inbox.on_message(ServerMessage::Withdrawn {
            txid: "t1".into(),
            state: "expired".into(),
            reason: None,
        });
        inbox.take();
        // "y" now answers t2's prompt, where it is not an approval (a number is needed).
        inbox.on_line("y");
        let effects = inbox.take();
        assert!(sent(&effects).is_empty());
        assert!(text(&effects).contains("needs the number"));
    }

    #[test]
    fn outcomes_name_wrong_numbers_and_late_answers() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("t1", true)));
        inbox.on_line("11");
        inbox.take();
        inbox.on_message(result("t1", "denied", true, Some("wrong number")));
        let out = text(&inbox.take());
        assert!(out.starts_with("Denied: tux on"), "{out}");
        assert!(out.contains("wrong number"), "{out}");

        inbox.on_message(ServerMessage::Request(request("t2", false)));
        inbox.on_line("a");
        inbox.take();
        inbox.on_message(result("t2", "expired", false, Some("timeout")));
        let out = text(&inbox.take());
        assert!(out.starts_with("Too late: tux on"), "{out}");
        assert!(out.contains("was already expired (timeout)"), "{out}");
    }

    #[test]
    fn an_error_puts_the_answered_request_back() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("t1", true)));
        inbox.on_line("42");
        inbox.take();
        inbox.on_message(ServerMessage::Error {
            message: "the database is unavailable; try again shortly".into(),
        });
        let out = text(&inbox.take());
        assert!(out.contains("could not use your answer"), "{out}");
        assert!(out.contains("Login request: tux on"), "{out}");
        inbox.on_line("42");
        assert_eq!(
            sent(&inbox.take()),
            [decision("t1", Decision::Approve, Some(42))]
        );
        // An error with no answer outstanding is just shown.
        inbox.on_message(result("t1", "approved", true, None));
        inbox.take();
        inbox.on_message(ServerMessage::Error {
            message: "unreadable message".into(),
        });
        assert_eq!(
            text(&inbox.take()),
            "The server reported an error: unreadable message\n"
        );
    }

    #[test]
    fn disconnecting_forgets_everything_until_the_server_resends_it() {
        let mut inbox = Inbox::default();
        inbox.on_message(ServerMessage::Request(request("t1", true)));
        inbox.on_message(ServerMessage::Request(request("t2", true)));
        inbox.on_line("42");
        inbox.take();
        inbox.on_disconnect();
        let out = text(&inbox.take());
        assert!(
            out.contains("2 login request(s) will be shown again"),
            "{out}"
        );
        inbox.on_message(ServerMessage::Request(request("t2", true)));
        assert!(text(&inbox.take()).contains("Login request: tux"));
    }

    #[test]
    fn times_show_in_utc_or_as_given() {
        assert_eq!(
            clock("2026-05-09T14:03:12Z", true),
            "2026-05-09 14:03:12 UTC"
        );
        assert_eq!(clock("2026-05-09T16:03:12+02:00", false), "14:03:12 UTC");
        assert_eq!(clock("soon", true), "soon");
        assert_eq!(short("abcdefghijkl"), "abcdefgh");
        assert_eq!(short("abc"), "abc");
    }
}
