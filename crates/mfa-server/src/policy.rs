//! The gate every preauth, step-up and auth goes through: gather the policy's inputs (rules,
//! the user's groups, bypass, route, sessions, locks, the source network) and let the pure
//! decision in `mfa_core::policy` decide.

use std::net::IpAddr;

use mfa_core::Method;
use mfa_core::policy::{Allowed, Env, Outcome, Policy, decide};
use mfa_store::App;

use crate::login::Login;
use crate::{ApiError, AppState};

/// What the gate decided before any factor is checked.
pub enum Gate {
    Allow {
        reason: String,
        /// Allowed because the user is an automation account (audited as `bypass`).
        bypass: bool,
    },
    Deny(String),
    /// MFA is required but the user has no (suitable) factor: the reason says how to get one.
    Enroll(String),
    /// Ask for a factor: any one of `methods`, or every one of `required` when it is not empty.
    Auth {
        methods: Vec<Method>,
        required: Vec<Method>,
        route: App,
    },
}

fn trusted_network(state: &AppState, login: &Login) -> bool {
    login
        .client_ip
        .as_deref()
        .and_then(|ip| ip.parse::<IpAddr>().ok())
        .is_some_and(|ip| mfa_core::in_networks(&state.config.trusted_ip_networks, ip))
}

pub async fn gate(state: &AppState, login: &Login) -> Result<Gate, ApiError> {
    let now = state.clock.now();
    let req = login.policy_request();
    let mut inputs = state
        .store
        .policy_inputs(&req, login.client_ip.as_deref(), now)
        .await?;
    inputs.user.locked = crate::guard::lock_reason(state, &login.subjects()).await?;
    let policy = Policy {
        global: state.config.mfa_policy,
        rules: &inputs.rules,
    };
    let env = Env {
        trusted_network: trusted_network(state, login),
        now,
    };
    let decision = decide(&policy, &inputs.user, &req, env);
    Ok(match decision.outcome {
        Outcome::Allow(why) => Gate::Allow {
            reason: decision.reason,
            bypass: why == Allowed::Bypass,
        },
        Outcome::Deny => Gate::Deny(decision.reason),
        Outcome::Enroll => Gate::Enroll(decision.reason),
        Outcome::Auth { methods, required } => Gate::Auth {
            methods,
            required,
            route: inputs.route.ok_or_else(|| {
                ApiError::Internal("the policy asked for a factor without a route".into())
            })?,
        },
    })
}
