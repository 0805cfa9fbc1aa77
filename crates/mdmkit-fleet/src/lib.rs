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
//! ## What is sent
//!
//! | operation | request |
//! |---|---|
//! | [`validate`](MdmProvider::validate) | `GET /api/v1/fleet/me` |
//! | [`devices_by_serial`](MdmProvider::devices_by_serial) | `GET /api/v1/fleet/hosts/identifier/{serial}?exclude_software=true` (path-escaped) |
//! | [`list_devices_page`](MdmProvider::list_devices_page) | `GET /api/v1/fleet/hosts?page=N&per_page=M&order_key=id&disable_failing_policies=true&device_mapping=true`, then `GET /api/v1/fleet/hosts/{id}?exclude_software=true` for each host with a mapped user (the list has only e-mails; R4 needs the user's name) |
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
//!   Fleet clamp `per_page`). The default page size is [`DEFAULT_PAGE_SIZE`] (100, the size Fleet's own
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
//! - **User.** The user id is the user's e-mail as the IdP knows it (`end_users[].idp_username`, or
//!   the `mdm_idp_accounts` entry of `device_mapping` in listings, which never carry `end_users`), so it
//!   is the same whether a device was refreshed by lookup or by listing; `idp_id` is used only when the
//!   IdP gave no username. Without an IdP identity, a custom mapping beats a Chrome profile. The user
//!   name is `idp_full_name`, which only a host's own record carries: a listing reads the record of each
//!   host that has a mapped user (one request per assigned host, stated in
//!   [`request_costs`](MdmProvider::request_costs), so `mdmkit-sync` refreshes Fleet by lookups), and a
//!   listing stores the same R4 display name as a lookup. See `convert.rs` for the full order.
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

mod client;
mod convert;
mod error;
#[cfg(test)]
mod properties;
mod wire;

use async_trait::async_trait;
use futures::stream::{self, StreamExt, TryStreamExt};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    links, Error, ErrorKind, MdmDevice, MdmGroup, MdmProvider, Page, PageRequest, PagingStyle,
    ProviderKind, Result, SerialNumber, Url,
};

pub use mdmkit_core::FleetConfig;

use crate::client::{is_dot_segment, FleetClient};

/// Rows asked for per page unless [`FleetProvider::with_page_size`] says otherwise.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// Host records read at once while naming the users of a listed page.
const DETAIL_READS_AT_ONCE: usize = 6;

/// Label member lists read at the same time.
const LABEL_CONCURRENCY: usize = 4;

/// The Fleet provider: Host and API Token (R1), labels as groups (R11).
///
/// `Debug` shows the host but never the token.
#[derive(Debug, Clone)]
pub struct FleetProvider {
    client: FleetClient,
    base_url: Url,
    page_size: u32,
    include_builtin_labels: bool,
}

impl FleetProvider {
    /// A provider for the Fleet server and token in `config`. Does no I/O; call
    /// [`MdmProvider::validate`] to test the credentials.
    pub fn new(config: FleetConfig, options: &ClientOptions) -> Result<Self> {
        // The same checks as the constructors, for a configuration changed after it was built.
        let config = config.validated()?;
        Ok(FleetProvider {
            client: FleetClient::new(&config, options)?,
            base_url: config.base_url,
            page_size: DEFAULT_PAGE_SIZE,
            include_builtin_labels: false,
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
        &self.base_url
    }

    fn error(operation: &'static str, kind: ErrorKind, message: String) -> Error {
        Error::new(kind, message)
            .with_provider(ProviderKind::Fleet)
            .with_operation(operation)
    }

    /// The documented search, exact matches only.
    async fn search_exact(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let hosts = self
            .client
            .search_hosts(serial.as_str(), self.page_size, "device_by_serial")
            .await?;
        Ok(hosts
            .iter()
            .filter(|h| convert::reported_serial(h).is_some_and(|s| serial.matches(s)))
            .map(convert::device_from_host)
            .collect())
    }
}

#[async_trait]
impl MdmProvider for FleetProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Fleet
    }

    async fn validate(&self) -> Result<()> {
        const OP: &str = "validate";
        let me = self.client.me(OP).await?;
        let Some(user) = &me.user else {
            return Err(Self::error(
                OP,
                ErrorKind::InvalidResponse,
                "GET /api/v1/fleet/me answered without a \"user\"; the server does not answer like the Fleet API".to_owned(),
            ));
        };
        let who = user
            .email
            .as_deref()
            .map(str::to_owned)
            .or_else(|| user.id.as_ref().map(|id| format!("user {}", id.0)))
            .unwrap_or_else(|| "the token's user".to_owned());
        if me.shows_no_access() {
            return Err(Self::error(
                OP,
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
        const OP: &str = "device_by_serial";
        if is_dot_segment(serial.as_str()) {
            return self.search_exact(serial).await;
        }
        let Some(host) = self.client.host_by_identifier(serial.as_str(), OP).await? else {
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

    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        const OP: &str = "list_devices";
        let page = self.client.list_hosts_page(request, OP).await?;
        // The list carries only the users' e-mails; R4 wants the user's name, which only the host's own
        // record has. Assigned hosts are read once more (in order, a few at a time, within the client's
        // concurrency limit), so a listing stores what a lookup by serial stores.
        let devices = stream::iter(page.items.into_iter().map(|host| async move {
            let listed = convert::device_from_host(&host);
            if listed.user_id.is_none() || listed.user_name.is_some() {
                return Ok::<_, Error>(listed);
            }
            Ok(match self.client.host_by_id(&host.id.0, OP).await? {
                // An older Fleet without `end_users` names nobody: keep the e-mail from the list.
                Some(detail) => {
                    let detailed = convert::device_from_host(&detail);
                    if detailed.user_id.is_some() {
                        detailed
                    } else {
                        listed
                    }
                }
                // Deleted since the page was read: the list row is all there is.
                None => listed,
            })
        }))
        .buffered(DETAIL_READS_AT_ONCE)
        .try_collect()
        .await?;
        Ok(Page::new(devices, page.info))
    }

    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        const OP: &str = "groups";
        let mut seen = std::collections::HashSet::new();
        let labels: Vec<_> = self
            .client
            .labels(self.page_size, OP)
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
                    .label_host_ids(&label.id.0, self.page_size, OP)
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
        links::fleet_host(&self.base_url, device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        mdmkit_core::RequestCosts {
            per_lookup: 1,
            // The record of each listed host with a mapped user (the list has only e-mails).
            per_listed_device: 1,
        }
    }
}
