//! The system log (auth facility), and stderr too with the `debug` argument. Never secrets.

use syslog::{Facility, Formatter3164};

pub struct Log {
    debug: bool,
    syslog: Option<syslog::Logger<syslog::LoggerBackend, Formatter3164>>,
}

impl Log {
    pub fn new(debug: bool) -> Self {
        let formatter = Formatter3164 {
            facility: Facility::LOG_AUTHPRIV,
            hostname: None,
            process: "pam_mfa".into(),
            pid: std::process::id(),
        };
        // No syslog socket (containers): stderr with `debug` is all there is.
        Self {
            debug,
            syslog: syslog::unix(formatter).ok(),
        }
    }

    pub fn info(&mut self, msg: &str) {
        if let Some(s) = self.syslog.as_mut() {
            let _ = s.info(msg);
        }
        self.echo(msg);
    }

    pub fn warn(&mut self, msg: &str) {
        if let Some(s) = self.syslog.as_mut() {
            let _ = s.warning(msg);
        }
        self.echo(msg);
    }

    fn echo(&self, msg: &str) {
        if self.debug {
            eprintln!("pam_mfa: {msg}");
        }
    }
}
