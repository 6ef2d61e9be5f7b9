//! The PAM entry points: read items and arguments, adapt the conversation, run the flow.
#![allow(unsafe_code)] // pam_hooks! exports `extern "C"` symbols with #[unsafe(no_mangle)].

use std::ffi::CStr;
use std::net::IpAddr;
use std::time::Instant;

use pam::constants::{
    PAM_ERROR_MSG, PAM_PROMPT_ECHO_OFF, PAM_PROMPT_ECHO_ON, PAM_TEXT_INFO, PamFlag, PamResultCode,
};
use pam::conv::Conv;
use pam::module::{PamHandle, PamHooks};

use crate::flow::{Conversation, Flow, Login, Outcome, Settings};
use crate::http::HttpApi;
use crate::log::Log;
use crate::{args, config};

struct PamMfa;
pam::pam_hooks!(PamMfa);

struct PamConv<'a>(Conv<'a>);

impl Conversation for PamConv<'_> {
    fn prompt(&mut self, text: &str, echo: bool) -> Result<String, String> {
        let style = if echo {
            PAM_PROMPT_ECHO_ON
        } else {
            PAM_PROMPT_ECHO_OFF
        };
        match self.0.send(style, text) {
            Ok(Some(answer)) => answer
                .as_str()
                .map(str::to_owned)
                .map_err(|e| e.to_string()),
            Ok(None) => Ok(String::new()),
            Err(code) => Err(format!("{code:?}")),
        }
    }

    fn error(&mut self, text: &str) {
        let _ = self.0.send(PAM_ERROR_MSG, text);
    }

    fn info(&mut self, text: &str) {
        let _ = self.0.send(PAM_TEXT_INFO, text);
    }
}

fn item<'a, T: pam::items::Item<'a> + std::ops::Deref<Target = &'a CStr>>(
    pamh: &'a PamHandle,
) -> Option<String> {
    pamh.get_item::<T>()
        .ok()
        .flatten()
        .map(|v| v.to_string_lossy().into_owned())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".into())
}

/// PAM_RHOST as mfad's `client_ip`: only an IP address. sshd with `UseDNS yes` puts the
/// client's host name there, which mfad refuses; then no address is sent (so no trusted
/// network and no per-address lockout apply to the login).
fn client_ip(rhost: Option<&str>, log: &mut Log) -> Option<String> {
    let rhost = rhost?;
    if rhost.parse::<IpAddr>().is_ok() {
        return Some(rhost.to_owned());
    }
    log.debug(&format!(
        "PAM_RHOST {rhost} is not an IP address (sshd UseDNS yes?): no client_ip sent to mfad"
    ));
    None
}

impl PamHooks for PamMfa {
    fn sm_authenticate(pamh: &mut PamHandle, args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let args = match args::parse(args.iter().map(String::as_str)) {
            Ok(a) => a,
            Err(e) => {
                // Echoed to stderr whatever `debug` says: a typo in pam.d should be seen.
                let socket = args::syslog_socket(args.iter().map(String::as_str));
                Log::new(true, socket.as_deref()).warn(&format!("denied: {e}"));
                return PamResultCode::PAM_AUTH_ERR;
            }
        };
        let mut log = Log::new(args.debug, args.syslog_socket.as_deref());
        // Deny by default: an unreadable or malformed config is a denial, whatever failmode says.
        let config = match config::load(&args.config) {
            Ok(c) => c,
            Err(e) => {
                log.warn(&format!("denied: config: {e}"));
                return PamResultCode::PAM_AUTH_ERR;
            }
        };
        let user = match pamh.get_user(None) {
            Ok(u) => u,
            Err(code) => {
                log.warn("denied: no user name");
                return code;
            }
        };
        let rhost = item::<pam::items::RHost>(pamh).filter(|h| !h.is_empty());
        let login = Login {
            user,
            host: config.host.clone().unwrap_or_else(host_name),
            service: item::<pam::items::Service>(pamh).unwrap_or_else(|| "unknown".into()),
            client_ip: client_ip(rhost.as_deref(), &mut log),
        };
        let api = match HttpApi::new(&config) {
            Ok(api) => api,
            Err(e) => {
                log.warn(&format!("denied: {e}"));
                return PamResultCode::PAM_AUTH_ERR;
            }
        };
        let conv = match pamh.get_item::<Conv>() {
            Ok(Some(conv)) => conv,
            _ => {
                log.warn("denied: the application offers no conversation");
                return PamResultCode::PAM_AUTH_ERR;
            }
        };
        let mut conv = PamConv(conv);
        let settings = Settings {
            failmode: args.failmode.unwrap_or(config.failmode),
            push_only: args.push_only,
            deadline: Instant::now() + config.timeout(),
            prompts: &config.prompts,
            remember: config.remember,
        };
        let outcome = Flow {
            login: &login,
            settings,
            conv: &mut conv,
            api: &api,
            now: &Instant::now,
        }
        .run();
        let who = format!(
            "user {} service {} from {}",
            login.user,
            login.service,
            rhost.as_deref().unwrap_or("local")
        );
        match outcome {
            Outcome::Allow(why) => {
                log.info(&format!("allowed {who}: {why}"));
                PamResultCode::PAM_SUCCESS
            }
            Outcome::AllowFailSafe(why) => {
                log.warn(&format!("allowed {who} WITHOUT MFA: {why}"));
                PamResultCode::PAM_SUCCESS
            }
            // The flow has told the person why.
            Outcome::Deny { why, .. } => {
                log.warn(&format!("denied {who}: {why}"));
                PamResultCode::PAM_AUTH_ERR
            }
        }
    }

    /// Must succeed: sshd drops an authenticated session when setcred fails.
    fn sm_setcred(_pamh: &mut PamHandle, _args: Vec<&CStr>, _flags: PamFlag) -> PamResultCode {
        PamResultCode::PAM_SUCCESS
    }
}
