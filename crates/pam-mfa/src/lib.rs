//! `pam_mfa.so`: asks mfad for a second factor from inside a PAM stack.
//!
//! The entry points (in `glue`) only read PAM items and adapt the conversation; the decisions
//! live in [`flow`], which knows nothing of PAM and is tested with a scripted conversation.
//! No async runtime and no threads: one blocking HTTP client with its own deadlines.

pub mod args;
pub mod config;
pub mod flow;
mod glue;
pub mod http;
pub mod log;
pub mod refusal;
