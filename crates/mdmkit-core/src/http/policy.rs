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

/// Whether an address is loopback, private, link-local, shared (CGNAT), unspecified, broadcast, multicast
/// or otherwise not a public unicast address a customer's MDM could legitimately live on.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1)
                // IPv4-compatible ::a.b.c.d and NAT64 well-known prefix 64:ff9b::/96 carry an IPv4 target
                || (v6.segments()[..6] == [0, 0, 0, 0, 0, 0])
                || (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]
                    && is_internal_v4(Ipv4Addr::from(
                        ((v6.segments()[6] as u32) << 16) | v6.segments()[7] as u32,
                    )))
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64.0.0/10
        || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

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
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "17.253.144.10", "2606:4700:4700::1111"] {
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
