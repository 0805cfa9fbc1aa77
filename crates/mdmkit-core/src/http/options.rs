//! Client options shared by every provider, and each provider's default limits.

use std::num::NonZeroU32;
use std::time::Duration;

use crate::kind::ProviderKind;
use crate::paging::DEFAULT_MAX_PAGES;

use super::limits::LimitRegistry;
use super::policy::HostPolicy;
use super::retry::RetryConfig;

/// A request-rate limit: at most `requests` per `per`, with bursts of up to `requests`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per period.
    pub requests: NonZeroU32,
    /// The period.
    pub per: Duration,
}

impl RateLimit {
    /// `requests` per `per`; `None` if `requests` is zero.
    pub fn new(requests: u32, per: Duration) -> Option<Self> {
        Some(RateLimit {
            requests: NonZeroU32::new(requests)?,
            per,
        })
    }
}

/// The per-provider defaults for concurrency and request rate. A fixed rate is set only where the vendor
/// states one; everywhere else the client paces from what the server says (`429` with `Retry-After`,
/// `X-RateLimit-*`: see [`super::Pacing`]), which also applies on top of a stated rate. They apply per
/// server (or per tenant on shared hosts), across every client for it: see [`super::ServerKey`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// Requests in flight at once per server.
    pub max_concurrency: usize,
    /// Request-rate limit per server, if the vendor states one.
    pub rate_limit: Option<RateLimit>,
}

impl ProviderLimits {
    /// The defaults for a provider:
    /// - Jamf states no rate but asks for at most 5 concurrent connections per server;
    /// - Iru states 10,000 requests an hour per tenant, shared by every token and integration of the
    ///   tenant: we take 4,000 (bursts included), leaving the rest to the tenant's other integrations,
    ///   as a daily listing of 10,000 devices needs about 35;
    /// - Intune (Graph's Intune devices service) states 2,000 requests per 20 s per app and tenant
    ///   (4,000 for all apps of a tenant): we take 1,000, half of the app's share. Its lower limit for
    ///   writes (200 per 20 s per app) cannot be reached: mdmkit only reads from Graph;
    /// - SimpleMDM, Fleet and JumpCloud state no rate: none is imposed, the server's answers pace us.
    ///   SimpleMDM lists with a cursor (one request at a time anyway); 2 in flight keeps its per-device
    ///   reads gentle. Fleet and JumpCloud: 6 at a time.
    pub fn for_provider(kind: ProviderKind) -> Self {
        let rate = |n, secs| RateLimit::new(n, Duration::from_secs(secs));
        match kind {
            ProviderKind::Jamf => ProviderLimits {
                max_concurrency: 5,
                rate_limit: None,
            },
            ProviderKind::Iru => ProviderLimits {
                max_concurrency: 4,
                rate_limit: rate(4_000, 3_600),
            },
            ProviderKind::SimpleMdm => ProviderLimits {
                max_concurrency: 2,
                rate_limit: None,
            },
            ProviderKind::Intune => ProviderLimits {
                max_concurrency: 8,
                rate_limit: rate(1_000, 20),
            },
            ProviderKind::Fleet | ProviderKind::JumpCloud => ProviderLimits {
                max_concurrency: 6,
                rate_limit: None,
            },
        }
    }
}

/// Options every provider's HTTP client takes. `Default` is the production setting.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Time allowed to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time allowed for one whole request, body included.
    pub request_timeout: Duration,
    /// The `User-Agent` sent.
    pub user_agent: String,
    /// An extra trusted root certificate (PEM), e.g. the private CA of an on-premises Jamf or Fleet.
    pub extra_root_ca_pem: Option<String>,
    /// Retry behaviour.
    pub retry: RetryConfig,
    /// Overrides the provider's default concurrency per server ([`ProviderLimits`]). The first client
    /// for a server sets its limits; later ones share them.
    pub max_concurrency: Option<usize>,
    /// Overrides the provider's default rate limit per server; `Some(None)` turns rate limiting off.
    pub rate_limit: Option<Option<RateLimit>>,
    /// Where clients find their server's limits: the process-wide [`LimitRegistry::global`] by
    /// default, so every client for one server shares them. A test gives a [`LimitRegistry::new`] to
    /// stay apart from other tests.
    pub limit_registry: LimitRegistry,
    /// Largest response body accepted; a larger one is an error, never an out-of-memory.
    pub max_body_bytes: usize,
    /// Which hosts may be reached.
    pub host_policy: HostPolicy,
    /// Ceiling on pages per listing.
    pub max_pages: u32,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            user_agent: concat!("mdmkit/", env!("CARGO_PKG_VERSION")).to_owned(),
            extra_root_ca_pem: None,
            retry: RetryConfig::default(),
            max_concurrency: None,
            rate_limit: None,
            limit_registry: LimitRegistry::global(),
            max_body_bytes: 64 * 1024 * 1024,
            host_policy: HostPolicy::strict(),
            max_pages: DEFAULT_MAX_PAGES,
        }
    }
}

impl ClientOptions {
    /// Options for sandboxes and tests: loopback and `http://` allowed, short timeouts and backoff.
    pub fn for_local_testing() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            retry: RetryConfig {
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(200),
                ..RetryConfig::default()
            },
            host_policy: HostPolicy::allow_all(),
            ..ClientOptions::default()
        }
    }

    /// The limits in force for `kind`: the provider's defaults with these options' overrides.
    pub fn limits_for(&self, kind: ProviderKind) -> ProviderLimits {
        let defaults = ProviderLimits::for_provider(kind);
        ProviderLimits {
            max_concurrency: self
                .max_concurrency
                .unwrap_or(defaults.max_concurrency)
                .max(1),
            rate_limit: self.rate_limit.unwrap_or(defaults.rate_limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests a limit allows per hour, rounded down.
    fn per_hour(limit: RateLimit) -> u64 {
        u64::from(limit.requests.get()) * 3_600 / limit.per.as_secs().max(1)
    }

    #[test]
    fn a_fixed_rate_is_set_only_where_the_vendor_states_one_and_stays_below_it() {
        for kind in ProviderKind::ALL {
            let rate = ProviderLimits::for_provider(kind).rate_limit;
            match kind {
                // Iru: 10,000 requests an hour per tenant.
                ProviderKind::Iru => {
                    let rate = rate.expect("Iru states a rate");
                    assert!(per_hour(rate) < 10_000, "{rate:?}");
                }
                // Graph's Intune devices service: 2,000 requests per 20 s per app and tenant.
                ProviderKind::Intune => {
                    let rate = rate.expect("Intune states a rate");
                    assert!(per_hour(rate) < 2_000 * 180, "{rate:?}");
                }
                _ => assert_eq!(rate, None, "{kind:?} states no rate: none is imposed"),
            }
        }
    }
}
