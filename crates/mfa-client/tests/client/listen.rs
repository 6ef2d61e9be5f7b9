//! `mfa listen` in a real terminal: a push goes out as a PAM module would send it, the person
//! reads the request and types the answer, and the module's long poll gets the decision.

use std::time::{Duration, Instant};

use serde_json::json;

use mfa_testkit::Daemon;

use crate::support::{Rig, Terminal, free_port};

const CONNECTED: &str = "Connected to ";
const PROMPT: &str = "number / d / r > ";

/// mfad with tux enrolled for linux.example.org sshd, and tux's `mfa listen` connected.
fn listening() -> (Rig, Daemon, Terminal) {
    let rig = Rig::new("");
    let key = rig.client("tux");
    rig.app("tux");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);
    let term = Terminal::listen(&config);
    term.wait_for(CONNECTED);
    (rig, daemon, term)
}

/// A number that is not `n` (both two digits).
fn other_than(n: u8) -> u8 {
    if n == 99 { 10 } else { n + 1 }
}

#[test]
fn approving_with_the_number_allows_the_login() {
    let (rig, daemon, term) = listening();
    let screen = term.wait_for(CONNECTED);
    assert!(
        screen.contains(&format!("Connected to {} as tux.", daemon.base)),
        "{screen}"
    );
    let (txid, number) = rig.push(&daemon.base, "192.0.2.1");
    let screen = term.wait_for(PROMPT);
    for shown in [
        "Login request: tux on linux.example.org (sshd)",
        "from:     192.0.2.1",
        &format!("request:  {}", &txid[..8]),
        "type the two-digit number shown at the login prompt to approve",
        "locks tux out until an admin clears it",
    ] {
        assert!(screen.contains(shown), "{shown:?} missing:\n{screen}");
    }

    let poll = rig.long_poll(&daemon.base, &txid);
    let pressed = Instant::now();
    term.type_line(&number.to_string());
    let (answer, at) = rig.join(poll);
    let took = at - pressed;
    assert_eq!(answer["result"], "allow", "{answer}");
    assert_eq!(answer["state"], "approved", "{answer}");
    eprintln!("keypress -> long-poll answer: {} ms", took.as_millis());
    assert!(took < Duration::from_secs(3), "took {took:?}");
    term.wait_for("Approved: tux on linux.example.org (sshd) from 192.0.2.1.");

    // Ctrl-C ends it cleanly.
    term.send(&["C-c"]);
    let screen = term.wait_for("mfa-exit=");
    assert!(
        screen.contains("Interrupted: stopped listening."),
        "{screen}"
    );
    assert!(screen.contains("mfa-exit=0"), "{screen}");
}

#[test]
fn d_denies_the_login() {
    let (rig, daemon, term) = listening();
    let (txid, _) = rig.push(&daemon.base, "192.0.2.1");
    term.wait_for(PROMPT);
    let poll = rig.long_poll(&daemon.base, &txid);
    term.type_line("d");
    let (answer, _) = rig.join(poll);
    assert_eq!(answer["result"], "deny", "{answer}");
    assert_eq!(answer["state"], "denied", "{answer}");
    assert_eq!(answer["reason"], "denied by tux", "{answer}");
    term.wait_for("Denied: tux on linux.example.org (sshd) from 192.0.2.1.");
}

#[test]
fn r_reports_fraud_and_locks_the_user_out() {
    let (rig, daemon, term) = listening();
    let (txid, _) = rig.push(&daemon.base, "192.0.2.1");
    term.wait_for(PROMPT);
    let poll = rig.long_poll(&daemon.base, &txid);
    term.type_line("r");
    let screen = term.wait_for("Type y to report, anything else to go back > ");
    assert!(
        screen.contains("tux is locked out until an admin clears it"),
        "{screen}"
    );
    term.type_line("y");
    let (answer, _) = rig.join(poll);
    assert_eq!(answer["result"], "deny", "{answer}");
    assert_eq!(answer["reason"], "fraud reported", "{answer}");
    term.wait_for("Reported and denied: tux on linux.example.org (sshd)");

    let pre = rig.post(
        &daemon.base,
        "/v1/preauth",
        json!({"user": "tux", "host": "linux.example.org", "service": "sshd",
               "client_ip": "192.0.2.50"}),
    );
    assert_eq!(pre["result"], "deny", "{pre}");
    let reason = pre["reason"].as_str().unwrap();
    assert!(reason.contains("locked out"), "{reason}");
}

#[test]
fn a_wrong_number_denies_and_a_typo_is_not_sent() {
    let (rig, daemon, term) = listening();
    let (txid, number) = rig.push(&daemon.base, "192.0.2.1");
    term.wait_for(PROMPT);
    // One digit is a typo: asked again, nothing sent.
    term.type_line("4");
    term.wait_for("the number at the login prompt has two digits");
    let status = rig.rt.block_on(async {
        rig.http
            .get(format!("{}/v1/auth/{txid}", daemon.base))
            .bearer_auth(&rig.token)
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    assert_eq!(status["result"], "pending", "{status}");

    let poll = rig.long_poll(&daemon.base, &txid);
    term.type_line(&other_than(number).to_string());
    let (answer, _) = rig.join(poll);
    assert_eq!(answer["result"], "deny", "{answer}");
    assert_eq!(answer["reason"], "wrong number", "{answer}");
    let screen = term.wait_for("wrong number. If that login was yours");
    assert!(
        screen.contains("Denied: tux on linux.example.org"),
        "{screen}"
    );
}

#[test]
fn requests_are_shown_one_at_a_time_and_ctrl_d_ends() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    rig.app("tux");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);
    // Both pushes are out before the client connects: mfad sends them on connect.
    let (first, number) = rig.push(&daemon.base, "192.0.2.1");
    let (second, _) = rig.push(&daemon.base, "192.0.2.2");
    let term = Terminal::listen(&config);
    let screen = term.wait_for("Another login request is waiting");
    assert_eq!(screen.matches("Login request: ").count(), 1, "{screen}");
    assert!(screen.contains("from:     192.0.2.1"), "{screen}");
    assert!(
        screen.contains("from 192.0.2.2 (1 in the queue"),
        "{screen}"
    );

    let poll = rig.long_poll(&daemon.base, &first);
    term.type_line(&number.to_string());
    assert_eq!(rig.join(poll).0["result"], "allow");
    // The second is shown once the first is answered.
    let screen = term.wait_for("from:     192.0.2.2");
    assert_eq!(screen.matches("Login request: ").count(), 2, "{screen}");

    let poll = rig.long_poll(&daemon.base, &second);
    term.type_line("d");
    assert_eq!(rig.join(poll).0["result"], "deny");
    term.wait_for("Denied: tux on linux.example.org (sshd) from 192.0.2.2.");

    term.send(&["C-d"]);
    let screen = term.wait_for("mfa-exit=");
    assert!(
        screen.contains("End of input: stopped listening."),
        "{screen}"
    );
    assert!(screen.contains("mfa-exit=0"), "{screen}");
}

#[test]
fn a_push_approved_by_another_client_is_withdrawn() {
    let rig = Rig::new("");
    let key = rig.client("tux");
    let phone = rig.client("tux-phone");
    rig.app("tux,tux-phone");
    let daemon = rig.start();
    let config = rig.enroll("tux", &daemon.base, &key);
    let term = Terminal::listen(&config);
    term.wait_for(CONNECTED);

    let (txid, number) = rig.push(&daemon.base, "192.0.2.1");
    term.wait_for(PROMPT);
    let poll = rig.long_poll(&daemon.base, &txid);
    // The other client answers through the client API.
    let decided = rig.rt.block_on(crate::support::post(
        &rig.http,
        &daemon.base,
        &format!("/v1/client/requests/{txid}"),
        &phone,
        json!({"decision": "approve", "number": number}),
    ));
    assert_eq!(decided["state"], "approved", "{decided}");
    assert_eq!(rig.join(poll).0["result"], "allow");
    term.wait_for(
        "The login request for tux on linux.example.org (sshd) from 192.0.2.1 was approved elsewhere.",
    );
    // Nothing is left to answer.
    term.type_line("d");
    term.wait_for("No login request is waiting.");
}

#[test]
fn reconnects_after_mfad_restarts() {
    let port = free_port();
    let rig = Rig::new(&format!("listen = \"127.0.0.1:{port}\"\n"));
    let key = rig.client("tux");
    rig.app("tux");
    let daemon = rig.start();
    assert_eq!(daemon.base, format!("http://127.0.0.1:{port}"));
    let config = rig.enroll("tux", &daemon.base, &key);
    let term = Terminal::listen(&config);
    term.wait_for(CONNECTED);

    drop(daemon);
    let screen = term.wait_for("Retrying in");
    assert!(
        screen.contains(&format!("Disconnected from http://127.0.0.1:{port}")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("Cannot reach http://127.0.0.1:{port}")),
        "{screen}"
    );

    let restarted = Instant::now();
    let daemon = rig.start();
    term.wait_for_n(CONNECTED, 2);
    eprintln!(
        "mfad restart -> client reconnected: {} ms",
        restarted.elapsed().as_millis()
    );

    let (txid, number) = rig.push(&daemon.base, "192.0.2.1");
    term.wait_for(PROMPT);
    let poll = rig.long_poll(&daemon.base, &txid);
    term.type_line(&number.to_string());
    assert_eq!(rig.join(poll).0["result"], "allow");
    term.wait_for("Approved: tux on linux.example.org");
}
