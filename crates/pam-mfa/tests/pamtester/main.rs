//! pam_mfa.so through the real PAM stack: Debian's pamtester loads the built module from a
//! service file in /etc/pam.d, against the real mfad on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cases;
mod duo;
mod harness;
mod imports;
mod logs;
mod passkey;
mod requests;
mod secrets;
mod tls;
