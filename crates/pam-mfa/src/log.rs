//! The system log (authpriv facility), and stderr too with the `debug` argument. Never secrets.

use std::path::Path;

use syslog::{Facility, Formatter3164};

type Syslog = syslog::Logger<syslog::LoggerBackend, Formatter3164>;

pub struct Log {
    debug: bool,
    syslog: Option<Syslog>,
}

impl Log {
    /// `socket`: the syslog socket (the `syslog_socket=` argument); default: /dev/log and the
    /// other usual places.
    pub fn new(debug: bool, socket: Option<&Path>) -> Self {
        let formatter = Formatter3164 {
            facility: Facility::LOG_AUTHPRIV,
            hostname: None,
            process: "pam_mfa".into(),
            pid: std::process::id(),
        };
        let syslog = match socket {
            Some(path) => syslog::unix_custom(formatter, path).ok(),
            None => syslog::unix(formatter).ok(),
        };
        // No syslog socket (containers): stderr with `debug` is all there is.
        Self { debug, syslog }
    }

    pub fn info(&mut self, msg: &str) {
        let msg = printable(msg);
        if let Some(s) = self.syslog.as_mut() {
            let _ = s.info(&msg);
        }
        self.echo(&msg);
    }

    pub fn warn(&mut self, msg: &str) {
        let msg = printable(msg);
        if let Some(s) = self.syslog.as_mut() {
            let _ = s.warning(&msg);
        }
        self.echo(&msg);
    }

    /// Only with the `debug` argument: details an admin needs while setting the module up.
    pub fn debug(&mut self, msg: &str) {
        if !self.debug {
            return;
        }
        let msg = printable(msg);
        if let Some(s) = self.syslog.as_mut() {
            let _ = s.debug(&msg);
        }
        self.echo(&msg);
    }

    fn echo(&self, msg: &str) {
        if self.debug {
            eprintln!("pam_mfa: {msg}");
        }
    }
}

/// One line: PAM items (a remote host name, a user name) must not forge log lines.
fn printable(msg: &str) -> String {
    msg.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;

    #[test]
    fn lines_reach_the_given_socket_on_one_line_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let listener = UnixDatagram::bind(&path).unwrap();
        let mut log = Log::new(false, Some(&path));
        log.warn("denied user tux\nforged line");
        log.debug("not without debug");
        let mut buf = [0u8; 2048];
        let n = listener.recv(&mut buf).unwrap();
        let line = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(line.contains("pam_mfa"), "{line}");
        assert!(line.ends_with("denied user tux?forged line"), "{line}");
        listener.set_nonblocking(true).unwrap();
        assert!(
            listener.recv(&mut buf).is_err(),
            "a debug line without debug"
        );
    }
}
