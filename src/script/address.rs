//! Which addresses `http.fetch` may reach. By default only public ones: never loopback,
//! private, link-local (cloud metadata lives at 169.254.169.254), carrier-grade NAT,
//! multicast, or unspecified addresses, including those hidden inside IPv6 (mapped,
//! compatible, 6to4, NAT64). Operators can allow specific hosts or networks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An allow-list entry: a host name, an address, or a network in CIDR notation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Allowed {
    /// A host name, matched exactly (case-insensitively).
    Host(String),
    /// A network.
    Network {
        /// Its address.
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
}

impl std::str::FromStr for Allowed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Some((addr, prefix)) = s.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|e| format!("{s:?}: {e}"))?;
            let max = if addr.is_ipv4() { 32 } else { 128 };
            let prefix: u8 = prefix
                .parse()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: prefix must be 0..={max}"))?;
            return Ok(Allowed::Network { addr, prefix });
        }
        if let Ok(addr) = s.parse::<IpAddr>() {
            let prefix = if addr.is_ipv4() { 32 } else { 128 };
            return Ok(Allowed::Network { addr, prefix });
        }
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') {
            return Err(format!("{s:?} is not a host name, address or CIDR network"));
        }
        Ok(Allowed::Host(s.to_ascii_lowercase()))
    }
}

/// The policy: public addresses, plus what the operator allowed.
#[derive(Debug, Clone, Default)]
pub struct AddressPolicy {
    allowed: Vec<Allowed>,
}

impl AddressPolicy {
    /// A policy with an allow-list.
    pub fn new(allowed: Vec<Allowed>) -> Self {
        Self { allowed }
    }

    /// Whether the operator allowed this host name outright.
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed
            .iter()
            .any(|a| matches!(a, Allowed::Host(h) if *h == host))
    }

    /// Whether `ip` may be connected to; `Err` says why not.
    pub fn check(&self, ip: IpAddr) -> Result<(), String> {
        if self.allowed.iter().any(|a| match a {
            Allowed::Network { addr, prefix } => in_network(ip, *addr, *prefix),
            Allowed::Host(_) => false,
        }) {
            return Ok(());
        }
        match forbidden_reason(ip) {
            Some(reason) => Err(format!("{ip} is {reason}")),
            None => Ok(()),
        }
    }
}

/// Why an address is not public, if it is not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_reason(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return v4_reason(v4);
            }
            v6_reason(v6)
        }
    }
}

fn v4_reason(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata services live here)")
    } else if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT address")
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        Some("a multicast, broadcast or reserved address")
    } else if ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
    {
        Some("a reserved address")
    } else {
        None
    }
}

fn v6_reason(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("an unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a unique local (private) address")
    } else if first & 0xffc0 == 0xfe80 || first & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 {
        Some("a documentation address")
    } else {
        None
    }
}

/// The IPv4 address inside an IPv6 one: mapped (`::ffff:a.b.c.d`), compatible
/// (`::a.b.c.d`), NAT64 (`64:ff9b::/96`) or 6to4 (`2002:aabb:ccdd::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] && !(s[6] == 0 && s[7] <= 1) {
        return Some(tail());
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return Some(tail());
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    None
}

fn in_network(ip: IpAddr, network: IpAddr, prefix: u8) -> bool {
    match (ip, network) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(prefix))
            };
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(prefix))
            };
            u128::from(ip) & mask == u128::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V4(_)) => ip
            .to_ipv4_mapped()
            .is_some_and(|v4| in_network(IpAddr::V4(v4), network, prefix)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_by_default() {
        let refused = [
            "127.0.0.1",
            "127.1.2.3",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:c0a8:0101::1",
            "ff02::1",
        ];
        for ip in refused {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(
                AddressPolicy::default().check(ip).is_err(),
                "{ip} should be refused"
            );
        }
        for ip in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "1.1.1.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(
                AddressPolicy::default().check(ip).is_ok(),
                "{ip} should be allowed"
            );
        }
    }

    #[test]
    fn the_allow_list_opens_networks_and_hosts() {
        let policy = AddressPolicy::new(vec![
            "10.20.0.0/16".parse().unwrap(),
            "127.0.0.1".parse().unwrap(),
            "Jira.Internal".parse().unwrap(),
        ]);
        assert!(policy.check("10.20.3.4".parse().unwrap()).is_ok());
        assert!(policy.check("10.21.0.1".parse().unwrap()).is_err());
        assert!(policy.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.check("::ffff:127.0.0.1".parse().unwrap()).is_ok());
        assert!(policy.check("127.0.0.2".parse().unwrap()).is_err());
        assert!(policy.host_allowed("jira.internal."));
        assert!(!policy.host_allowed("other.internal"));
        assert!("not a host/x".parse::<Allowed>().is_err());
        assert!("10.0.0.0/33".parse::<Allowed>().is_err());
    }
}
