//! The host policy: which customer-supplied hosts the HTTP client may reach.
//!
//! A multi-tenant backend takes hosts from its customers (Jamf and Fleet servers, Iru tenants). Without a
//! policy a customer could point the backend at its own network (`10.0.0.5`, `localhost`, the cloud
//! metadata service at `169.254.169.254`). By default such targets and plain `http://` are refused; the
//! policy checks the *resolved* addresses, so a public name that resolves to a private address is refused
//! too. Sandboxes, tests and operator tools opt out with [`HostPolicy::allow_all`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

use crate::error::{Error, Result};

/// Which hosts and schemes requests may target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HostPolicy {
    /// Allow loopback, private, link-local, shared and unspecified addresses.
    pub allow_private_networks: bool,
    /// Allow plain `http://` URLs.
    pub allow_plain_http: bool,
}

impl HostPolicy {
    /// The default: public addresses over HTTPS only.
    pub fn strict() -> Self {
        HostPolicy::default()
    }

    /// Anything goes: for sandboxes, tests and tools run by an operator for themselves.
    pub fn allow_all() -> Self {
        HostPolicy {
            allow_private_networks: true,
            allow_plain_http: true,
        }
    }

    /// Checks a URL before any connection: its scheme and, when the host is an IP literal, its address.
    /// Names are checked after resolution by the client's resolver.
    pub fn check_url(&self, url: &Url) -> Result<()> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_plain_http => {}
            "http" => {
                return Err(Error::config(format!(
                    "plain http:// is refused for {}; use https://",
                    url.host_str().unwrap_or_default()
                )))
            }
            other => {
                return Err(Error::config(format!(
                    "the scheme {other}:// is not supported"
                )))
            }
        }
        let ip = match url.host() {
            Some(url::Host::Ipv4(v4)) => Some(IpAddr::V4(v4)),
            Some(url::Host::Ipv6(v6)) => Some(IpAddr::V6(v6)),
            Some(url::Host::Domain(_)) => None,
            None => return Err(Error::config("the URL has no host")),
        };
        if let Some(ip) = ip {
            self.check_ip(ip, &ip.to_string())?;
        }
        Ok(())
    }

    fn check_ip(&self, ip: IpAddr, host: &str) -> Result<()> {
        if !self.allow_private_networks && is_internal(ip) {
            return Err(Error::from(HostPolicyViolation {
                host: host.to_owned(),
                address: ip,
            }));
        }
        Ok(())
    }
}

/// A host was refused because it is, or resolves to, an internal address.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the host {host} resolves to {address}, an internal address; refused by the host policy")]
pub struct HostPolicyViolation {
    /// The host as given.
    pub host: String,
    /// The refused address.
    pub address: IpAddr,
}

impl From<HostPolicyViolation> for Error {
    fn from(v: HostPolicyViolation) -> Self {
        Error::config(v.to_string()).with_source(v)
    }
}

/// Whether an address is one a customer's MDM could not legitimately live on: anything but public
/// unicast.
///
/// IPv4: `0.0.0.0/8`, loopback, private (RFC 1918), shared/CGNAT `100.64.0.0/10`, link-local (the cloud
/// metadata service), IETF protocol assignments `192.0.0.0/24`, the three documentation ranges,
/// benchmarking `198.18.0.0/15`, the retired 6to4 relay anycast `192.88.99.0/24`, multicast, reserved
/// `240.0.0.0/4` and broadcast, and Azure's host endpoint `168.63.129.16` (public address space, but it
/// serves DHCP, DNS and the wire server to the VM asking).
///
/// IPv6: only global unicast `2000::/3` can be public, so everything outside it is refused (loopback,
/// unspecified, IPv4-compatible `::/96`, IPv4-translated `::ffff:0:0:0/96`, discard `100::/64`, local-use
/// NAT64 `64:ff9b:1::/48`, SRv6 `5f00::/16`, unique local `fc00::/7`, link-local `fe80::/10`, site-local
/// `fec0::/10`, multicast `ff00::/8`), except two forms that carry an IPv4 address and are judged by
/// it: IPv4-mapped `::ffff:a.b.c.d` and the well-known NAT64 prefix `64:ff9b::/96` (an IPv6-only network
/// reaches public IPv4 servers through it). Inside `2000::/3` the IETF protocol assignments
/// `2001::/23` (Teredo `2001::/32`, ORCHID, benchmarking), documentation `2001:db8::/32` and `3fff::/20`,
/// and 6to4 `2002::/16` are refused. Teredo and 6to4 embed an IPv4 address that may be private; both
/// are obsolete transition mechanisms no server is reached by, so the whole prefixes are refused rather
/// than decoded.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => is_internal_v6(v6),
    }
}

fn is_internal_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_internal_v4(v4);
    }
    let bits = u128::from(v6);
    let within = |prefix: u128, len: u32| (bits ^ prefix) >> (128 - len) == 0;
    if within(0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96) {
        return is_internal_v4(Ipv4Addr::from(bits as u32));
    }
    !within(0x2000 << 112, 3) // not global unicast
        || within(0x2001 << 112, 23) // IETF protocol assignments, Teredo 2001::/32 among them
        || within(0x2001_0db8 << 96, 32) // documentation
        || within(0x2002 << 112, 16) // 6to4
        || within(0x3fff << 112, 20) // documentation (RFC 9637)
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast (retired)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved and broadcast
        || v4 == AZURE_HOST_ENDPOINT
}

/// Azure's virtual host endpoint ("wire server"): reachable from every Azure VM, never an MDM.
const AZURE_HOST_ENDPOINT: Ipv4Addr = Ipv4Addr::new(168, 63, 129, 16);

/// The resolver installed in every client: resolves with the system resolver, then drops internal
/// addresses unless the policy allows them.
#[derive(Debug, Clone)]
pub(crate) struct PolicyResolver {
    pub(crate) policy: HostPolicy,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if policy.allow_private_networks {
                return Ok(Box::new(addrs.into_iter()) as Addrs);
            }
            let allowed: Vec<SocketAddr> = addrs
                .iter()
                .copied()
                .filter(|a| !is_internal(a.ip()))
                .collect();
            if allowed.is_empty() {
                if let Some(first) = addrs.first() {
                    return Err(Box::new(HostPolicyViolation {
                        host,
                        address: first.ip(),
                    })
                        as Box<dyn std::error::Error + Send + Sync>);
                }
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses() {
        for ip in [
            // IPv4
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "100.100.100.200",
            "192.0.0.192",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "168.63.129.16",
            // IPv6 outside global unicast
            "::",
            "::1",
            "::127.0.0.1",
            "::8.8.8.8",
            "::ffff:0:8.8.8.8",
            "100::1",
            "64:ff9b:1::8.8.8.8",
            "64:ff9b:1:ffff::1",
            "5f00::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            // IPv4 carried in IPv6
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:168.63.129.16",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
            // Inside 2000::/3 but not public
            "2001::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001:0:a00:1::1",
            "2001:2::1",
            "2001:10::1",
            "2001:1ff::1",
            "2001:db8::1",
            "2002::1",
            "2002:a00:1::1",
            "2002:c0a8:101::1",
            "2002:808:808::1",
            "3fff::1",
            "3fff:fff::1",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "17.253.144.10",
            "100.63.255.255",
            "100.128.0.1",
            "168.63.129.15",
            "168.63.129.17",
            "172.32.0.1",
            "192.0.1.1",
            "192.88.98.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:200::1",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "3ffe:ffff::1",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn strict_policy_refuses_http_and_internal_literals() {
        let strict = HostPolicy::strict();
        for url in [
            "https://127.0.0.1/",
            "https://10.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]:8443/",
            "https://168.63.129.16/machine?comp=goalstate",
            "https://[2002:a00:1::1]/",
            "https://[2001:0:a00:1::1]/",
            "https://[64:ff9b:1::a00:1]/",
            "https://[64:ff9b::a00:1]/",
            "https://[::ffff:a00:1]/",
            "https://100.64.0.1/",
        ] {
            let err = strict.check_url(&Url::parse(url).unwrap()).unwrap_err();
            assert!(err.to_string().contains("internal address"), "{url}: {err}");
        }
        assert!(strict
            .check_url(&Url::parse("http://example.com/").unwrap())
            .is_err());
        assert!(strict
            .check_url(&Url::parse("https://example.com/").unwrap())
            .is_ok());
        let open = HostPolicy::allow_all();
        assert!(open
            .check_url(&Url::parse("http://127.0.0.1:1/").unwrap())
            .is_ok());
    }
}
