//! Rules: who (everyone, a group, a user) needs what where (a host, a host group, a service,
//! an action). The most specific matching rule wins; rules that match equally specifically (or
//! that neither beats in every respect) all apply, and their requirements are joined.

use std::fmt;

use crate::{Alias, Pattern};

use super::Requirement;

/// Whom a rule is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Everyone,
    Group(Alias),
    User(Alias),
}

/// Where a rule applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostMatch {
    Any,
    /// An exact host or `*.domain`.
    Pattern(Pattern),
    /// A named host group (`mfac host-group add`), with its patterns.
    Group {
        name: Alias,
        hosts: Vec<Pattern>,
    },
}

/// What a rule applies to: any request, logins to a service, or step-ups for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Any,
    Service(Pattern),
    Action(Pattern),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub subject: Subject,
    pub host: HostMatch,
    pub target: Target,
    pub require: Requirement,
}

/// What is being asked for: a login to a service, or a step-up for an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Login { service: String },
    StepUp { action: String },
}

/// A login or step-up, as the policy sees it (names already validated and lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub user: String,
    /// Absent only for a step-up that names no host.
    pub host: Option<String>,
    pub kind: Kind,
}

impl Request {
    pub fn login(user: &str, host: &str, service: &str) -> Self {
        Self {
            user: user.to_owned(),
            host: Some(host.to_owned()),
            kind: Kind::Login {
                service: service.to_owned(),
            },
        }
    }

    pub fn step_up(user: &str, action: &str, host: Option<&str>) -> Self {
        Self {
            user: user.to_owned(),
            host: host.map(str::to_owned),
            kind: Kind::StepUp {
                action: action.to_owned(),
            },
        }
    }

    /// What an elevated session made by this request covers: `login:SERVICE@HOST`,
    /// `action:ACTION@HOST`, or `action:ACTION` for a step-up without a host.
    pub fn scope(&self) -> String {
        let (kind, name) = match &self.kind {
            Kind::Login { service } => ("login", service),
            Kind::StepUp { action } => ("action", action),
        };
        match &self.host {
            Some(host) => format!("{kind}:{name}@{host}"),
            None => format!("{kind}:{name}"),
        }
    }

    /// The name routing matches against an app's service: a step-up's action plays the part
    /// of the service.
    pub fn service_or_action(&self) -> &str {
        match &self.kind {
            Kind::Login { service } => service,
            Kind::StepUp { action } => action,
        }
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.as_deref().unwrap_or("any host");
        match &self.kind {
            Kind::Login { service } => {
                write!(f, "user {} on host {host} service {service}", self.user)
            }
            Kind::StepUp { action } => {
                write!(f, "user {} on {host} action {action}", self.user)
            }
        }
    }
}

/// How narrowly a rule describes a request, per dimension (who, where, what); each is ordered.
type Specificity = [(u8, usize); 3];

fn pattern_rank(p: &Pattern) -> (u8, usize) {
    match p {
        Pattern::Any => (0, 0),
        Pattern::Suffix(s) => (2, s.len()),
        Pattern::Exact(s) => (3, s.len()),
    }
}

impl Rule {
    /// who: user > group > everyone; where: exact host > longer `*.domain` > shorter > host
    /// group > any; what: exact service or action > `*.suffix` > any.
    fn specificity(&self) -> Specificity {
        let who = match self.subject {
            Subject::Everyone => (0, 0),
            Subject::Group(_) => (1, 0),
            Subject::User(_) => (2, 0),
        };
        let place = match &self.host {
            HostMatch::Any => (0, 0),
            HostMatch::Group { .. } => (1, 0),
            HostMatch::Pattern(p) => pattern_rank(p),
        };
        let what = match &self.target {
            Target::Any => (0, 0),
            Target::Service(p) | Target::Action(p) => pattern_rank(p),
        };
        [who, place, what]
    }

    pub fn matches(&self, req: &Request, groups: &[Alias]) -> bool {
        let who = match &self.subject {
            Subject::Everyone => true,
            Subject::Group(g) => groups.contains(g),
            Subject::User(u) => u.as_str() == req.user,
        };
        let host = req.host.as_deref();
        let place = match &self.host {
            HostMatch::Any => true,
            HostMatch::Pattern(p) => host.is_some_and(|h| p.matches(h)),
            HostMatch::Group { hosts, .. } => {
                host.is_some_and(|h| hosts.iter().any(|p| p.matches(h)))
            }
        };
        let what = match (&self.target, &req.kind) {
            (Target::Any, _) => true,
            (Target::Service(p), Kind::Login { service }) => p.matches(service),
            (Target::Action(p), Kind::StepUp { action }) => p.matches(action),
            _ => false,
        };
        who && place && what
    }
}

/// `a` beats `b` when it is at least as specific in every dimension and more in one.
fn beats(a: &Specificity, b: &Specificity) -> bool {
    a.iter().zip(b).all(|(x, y)| x >= y) && a != b
}

/// The requirement the rules set for a request, and the rules it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    pub require: Requirement,
    /// The ids of the winning rules, ascending (one, unless several tie).
    pub rules: Vec<i64>,
}

/// The most specific matching rules' requirement; `None` when no rule matches.
pub fn resolve(rules: &[Rule], req: &Request, groups: &[Alias]) -> Option<Resolution> {
    let matching: Vec<(&Rule, Specificity)> = rules
        .iter()
        .filter(|r| r.matches(req, groups))
        .map(|r| (r, r.specificity()))
        .collect();
    let mut winners: Vec<&Rule> = matching
        .iter()
        .filter(|(_, s)| !matching.iter().any(|(_, other)| beats(other, s)))
        .map(|(r, _)| *r)
        .collect();
    winners.sort_by_key(|r| r.id);
    let first = winners.first()?;
    let require = winners
        .iter()
        .skip(1)
        .fold(first.require.clone(), |acc, r| acc.and(&r.require));
    Some(Resolution {
        require,
        rules: winners.iter().map(|r| r.id).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn alias(s: &str) -> Alias {
        Alias::new(s).unwrap()
    }

    /// A rule from a compact description: "user:tux", "group:admins" or "*"; a host pattern,
    /// "@group" or "*"; "service:sshd", "action:deploy" or "*"; a requirement.
    fn rule(id: i64, who: &str, host: &str, what: &str, require: &str) -> Rule {
        let subject = match who.split_once(':') {
            Some(("user", u)) => Subject::User(alias(u)),
            Some(("group", g)) => Subject::Group(alias(g)),
            _ => Subject::Everyone,
        };
        let host = match host {
            "*" => HostMatch::Any,
            "@prod" => HostMatch::Group {
                name: alias("prod"),
                hosts: vec![
                    "db.internal".parse().unwrap(),
                    "*.prod.internal".parse().unwrap(),
                ],
            },
            "@lab" => HostMatch::Group {
                name: alias("lab"),
                hosts: vec!["*.lab.example.org".parse().unwrap()],
            },
            p => HostMatch::Pattern(p.parse().unwrap()),
        };
        let target = match what.split_once(':') {
            Some(("service", s)) => Target::Service(s.parse().unwrap()),
            Some(("action", a)) => Target::Action(a.parse().unwrap()),
            _ => Target::Any,
        };
        Rule {
            id,
            subject,
            host,
            target,
            require: require.parse().unwrap(),
        }
    }

    fn login(user: &str, host: &str, service: &str) -> Request {
        Request::login(user, host, service)
    }

    fn got(rules: &[Rule], req: &Request, groups: &[&str]) -> Option<(String, Vec<i64>)> {
        let groups: Vec<Alias> = groups.iter().map(|g| alias(g)).collect();
        resolve(rules, req, &groups).map(|r| (r.require.to_string(), r.rules))
    }

    #[test]
    fn each_rule_kind_matches_its_own_requests() {
        // (rule, request, groups, matches?)
        let table: Vec<(Rule, Request, &[&str], bool)> = vec![
            (
                rule(1, "*", "*", "*", "any"),
                login("tux", "h", "sshd"),
                &[],
                true,
            ),
            (
                rule(1, "*", "*", "*", "any"),
                Request::step_up("tux", "deploy", None),
                &[],
                true,
            ),
            (
                rule(1, "user:tux", "*", "*", "totp"),
                login("tux", "h", "sshd"),
                &[],
                true,
            ),
            (
                rule(1, "user:tux", "*", "*", "totp"),
                login("alice", "h", "sshd"),
                &[],
                false,
            ),
            (
                rule(1, "group:admins", "*", "*", "totp"),
                login("tux", "h", "sshd"),
                &["admins"],
                true,
            ),
            (
                rule(1, "group:admins", "*", "*", "totp"),
                login("tux", "h", "sshd"),
                &["devs"],
                false,
            ),
            (
                rule(1, "*", "db.example.org", "*", "totp"),
                login("tux", "DB.example.org", "sshd"),
                &[],
                true,
            ),
            (
                rule(1, "*", "db.example.org", "*", "totp"),
                login("tux", "web.example.org", "sshd"),
                &[],
                false,
            ),
            (
                rule(1, "*", "*.example.org", "*", "totp"),
                login("tux", "db.example.org", "sshd"),
                &[],
                true,
            ),
            (
                rule(1, "*", "@prod", "*", "totp"),
                login("tux", "a.prod.internal", "sshd"),
                &[],
                true,
            ),
            (
                rule(1, "*", "@prod", "*", "totp"),
                login("tux", "db.internal", "sshd"),
                &[],
                true,
            ),
            (
                rule(1, "*", "@prod", "*", "totp"),
                login("tux", "a.lab.example.org", "sshd"),
                &[],
                false,
            ),
            (
                rule(1, "*", "*", "service:sudo", "totp"),
                login("tux", "h", "sudo"),
                &[],
                true,
            ),
            (
                rule(1, "*", "*", "service:sudo", "totp"),
                login("tux", "h", "sshd"),
                &[],
                false,
            ),
            // A service rule is about logins, an action rule about step-ups.
            (
                rule(1, "*", "*", "service:deploy", "totp"),
                Request::step_up("tux", "deploy", None),
                &[],
                false,
            ),
            (
                rule(1, "*", "*", "action:deploy", "totp"),
                Request::step_up("tux", "deploy", None),
                &[],
                true,
            ),
            (
                rule(1, "*", "*", "action:deploy", "totp"),
                Request::step_up("tux", "backup", None),
                &[],
                false,
            ),
            (
                rule(1, "*", "*", "action:deploy", "totp"),
                login("tux", "h", "deploy"),
                &[],
                false,
            ),
            // A host rule never matches a step-up that names no host.
            (
                rule(1, "*", "h", "action:deploy", "totp"),
                Request::step_up("tux", "deploy", None),
                &[],
                false,
            ),
            (
                rule(1, "*", "h", "action:deploy", "totp"),
                Request::step_up("tux", "deploy", Some("h")),
                &[],
                true,
            ),
        ];
        for (r, req, groups, want) in table {
            let groups: Vec<Alias> = groups.iter().map(|g| alias(g)).collect();
            assert_eq!(r.matches(&req, &groups), want, "{r:?} vs {req}");
        }
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let rules = [
            rule(1, "*", "*", "*", "any"),
            rule(2, "group:admins", "*", "*", "password,totp"),
            rule(3, "user:tux", "*", "*", "totp"),
            rule(4, "user:tux", "lab1.lab.example.org", "*", "none"),
            rule(5, "*", "*.lab.example.org", "*", "push"),
            rule(6, "*", "*.example.org", "*", "totp"),
            rule(7, "*", "@prod", "*", "password"),
            rule(8, "*", "*", "service:sudo", "password"),
            rule(9, "*", "*", "action:deploy", "password,push"),
            rule(
                10,
                "*",
                "bastion.example.org",
                "service:sshd",
                "password,totp",
            ),
            rule(11, "*", "db.internal", "*", "totp"),
        ];
        // (request, groups, expected requirement, winning rules)
        let table: Vec<(Request, &[&str], &str, Vec<i64>)> = vec![
            // Nothing more specific than the catch-all.
            (login("bob", "other.net", "sshd"), &[], "any", vec![1]),
            // The user rule beats the catch-all; the user+host rule beats the user rule.
            (login("tux", "other.net", "sshd"), &[], "totp", vec![3]),
            (
                login("tux", "lab1.lab.example.org", "sshd"),
                &["admins"],
                "none",
                vec![4],
            ),
            // A longer suffix beats a shorter one.
            (
                login("bob", "lab2.lab.example.org", "sshd"),
                &[],
                "push",
                vec![5],
            ),
            (
                login("bob", "www.example.org", "sshd"),
                &[],
                "totp",
                vec![6],
            ),
            // A host pattern beats a host group; the group beats "any host".
            (login("bob", "db.internal", "sshd"), &[], "totp", vec![11]),
            (
                login("bob", "x.prod.internal", "sshd"),
                &[],
                "password",
                vec![7],
            ),
            (login("bob", "x.other.net", "sshd"), &[], "any", vec![1]),
            // A host and a service: the rule naming both beats each alone.
            (
                login("bob", "bastion.example.org", "sshd"),
                &[],
                "totp,password",
                vec![10],
            ),
            // A host rule and a service rule: neither is more specific, both apply.
            (
                login("bob", "bastion.example.org", "sudo"),
                &[],
                "totp,password",
                vec![6, 8],
            ),
            // Group vs host: neither beats the other in every respect, so both apply.
            (
                login("alice", "www.example.org", "sshd"),
                &["admins"],
                "totp,password",
                vec![2, 6],
            ),
            // Service vs user: both apply.
            (
                login("tux", "other.net", "sudo"),
                &[],
                "totp,password",
                vec![3, 8],
            ),
            // Step-ups: the action rule, joined with what the user rule asks.
            (
                Request::step_up("bob", "deploy", None),
                &[],
                "push,password",
                vec![9],
            ),
            (
                Request::step_up("tux", "deploy", None),
                &[],
                "push,totp,password",
                vec![3, 9],
            ),
            (Request::step_up("bob", "backup", None), &[], "any", vec![1]),
        ];
        for (req, groups, want, ids) in table {
            assert_eq!(
                got(&rules, &req, groups),
                Some((want.to_owned(), ids)),
                "{req} in {groups:?}"
            );
        }
        assert_eq!(got(&[], &login("tux", "h", "sshd"), &[]), None);
    }

    #[test]
    fn equally_specific_rules_are_joined() {
        let rules = [
            rule(1, "group:admins", "*", "*", "totp"),
            rule(2, "group:dba", "*", "*", "password"),
            rule(3, "*", "@prod", "*", "push"),
            rule(4, "*", "@lab", "*", "none"),
        ];
        assert_eq!(
            got(&rules, &login("tux", "h", "sshd"), &["admins", "dba"]),
            Some(("totp,password".into(), vec![1, 2]))
        );
        // A rule asking for nothing never weakens one that asks for something.
        assert_eq!(
            got(
                &rules,
                &login("bob", "a.lab.example.org", "sshd"),
                &["admins"]
            ),
            Some(("totp".into(), vec![1, 4]))
        );
    }

    #[test]
    fn scopes_name_what_a_session_covers() {
        assert_eq!(
            login("tux", "h.example.org", "sudo").scope(),
            "login:sudo@h.example.org"
        );
        assert_eq!(
            Request::step_up("tux", "deploy", Some("h")).scope(),
            "action:deploy@h"
        );
        assert_eq!(
            Request::step_up("tux", "deploy", None).scope(),
            "action:deploy"
        );
    }
}
