//! Concurrency and rate limits belong to the MDM server, not to a client instance or a provider kind.
//!
//! Jamf asks for at most 5 requests in flight *per server*: two provider instances for the same Jamf host
//! (two workspaces of one customer, a refresh and a validation running side by side) must share those 5,
//! and two different servers must never share anything, or one slow tenant would stall another. Every
//! [`super::HttpClient`] therefore takes its limits from a [`LimitRegistry`], keyed by a [`ServerKey`]:
//! the provider kind and the server's origin, plus the tenant where every tenant shares one host
//! (SimpleMDM, JumpCloud and Microsoft Graph).
//!
//! The registry holds its entries weakly: the limits of a server live as long as a client for it does,
//! so a long-running backend does not accumulate one entry per server it ever talked to.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Semaphore, SemaphorePermit};
use url::Url;

use crate::error::{Error, ErrorKind, Result};
use crate::kind::ProviderKind;

use super::options::ProviderLimits;
use super::pacing::{Pacer, Pacing};

/// Whose limits a client's requests count against: a provider kind, a server origin and, on hosts that
/// all tenants share, the tenant. It never holds a secret, and its `Debug` shows no credential.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    provider: ProviderKind,
    origin: String,
    tenant: Option<Tenant>,
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Tenant {
    /// A tenant named in the configuration (Intune's tenant id), lower-cased.
    Named(String),
    /// A tenant known only by its credential: a keyed hash of it, plus a non-secret scope (JumpCloud's
    /// organisation id).
    Credential(u64, Option<String>),
}

/// The per-process random key of the credential hash. The hash identifies a credential within this
/// process only; it is never stored, sent or printed.
fn credential_hasher() -> &'static RandomState {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    KEY.get_or_init(RandomState::new)
}

impl ServerKey {
    /// A server with its own host (Jamf, Iru, Fleet): every client for `url`'s origin shares its limits.
    pub fn host(provider: ProviderKind, url: &Url) -> Self {
        ServerKey {
            provider,
            origin: url.origin().ascii_serialization(),
            tenant: None,
        }
    }

    /// A tenant named in the configuration on a host all tenants share (Intune's tenant id on Graph).
    /// Compared without case and surrounding spaces. The same tenant written two ways (its GUID and a
    /// domain) counts as two tenants.
    pub fn tenant(provider: ProviderKind, url: &Url, tenant: &str) -> Self {
        ServerKey {
            tenant: Some(Tenant::Named(tenant.trim().to_lowercase())),
            ..ServerKey::host(provider, url)
        }
    }

    /// A tenant known only by its credential on a host all tenants share (SimpleMDM's API key,
    /// JumpCloud's API key with its organisation id as `scope`). The key keeps a hash of the secret made
    /// with a per-process random key, never the secret. Two keys of one account count as two tenants.
    pub fn credential(
        provider: ProviderKind,
        url: &Url,
        secret: &SecretString,
        scope: Option<&str>,
    ) -> Self {
        let hash = credential_hasher().hash_one(secret.expose_secret());
        ServerKey {
            tenant: Some(Tenant::Credential(hash, scope.map(str::to_owned))),
            ..ServerKey::host(provider, url)
        }
    }

    /// The provider kind.
    pub fn provider(&self) -> ProviderKind {
        self.provider
    }

    /// The server's origin (`https://acme.jamfcloud.com`).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("ServerKey");
        d.field("provider", &self.provider)
            .field("origin", &self.origin);
        match &self.tenant {
            None => {}
            Some(Tenant::Named(name)) => {
                d.field("tenant", name);
            }
            Some(Tenant::Credential(_, scope)) => {
                d.field("tenant", &"[by credential]").field("scope", scope);
            }
        }
        d.finish()
    }
}

/// The limits in force for one server: requests in flight, a request rate where the vendor states one,
/// and the pacing the server itself asks for (`429`/`Retry-After`, `X-RateLimit-*`: see
/// [`Pacing`]). Shared by every client whose [`ServerKey`] is equal, and by no other.
pub struct ServerLimits {
    key: ServerKey,
    limits: ProviderLimits,
    in_flight: Semaphore,
    rate: Option<DefaultDirectRateLimiter>,
    pacer: Pacer,
}

impl fmt::Debug for ServerLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLimits")
            .field("key", &self.key)
            .field("limits", &self.limits)
            .field("available", &self.in_flight.available_permits())
            .field("pacing", &self.pacer.snapshot())
            .finish()
    }
}

impl ServerLimits {
    fn new(key: ServerKey, limits: ProviderLimits) -> Self {
        let rate = limits.rate_limit.and_then(|r| {
            let period = r.per / r.requests.get();
            Quota::with_period(period).map(|q| RateLimiter::direct(q.allow_burst(r.requests)))
        });
        ServerLimits {
            key,
            limits,
            in_flight: Semaphore::new(limits.max_concurrency.max(1)),
            rate,
            pacer: Pacer::default(),
        }
    }

    /// The server these limits belong to.
    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    /// The limits in force (those of the first client for this server).
    pub fn limits(&self) -> ProviderLimits {
        self.limits
    }

    /// What pacing from the server's answers has done for this server, and what it knows now.
    pub fn pacing(&self) -> Pacing {
        self.pacer.snapshot()
    }

    /// Waits for what the server asked (a pause, its rate window), for the stated rate limit, then for a
    /// slot; the request may be sent while the permit lives. A server's wait longer than `budget` is not
    /// taken: the request ends at once as rate limited, with that wait.
    pub(crate) async fn admit(&self, budget: Duration) -> Result<SemaphorePermit<'_>> {
        self.pacer.pace(budget).await.map_err(|wait| {
            Error::new(
                ErrorKind::RateLimited,
                "the server asked for a pause longer than the retry budget",
            )
            .with_retry_after(Some(wait))
        })?;
        if let Some(rate) = &self.rate {
            rate.until_ready().await;
        }
        self.in_flight
            .acquire()
            .await
            .map_err(|_| Error::config("the HTTP client was shut down"))
    }

    /// Learns from a response to a request that still holds its permit: a `429`'s wait pauses every
    /// request to this server; `X-RateLimit-*` paces them.
    pub(crate) fn observe(
        &self,
        status: reqwest::StatusCode,
        headers: &reqwest::header::HeaderMap,
    ) {
        let in_flight = self
            .limits
            .max_concurrency
            .max(1)
            .saturating_sub(self.in_flight.available_permits());
        let others = u64::try_from(in_flight.saturating_sub(1)).unwrap_or(u64::MAX);
        self.pacer.observe(status, headers, others);
    }
}

/// Where clients find the limits of their server. Cheap to clone; clones share entries.
///
/// [`LimitRegistry::global`] (the [`super::ClientOptions`] default) is shared by the whole process, which
/// is what makes limits hold across provider instances. Tests that must not meet other clients use a
/// [`LimitRegistry::new`] of their own.
#[derive(Clone, Default)]
pub struct LimitRegistry {
    entries: Arc<Mutex<Entries>>,
}

#[derive(Default)]
struct Entries {
    by_key: HashMap<ServerKey, Weak<ServerLimits>>,
    /// The size at which dead entries are next swept (amortised: twice the live count after a sweep).
    sweep_at: usize,
}

impl fmt::Debug for LimitRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LimitRegistry")
            .field("servers", &self.servers())
            .finish()
    }
}

impl LimitRegistry {
    /// An empty registry of its own.
    pub fn new() -> Self {
        LimitRegistry::default()
    }

    /// The process-wide registry.
    pub fn global() -> Self {
        static GLOBAL: OnceLock<LimitRegistry> = OnceLock::new();
        GLOBAL.get_or_init(LimitRegistry::new).clone()
    }

    /// The limits of `key`'s server: the ones in force if a client for it is alive, else new ones with
    /// `limits`. The first client for a server sets its limits; a later client asking for others gets
    /// the ones in force (and a debug log line).
    pub fn limits(&self, key: ServerKey, limits: ProviderLimits) -> Arc<ServerLimits> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(live) = entries.by_key.get(&key).and_then(Weak::upgrade) {
            if live.limits != limits {
                tracing::debug!(server = ?key, in_force = ?live.limits, asked = ?limits,
                    "another client for this server set its limits first; sharing those");
            }
            return live;
        }
        let fresh = Arc::new(ServerLimits::new(key.clone(), limits));
        entries.by_key.insert(key, Arc::downgrade(&fresh));
        if entries.by_key.len() >= entries.sweep_at {
            entries.by_key.retain(|_, limits| limits.strong_count() > 0);
            entries.sweep_at = (entries.by_key.len() * 2).max(64);
        }
        fresh
    }

    /// The pacing of every server with a live client (for tests and benchmarks: did a server ask us
    /// to wait, and did we?).
    pub fn pacing(&self) -> Vec<(ServerKey, Pacing)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .by_key
            .values()
            .filter_map(Weak::upgrade)
            .map(|limits| (limits.key.clone(), limits.pacing()))
            .collect()
    }

    /// Servers with a live client.
    pub fn servers(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .by_key
            .values()
            .filter(|limits| limits.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn limits(n: usize) -> ProviderLimits {
        ProviderLimits {
            max_concurrency: n,
            rate_limit: None,
        }
    }

    #[test]
    fn keys_are_per_server_and_per_tenant_on_shared_hosts() {
        let jamf = |u| ServerKey::host(ProviderKind::Jamf, &url(u));
        assert_eq!(
            jamf("https://acme.jamfcloud.com/"),
            jamf("https://ACME.jamfcloud.com:443/api/")
        );
        assert_ne!(
            jamf("https://acme.jamfcloud.com/"),
            jamf("https://other.jamfcloud.com/")
        );
        assert_ne!(
            jamf("https://acme.example:8443/"),
            jamf("https://acme.example/")
        );
        assert_ne!(
            ServerKey::host(ProviderKind::Fleet, &url("https://acme.example/")),
            jamf("https://acme.example/")
        );
        let graph = url("https://graph.microsoft.com/");
        let intune = |t| ServerKey::tenant(ProviderKind::Intune, &graph, t);
        assert_eq!(
            intune("Contoso.onmicrosoft.com "),
            intune("contoso.onmicrosoft.com")
        );
        assert_ne!(
            intune("contoso.onmicrosoft.com"),
            intune("fabrikam.onmicrosoft.com")
        );
        let smdm = url("https://a.simplemdm.com/");
        let key = |s: &str, scope| {
            ServerKey::credential(
                ProviderKind::SimpleMdm,
                &smdm,
                &SecretString::from(s.to_owned()),
                scope,
            )
        };
        assert_eq!(key("k1", None), key("k1", None));
        assert_ne!(key("k1", None), key("k2", None));
        assert_ne!(key("k1", Some("org-a")), key("k1", Some("org-b")));
    }

    #[test]
    fn a_credential_key_never_shows_the_secret() {
        let secret = "SIMPLEMDM-SECRET-KEY-123";
        let key = ServerKey::credential(
            ProviderKind::SimpleMdm,
            &url("https://a.simplemdm.com/"),
            &SecretString::from(secret.to_owned()),
            Some("org"),
        );
        let shown = format!("{key:?}");
        assert!(!shown.contains(secret), "{shown}");
        assert!(shown.contains("[by credential]"), "{shown}");
        let hash = credential_hasher().hash_one(secret).to_string();
        assert!(!shown.contains(&hash), "{shown}");
    }

    #[test]
    fn entries_are_shared_while_alive_and_forgotten_after() {
        let registry = LimitRegistry::new();
        let key = ServerKey::host(ProviderKind::Jamf, &url("https://acme.jamfcloud.com/"));
        let a = registry.limits(key.clone(), limits(5));
        let b = registry.limits(key.clone(), limits(9));
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            b.limits().max_concurrency,
            5,
            "the first client's limits hold"
        );
        assert_eq!(registry.servers(), 1);
        drop((a, b));
        assert_eq!(registry.servers(), 0);
        let c = registry.limits(key, limits(9));
        assert_eq!(
            c.limits().max_concurrency,
            9,
            "a new entry after the old one died"
        );
    }

    #[test]
    fn dead_entries_are_swept_as_servers_come_and_go() {
        let registry = LimitRegistry::new();
        for n in 0..10_000 {
            let key = ServerKey::host(
                ProviderKind::Fleet,
                &url(&format!("https://fleet-{n}.example/")),
            );
            drop(registry.limits(key, limits(1)));
        }
        let stored = registry.entries.lock().unwrap().by_key.len();
        assert!(stored <= 64, "{stored} entries kept for dead servers");
    }
}
