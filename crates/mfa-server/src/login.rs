//! Checks what a server says about a login before anything is looked up.

use mfa_core::{Alias, Pattern};

use mfa_store::{AuditEntry, LockSubject};

use crate::{ApiError, guard};

/// Who is logging in, as the asking server described it (already validated).
pub struct Login {
    pub user: String,
    /// Empty only for a step-up that names no host.
    pub host: String,
    /// The service logged into; for a step-up, the action.
    pub service: String,
    pub client_ip: Option<String>,
    pub server: String,
    /// A step-up (`POST /v1/stepup`, or `/v1/auth` with `action`) rather than a login.
    pub step_up: bool,
}

impl Login {
    /// The request as the policy sees it.
    pub fn policy_request(&self) -> mfa_core::policy::Request {
        if self.step_up {
            let host = (!self.host.is_empty()).then_some(self.host.as_str());
            mfa_core::policy::Request::step_up(&self.user, &self.service, host)
        } else {
            mfa_core::policy::Request::login(&self.user, &self.host, &self.service)
        }
    }

    /// What the audit log and the approving person see as the service: `action:NAME` for a
    /// step-up.
    pub fn service_label(&self) -> String {
        if self.step_up {
            format!("action:{}", self.service)
        } else {
            self.service.clone()
        }
    }

    /// What this login's failures count against: its user and its source address.
    pub fn subjects(&self) -> Vec<LockSubject> {
        guard::login_subjects(&self.user, self.client_ip.as_deref())
    }

    pub fn audit(&self, method: &str, result: &str, reason: Option<String>) -> AuditEntry {
        AuditEntry {
            user: self.user.clone(),
            host: (!self.host.is_empty()).then(|| self.host.clone()),
            service: Some(self.service_label()),
            client_ip: self.client_ip.clone(),
            method: Some(method.to_owned()),
            result: result.to_owned(),
            reason,
            server: Some(self.server.clone()),
            ..AuditEntry::default()
        }
    }
}

/// Validates the (user, host, service, client_ip) a server sent.
pub fn parse_login(
    user: &str,
    host: &str,
    service: &str,
    client_ip: Option<&str>,
    server: &str,
) -> Result<Login, ApiError> {
    let bad = |field: &str, value: &str, why: &str| {
        ApiError::BadRequest(format!("{field}: {value:?} {why}"))
    };
    let user = Alias::new(user).map_err(|_| {
        bad(
            "user",
            user,
            "is not a valid user name (letters, digits, '.', '_', '-')",
        )
    })?;
    // Checked as sent: the document's patterns allow no white space around a name or address.
    let name = |field: &str, value: &str| match Pattern::new(value) {
        Ok(Pattern::Exact(v)) if value.trim() == value => Ok(v),
        _ => Err(bad(field, value, "is not a valid name")),
    };
    // One spelling per address, so `2001:db8::1` and `2001:0db8::0001` are counted as one
    // subject; a host name (sshd with UseDNS) is refused: the caller sends no address instead.
    let client_ip = match client_ip.filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(
            mfa_core::parse_client_ip(text)
                .filter(|_| text.trim() == text)
                .ok_or_else(|| {
                    bad(
                        "client_ip",
                        text,
                        "is not an IP address (leave it out when the address is not known)",
                    )
                })?
                .to_string(),
        ),
    };
    Ok(Login {
        user: user.to_string(),
        host: name("host", host)?,
        service: name("service", service)?,
        client_ip,
        server: server.to_owned(),
        step_up: false,
    })
}

/// Validates a step-up: (user, action, host?, client_ip). The action is checked like a service
/// name; it plays the service's part in routing.
pub fn parse_step_up(
    user: &str,
    action: &str,
    host: Option<&str>,
    client_ip: Option<&str>,
    server: &str,
) -> Result<Login, ApiError> {
    let host = host.filter(|h| !h.is_empty());
    let mut login =
        parse_login(user, host.unwrap_or("x"), action, client_ip, server).map_err(|e| match e {
            ApiError::BadRequest(m) if m.starts_with("service:") => {
                ApiError::BadRequest(m.replacen("service:", "action:", 1))
            }
            other => other,
        })?;
    if host.is_none() {
        login.host.clear();
    }
    login.step_up = true;
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_fields() {
        let ok = parse_login("tux", "Linux.Example.org", "sshd", Some("192.0.2.1"), "s").unwrap();
        assert_eq!(ok.host, "linux.example.org");
        assert_eq!(ok.client_ip.as_deref(), Some("192.0.2.1"));
        assert!(parse_login("tux", "h", "sshd", Some("::1"), "s").is_ok());
        assert!(
            parse_login("tux", "h", "sshd", Some(""), "s")
                .unwrap()
                .client_ip
                .is_none()
        );
        for (u, h, s) in [
            ("", "h", "sshd"),
            ("tux", "*", "sshd"),
            ("tux", "h", "a b"),
            ("t/x", "h", "s"),
            ("tux", " h", "s"),
            ("tux", "h", "sshd\n"),
        ] {
            assert!(parse_login(u, h, s, None, "s").is_err(), "{u} {h} {s}");
        }
        for bad in ["1.2.3.4; rm", "host.example.org", "203.0.113", " 192.0.2.1"] {
            let err = parse_login("tux", "h", "s", Some(bad), "s").err().unwrap();
            assert!(err.to_string().starts_with("client_ip: "), "{err}");
        }
        let v6 = parse_login("tux", "h", "s", Some("2001:0DB8::0001"), "s").unwrap();
        assert_eq!(v6.client_ip.as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn step_ups_may_leave_out_the_host() {
        let s = parse_step_up("tux", "Deploy", None, Some("192.0.2.1"), "s").unwrap();
        assert_eq!(
            (s.host.as_str(), s.service.as_str(), s.step_up),
            ("", "deploy", true)
        );
        assert_eq!(s.policy_request().scope(), "action:deploy");
        assert_eq!(s.service_label(), "action:deploy");
        let s = parse_step_up("tux", "deploy", Some("H.example.org"), None, "s").unwrap();
        assert_eq!(s.policy_request().scope(), "action:deploy@h.example.org");
        let err = parse_step_up("tux", "rm -rf", None, None, "s")
            .err()
            .unwrap();
        assert!(err.to_string().starts_with("action: "), "{err}");
        assert!(parse_step_up("tux", "a", Some("*"), None, "s").is_err());
    }
}
