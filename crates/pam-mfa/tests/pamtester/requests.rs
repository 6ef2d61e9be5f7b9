//! What the module sends mfad, counted by a proxy between them (mfa_testkit::Proxy).

use std::time::{Duration, Instant};

use mfa_testkit::Proxy;

use crate::harness::{Pamtester, Service, Setup};

/// The module's `timeout` below mfad's `auth_timeout`: nobody answers the push, the module
/// gives up at its own deadline — with a handful of requests, never a `wait=0` busy loop in
/// its last second.
#[test]
fn a_push_nobody_answers_costs_a_bounded_number_of_requests() {
    let setup = Setup::new("auth_timeout = 60", "push,totp");
    let proxy = Proxy::start(&setup.base());
    let config = setup.pam_config_for(&proxy.url, "timeout = 5");
    let service = Service::new(&format!("config={}", config.display()));
    let started = Instant::now();
    let mut pam = Pamtester::start(&service, "tux", "192.0.2.1");
    pam.number();
    pam.type_line("");
    let (ok, out) = pam.finish();
    assert!(!ok, "{out}");
    assert!(started.elapsed() < Duration::from_secs(15), "{out}");
    let requests = proxy.requests();
    assert!(
        requests.iter().all(|r| !r.contains("wait=0 ")),
        "a poll without a wait: {requests:#?}"
    );
    // preauth, the push, a poll or two, the withdrawal.
    assert!(
        requests.len() <= 6,
        "{} requests: {requests:#?}",
        requests.len()
    );
    let withdrawn = requests.iter().find(|r| r.starts_with("DELETE /v1/auth/"));
    assert!(
        withdrawn.is_some_and(|r| r.contains("?reason=abandoned ")),
        "the push was not withdrawn as abandoned: {requests:#?}"
    );
}

/// A code typed at the push prompt withdraws the push as `code_used`.
#[test]
fn a_typed_code_withdraws_the_push_as_code_used() {
    let setup = Setup::new("", "push,totp");
    let proxy = Proxy::start(&setup.base());
    let config = setup.pam_config_for(&proxy.url, "");
    let service = Service::new(&format!("config={}", config.display()));
    let mut pam = Pamtester::start(&service, "tux", "192.0.2.1");
    pam.number();
    pam.type_line(&setup.totp_code());
    let (ok, out) = pam.finish();
    assert!(ok, "{out}");
    let requests = proxy.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("DELETE /v1/auth/") && r.contains("?reason=code_used ")),
        "{requests:#?}"
    );
    assert_eq!(setup.pending_pushes(), 0);
}

/// `timeout` bounds every call to mfad, not only the push wait: an mfad that accepts and never
/// answers (the proxy holds the requests) costs at most `timeout`, wherever it stops answering.
#[test]
fn timeout_bounds_every_call_to_an_mfad_that_stops_answering() {
    let setup = Setup::new("auth_timeout = 60", "push,totp");
    let limit = Duration::from_secs(5);
    // Generous: the module's 5 s plus pamtester's start and end on a loaded machine; the old
    // per-call limits took 10 s (a plain call) and the poll's wait + 10 s.
    let bound = Duration::from_millis(8500);
    let attempt = |stall_at_once: bool, code: Option<String>| {
        let proxy = Proxy::start(&setup.base());
        let config = setup.pam_config_for(&proxy.url, "timeout = 5");
        let service = Service::new(&format!("config={}", config.display()));
        if stall_at_once {
            proxy.stall();
        }
        let started = Instant::now();
        let mut pam = Pamtester::start(&service, "tux", "192.0.2.1");
        if !stall_at_once {
            pam.number();
            proxy.stall();
            pam.type_line(code.as_deref().unwrap_or_default());
        }
        let (ok, out) = pam.finish();
        let took = started.elapsed();
        assert!(!ok, "{out}");
        assert!(took < bound, "took {took:?} with timeout {limit:?}: {out}");
        (out, proxy.requests())
    };
    // The preauth is held.
    let (out, requests) = attempt(true, None);
    assert_eq!(requests, ["POST /v1/preauth HTTP/1.1"], "{out}");
    // The push's long poll is held.
    let (out, requests) = attempt(false, None);
    assert!(
        requests.last().unwrap().contains("?wait="),
        "{requests:?} {out}"
    );
    // The check of a code typed at the push prompt is held.
    let (out, requests) = attempt(false, Some(setup.totp_code()));
    assert_eq!(
        requests.last().unwrap(),
        "POST /v1/auth HTTP/1.1",
        "{requests:?} {out}"
    );
}
