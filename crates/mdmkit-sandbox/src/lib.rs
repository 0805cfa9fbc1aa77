//! # mdmkit-sandbox
//!
//! A local MDM that speaks the six real APIs (Jamf Pro, Iru/Kandji, SimpleMDM, Fleet, JumpCloud and
//! Microsoft Graph with Entra ID tokens) over one deterministic, seeded fleet, so examples, tests and
//! benchmarks run offline. Each provider listens on its own port and follows the vendor's documented wire
//! shapes: paths, query parameters, auth schemes, paging styles and caps, error bodies and quirks.
//!
//! - Real auth behaviour: Jamf and Entra issue tokens that expire (configurable lifetime); wrong credentials
//!   get the vendor's error; credentials without device access get the vendor's 403.
//! - Fault injection per provider ([`Faults`]): latency, bodies drip-fed a byte at a time, 429 with
//!   `Retry-After`, 5xx, malformed and truncated bodies, HTML error pages, any status answered as the
//!   vendor does (401 by refusing the credentials, 404 as a path the server does not serve), oversized
//!   bodies, credentials revoked after N requests, requests held unanswered, refused connections and an
//!   untrusted certificate; [`Sandbox::expire_tokens`]; an HTTPS mode with a generated CA.
//! - A mutation API ([`Sandbox::mutate`]) and per-provider request counters.
//! - A change clock ([`model::Fleet::advance`]): every mutation stamps the device, and each vendor's
//!   "changed since" listing answers from those stamps: Jamf's RSQL on `general.reportDate`, Iru's
//!   `ordering=-last_check_in`, Fleet's keyset `order_key=updated_at&after=`, JumpCloud's
//!   `filter=lastContact:$gt:` (and `$gte`, `$lt`, `$lte`), Graph's `$filter=lastSyncDateTime gt`
//!   ([`Sandbox::set_graph_ignores_filter`] makes it ignore `$filter` as Graph sometimes does).
//! - Fleet's SCIM users (`/api/v1/fleet/scim/Users`, RFC 7644 paging by `startIndex`/`count`, refused to
//!   an observer's token and absent without Premium, [`Sandbox::set_fleet_premium`]); JumpCloud's
//!   `/api/v2/users/{id}/systems`; Entra's `groups/delta` with `members@delta` and delta links that
//!   [`Sandbox::expire_group_delta_links`] turns into `410 syncStateNotFound`.
//! - The credentials of each provider: [`Sandbox::config`] gives a ready `ProviderConfig` (any [`Access`]),
//!   [`Sandbox::credentials`] the values a person types into the provider's settings form, keyed as in
//!   `ProviderKind::credential_fields` (for a console's sign-in hints, or to exercise a backend's form
//!   handling end to end). They open only the sandbox, so they are not secrets of anyone's.
//!   [`SandboxConfig::secret_suffix`] makes every secret end in a value of the test's choosing (a canary
//!   to search logs and output for).
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ExposeSecret, ProviderConfig, ProviderKind};
//! use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig { devices: 200, ..SandboxConfig::default() }).await?;
//! // A configuration that points at the sandbox, for any provider crate (or `mdmkit::build_provider`), with
//! // `sandbox.client_options()` (which lets the client reach a loopback server).
//! let ProviderConfig::Fleet(fleet) = sandbox.config(ProviderKind::Fleet, Access::Full) else {
//!     unreachable!()
//! };
//! assert_eq!(&fleet.base_url, sandbox.url(ProviderKind::Fleet));
//! assert_eq!(sandbox.expected_devices(ProviderKind::Fleet).len(), 200);
//!
//! // It speaks the vendor's API: here Fleet's host list, with the token it handed out.
//! let hosts = sandbox.url(ProviderKind::Fleet).join("api/v1/fleet/hosts?per_page=5")?;
//! let http = reqwest::Client::new();
//! let answer = http.get(hosts.clone()).bearer_auth(fleet.api_token.expose_secret()).send().await?;
//! assert_eq!(answer.status(), 200);
//! let body: serde_json::Value = serde_json::from_slice(&answer.bytes().await?)?;
//! assert_eq!(body["hosts"].as_array().map(Vec::len), Some(5));
//!
//! // Faults make it misbehave the way real servers do.
//! sandbox.set_faults(ProviderKind::Fleet, Faults { status: Some(503), ..Faults::default() });
//! let answer = http.get(hosts).bearer_auth(fleet.api_token.expose_secret()).send().await?;
//! assert_eq!(answer.status(), 503);
//! assert_eq!(sandbox.request_count(ProviderKind::Fleet), 2);
//! // What a person would type into the Jamf settings form to reach it:
//! for credential in sandbox.credentials(ProviderKind::Jamf) {
//!     println!("{}: {}", credential.field.label, credential.value);
//! }
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// Handlers return `Result<_, Response>`: the refusal *is* the HTTP answer, and its size is irrelevant on a
// request path of a test server.
#![allow(clippy::result_large_err)]

mod common;
mod faults;
mod fleet_api;
mod intune;
mod iru;
mod jamf;
mod jumpcloud;
pub mod model;
mod secrets;
mod server;
mod simplemdm;
mod web_console;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use mdmkit_core::http::ClientOptions;
use mdmkit_core::{CredentialField, ProviderConfig, ProviderKind};
use url::Url;

pub use faults::{Faults, RateWindow};
pub use model::{Fleet, SimDevice, SimGroup, SimUser};

use common::{ProviderState, Shared};

/// Which credentials [`Sandbox::config`] hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Access {
    /// Valid credentials with every permission the connector needs.
    Full,
    /// A wrong secret or token: the vendor's Unauthorized answer.
    WrongSecret,
    /// Valid credentials lacking device read access: the vendor's 403.
    NoDeviceRead,
    /// Intune only: Graph access without `Device.Read.All`, so group members come back without `deviceId`.
    /// Other providers treat it like [`Access::Full`].
    NoDirectoryDeviceRead,
    /// The least role that reads devices and groups. Fleet: a global observer, which Fleet refuses its
    /// SCIM user list (SCIM needs a role that may write SCIM users). Other providers treat it like
    /// [`Access::Full`].
    LeastPrivilege,
}

/// How to start the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Devices in the seeded fleet (a handful to 100,000).
    pub devices: usize,
    /// Seed for the fleet: same seed, same fleet.
    pub seed: u64,
    /// Serve HTTPS with a certificate signed by a generated CA ([`Sandbox::ca_pem`]).
    pub tls: bool,
    /// Lifetime of tokens issued by the Jamf and Entra token endpoints.
    pub token_lifetime: Duration,
    /// Faults per provider.
    pub faults: BTreeMap<ProviderKind, Faults>,
    /// Address to listen on.
    pub host: IpAddr,
    /// First port; providers take consecutive ports in [`ProviderKind::ALL`] order. `None`: any free port.
    pub base_port: Option<u16>,
    /// Appended to every secret (API token, key or client secret) that [`Sandbox::config`] hands out, and
    /// removed from every secret the sandbox receives before it checks it. Empty by default. Tests that
    /// prove a secret never reaches logs, errors or output set a distinctive value (a canary) and search
    /// for it. A secret sent without the suffix is still accepted.
    pub secret_suffix: String,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            devices: 50,
            seed: 1,
            tls: false,
            token_lifetime: Duration::from_secs(300),
            faults: BTreeMap::new(),
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            base_port: None,
            secret_suffix: String::new(),
        }
    }
}

/// One value of a provider's settings form that reaches the sandbox ([`Sandbox::credentials`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxCredential {
    /// The form field: key, label as R1 words it, and whether it is a secret.
    pub field: CredentialField,
    /// The value to type (shown in clear: a sandbox credential opens only the sandbox).
    pub value: String,
}

/// What a correct connector should report for one device, in the provider's own identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedDevice {
    /// Index in the fleet.
    pub index: u32,
    /// Serial number as served.
    pub serial_number: String,
    /// The provider's device id.
    pub device_id: String,
    /// The provider's user id, if the provider exposes the assignment.
    pub user_id: Option<String>,
    /// The R4 display name a lookup by serial gives: the user's name, else the device name.
    pub display_name: String,
    /// The display name the bulk listing gives. The same as `display_name` except where the vendor's list
    /// endpoint omits the user's name (Fleet's host list carries only e-mails).
    pub list_display_name: String,
}

/// What a correct connector should report for one group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedGroup {
    /// The provider's group id.
    pub id: String,
    /// The group's name.
    pub name: String,
    /// Member device ids, sorted.
    pub members: Vec<String>,
}

/// A running sandbox. Dropping it stops its servers.
pub struct Sandbox {
    shared: Arc<Shared>,
    urls: BTreeMap<ProviderKind, Url>,
    ca_pem: Option<String>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("urls", &self.urls)
            .field("tls", &self.ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

impl Sandbox {
    /// Seeds the fleet and starts one server per provider. Must be called inside a Tokio runtime.
    pub async fn start(config: SandboxConfig) -> std::io::Result<Sandbox> {
        let fleet = Fleet::seeded(config.devices, config.seed);
        let providers = ProviderKind::ALL
            .into_iter()
            .map(|kind| {
                let faults = config.faults.get(&kind).cloned().unwrap_or_default();
                (kind, ProviderState::new(faults))
            })
            .collect();
        let shared = Arc::new(Shared {
            fleet: RwLock::new(fleet),
            token_lifetime: Mutex::new(config.token_lifetime),
            providers,
            switches: Default::default(),
            secret_suffix: config.secret_suffix,
        });
        let tls = if config.tls {
            Some(server::generate_tls().map_err(std::io::Error::other)?)
        } else {
            None
        };
        let mut urls = BTreeMap::new();
        let mut tasks = Vec::new();
        for (i, kind) in ProviderKind::ALL.into_iter().enumerate() {
            let port = config.base_port.map(|p| p + i as u16).unwrap_or(0);
            let (url, task) = server::serve(
                kind,
                shared.clone(),
                config.host,
                port,
                tls.as_ref().map(server::Tls::acceptors),
            )
            .await?;
            urls.insert(kind, url);
            tasks.push(task);
        }
        Ok(Sandbox {
            shared,
            urls,
            ca_pem: tls.map(|t| t.ca_pem),
            tasks,
        })
    }

    /// The base URL of a provider's API (for Intune, both the Graph root and the Entra login host).
    pub fn url(&self, kind: ProviderKind) -> &Url {
        &self.urls[&kind]
    }

    /// Every provider's base URL.
    pub fn urls(&self) -> impl Iterator<Item = (ProviderKind, &Url)> {
        self.urls.iter().map(|(k, u)| (*k, u))
    }

    /// The CA certificate (PEM) that signed the HTTPS certificate, in TLS mode.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// A provider configuration pointing at this sandbox with the given credentials (each secret ends in
    /// [`SandboxConfig::secret_suffix`]).
    pub fn config(&self, kind: ProviderKind, access: Access) -> ProviderConfig {
        secrets::with_suffix(
            common::sim(kind).config(self.url(kind), access),
            &self.shared.secret_suffix,
        )
    }

    /// What a person types into `kind`'s settings form to reach this sandbox with full access: one value
    /// per field of `ProviderKind::credential_fields`, in that order, with the same keys the
    /// configuration's serde form uses. Each secret ends in [`SandboxConfig::secret_suffix`].
    ///
    /// Providers with a fixed endpoint (SimpleMDM, JumpCloud, Intune's Entra login host) have no form
    /// field for it, so a configuration built from these values alone points at the vendor, and Iru's
    /// checks refuse a host that is not an Iru tenant's unless it is marked as a custom endpoint
    /// (`IruConfig::with_base_url`); [`Sandbox::config`] has all of that. Jamf's and Fleet's values alone
    /// reach the sandbox.
    pub fn credentials(&self, kind: ProviderKind) -> Vec<SandboxCredential> {
        // The serde form of a configuration is keyed by the credential fields; the sandbox's secrets may
        // be written in clear because they open nothing but this sandbox.
        let form = serde_json::to_value(self.config(kind, Access::Full).expose_secrets())
            .unwrap_or_default();
        kind.credential_fields()
            .iter()
            .filter_map(|field| {
                // The serde form writes the host as `base_url` (and reads either).
                let key = if field.key == "host" {
                    "base_url"
                } else {
                    field.key
                };
                let value = form.get(key)?.as_str()?.to_owned();
                Some(SandboxCredential {
                    field: *field,
                    value,
                })
            })
            .collect()
    }

    /// Client options suited to the sandbox: loopback and plain HTTP allowed, fast backoff, and the
    /// sandbox's CA trusted in TLS mode.
    pub fn client_options(&self) -> ClientOptions {
        ClientOptions {
            extra_root_ca_pem: self.ca_pem.clone(),
            ..ClientOptions::for_local_testing()
        }
    }

    /// Requests a provider has received (token requests included).
    pub fn request_count(&self, kind: ProviderKind) -> u64 {
        self.shared.provider(kind).request_count()
    }

    /// The most requests a provider has had in progress at once since the counts were last reset (the
    /// injected latency included): how many a client ran concurrently.
    pub fn peak_concurrency(&self, kind: ProviderKind) -> u64 {
        self.shared.provider(kind).peak_in_flight()
    }

    /// Tokens a provider's token endpoint has issued (Jamf, Entra; zero for the others).
    pub fn tokens_issued(&self, kind: ProviderKind) -> u64 {
        self.shared.provider(kind).tokens_issued()
    }

    /// Resets every provider's request counter and its peak concurrency.
    pub fn reset_request_counts(&self) {
        for kind in ProviderKind::ALL {
            self.shared.provider(kind).reset_count();
        }
    }

    /// Replaces a provider's faults.
    pub fn set_faults(&self, kind: ProviderKind, faults: Faults) {
        self.shared.provider(kind).set_faults(faults);
    }

    /// Sets the lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        *self.shared.token_lifetime.lock().unwrap() = lifetime;
    }

    /// Expires every token a provider has issued: the next request with one gets the vendor's 401.
    pub fn expire_tokens(&self, kind: ProviderKind) {
        self.shared.provider(kind).expire_tokens();
    }

    /// Fleet with a Premium licence (the default) serves its SCIM user list; without, the SCIM routes
    /// are absent (404), as on Fleet Free and servers older than 4.67.
    pub fn set_fleet_premium(&self, premium: bool) {
        self.shared
            .switches
            .fleet_free
            .store(!premium, std::sync::atomic::Ordering::SeqCst);
    }

    /// Makes Graph ignore `$filter` on managed devices and return every device (as Graph sometimes does,
    /// microsoft-graph-docs issue 19890), or honour it again.
    pub fn set_graph_ignores_filter(&self, ignore: bool) {
        self.shared
            .switches
            .graph_ignores_filter
            .store(ignore, std::sync::atomic::Ordering::SeqCst);
    }

    /// Expires every Entra group delta link issued so far: the next request with one gets HTTP 410
    /// `syncStateNotFound`, as after about a week.
    pub fn expire_group_delta_links(&self) {
        self.shared
            .switches
            .group_delta_states
            .lock()
            .unwrap()
            .clear();
    }

    /// Changes the fleet (add or remove devices, reassign users, change groups); every provider sees the
    /// change at once.
    pub fn mutate<R>(&self, change: impl FnOnce(&mut Fleet) -> R) -> R {
        change(&mut self.shared.fleet.write().unwrap())
    }

    /// A snapshot of the fleet.
    pub fn fleet(&self) -> Fleet {
        self.shared.fleet.read().unwrap().clone()
    }

    /// What a correct connector reports for every device, in `kind`'s identifiers.
    pub fn expected_devices(&self, kind: ProviderKind) -> Vec<ExpectedDevice> {
        let fleet = self.shared.fleet.read().unwrap();
        let sim = common::sim(kind);
        fleet
            .devices
            .values()
            .map(|d| sim.expected_device(&fleet, d))
            .collect()
    }

    /// What a correct connector reports for every group, in `kind`'s identifiers.
    pub fn expected_groups(&self, kind: ProviderKind) -> Vec<ExpectedGroup> {
        let fleet = self.shared.fleet.read().unwrap();
        common::sim(kind).expected_groups(&fleet)
    }

    /// Requests a correct bulk listing spends beyond its device pages: the user directory's pages and
    /// the per-device binding reads, [`Sandbox::listing_directory_requests`] plus
    /// [`Sandbox::listing_binding_requests`].
    pub fn listing_extra_requests(&self, kind: ProviderKind) -> usize {
        self.listing_directory_requests(kind) + self.listing_binding_requests(kind)
    }

    /// Pages of the user directory a correct bulk listing reads, once, because its device pages only
    /// point at users: Jamf's users (1,000 a page), Fleet's SCIM users and JumpCloud's system users
    /// (100 a page); zero for the others.
    pub fn listing_directory_requests(&self, kind: ProviderKind) -> usize {
        let fleet = self.shared.fleet.read().unwrap();
        common::sim(kind).listing_directory_requests(&fleet)
    }

    /// Reads a correct bulk listing makes to learn who is bound to devices the vendor lists without
    /// their user: JumpCloud's graph read per system without a primary user (or the user-to-systems
    /// reads, when those are fewer); zero for the others.
    pub fn listing_binding_requests(&self, kind: ProviderKind) -> usize {
        let fleet = self.shared.fleet.read().unwrap();
        common::sim(kind).listing_binding_requests(&fleet)
    }

    /// The largest page the provider's device listing serves (what a connector should ask for).
    pub fn max_page_size(&self, kind: ProviderKind) -> usize {
        common::sim(kind).max_page_size()
    }
}

impl Sandbox {
    /// Stops every server and waits until they have let go of their ports, so a new sandbox can listen on
    /// the same ones at once (dropping stops them too, but without waiting).
    pub async fn shutdown(mut self) {
        for task in std::mem::take(&mut self.tasks) {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
