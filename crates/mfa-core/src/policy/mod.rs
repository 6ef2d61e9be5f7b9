//! Policy: who needs which factors where. Factors (push, TOTP, password; recovery codes stand
//! in for a device), requirements (`none`, `any`, or factors that must all be given), rules
//! (per user, group, host, host group, service and action), and the decision, which is a pure
//! function of (policy, user state, request) so every rule kind and the precedence between
//! them are tested without a server or a database.

mod decision;
mod factors;
mod password;
mod rules;

pub use decision::{
    Allowed, Decision, Enrolment, Env, Outcome, Policy, Routed, SessionView, Source, UserState,
    decide,
};
pub use factors::{MfaPolicy, Requirement};
pub use password::{PasswordPolicy, PasswordState, inactive_message};
pub use rules::{HostMatch, Kind, Request, Resolution, Rule, Subject, Target, resolve};
