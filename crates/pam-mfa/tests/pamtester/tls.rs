//! The module over HTTPS: mfad serving `[tls]` itself with a certificate from a throwaway CA.

use mfa_testkit::tls::TestCa;

use crate::harness::{Pamtester, Service, Setup};

#[test]
fn tls_is_verified_against_the_configured_ca_and_an_unverified_certificate_denies_even_in_safe_mode()
 {
    // The trusted network makes preauth answer allow, so a reachable, verified mfad means success.
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path());
    let tls = ca.issue("mfad").config();
    let setup = Setup::new(
        &format!("trusted_ip_networks = [\"198.51.100.0/24\"]\n{tls}"),
        "push,totp",
    );
    assert!(setup.base().starts_with("https://"), "{}", setup.base());

    let attempt = |extra: &str, args: &str, rhost: &str, code: Option<&str>| {
        let config = setup.pam_config(extra);
        let service = Service::new(&format!("config={} {args}", config.display()));
        let mut pam = Pamtester::start(&service, "tux", rhost);
        if let Some(code) = code {
            pam.number();
            pam.type_line(code);
        }
        pam.finish()
    };
    let cafile = format!("cafile = \"{}\"", ca.cert.display());
    let (ok, out) = attempt(&cafile, "", "198.51.100.7", None);
    assert!(ok, "HTTPS with the right CA should work: {out}");
    // A whole login over HTTPS: the push goes out, a TOTP code typed at its prompt is checked.
    let (ok, out) = attempt(&cafile, "", "192.0.2.1", Some(&setup.totp_code()));
    assert!(ok, "a TOTP login over HTTPS: {out}");
    // The system store does not know this CA: an impostor, not an outage, so safe mode denies too.
    let (ok, out) = attempt("", "failmode=safe", "198.51.100.7", None);
    assert!(!ok, "an unverifiable certificate was accepted: {out}");
    assert!(out.contains("TLS"), "{out}");
}
