use std::net::IpAddr;

use ipnet::IpNet;

/// Whether `ip` lies in any of `networks`.
pub fn in_networks(networks: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    networks.iter().any(|n| n.contains(&ip))
}

/// The address a request really comes from. Forwarding headers are believed only when the TCP
/// peer is a trusted reverse proxy; from anyone else they are ignored, so a client cannot
/// choose its own address (and dodge a per-IP lockout) by sending a header.
///
/// `X-Forwarded-For` is read right to left, skipping trusted proxies: the first address that is
/// not one of ours is the client. `X-Real-IP` is used when there is no `X-Forwarded-For`.
pub fn client_addr(
    peer: IpAddr,
    forwarded_for: Option<&str>,
    real_ip: Option<&str>,
    trusted_proxies: &[IpNet],
) -> IpAddr {
    let peer = canonical(peer);
    if !in_networks(trusted_proxies, peer) {
        return peer;
    }
    if let Some(xff) = forwarded_for {
        let mut last_trusted = peer;
        for hop in xff.rsplit(',') {
            match hop.trim().parse::<IpAddr>().map(canonical) {
                Ok(ip) if in_networks(trusted_proxies, ip) => last_trusted = ip,
                Ok(ip) => return ip,
                // A malformed hop: trust nothing to its left.
                Err(_) => return last_trusted,
            }
        }
        return last_trusted;
    }
    real_ip
        .and_then(|s| s.trim().parse::<IpAddr>().ok())
        .map_or(peer, canonical)
}

/// A `client_ip` as a server reports it, in one canonical spelling: `2001:0db8::0001` and
/// `2001:db8:0:0:0:0:0:1` are `2001:db8::1`, and `::ffff:203.0.113.60` is `203.0.113.60`.
/// Anything that is not an IP address (a host name, say) is refused.
pub fn parse_client_ip(text: &str) -> Option<IpAddr> {
    text.trim().parse::<IpAddr>().ok().map(canonical)
}

/// What failures of an address count against: the address itself for IPv4, its /64 for IPv6
/// (one host usually holds a whole /64, so counting single addresses would give it 2^64 tries).
pub fn lockout_subject(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let net = ipnet::Ipv6Net::new(v6, 64).map(|n| n.trunc());
            net.map_or_else(|_| v6.to_string(), |n| n.to_string())
        }
        v4 => v4.to_string(),
    }
}

/// IPv4-mapped IPv6 (`::ffff:192.0.2.1`) compares as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let proxies = nets(&["10.0.0.1/32"]);
        let got = client_addr(
            ip("203.0.113.9"),
            Some("1.2.3.4"),
            Some("5.6.7.8"),
            &proxies,
        );
        assert_eq!(got, ip("203.0.113.9"));
        assert_eq!(
            client_addr(ip("127.0.0.1"), Some("1.2.3.4"), None, &[]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn trusted_proxy_chain_is_walked_from_the_right() {
        let proxies = nets(&["10.0.0.0/24"]);
        let table = [
            (Some("198.51.100.7"), None, "198.51.100.7"),
            // The leftmost entry is client-supplied: only the first untrusted hop from the right counts.
            (
                Some("6.6.6.6, 198.51.100.7, 10.0.0.2"),
                None,
                "198.51.100.7",
            ),
            (Some("10.0.0.3"), None, "10.0.0.3"),
            (Some("garbage, 10.0.0.3"), None, "10.0.0.3"),
            (None, Some("198.51.100.8"), "198.51.100.8"),
            (None, Some("nonsense"), "10.0.0.1"),
            (None, None, "10.0.0.1"),
        ];
        for (xff, real, want) in table {
            assert_eq!(
                client_addr(ip("10.0.0.1"), xff, real, &proxies),
                ip(want),
                "{xff:?} {real:?}"
            );
        }
    }

    #[test]
    fn client_ips_have_one_spelling() {
        for (given, want) in [
            ("2001:db8::1", "2001:db8::1"),
            ("2001:db8:0:0:0:0:0:1", "2001:db8::1"),
            ("2001:0db8::0001", "2001:db8::1"),
            ("2001:DB8::1", "2001:db8::1"),
            ("::ffff:203.0.113.60", "203.0.113.60"),
            (" 203.0.113.60 ", "203.0.113.60"),
        ] {
            assert_eq!(parse_client_ip(given).unwrap().to_string(), want, "{given}");
        }
        for bad in [
            "",
            "host.example.org",
            "203.0.113",
            "1.2.3.4; rm",
            "2001:db8::1/64",
        ] {
            assert_eq!(parse_client_ip(bad), None, "{bad}");
        }
    }

    #[test]
    fn ipv6_addresses_count_per_64() {
        assert_eq!(
            lockout_subject(ip("2001:db8:1:2:aaaa::1")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            lockout_subject(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            "2001:db8:1:2::/64"
        );
        assert_eq!(lockout_subject(ip("2001:db8:1:3::1")), "2001:db8:1:3::/64");
        assert_eq!(lockout_subject(ip("203.0.113.60")), "203.0.113.60");
        assert_eq!(lockout_subject(ip("::ffff:203.0.113.60")), "203.0.113.60");
    }

    #[test]
    fn mapped_addresses_match_v4_networks() {
        let trusted = nets(&["192.168.0.0/16"]);
        assert!(in_networks(&trusted, ip("::ffff:192.168.1.1")));
        assert!(!in_networks(&trusted, ip("192.169.0.1")));
    }
}
