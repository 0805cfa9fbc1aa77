//! # mdmkit-jumpcloud
//!
//! The JumpCloud provider for mdmkit: devices ("systems"), their assigned users, and system groups, read
//! through JumpCloud's V1 (`/api`) and V2 (`/api/v2`) REST APIs with an administrator's API key.
//!
//! ```no_run
//! use mdmkit_core::http::ClientOptions;
//! use mdmkit_core::{JumpCloudConfig, JumpCloudRegion, MdmProvider, MdmProviderExt, SerialNumber};
//! use mdmkit_jumpcloud::JumpCloudProvider;
//!
//! # async fn run() -> mdmkit_core::Result<()> {
//! let mut config = JumpCloudConfig::new("jca_example_key")?;
//! config.region = JumpCloudRegion::Eu;
//! // Multi-tenant administrators name the organisation to read:
//! config.org_id = Some("5f0c0f1e2d3b4a0012345678".into());
//! let provider = JumpCloudProvider::new(config, &ClientOptions::default())?;
//!
//! provider.validate().await?; // before saving the credentials (R8)
//! if let Some(device) = provider.device_by_serial(&SerialNumber::parse("C02XK0AAJG5J")?).await? {
//!     println!("{:?} -> {:?}", device.display_name, provider.device_url(&device.device_id));
//! }
//! let everything = provider.all_devices().await?; // 100 a page, one user-directory read
//! let groups = provider.groups().await?; // system groups with all member systems
//! # let _ = (everything, groups);
//! # Ok(())
//! # }
//! ```
//!
//! ## Endpoints
//!
//! | what | request |
//! |---|---|
//! | validate (R8) | `GET /api/organizations?limit=1` (never with `x-org-id`), then `GET /api/systems?limit=1` |
//! | lookup | `GET /api/systems?filter=serialNumber:$eq:<serial>&limit=100&skip=N&sort=_id`, re-checked exactly |
//! | bulk | `GET /api/systems?limit=100&skip=N&sort=_id` until `totalCount` |
//! | assigned user | `primarySystemUser.id` of the system, else `GET /api/v2/systems/{id}/users` |
//! | user names | `GET /api/systemusers?limit=100&skip=N&sort=_id` once per listing; `GET /api/systemusers/{id}` for a lookup |
//! | groups (R11) | `GET /api/v2/systemgroups`, members from `GET /api/v2/systemgroups/{id}/membership` (`limit`/`skip`, `x-total-count`) |
//! | link (R7) | `https://<console host>/#/devices/{id}/details` |
//!
//! The host is the region's console (`console.jumpcloud.com`, `console.eu.jumpcloud.com`,
//! `console.in.jumpcloud.com`) or [`JumpCloudConfig::base_url`] when set (a trailing `/api` or `/api/v2`
//! is dropped). Links use the same host.
//!
//! ## Decisions where the reference left room
//!
//! - **Assigned user.** A system's `primarySystemUser` is JumpCloud's own "this device belongs to" field
//!   and comes with the system at no extra cost, so it wins. JumpCloud has no bulk user-to-system
//!   association listing (the reverse graph call, `/api/v2/users/{id}/systems`, costs one request per
//!   user instead), so a system *without* a primary user costs one graph call,
//!   `/api/v2/systems/{id}/users`. Of the users it returns, a single user is the assigned user; among
//!   several, a single *directly* bound user (a one-hop path) is; several direct bindings, or bindings
//!   only through user groups, mean a shared device with no assigned user.
//! - **User names.** `displayname`, else first and last name, else `email`, else `username`: R4 asks for
//!   the user's name, and an address is only a fallback. A user id that the directory does not hold is
//!   looked up once by id; if JumpCloud answers 404 the device counts as unassigned.
//! - **The user directory** is read once per listing (when the listing asks for the page at offset 0,
//!   and only if a device on it has a user), paged, and kept in the provider until the next listing
//!   starts. Single lookups ([`MdmProvider::devices_by_serial`]) read users by id instead.
//! - **Costs.** A listing of *D* devices in an organisation of *U* users takes `ceil(D/100)` system pages
//!   plus `ceil(U/100)` directory pages, plus one graph call per device without a primary user (run a few
//!   at a time). A lookup takes one request, plus one graph call without a primary user, plus one user
//!   read.
//! - **Paging.** V1 listings send `sort=_id` (JumpCloud's advice when paging with `skip`). The reference
//!   documents no sort key for the V2 group listings, so none is sent there; repeated rows are merged.
//! - **Projections.** No `fields` projection is sent: the spec disagrees with itself on its separator
//!   (space or comma), and a wrong projection would silently drop the fields mdmkit reads.
//! - **Multi-tenant administrators.** The organisation id (`x-org-id`) goes on every request except
//!   `/api/organizations`. If the key turns out to see several organisations and none is configured, the
//!   validation error says so. The documented `x-org-id` errors (malformed id, id mismatch, id missing,
//!   id on an unsupported route, organisation not found) become messages that say what to change.
//! - **Rows without ids.** A system without `_id` and `id` fails the listing as an invalid response
//!   (dropping it would shift the next page's `skip`); groups without an id and non-system membership
//!   rows (nested groups) are skipped.
#![deny(missing_docs)]

mod client;
mod convert;
mod error;
#[cfg(test)]
mod properties;
mod wire;

use std::collections::{HashMap, HashSet};

use futures::stream::{self, StreamExt, TryStreamExt};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    async_trait, links, parse_base_url, Error, ErrorKind, MdmDevice, MdmGroup, MdmProvider, Page,
    PageRequest, PagingStyle, ProviderKind, Result, SerialNumber, Url,
};
use tokio::sync::Mutex;

use crate::client::{offset_of, JumpCloudClient};
use crate::wire::{System, SystemUser};

pub use crate::client::PAGE_LIMIT;
pub use mdmkit_core::{JumpCloudConfig, JumpCloudRegion};

/// How many graph calls (assigned users, group memberships) run at once. The shared client caps
/// concurrency anyway; this keeps one listing from taking every slot.
const FAN_OUT: usize = 4;

const OP_VALIDATE: &str = "validate";
const OP_LOOKUP: &str = "device_by_serial";
const OP_LIST: &str = "list_devices";

/// What the directory knows about a user id.
#[derive(Debug, Clone)]
enum UserEntry {
    /// The user exists; their name, if they have one.
    Known(Option<String>),
    /// JumpCloud has no such user.
    Missing,
}

/// The JumpCloud provider. See the [crate documentation](crate) for what it reads and why.
#[derive(Debug)]
pub struct JumpCloudProvider {
    client: JumpCloudClient,
    console: Url,
    configured_org: bool,
    /// The user directory of the listing in progress (reset at offset 0).
    directory: Mutex<Option<HashMap<String, UserEntry>>>,
}

impl JumpCloudProvider {
    /// A provider for `config`. Fails only on a configuration that cannot work (an organisation id that
    /// is not a valid header value, an unusable base URL, a bad extra root certificate).
    pub fn new(config: JumpCloudConfig, options: &ClientOptions) -> Result<Self> {
        // The same checks as the constructors, for a configuration changed after it was built.
        let config = config.validated()?;
        let console = parse_base_url(config.api_base().as_str(), &["/api/v2", "/api"])
            .map_err(|e| e.with_provider(ProviderKind::JumpCloud))?;
        let org_id = config
            .org_id
            .as_deref()
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned);
        let configured_org = org_id.is_some();
        let client = JumpCloudClient::new(&config, console.clone(), org_id, options)
            .map_err(|e| e.with_provider(ProviderKind::JumpCloud))?;
        Ok(JumpCloudProvider {
            client,
            console,
            configured_org,
            directory: Mutex::new(None),
        })
    }

    /// The console root requests and links use, e.g. `https://console.eu.jumpcloud.com/`.
    pub fn console_url(&self) -> &Url {
        &self.console
    }

    /// The assigned user of each system: its primary user, else one graph call (a few at a time).
    async fn assigned_users(
        &self,
        operation: &'static str,
        systems: &[System],
    ) -> Result<Vec<Option<String>>> {
        // Owned items: a stream over borrowed rows trips the `Send` check of `async_trait` futures.
        let work: Vec<(String, Option<String>)> = systems
            .iter()
            .map(|s| Ok((convert::system_id(s)?, s.primary_user_id.clone())))
            .collect::<Result<_>>()?;
        stream::iter(work)
            .map(|(id, primary)| async move {
                if primary.is_some() {
                    return Ok(primary);
                }
                let bound = self.client.bound_users(operation, &id).await?;
                Ok::<_, Error>(convert::assigned_user(&bound))
            })
            .buffered(FAN_OUT)
            .try_collect()
            .await
    }

    /// Names for `wanted` user ids from the listing's directory, reading the directory on first need and
    /// any id it lacks by id.
    async fn names_from_directory(
        &self,
        operation: &'static str,
        wanted: &HashSet<String>,
    ) -> Result<HashMap<String, UserEntry>> {
        if wanted.is_empty() {
            return Ok(HashMap::new());
        }
        let mut guard = self.directory.lock().await;
        if guard.is_none() {
            let users = self.client.user_directory(operation).await?;
            *guard = Some(index(users));
        }
        let directory = guard.get_or_insert_with(HashMap::new);
        for id in wanted {
            if !directory.contains_key(id) {
                tracing::debug!(user_id = %id, "user not in the directory read for this listing");
                let entry = self.user_by_id(operation, id).await?;
                directory.insert(id.clone(), entry);
            }
        }
        Ok(wanted
            .iter()
            .filter_map(|id| directory.get(id).map(|e| (id.clone(), e.clone())))
            .collect())
    }

    /// Names for `wanted` user ids, one read each (for single lookups).
    async fn names_by_id(
        &self,
        operation: &'static str,
        wanted: &HashSet<String>,
    ) -> Result<HashMap<String, UserEntry>> {
        let mut out = HashMap::new();
        for id in wanted {
            out.insert(id.clone(), self.user_by_id(operation, id).await?);
        }
        Ok(out)
    }

    async fn user_by_id(&self, operation: &'static str, id: &str) -> Result<UserEntry> {
        Ok(match self.client.system_user(operation, id).await? {
            Some(user) => UserEntry::Known(convert::user_name(&user)),
            None => UserEntry::Missing,
        })
    }

    /// Systems to devices: assigned users, then their names (from the directory in a listing, by id in a
    /// lookup).
    async fn to_devices(
        &self,
        operation: &'static str,
        systems: Vec<System>,
        use_directory: bool,
    ) -> Result<Vec<MdmDevice>> {
        for system in &systems {
            convert::system_id(system).map_err(|e| {
                e.with_provider(ProviderKind::JumpCloud)
                    .with_operation(operation)
            })?;
        }
        let user_ids = self.assigned_users(operation, &systems).await?;
        let wanted: HashSet<String> = user_ids.iter().flatten().cloned().collect();
        let names = if use_directory {
            self.names_from_directory(operation, &wanted).await?
        } else {
            self.names_by_id(operation, &wanted).await?
        };
        systems
            .iter()
            .zip(user_ids)
            .map(|(system, user_id)| {
                let (user_id, user_name) =
                    match user_id.and_then(|id| names.get(&id).cloned().map(|entry| (id, entry))) {
                        Some((id, UserEntry::Known(name))) => (Some(id), name),
                        Some((_, UserEntry::Missing)) | None => (None, None),
                    };
                convert::device(system, user_id, user_name)
            })
            .collect::<Result<Vec<_>>>()
            .map_err(|e| {
                e.with_provider(ProviderKind::JumpCloud)
                    .with_operation(operation)
            })
    }
}

/// The directory by user id.
fn index(users: Vec<SystemUser>) -> HashMap<String, UserEntry> {
    users
        .iter()
        .filter_map(|u| {
            u.user_id()
                .map(|id| (id.to_owned(), UserEntry::Known(convert::user_name(u))))
        })
        .collect()
}

#[async_trait]
impl MdmProvider for JumpCloudProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::JumpCloud
    }

    /// `GET /api/organizations` proves the key and the region; `GET /api/systems?limit=1` proves device
    /// access in the configured organisation, so a missing permission or organisation id fails here,
    /// at save time, rather than at the first refresh.
    async fn validate(&self) -> Result<()> {
        let organisations = self.client.organizations().await?;
        if let Err(e) = self.client.systems_page(OP_VALIDATE, 0, 1, None).await {
            let several = organisations.is_some_and(|n| n > 1);
            if e.kind() == ErrorKind::Unauthorized
                && !self.configured_org
                && several
                && !e.message().contains("organisation ID")
            {
                let message = format!(
                    "{}; this API key can see {} organisations, so it belongs to a multi-tenant \
                     administrator: set the organisation ID (x-org-id) to read",
                    e.message(),
                    organisations.unwrap_or_default()
                );
                return Err(e.with_message(message));
            }
            return Err(e);
        }
        Ok(())
    }

    /// JumpCloud's `$eq` filter is exact and case-sensitive, but results are still re-checked with
    /// [`SerialNumber::matches`], so a filter that is ignored or fuzzy never yields another device.
    async fn devices_by_serial(&self, serial: &SerialNumber) -> Result<Vec<MdmDevice>> {
        let systems = self
            .client
            .systems_by_serial(OP_LOOKUP, serial.as_str())
            .await?;
        let exact: Vec<System> = systems
            .into_iter()
            .filter(|s| {
                s.serial_number
                    .as_deref()
                    .is_some_and(|reported| serial.matches(reported))
            })
            .collect();
        self.to_devices(OP_LOOKUP, exact, false).await
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Offset { limit: PAGE_LIMIT }
    }

    /// One page of `GET /api/systems?limit&skip&sort=_id`; the page reports JumpCloud's `totalCount`.
    /// The page at offset 0 starts a new listing and drops the previous listing's user directory.
    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        let (offset, limit) = offset_of(request).map_err(|e| e.with_operation(OP_LIST))?;
        if offset == 0 {
            *self.directory.lock().await = None;
        }
        let page = self
            .client
            .systems_page(OP_LIST, offset, limit, None)
            .await?;
        let info = page.info;
        let devices = self.to_devices(OP_LIST, page.items, true).await?;
        Ok(Page::new(devices, info))
    }

    /// Every system group with every member system (nested and dynamic membership included).
    async fn groups(&self) -> Result<Vec<MdmGroup>> {
        let mut seen = HashSet::new();
        let headers: Vec<(String, String)> = self
            .client
            .system_groups()
            .await?
            .iter()
            .filter_map(convert::group_header)
            .filter(|(id, _)| seen.insert(id.clone()))
            .collect();
        stream::iter(headers)
            .map(|(id, name)| async move {
                let rows = self.client.group_membership(&id).await?;
                Ok::<_, Error>(convert::group(id, name, &rows))
            })
            .buffered(FAN_OUT)
            .try_collect()
            .await
    }

    fn device_url(&self, device_id: &str) -> Option<Url> {
        links::jumpcloud_device(&self.console, device_id)
    }

    fn request_count(&self) -> u64 {
        self.client.request_count()
    }

    fn request_costs(&self) -> mdmkit_core::RequestCosts {
        use mdmkit_core::RequestCosts;
        RequestCosts {
            // The system, then its user: by primary user id, or the graph and then the user.
            per_lookup: 3,
            // The graph of each listed system without a primary user.
            per_listed_device: 1,
        }
    }
}
