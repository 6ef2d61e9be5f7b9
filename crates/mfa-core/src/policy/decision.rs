//! The decision: a pure function of the policy, the user's state and the request.
//!
//! The order, first match decides:
//! 1. a lock on the user or the source address: deny;
//! 2. a trusted network: allow;
//! 3. `mfa_policy = "disabled"`: allow;
//! 4. a bypass (automation account): allow;
//! 5. the requirement: the most specific matching rules, else `mfa_policy`;
//!    `none`: allow;
//! 6. an unexpired elevated session for this user, address and scope whose factors meet the
//!    requirement: allow;
//! 7. routing: no app at all: enroll (or allow when `mfa_policy = "enabled"` and no rule
//!    asks); no app for this login: deny (likewise allow under `enabled`);
//! 8. factors: a required password or passkey the routed clients do not have: enroll;
//! 9. otherwise: auth, with the methods the caller may use and those it must all use.

use crate::{Alias, Method, Methods, Timestamp};

use super::rules::{Kind, Request, Rule, resolve};
use super::{MfaPolicy, Requirement};

/// What the policy is made of: the global setting and the rules (host groups resolved).
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub global: MfaPolicy,
    pub rules: &'a [Rule],
}

/// The login's route: the app it goes to and what its clients can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub app_id: i64,
    pub methods: Methods,
    pub clients: Vec<Alias>,
    /// Whether any of the clients has a password.
    pub has_password: bool,
    /// Whether any of the clients has a passkey.
    pub has_passkey: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Enrolment {
    /// No app names this user: they have no factor at all.
    NoApps,
    /// Apps name the user, but none covers this host and service (or action).
    NoRoute,
    Routed(Routed),
}

/// An elevated session for this user, source address and scope (the store finds those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionView {
    pub id: String,
    pub factors: Vec<Method>,
    pub expires_at: Timestamp,
}

/// Everything about the user the decision needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserState {
    /// Why the user or the source address is locked out, if either is.
    pub locked: Option<String>,
    pub bypass: bool,
    pub groups: Vec<Alias>,
    pub enrolment: Enrolment,
    pub sessions: Vec<SessionView>,
}

/// Facts about the request the server works out: the source address's network, the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Env {
    pub trusted_network: bool,
    pub now: Timestamp,
}

/// Why a request needs no second factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    TrustedNetwork,
    Disabled,
    Bypass,
    NotRequired,
    Session {
        id: String,
        until: Timestamp,
    },
    /// `mfa_policy = "enabled"`, no rule, and the login routes to no app.
    Optional,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Allow(Allowed),
    Deny,
    /// MFA is required but the user has no (suitable) factor: the reason says how to get one.
    Enroll,
    /// Ask for a second factor: any one of `methods` when `required` is empty, else every one
    /// of `required` (then `methods` equals it).
    Auth {
        methods: Vec<Method>,
        required: Vec<Method>,
    },
}

/// Where the requirement came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Global(MfaPolicy),
    Rules(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub outcome: Outcome,
    /// One line: why (for allow, deny and enroll, what the caller is told).
    pub reason: String,
    /// The requirement, once the decision got that far.
    pub requirement: Option<Requirement>,
    pub source: Option<Source>,
}

impl Decision {
    fn early(outcome: Outcome, reason: String) -> Self {
        Self {
            outcome,
            reason,
            requirement: None,
            source: None,
        }
    }
}

impl Source {
    pub fn describe(&self) -> String {
        match self {
            Source::Global(p) => format!("mfa_policy = \"{p}\""),
            Source::Rules(ids) if ids.len() == 1 => format!("rule {}", ids[0]),
            Source::Rules(ids) => {
                let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
                format!("rules {} (equally specific, joined)", ids.join(", "))
            }
        }
    }
}

fn enrol_command(req: &Request) -> String {
    let host = req.host.as_deref().unwrap_or("'*'");
    format!(
        "mfac client add {user}, then mfac app add --user {user} --host {host} --service {service} --client {user} --methods push,totp",
        user = req.user,
        service = req.service_or_action(),
    )
}

fn no_route(req: &Request) -> String {
    match &req.kind {
        Kind::Login { service } => format!(
            "no app for user {} on host {} service {service}",
            req.user,
            req.host.as_deref().unwrap_or("")
        ),
        Kind::StepUp { action } => format!(
            "no app for user {} on {} covers action {action} (an app's service names the actions it covers)",
            req.user,
            req.host.as_deref().unwrap_or("any host")
        ),
    }
}

pub fn decide(policy: &Policy<'_>, user: &UserState, req: &Request, env: Env) -> Decision {
    use Outcome::{Allow, Auth, Deny, Enroll};
    if let Some(reason) = &user.locked {
        return Decision::early(Deny, reason.clone());
    }
    if env.trusted_network {
        return Decision::early(Allow(Allowed::TrustedNetwork), "trusted network".into());
    }
    if policy.global == MfaPolicy::Disabled {
        return Decision::early(
            Allow(Allowed::Disabled),
            "MFA is off (mfa_policy = \"disabled\")".into(),
        );
    }
    if user.bypass {
        return Decision::early(
            Allow(Allowed::Bypass),
            format!(
                "MFA bypassed: {} is an automation account (mfac user modify {} --no-bypass ends it)",
                req.user, req.user
            ),
        );
    }
    // `None` here: mfa_policy "enabled" and no rule: MFA when the login routes to an app.
    let (requirement, source) = match resolve(policy.rules, req, &user.groups) {
        Some(r) => (Some(r.require), Source::Rules(r.rules)),
        None => (policy.global.requirement(), Source::Global(policy.global)),
    };
    let optional = requirement.is_none();
    let require = requirement.clone().unwrap_or(Requirement::Any);
    let decision = |outcome, reason| Decision {
        outcome,
        reason,
        requirement: requirement.clone(),
        source: Some(source.clone()),
    };
    if require == Requirement::None {
        return decision(
            Allow(Allowed::NotRequired),
            format!("no second factor required ({})", source.describe()),
        );
    }
    let session = user
        .sessions
        .iter()
        .filter(|s| s.expires_at > env.now && require.satisfied_by(&s.factors))
        .max_by_key(|s| s.expires_at);
    if let Some(s) = session {
        return decision(
            Allow(Allowed::Session {
                id: s.id.clone(),
                until: s.expires_at,
            }),
            format!("elevated session until {}", s.expires_at),
        );
    }
    let routed = match &user.enrolment {
        Enrolment::NoApps | Enrolment::NoRoute if optional => {
            return decision(
                Allow(Allowed::Optional),
                format!(
                    "MFA is optional (mfa_policy = \"enabled\") and no app covers this login of {}",
                    req.user
                ),
            );
        }
        Enrolment::NoApps => {
            return decision(
                Enroll,
                format!(
                    "unknown user {}: not enrolled for MFA, which this login requires; ask an admin to enrol them: {}",
                    req.user,
                    enrol_command(req)
                ),
            );
        }
        Enrolment::NoRoute => return decision(Deny, no_route(req)),
        Enrolment::Routed(r) => r,
    };
    let clients: Vec<&str> = routed.clients.iter().map(Alias::as_str).collect();
    // Password and passkey are the factors a client may lack: what to ask an admin for.
    let lacking = |m: Method| {
        let (needs, ask, command) = match m {
            Method::Passkey => (
                "confirm with a passkey",
                "for a link to register one",
                "passkey-link",
            ),
            _ => ("give a password", "to set one", "password"),
        };
        format!(
            "{} must {needs}, but client {} has none: ask an admin {ask}: mfac client {command} {}",
            req.user,
            clients.join(", "),
            clients.first().copied().unwrap_or("ALIAS")
        )
    };
    let usable = |m: &Method| match m {
        Method::Password => routed.has_password,
        Method::Passkey => routed.has_passkey,
        Method::Push | Method::Totp => true,
    };
    match &require {
        Requirement::None => decision(
            Allow(Allowed::NotRequired),
            "no second factor required".into(),
        ),
        Requirement::Any => {
            let methods: Vec<Method> = routed.methods.iter().filter(usable).collect();
            if methods.is_empty() {
                // Only password and passkey can be unusable; name the passkey when it is listed.
                let missing = routed.methods.iter().filter(|m| !usable(m)).last();
                return decision(Enroll, lacking(missing.unwrap_or(Method::Password)));
            }
            decision(
                Auth {
                    methods,
                    required: vec![],
                },
                format!(
                    "any one of app {}'s methods ({})",
                    routed.app_id,
                    source.describe()
                ),
            )
        }
        Requirement::All(all) => {
            if let Some(missing) = all.iter().find(|m| !usable(m)) {
                return decision(Enroll, lacking(missing));
            }
            let all: Vec<Method> = all.iter().collect();
            decision(
                Auth {
                    methods: all.clone(),
                    required: all,
                },
                format!("{} ({})", require, source.describe()),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rules::{HostMatch, Subject, Target};
    use super::*;
    use Method::{Password, Push, Totp};

    fn alias(s: &str) -> Alias {
        Alias::new(s).unwrap()
    }

    const NOW: Timestamp = Timestamp::from_millis(1_700_000_000_000);

    fn routed(methods: &str, has_password: bool) -> Enrolment {
        Enrolment::Routed(Routed {
            app_id: 7,
            methods: methods.parse().unwrap(),
            clients: vec![alias("tux-phone")],
            has_password,
            has_passkey: false,
        })
    }

    fn with_passkey(methods: &str) -> Enrolment {
        match routed(methods, false) {
            Enrolment::Routed(r) => Enrolment::Routed(Routed {
                has_passkey: true,
                ..r
            }),
            other => other,
        }
    }

    fn state(enrolment: Enrolment) -> UserState {
        UserState {
            locked: None,
            bypass: false,
            groups: vec![],
            enrolment,
            sessions: vec![],
        }
    }

    fn user_rule(id: i64, user: &str, require: &str) -> Rule {
        Rule {
            id,
            subject: Subject::User(alias(user)),
            host: HostMatch::Any,
            target: Target::Any,
            require: require.parse().unwrap(),
        }
    }

    fn env() -> Env {
        Env {
            trusted_network: false,
            now: NOW,
        }
    }

    fn login() -> Request {
        Request::login("tux", "h.example.org", "sshd")
    }

    /// A short name for an outcome, for tables.
    fn short(d: &Decision) -> String {
        match &d.outcome {
            Outcome::Allow(a) => format!("allow:{a:?}")
                .split([' ', '{'])
                .next()
                .unwrap_or_default()
                .to_owned(),
            Outcome::Deny => "deny".into(),
            Outcome::Enroll => "enroll".into(),
            Outcome::Auth { methods, required } => {
                let m: Vec<&str> = methods.iter().map(|m| m.as_str()).collect();
                let r: Vec<&str> = required.iter().map(|m| m.as_str()).collect();
                format!("auth:{}/{}", m.join(","), r.join(","))
            }
        }
    }

    #[test]
    fn every_global_policy() {
        // (mfa_policy, enrolment, expected)
        let table = [
            ("disabled", routed("push,totp", false), "allow:Disabled"),
            ("disabled", Enrolment::NoApps, "allow:Disabled"),
            ("enabled", routed("push,totp", false), "auth:push,totp/"),
            ("enabled", Enrolment::NoApps, "allow:Optional"),
            ("enabled", Enrolment::NoRoute, "allow:Optional"),
            (
                "any-required",
                routed("push,totp", false),
                "auth:push,totp/",
            ),
            ("any-required", routed("totp", false), "auth:totp/"),
            ("any-required", Enrolment::NoApps, "enroll"),
            ("any-required", Enrolment::NoRoute, "deny"),
            ("totp-required", routed("push", false), "auth:totp/totp"),
            ("totp-required", Enrolment::NoApps, "enroll"),
            (
                "password-required",
                routed("push,totp", true),
                "auth:password/password",
            ),
            ("password-required", routed("push,totp", false), "enroll"),
        ];
        for (global, enrolment, want) in table {
            let global = MfaPolicy::ALL
                .into_iter()
                .find(|p| p.as_str() == global)
                .unwrap();
            let policy = Policy { global, rules: &[] };
            let d = decide(&policy, &state(enrolment.clone()), &login(), env());
            assert_eq!(short(&d), want, "{global} {enrolment:?}: {}", d.reason);
        }
    }

    #[test]
    fn any_offers_password_only_when_a_client_has_one() {
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &[],
        };
        let table = [
            (
                routed("push,totp,password", true),
                "auth:push,totp,password/",
            ),
            (routed("push,totp,password", false), "auth:push,totp/"),
            (routed("password", false), "enroll"),
        ];
        for (enrolment, want) in table {
            let d = decide(&policy, &state(enrolment), &login(), env());
            assert_eq!(short(&d), want, "{}", d.reason);
        }
    }

    #[test]
    fn each_rule_requirement() {
        // (requirement of a rule for tux, enrolment, expected)
        let table = [
            ("none", routed("push,totp", false), "allow:NotRequired"),
            ("none", Enrolment::NoApps, "allow:NotRequired"),
            ("any", routed("push,totp", false), "auth:push,totp/"),
            ("push", routed("totp", false), "auth:push/push"),
            ("totp", routed("push", false), "auth:totp/totp"),
            ("password", routed("push", true), "auth:password/password"),
            ("password", routed("push", false), "enroll"),
            (
                "password,totp",
                routed("push,totp", true),
                "auth:totp,password/totp,password",
            ),
            (
                "password,push",
                routed("push", true),
                "auth:push,password/push,password",
            ),
            ("password,totp", Enrolment::NoApps, "enroll"),
            ("totp", Enrolment::NoRoute, "deny"),
        ];
        for (require, enrolment, want) in table {
            let rules = [user_rule(1, "tux", require)];
            for global in [
                MfaPolicy::Enabled,
                MfaPolicy::AnyRequired,
                MfaPolicy::PasswordRequired,
            ] {
                let policy = Policy {
                    global,
                    rules: &rules,
                };
                let d = decide(&policy, &state(enrolment.clone()), &login(), env());
                assert_eq!(short(&d), want, "{require} under {global}: {}", d.reason);
                assert_eq!(d.source, Some(Source::Rules(vec![1])));
            }
        }
    }

    #[test]
    fn a_passkey_is_asked_for_only_from_clients_that_have_one() {
        let rules = [user_rule(1, "tux", "passkey")];
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &rules,
        };
        let d = decide(&policy, &state(with_passkey("push")), &login(), env());
        assert_eq!(short(&d), "auth:passkey/passkey", "{}", d.reason);
        let d = decide(&policy, &state(routed("push", false)), &login(), env());
        assert_eq!(short(&d), "enroll");
        assert!(
            d.reason.contains("mfac client passkey-link tux-phone"),
            "{}",
            d.reason
        );
        // An app that lists passkey offers it (under `any`) only where a client has one.
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &[],
        };
        let d = decide(
            &policy,
            &state(with_passkey("push,passkey")),
            &login(),
            env(),
        );
        assert_eq!(short(&d), "auth:push,passkey/");
        let d = decide(
            &policy,
            &state(routed("push,passkey", false)),
            &login(),
            env(),
        );
        assert_eq!(short(&d), "auth:push/");
        let d = decide(&policy, &state(routed("passkey", false)), &login(), env());
        assert_eq!(short(&d), "enroll");
    }

    #[test]
    fn precedence_of_locks_networks_switches_and_bypass() {
        let rules = [user_rule(1, "tux", "password,totp")];
        let locked = UserState {
            locked: Some("user tux is locked out".into()),
            bypass: true,
            ..state(routed("push,totp", true))
        };
        let bypass = UserState {
            bypass: true,
            ..state(Enrolment::NoApps)
        };
        let trusted = Env {
            trusted_network: true,
            now: NOW,
        };
        // (global, state, env, expected): each line shows the step before it winning.
        let table = [
            (MfaPolicy::Disabled, locked.clone(), trusted, "deny"),
            (
                MfaPolicy::Disabled,
                bypass.clone(),
                trusted,
                "allow:TrustedNetwork",
            ),
            (MfaPolicy::Disabled, bypass.clone(), env(), "allow:Disabled"),
            (
                MfaPolicy::AnyRequired,
                bypass.clone(),
                env(),
                "allow:Bypass",
            ),
            (
                MfaPolicy::AnyRequired,
                state(routed("push", true)),
                env(),
                "auth:totp,password/totp,password",
            ),
        ];
        for (global, user, env, want) in table {
            let policy = Policy {
                global,
                rules: &rules,
            };
            let d = decide(&policy, &user, &login(), env);
            assert_eq!(short(&d), want, "{}", d.reason);
        }
        let d = decide(
            &Policy {
                global: MfaPolicy::AnyRequired,
                rules: &rules,
            },
            &locked,
            &login(),
            env(),
        );
        assert_eq!(d.reason, "user tux is locked out");
        let d = decide(
            &Policy {
                global: MfaPolicy::AnyRequired,
                rules: &rules,
            },
            &bypass,
            &login(),
            env(),
        );
        assert!(d.reason.contains("automation account"), "{}", d.reason);
    }

    #[test]
    fn sessions_cover_only_what_their_factors_meet() {
        let session = |factors: &[Method], secs: i64| SessionView {
            id: "s1".into(),
            factors: factors.to_vec(),
            expires_at: NOW.plus_secs(secs),
        };
        // (requirement, session, expected)
        let table = [
            ("any", session(&[Push], 60), "allow:Session"),
            ("any", session(&[Push], 0), "auth:push,totp/"),
            ("any", session(&[Push], -1), "auth:push,totp/"),
            ("totp", session(&[Push], 60), "auth:totp/totp"),
            ("totp", session(&[Totp], 60), "allow:Session"),
            (
                "password,totp",
                session(&[Totp], 60),
                "auth:totp,password/totp,password",
            ),
            (
                "password,totp",
                session(&[Password, Totp], 60),
                "allow:Session",
            ),
            ("none", session(&[], 60), "allow:NotRequired"),
        ];
        for (require, s, want) in table {
            let rules = [user_rule(3, "tux", require)];
            let user = UserState {
                sessions: vec![s.clone()],
                ..state(routed("push,totp", true))
            };
            let policy = Policy {
                global: MfaPolicy::AnyRequired,
                rules: &rules,
            };
            let d = decide(&policy, &user, &login(), env());
            assert_eq!(short(&d), want, "{require} with {s:?}: {}", d.reason);
        }
    }

    #[test]
    fn group_rules_need_membership() {
        let rules = [Rule {
            id: 2,
            subject: Subject::Group(alias("admins")),
            host: HostMatch::Any,
            target: Target::Any,
            require: "password,totp".parse().unwrap(),
        }];
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &rules,
        };
        let member = UserState {
            groups: vec![alias("admins")],
            ..state(routed("push,totp", true))
        };
        assert_eq!(
            short(&decide(&policy, &member, &login(), env())),
            "auth:totp,password/totp,password"
        );
        assert_eq!(
            short(&decide(
                &policy,
                &state(routed("push,totp", true)),
                &login(),
                env()
            )),
            "auth:push,totp/"
        );
    }

    #[test]
    fn step_ups_use_action_rules() {
        let rules = [
            Rule {
                id: 1,
                subject: Subject::Everyone,
                host: HostMatch::Any,
                target: Target::Action("deploy".parse().unwrap()),
                require: "totp".parse().unwrap(),
            },
            Rule {
                id: 2,
                subject: Subject::Everyone,
                host: HostMatch::Any,
                target: Target::Action("read-logs".parse().unwrap()),
                require: "none".parse().unwrap(),
            },
        ];
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &rules,
        };
        let user = state(routed("push,totp", false));
        let table = [
            ("deploy", "auth:totp/totp"),
            ("read-logs", "allow:NotRequired"),
            ("reboot", "auth:push,totp/"),
        ];
        for (action, want) in table {
            let req = Request::step_up("tux", action, Some("h.example.org"));
            assert_eq!(
                short(&decide(&policy, &user, &req, env())),
                want,
                "{action}"
            );
        }
    }

    #[test]
    fn enroll_and_deny_messages_say_what_to_do() {
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &[],
        };
        let d = decide(&policy, &state(Enrolment::NoApps), &login(), env());
        assert_eq!(
            d.reason,
            "unknown user tux: not enrolled for MFA, which this login requires; ask an admin to enrol them: \
             mfac client add tux, then mfac app add --user tux --host h.example.org --service sshd --client tux --methods push,totp"
        );
        let d = decide(&policy, &state(Enrolment::NoRoute), &login(), env());
        assert_eq!(
            d.reason,
            "no app for user tux on host h.example.org service sshd"
        );
        let rules = [user_rule(1, "tux", "password")];
        let policy = Policy {
            global: MfaPolicy::AnyRequired,
            rules: &rules,
        };
        let d = decide(&policy, &state(routed("push", false)), &login(), env());
        assert_eq!(
            d.reason,
            "tux must give a password, but client tux-phone has none: ask an admin to set one: mfac client password tux-phone"
        );
        let d = decide(
            &policy,
            &state(Enrolment::NoApps),
            &Request::step_up("tux", "deploy", None),
            env(),
        );
        assert!(
            d.reason.contains("--host '*' --service deploy"),
            "{}",
            d.reason
        );
    }
}
