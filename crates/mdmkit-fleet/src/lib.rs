//! # mdmkit-fleet
//!
//! The mdmkit provider for [Fleet](https://fleetdm.com) (fleetdm), self-hosted or Fleet-managed:
//! [`FleetProvider`] implements [`MdmProvider`] on the shared mdmkit HTTP client (retries, limits, host
//! policy and status mapping all come from `mdmkit-core`).
//!
//! ```no_run
//! use mdmkit_core::http::ClientOptions;
//! use mdmkit_core::{FleetConfig, MdmProvider, MdmProviderExt, SerialNumber};
//! use mdmkit_fleet::FleetProvider;
//!
//! # async fn run() -> mdmkit_core::Result<()> {
//! let config = FleetConfig::new("fleet.example.com", "api-token-of-an-api-only-user")?;
//! let fleet = FleetProvider::new(config, &ClientOptions::default())?;
//! fleet.validate().await?; // the test call made before credentials are saved
//!
//! let serial = SerialNumber::parse("C0124FXASD6G")?;
//! if let Some(device) = fleet.device_by_serial(&serial).await? {
//!     println!("{} {:?} {:?}", device.device_id, device.user_id, device.display_name);
//!     println!("{:?}", fleet.device_link(&device.device_id)); // "View on Fleet", https://fleet.example.com/hosts/42
//! }
//! for group in fleet.groups().await? {
//!     println!("label {} has {} hosts", group.name, group.member_device_ids.len());
//! }
//! # Ok(()) }
//! ```
//!
//! The same calls run offline against `mdmkit-sandbox`, a local server that speaks the Fleet API
//! (this example is a doc test):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//! use mdmkit_fleet::FleetProvider;
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let kind = ProviderKind::Fleet;
//! let ProviderConfig::Fleet(config) = sandbox.config(kind, Access::Full) else {
//!     unreachable!("the sandbox hands out a Fleet configuration for Fleet")
//! };
//! let fleet = FleetProvider::new(config, &sandbox.client_options())?;
//! fleet.validate().await?;
//!
//! let expected = sandbox.expected_devices(kind);
//! let serial = SerialNumber::parse(&expected[0].serial_number)?;
//! let device = fleet.device_by_serial(&serial).await?.expect("the sandbox has it");
//! assert_eq!(device.device_id, expected[0].device_id);
//! assert_eq!(device.user_id, expected[0].user_id);
//! assert_eq!(device.display_name.as_deref(), Some(expected[0].display_name.as_str()));
//! assert!(fleet.device_url(&device.device_id).is_some());
//! assert_eq!(fleet.all_devices().await?.len(), expected.len());
//! assert_eq!(fleet.groups().await?.len(), sandbox.expected_groups(kind).len());
//!
//! // Wrong credentials are refused by the test call, with the category a person sees.
//! let ProviderConfig::Fleet(wrong) = sandbox.config(kind, Access::WrongSecret) else {
//!     unreachable!()
//! };
//! let refused = FleetProvider::new(wrong, &sandbox.client_options())?.validate().await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::Unauthorized);
//! # Ok(()) }
//! ```
//!
//! ## What is sent
//!
//! | operation | request |
//! |---|---|
//! | [`validate`](MdmProvider::validate) | `GET /api/v1/fleet/me` |
//! | [`devices_by_serial`](MdmProvider::devices_by_serial) | `GET /api/v1/fleet/hosts/identifier/{serial}?exclude_software=true` (path-escaped) |
//! | [`list_devices_page`](MdmProvider::list_devices_page) | `GET /api/v1/fleet/hosts?page=N&per_page=M&order_key=id&disable_failing_policies=true&device_mapping=true`, and once per listing `GET /api/v1/fleet/scim/Users?startIndex=S&count=100` (every page; the pages after the first at the client's concurrency) for the users' names |
//! | [`list_changed_devices_page`](MdmProvider::list_changed_devices_page) | `GET /api/v1/fleet/hosts?page=0&per_page=M&order_key=updated_at&after=<YYYY-MM-DD HH:MM:SS>&device_mapping=true`, see the `changes` module; names as below, but sized to the change; deferred, nothing else (hosts with an unnamed IdP user are left to `resolve_device_users`) |
//! | [`resolve_device_users`](MdmProvider::resolve_device_users) | `GET /api/v1/fleet/hosts/{id}?exclude_software=true` per host |
//! | [`resolve_user_names`](MdmProvider::resolve_user_names) | `GET /api/v1/fleet/hosts/{id}?exclude_software=true` per user, or the SCIM users for more than 100 |
//! | [`groups`](MdmProvider::groups) | `GET /api/v1/fleet/labels?page&per_page&order_key=id&include_host_counts=false`, then `GET /api/v1/fleet/labels/{id}/hosts?page&per_page&order_key=id&disable_failing_policies=true` per label |
//!
//! Every request carries `Authorization: Bearer <API token>`. Links are `https://HOST/hosts/ID`
//! (under the same path prefix as the configured host).
//!
//! ## Decisions where the API reference left room
//!
//! - **Paging.** Pages are numbered from 0 and always carry `per_page` (Fleet answers *all* rows when
//!   neither `page` nor `per_page` is sent, and 20 when only `page` is). Fleet sends no total, so a
//!   listing ends on a page shorter than asked, except that a `meta.has_next_results` flag, when Fleet
//!   sends one, is reported as [`PageInfo::has_more`](mdmkit_core::PageInfo) and wins (some clients saw
//!   Fleet clamp `per_page`). The default page size is [`PAGE_SIZE`] (100, the size Fleet's own
//!   documentation pages with): Fleet documents no maximum, and a size the server silently clamps would
//!   end a flag-less listing early, so a modest size is the safe side. [`FleetProvider::with_page_size`]
//!   changes it. Pages are ordered by `id`; offset paging can still skip a host deleted while the
//!   listing runs (it reappears at the next run).
//! - **Lookup.** A Fleet 404 (its JSON error body) means "no such host" and gives an empty result; a 404
//!   that is not Fleet's error body (an HTML page, an empty body) is an error, since it says the address
//!   is not the Fleet API. The identifier endpoint also matches hostnames and UUIDs, so the returned
//!   `hardware_serial` is checked exactly; when it is another host's, the lookup falls back once to the
//!   documented search (`GET /hosts?query=<serial>`, all pages, exact matches only), which also finds
//!   the host the identifier endpoint hid behind a colliding hostname, and every duplicate. Serials
//!   that are only dots (`.`/`..`, which URL normalisation would swallow even escaped) go straight to
//!   the search.
//! - **User.** The user id is the IdP username Fleet shows for the host (`end_users[].idp_username` in
//!   a host's record); `idp_id` is used only when the IdP gave no username. Without an IdP identity, a
//!   custom mapping beats a Chrome profile. See `convert.rs` for the full order.
//! - **Names in listings, without a request per host.** The host list carries only `device_mapping`
//!   e-mails. Names come from Fleet's SCIM users (Fleet Premium 4.67+, fed by the IdP), read once per
//!   listing and joined as Fleet links them to hosts (see the `scim` module): by `userName`, else by a
//!   unique e-mail; the user id then becomes that user's `userName`, which is exactly what a lookup
//!   shows, and a user Fleet's SCIM does not hold has no name, as in a lookup. Fleet authorises SCIM
//!   reads as SCIM *writes*, so an observer's token is refused (403), and Fleet Free or an older server
//!   has no route (404): then listed IdP users keep their enrolment e-mail as id and come marked
//!   [`mdmkit_core::Unresolved::UserName`], with the device's name as display name for now.
//!   [`MdmProvider::resolve_user_names`] reads their names from their hosts (one request each, answered
//!   only while the host still shows that user), so a caller with a name cache reads only unknown or
//!   stale names. In that mode the id is the IdP e-mail, which equals the lookup's `idp_username`
//!   whenever the IdP's `userName` is the e-mail (Okta and Entra by default) and may differ otherwise.
//!   Reading SCIM users becomes the "last SCIM request" Fleet shows on its IdP settings page.
//! - **Memory of a listing.** A listing holds one page of hosts and the SCIM users, read into a compact
//!   index as the pages arrive (at most the client's concurrency of pages in flight): about 40 bytes
//!   plus each user's text (`userName` twice, name, e-mail), some 130 bytes a user with one e-mail, so
//!   13 MB for 100,000 users. Nothing else held grows with the fleet.
//! - **Names in changes listings, sized to the change.** A changes listing first reads one SCIM page,
//!   whose `totalResults` tells how many pages are left; it reads them only when they are no more than
//!   the changed hosts needing a name, and otherwise reads those hosts' records (`GET /hosts/{id}`, at
//!   the client's concurrency), which show the same user id and name a lookup does. So a hundred changed
//!   hosts in a 10,000-user directory cost at most a hundred reads, ten changed hosts eleven. A
//!   [`Resolution::Deferred`] changes listing reads neither: a host whose IdP user the host list does not
//!   name comes marked [`mdmkit_core::Unresolved::User`] (its user unknown, not guessed from the listed
//!   e-mail), and [`MdmProvider::resolve_device_users`] reads its record when the caller's cache does
//!   not know who is bound to it. So changed hosts whose users a caller knows cost their page alone; a
//!   user re-assigned in the IdP shows once the caller's entry expires (mdmkit-sync: a week).
//! - **`device_mapping` shape** is unconfirmed at list level: a list of `{email, source}`, a list of
//!   bare e-mails, the per-host endpoint's `{"device_mapping": [...]}` wrapper, `null` and absence are
//!   all accepted.
//! - **Teams → fleets.** Responses may carry the old `team_*` and new `fleet_*` names side by side;
//!   both are read (the new one wins). No request sends a team filter, so never both names.
//! - **Validation.** `GET /me` proves the host is Fleet and the token is accepted. When the answer
//!   positively shows a user with neither a global role nor any team, validation fails as Forbidden
//!   rather than saving credentials that can read no host.
//! - **Groups.** Fleet's built-in labels (`All Hosts`, the platform labels) are left out by default:
//!   Fleet's UI shows them as platforms rather than labels, and each would cost a full host listing per
//!   sync. [`FleetProvider::with_builtin_labels`] includes them. A label deleted between the label list
//!   and its member list (a Fleet 404) is left out of the result, as if it had been deleted a moment
//!   earlier. Member lists of up to four labels are read at once, within the client's limits.
//! - **Errors.** Fleet's `message` and each distinct `errors[].reason` (prefixed with its field `name`
//!   unless it is `base`) make the message, e.g. `HTTP 404 Not Found: Resource Not Found: Host was not
//!   found in the datastore`. A 401 adds that a non-API-only user's token is revoked when that user logs
//!   in again.
#![deny(missing_docs)]

mod changes;
mod client;
mod convert;
mod error;
#[cfg(test)]
mod properties;
mod scim;
mod wire;

use std::sync::Arc;

use async_trait::async_trait;
use futures::lock::Mutex;
use futures::stream::{self, StreamExt, TryStreamExt};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    links, ChangeTracking, ChangesPage, ChangesRequest, DeviceUser, Error, ErrorKind, MdmDevice,
    MdmGroup, MdmProvider, Page, PageRequest, PagingStyle, ProviderKind, Resolution,
    ResolvedUserName, Result, SerialNumber, Unresolved, Url, UserRef,
};

pub use mdmkit_core::FleetConfig;

use crate::client::{is_dot_segment, FleetClient, ScimPage};
use crate::scim::ScimIndex;

pub use crate::client::PAGE_SIZE;

// The operations, named once for requests and for the errors raised outside the HTTP client.
use crate::client::{OPS, RESOLVE_USER_NAMES};

/// Label member lists read at the same time.
const LABEL_CONCURRENCY: usize = 4;

/// What the listing in progress knows of Fleet's SCIM users.
#[derive(Debug, Default, Clone)]
enum Scim {
    /// Not read yet in this listing.
    #[default]
    NotRead,
    /// Refused or absent (an observer's token, Fleet Free, a server before 4.67).
    Unavailable,
    /// Only the first page was read (a changes listing learning how many users there are).
    Sized(Arc<ScimPage>),
    Loaded(Arc<ScimIndex>),
}

impl Scim {
    /// The state after a failed SCIM read, logged once in the same words wherever a listing reads.
    fn unavailable(error: &mdmkit_core::Error) -> Scim {
        tracing::info!(%error, "Fleet's SCIM users cannot be read (they need Fleet Premium and a role that may write SCIM users, such as maintainer); listed users keep their e-mail until their names are resolved");
        Scim::Unavailable
    }
}

/// The Fleet provider: Host and API Token (R1), labels as groups (R11).
///
/// `Debug` shows the host but never the token.
#[derive(Debug, Clone)]
pub struct FleetProvider {
    client: FleetClient,
    page_size: u32,
    include_builtin_labels: bool,
    /// The SCIM users of the listing in progress (reset at its first page).
    scim: Arc<Mutex<Scim>>,
}

impl FleetProvider {
    /// A provider for the Fleet server and token in `config`. Does no I/O; call
    /// [`MdmProvider::validate`] to test the credentials.
    pub fn new(config: FleetConfig, options: &ClientOptions) -> Result<Self> {
        Ok(FleetProvider {
            // The same checks as the constructors, for a configuration changed after it was built.
            client: FleetClient::new(&config.validated()?, options)?,
            page_size: PAGE_SIZE,
            include_builtin_labels: false,
            scim: Arc::new(Mutex::new(Scim::NotRead)),
        })
    }

    /// Asks for `size` rows per page (at least 1) in every listing.
    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = size.max(1);
        self
    }

    /// Whether [`MdmProvider::groups`] includes Fleet's built-in labels (`All Hosts`, platforms).
    pub fn with_builtin_labels(mut self, include: bool) -> Self {
        self.include_builtin_labels = include;
        self
    }

    /// The Fleet server's base URL (ends in `/`).
    pub fn base_url(&self) -> &Url {
        self.client.base_url()
    }

    /// The SCIM users of the listing in progress, read on first need; `None` when Fleet refuses or lacks
    /// them (any failure: naming users is worth a fallback, never a failed listing).
    async fn scim_index(&self, operation: &'static str) -> Option<Arc<ScimIndex>> {
        let mut state = self.scim.lock().await;
        let read = match &*state {
            Scim::NotRead => Some(self.client.scim_users(operation).await),
            Scim::Sized(first) => Some(self.client.scim_users_rest(first, operation).await),
            Scim::Unavailable | Scim::Loaded(_) => None,
        };
        if let Some(read) = read {
            *state = match read {
                Ok(index) => {
                    tracing::debug!(
                        users = index.len(),
                        bytes = index.heap_bytes(),
                        "Fleet SCIM users read"
                    );
                    Scim::Loaded(Arc::new(index))
                }
                Err(e) => Scim::unavailable(&e),
            };
        }
        match &*state {
            Scim::Loaded(index) => Some(Arc::clone(index)),
            _ => None,
        }
    }

    /// Hosts of a listing as devices, named through the SCIM users when a host has an IdP identity.
    /// The SCIM read is one bulk read per listing, not a per-device read, so a deferred listing makes it
    /// too: it is what keeps listed user ids the same as a lookup's. Without SCIM, a deferred listing
    /// leaves such hosts' users unknown ([`Unresolved::User`]) rather than report the listed e-mail,
    /// which may not be the id a lookup shows.
    async fn listed_devices(
        &self,
        hosts: &[wire::Host],
        operation: &'static str,
        resolution: Resolution,
    ) -> Vec<MdmDevice> {
        let needs_names = hosts.iter().any(needs_name);
        let scim = if needs_names {
            self.scim_index(operation).await
        } else {
            None
        };
        if scim.is_none() && resolution == Resolution::Deferred {
            return Self::user_unknown_where_unnamed(hosts);
        }
        hosts
            .iter()
            .map(|h| convert::device_from_listed_host(h, scim.as_deref()))
            .collect()
    }

    /// Hosts as devices, those whose IdP user the host list does not name marked [`Unresolved::User`]
    /// (their user unknown, not guessed from the listed e-mail): [`MdmProvider::resolve_device_users`]
    /// reads them unless the caller's cache knows who is bound to them.
    fn user_unknown_where_unnamed(hosts: &[wire::Host]) -> Vec<MdmDevice> {
        hosts
            .iter()
            .map(|h| {
                let mut device = convert::device_from_listed_host(h, None);
                if needs_name(h) {
                    device.resolve_user(None, None);
                    device = device.with_unresolved(Unresolved::User);
                }
                device
            })
            .collect()
    }

    /// Hosts of a changes listing as devices. A few changed hosts should not cost a read of every SCIM
    /// user: the first SCIM page tells how many users there are, and the rest is read only when that
    /// takes no more requests than reading the hosts that need a name one by one (`GET /hosts/{id}`,
    /// which shows the user id and name a lookup shows), at the client's concurrency.
    async fn changed_devices(
        &self,
        hosts: &[wire::Host],
        operation: &'static str,
    ) -> Vec<MdmDevice> {
        let needing: Vec<String> = hosts
            .iter()
            .filter(|h| needs_name(h))
            .map(|h| h.id.0.clone())
            .collect();
        if needing.is_empty() {
            return self
                .listed_devices(hosts, operation, Resolution::Inline)
                .await;
        }
        let first = {
            let mut state = self.scim.lock().await;
            if let Scim::NotRead = *state {
                let read = self.client.scim_first_page(operation).await;
                *state = match read {
                    Ok(page) if page.last => Scim::Loaded(Arc::new(ScimIndex::new(&page.users))),
                    Ok(page) => Scim::Sized(Arc::new(page)),
                    Err(e) => Scim::unavailable(&e),
                };
            }
            match &*state {
                Scim::Sized(first) => Some(Arc::clone(first)),
                _ => None,
            }
        };
        let Some(first) = first else {
            return self
                .listed_devices(hosts, operation, Resolution::Inline)
                .await;
        };
        let pages_left = first.total.map_or(u64::MAX, |total| {
            total
                .saturating_sub(first.users.len() as u64)
                .div_ceil(client::SCIM_PAGE)
        });
        if pages_left <= needing.len() as u64 {
            return self
                .listed_devices(hosts, operation, Resolution::Inline)
                .await;
        }
        let read: Vec<(String, Option<MdmDevice>)> = stream::iter(needing)
            .map(|id| async move {
                match self.client.host_by_id(&id, operation).await {
                    Ok(found) => (id, found.as_ref().map(convert::device_from_host)),
                    Err(e) => {
                        tracing::info!(host = %id, error = %e, "a Fleet host could not be read for its user's name");
                        (id, None)
                    }
                }
            })
            .buffered(self.client.fan_out())
            .collect()
            .await;
        let mut read: std::collections::HashMap<String, MdmDevice> = read
            .into_iter()
            .filter_map(|(id, device)| device.map(|d| (id, d)))
            .collect();
        hosts
            .iter()
            .map(|h| {
                read.remove(&h.id.0)
                    .unwrap_or_else(|| convert::device_from_listed_host(h, None))
            })
            .collect()
    }

    /// Hosts of a deferred changes listing as devices: nothing is read here (no SCIM page, no host
    /// record), so changed hosts whose users the caller knows cost their page alone.
    fn changed_devices_deferred(&self, hosts: &[wire::Host]) -> Vec<MdmDevice> {
        Self::user_unknown_where_unnamed(hosts)
    }

    /// Starts a new listing: SCIM users are read afresh.
    async fn start_listing(&self) {
        *self.scim.lock().await = Scim::NotRead;
    }

    /// The documented search, exact matches only.
    async fn search_exact(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let hosts = self
            .client
            .search_hosts(serial.as_str(), self.page_size, OPS.device_by_serial.name())
            .await?;
        Ok(serial
            .exact_matches(&hosts, |h| convert::reported_serial(h))
            .map(convert::device_from_host)
            .collect())
    }
}

/// Whether the host list shows an IdP user of the host without their name.
fn needs_name(host: &wire::Host) -> bool {
    convert::assigned_user(host).is_some_and(|u| u.from_idp && u.name.is_none())
}

#[async_trait]
impl MdmProvider for FleetProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Fleet
    }

    async fn validate(&self) -> Result<()> {
        let me = self.client.me(OPS.validate.name()).await?;
        let Some(user) = &me.user else {
            return Err(OPS.validate.error(
                ErrorKind::InvalidResponse,
                "GET /api/v1/fleet/me answered without a \"user\"; the server does not answer like the Fleet API",
            ));
        };
        let who = user
            .email
            .as_deref()
            .map(str::to_owned)
            .or_else(|| user.id.as_ref().map(|id| format!("user {}", id.0)))
            .unwrap_or_else(|| "the token's user".to_owned());
        if me.shows_no_access() {
            return Err(OPS.validate.error(
                ErrorKind::Forbidden,
                format!("the Fleet user {who} has no global role and no team, so it cannot read hosts; give it the Observer role (or higher) globally or on the teams to sync"),
            ));
        }
        if user.api_only == Some(false) {
            tracing::warn!(user = %who, "the Fleet token belongs to a user who is not API-only; Fleet revokes it when that user logs in again");
        }
        tracing::debug!(user = %who, role = ?user.global_role, teams = me.team_count(), "Fleet credentials validated");
        Ok(())
    }

    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        if is_dot_segment(serial.as_str()) {
            return self.search_exact(serial).await;
        }
        let Some(host) = self
            .client
            .host_by_identifier(serial.as_str(), OPS.device_by_serial.name())
            .await?
        else {
            return Ok(Vec::new());
        };
        match convert::reported_serial(&host) {
            Some(reported) if serial.matches(reported) => {
                tracing::debug!(host = %host.id.0, fleet = ?host.fleet_name(), fleet_id = ?host.fleet_id(), "Fleet host found by serial");
                Ok(vec![convert::device_from_host(&host)])
            }
            other => {
                // The identifier matched another field (a hostname, a UUID): not this serial's host.
                tracing::debug!(host = %host.id.0, reported = ?other, "Fleet identifier lookup matched another host; searching");
                self.search_exact(serial).await
            }
        }
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::PageNumber {
            first: 0,
            size: self.page_size,
        }
    }

    /// The host list names no user, only the e-mails of `device_mapping`: names come from Fleet's SCIM
    /// users, read once per listing, never from one host record per assigned host. Where SCIM cannot be
    /// read, rows are marked [`mdmkit_core::Unresolved::UserName`] for
    /// [`MdmProvider::resolve_user_names`].
    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        self.list_devices_page_with(request, Resolution::Inline)
            .await
    }

    /// With [`Resolution::Deferred`] and no SCIM users, hosts whose IdP user the host list does not name
    /// are left for [`MdmProvider::resolve_device_users`] (the engine's lookup cache may know them), so
    /// the resolution decides what a listing reads.
    async fn list_devices_page_with(
        &self,
        request: &PageRequest,
        resolution: Resolution,
    ) -> Result<Page<MdmDevice>> {
        if matches!(request, PageRequest::PageNumber { page: 0, .. }) {
            self.start_listing().await;
        }
        let page = self
            .client
            .list_hosts_page(request, OPS.list_devices.name())
            .await?;
        let devices = self
            .listed_devices(&page.items, OPS.list_devices.name(), resolution)
            .await;
        Ok(Page::new(devices, page.info))
    }

    /// Names of users the listing could not name. More than a SCIM page of them are looked up in a fresh
    /// read of the SCIM users when Fleet allows it; otherwise each is read from its host's record
    /// (`GET /hosts/{id}`, at the client's concurrency), and answered only if that host still shows the
    /// same IdP user (ids compared ignoring ASCII case).
    async fn resolve_user_names(&self, users: &[UserRef]) -> Result<Vec<ResolvedUserName>> {
        if users.len() as u64 > client::SCIM_PAGE {
            self.start_listing().await;
            if let Some(index) = self.scim_index(RESOLVE_USER_NAMES.name()).await {
                return Ok(users
                    .iter()
                    .map(|u| {
                        let name = index
                            .find(&u.user_id)
                            .and_then(|n| n.name.map(str::to_owned));
                        ResolvedUserName::new(u.user_id.clone(), name)
                    })
                    .collect());
            }
        }
        let found: Vec<Option<ResolvedUserName>> = stream::iter(users.iter().cloned())
            .map(|wanted| async move {
                let Some(host) = self
                    .client
                    .host_by_id(&wanted.device_id, RESOLVE_USER_NAMES.name())
                    .await?
                else {
                    return Ok::<_, Error>(None);
                };
                Ok(convert::assigned_user(&host)
                    .filter(|u| u.id.eq_ignore_ascii_case(&wanted.user_id))
                    .map(|u| ResolvedUserName::new(wanted.user_id.clone(), u.name)))
            })
            .buffered(self.client.fan_out())
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Who is bound to each host, from its record (`GET /hosts/{id}`, at the client's concurrency): the
    /// user id and name a lookup shows. A host Fleet no longer has is left out.
    async fn resolve_device_users(&self, device_ids: &[String]) -> Result<Vec<DeviceUser>> {
        const OP: &str = "resolve_device_users";
        let found: Vec<Option<DeviceUser>> = stream::iter(device_ids.iter().cloned())
            .map(|id| async move {
                let Some(host) = self.client.host_by_id(&id, OP).await? else {
                    return Ok::<_, Error>(None);
                };
                let device = convert::device_from_host(&host);
                Ok(Some(DeviceUser::new(id, device.user_id, device.user_name)))
            })
            .buffered(self.client.fan_out())
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    fn change_tracking(&self) -> ChangeTracking {
        changes::TRACKING
    }

    /// Keyset paging on `updated_at` (see the crate docs and the `changes` module).
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        let cursor = request.cursor.as_ref();
        changes::page(self, request.since, cursor, request.resolution).await
    }

    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        let mut seen = std::collections::HashSet::new();
        let labels: Vec<_> = self
            .client
            .labels(self.page_size, OPS.groups.name())
            .await?
            .into_iter()
            .filter(|l| self.include_builtin_labels || !l.is_builtin())
            // Offset paging can repeat a row when labels are created during the listing.
            .filter(|l| seen.insert(l.id.0.clone()))
            .collect();
        let groups: Vec<Option<MdmGroup>> = stream::iter(labels)
            .map(|label| async move {
                let members = self
                    .client
                    .label_host_ids(&label.id.0, self.page_size, OPS.groups.name())
                    .await?;
                if members.is_none() {
                    tracing::debug!(label = %label.id.0, "Fleet label disappeared during the sync; left out");
                } else {
                    tracing::trace!(label = %label.id.0, fleet_id = ?label.fleet_id(), "Fleet label read");
                }
                Ok::<_, Error>(members.map(|m| convert::group_from_label(&label, m)))
            })
            .buffered(LABEL_CONCURRENCY)
            .try_collect()
            .await?;
        Ok(groups.into_iter().flatten().collect())
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::fleet_host(self.base_url(), device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    /// A listing names users from the SCIM users, a bulk read; only once Fleet has refused them (in the
    /// last listing that tried) does naming each listed user cost its host's record. Before any SCIM read
    /// the bulk path is assumed: a first refresh that then finds SCIM refused costs its pages and one
    /// SCIM request more than lookups would have, while assuming the worst would look up every host of a
    /// Fleet Premium server one by one.
    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        mdmkit_core::RequestCosts {
            per_lookup: 1,
            per_listed_device: u32::from(self.client.scim_refused()),
        }
    }

    /// Always: a deferred listing of changes leaves hosts without a named user to
    /// [`MdmProvider::resolve_device_users`], and without SCIM every listing leaves names to
    /// [`MdmProvider::resolve_user_names`].
    fn defers_user_reads(&self) -> bool {
        true
    }
}
