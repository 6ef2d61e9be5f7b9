use crate::Pattern;

/// Something that routes a (user, host, service) login to its clients: an app.
pub trait Route {
    fn user(&self) -> &str;
    fn host(&self) -> &Pattern;
    fn service(&self) -> &Pattern;
}

/// The route for a login: among those of the user that match host and service, the most specific.
/// Host specificity decides first, then service; `None` when nothing matches (deny by default).
pub fn best_route<'a, R: Route>(
    routes: &'a [R],
    user: &str,
    host: &str,
    service: &str,
) -> Option<&'a R> {
    routes
        .iter()
        .filter(|r| r.user() == user && r.host().matches(host) && r.service().matches(service))
        .max_by(|a, b| {
            a.host()
                .cmp_specificity(b.host())
                .then_with(|| a.service().cmp_specificity(b.service()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct App(&'static str, Pattern, Pattern, u32);
    impl Route for App {
        fn user(&self) -> &str {
            self.0
        }
        fn host(&self) -> &Pattern {
            &self.1
        }
        fn service(&self) -> &Pattern {
            &self.2
        }
    }

    fn app(user: &'static str, host: &str, service: &str, id: u32) -> App {
        App(user, host.parse().unwrap(), service.parse().unwrap(), id)
    }

    fn route(apps: &[App], user: &str, host: &str, service: &str) -> Option<u32> {
        best_route(apps, user, host, service).map(|a| a.3)
    }

    #[test]
    fn most_specific_match_wins() {
        let apps = [
            app("tux", "*", "*", 1),
            app("tux", "*.example.org", "*", 2),
            app("tux", "linux.example.org", "*", 3),
            app("tux", "linux.example.org", "sshd", 4),
            app("alice", "linux.example.org", "sshd", 5),
        ];
        // (user, host, service) -> expected app id
        let table = [
            ("tux", "linux.example.org", "sshd", Some(4)),
            ("tux", "linux.example.org", "sudo", Some(3)),
            ("tux", "mail.example.org", "sshd", Some(2)),
            ("tux", "other.net", "sshd", Some(1)),
            ("alice", "linux.example.org", "sshd", Some(5)),
            ("alice", "linux.example.org", "sudo", None),
            ("bob", "linux.example.org", "sshd", None),
        ];
        for (user, host, service, want) in table {
            assert_eq!(
                route(&apps, user, host, service),
                want,
                "{user} {host} {service}"
            );
        }
    }

    #[test]
    fn host_specificity_beats_service_specificity() {
        let apps = [
            app("tux", "*", "sshd", 1),
            app("tux", "h.example.org", "*", 2),
        ];
        assert_eq!(route(&apps, "tux", "h.example.org", "sshd"), Some(2));
    }
}
