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
    assert!(
        requests.iter().any(|r| r.starts_with("DELETE /v1/auth/")),
        "the push was not withdrawn: {requests:#?}"
    );
}
