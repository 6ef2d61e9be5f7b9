//! The address a request comes from: `X-Forwarded-For` / `X-Real-IP` behind trusted reverse
//! proxies (mfa_core::client_addr), a server's `client_ip` (parse_client_ip) and what its
//! failures count against (lockout_subject).
//!
//! A peer that is not a trusted proxy always gets its own address, whatever it sends; behind
//! trusted proxies the address is the first untrusted hop from the right, and never one from
//! left of a malformed hop; addresses have one canonical spelling.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use mfa_core::{client_addr, in_networks, lockout_subject, parse_client_ip};

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});

fn ip(u: &mut Unstructured<'_>) -> Result<IpAddr> {
    Ok(match u.int_in_range(0..=2)? {
        0 => IpAddr::V4(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?)),
        1 => IpAddr::V6(Ipv4Addr::from(u.arbitrary::<[u8; 4]>()?).to_ipv6_mapped()),
        _ => IpAddr::V6(Ipv6Addr::from(u.arbitrary::<[u8; 16]>()?)),
    })
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A header: the hops of a chain, some spelled oddly, some not addresses at all.
fn header(u: &mut Unstructured<'_>, pool: &[IpAddr]) -> Result<String> {
    let hops = u.int_in_range(0..=6)?;
    let mut parts = Vec::new();
    for _ in 0..hops {
        let hop = match u.int_in_range(0..=3)? {
            0 => u.choose(pool)?.to_string(),
            1 => format!("  {} ", ip(u)?),
            2 => ip(u)?.to_string(),
            _ => u.arbitrary::<String>()?,
        };
        parts.push(hop);
    }
    Ok(parts.join(","))
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let peer = ip(u)?;
    let mut proxies = Vec::new();
    for _ in 0..u.int_in_range(0..=4)? {
        let addr = ip(u)?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = u.int_in_range(0..=max)?;
        if let Ok(net) = IpNet::new(addr, prefix) {
            proxies.push(net);
        }
    }
    let pool = [peer, ip(u)?, ip(u)?];
    let forwarded = if u.arbitrary()? {
        Some(header(u, &pool)?)
    } else {
        None
    };
    let real_ip = if u.arbitrary()? {
        Some(header(u, &pool)?)
    } else {
        None
    };
    let got = client_addr(peer, forwarded.as_deref(), real_ip.as_deref(), &proxies);

    assert_eq!(got, canonical(got), "not canonical: {got}");
    let trusted = |ip: IpAddr| in_networks(&proxies, ip);
    if !trusted(peer) {
        assert_eq!(got, canonical(peer), "an untrusted peer chose its address");
    } else {
        assert_eq!(
            got,
            expected(peer, forwarded.as_deref(), real_ip.as_deref(), &trusted)
        );
    }
    for text in [forwarded.as_deref(), real_ip.as_deref()]
        .into_iter()
        .flatten()
    {
        client_ip_text(text);
        for hop in text.split(',') {
            client_ip_text(hop);
        }
    }
    subject(got);
    Ok(())
}

/// The walk, written as a spec: hops from the right; trusted ones are skipped (the last one
/// skipped stands in for the client); the first untrusted address is the client; at a hop that
/// is no address, nothing further left is believed.
fn expected(
    peer: IpAddr,
    forwarded: Option<&str>,
    real_ip: Option<&str>,
    trusted: &dyn Fn(IpAddr) -> bool,
) -> IpAddr {
    let peer = canonical(peer);
    let Some(forwarded) = forwarded else {
        return real_ip
            .and_then(|r| r.trim().parse::<IpAddr>().ok())
            .map_or(peer, canonical);
    };
    let hops: Vec<Option<IpAddr>> = forwarded
        .split(',')
        .map(|h| h.trim().parse::<IpAddr>().ok().map(canonical))
        .collect();
    let mut stand_in = peer;
    for hop in hops.iter().rev() {
        match hop {
            None => return stand_in,
            Some(ip) if trusted(*ip) => stand_in = *ip,
            Some(ip) => return *ip,
        }
    }
    stand_in
}

/// `client_ip` as a server sends it: one spelling, and it reads back as itself.
fn client_ip_text(text: &str) {
    if let Some(ip) = parse_client_ip(text) {
        assert_eq!(ip, canonical(ip));
        let spelled = ip.to_string();
        assert_eq!(parse_client_ip(&spelled), Some(ip), "{spelled}");
        assert_eq!(text.trim().parse::<IpAddr>().ok().map(canonical), Some(ip));
    } else {
        assert!(text.trim().parse::<IpAddr>().is_err(), "{text:?} refused");
    }
}

/// IPv4 addresses count alone, IPv6 ones by their /64.
fn subject(ip: IpAddr) {
    let subject = lockout_subject(ip);
    match ip {
        IpAddr::V4(v4) => assert_eq!(subject, v4.to_string()),
        IpAddr::V6(v6) => {
            let net: ipnet::Ipv6Net = subject.parse().unwrap_or_else(|e| panic!("{subject}: {e}"));
            assert_eq!(net.prefix_len(), 64);
            assert!(net.contains(&v6));
            assert_eq!(net, net.trunc());
        }
    }
}
