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
//! The same calls run offline against `mdmkit-sandbox`, a local server that speaks the JumpCloud APIs
//! (this example is a doc test):
//!
//! ```
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, ProviderConfig, ProviderKind, SerialNumber};
//! use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
//! use mdmkit_jumpcloud::JumpCloudProvider;
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let kind = ProviderKind::JumpCloud;
//! let ProviderConfig::JumpCloud(config) = sandbox.config(kind, Access::Full) else {
//!     unreachable!("the sandbox hands out a JumpCloud configuration for JumpCloud")
//! };
//! let jumpcloud = JumpCloudProvider::new(config, &sandbox.client_options())?;
//! jumpcloud.validate().await?;
//!
//! let expected = sandbox.expected_devices(kind);
//! let serial = SerialNumber::parse(&expected[0].serial_number)?;
//! let device = jumpcloud.device_by_serial(&serial).await?.expect("the sandbox has it");
//! assert_eq!(device.device_id, expected[0].device_id);
//! assert_eq!(device.user_id, expected[0].user_id);
//! assert_eq!(device.display_name.as_deref(), Some(expected[0].display_name.as_str()));
//! assert!(jumpcloud.device_url(&device.device_id).is_some());
//! assert_eq!(jumpcloud.all_devices().await?.len(), expected.len());
//! assert_eq!(jumpcloud.groups().await?.len(), sandbox.expected_groups(kind).len());
//!
//! // Wrong credentials are refused by the test call, with the category a person sees.
//! let ProviderConfig::JumpCloud(wrong) = sandbox.config(kind, Access::WrongSecret) else {
//!     unreachable!()
//! };
//! let refused = JumpCloudProvider::new(wrong, &sandbox.client_options())?.validate().await.unwrap_err();
//! assert_eq!(refused.kind(), ErrorKind::Unauthorized);
//! # Ok(()) }
//! ```
//!
//! ## Endpoints
//!
//! | what | request |
//! |---|---|
//! | validate (R8) | `GET /api/organizations?limit=1` (never with `x-org-id`), then `GET /api/systems?limit=1` |
//! | lookup | `GET /api/systems?filter=serialNumber:$eq:<serial>&limit=100&skip=N&sort=_id`, re-checked exactly |
//! | bulk | `GET /api/systems?limit=100&skip=N&sort=_id` until `totalCount` |
//! | assigned user | `primarySystemUser.id` of the system, else `GET /api/v2/systems/{id}/users`, or in a large listing `GET /api/v2/users/{id}/systems` for every user |
//! | changed since T | `GET /api/systems?filter=lastContact:$gte:T&limit=100&skip=N&sort=_id`, every row checked |
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
//!   and comes with the system at no extra cost, so it wins. JumpCloud has no bulk system-to-user
//!   listing, so a system *without* a primary user needs the graph: `/api/v2/systems/{id}/users` (one
//!   request per system), or the reverse `/api/v2/users/{id}/systems` (one request per user, turned
//!   around; a path's hop count reads the same both ways). A listing picks at its first page that needs
//!   the graph: when the directory holds fewer users than the listing is expected to need per-system
//!   reads (this page's share scaled to `totalCount`), every user is read once; otherwise each system
//!   is. Fewer than 100 expected reads never pay for the user-side read. Graph reads run at the client's
//!   concurrency limit (6 by default). Of the users bound to a system, a single user is the assigned
//!   user; among several, a single *directly* bound user (a one-hop path) is; several direct bindings,
//!   or bindings only through user groups, mean a shared device with no assigned user. (JumpCloud's
//!   asynchronous "users-to-devices" report of its Directory Insights API would be a bulk path, but its
//!   artifact format is not documented; it is not used.)
//! - **Deferred reads.** [`MdmProvider::list_devices_page_with`] with [`Resolution::Deferred`] skips
//!   the graph: systems without a primary user come marked [`Unresolved::User`], and
//!   [`MdmProvider::resolve_device_users`] reads them (one graph request each) when a caller with a
//!   cache of "no user bound" decides they are due.
//! - **Changed since T.** `filter=lastContact:$gte:T` (the V1 `$gte` operator; JumpCloud documents the
//!   `$`-prefixed operators for V1, but that the filter works on `lastContact` is not confirmed on a
//!   live tenant), so every row's `lastContact` is checked: a row before T (or without one) means the
//!   filter was not applied, and the listing goes on as a full one ([`mdmkit_core::Coverage::Everything`]).
//!   `lastContact` moves with every agent contact, not with console changes (binding a user). User
//!   names of a page of changes are read by id when there are at most 10, else from the directory.
//! - **User names.** `displayname`, else first and last name, else `email`, else `username`: R4 asks for
//!   the user's name, and an address is only a fallback. A user id that the directory does not hold is
//!   looked up once by id; if JumpCloud answers 404 the device counts as unassigned.
//! - **The user directory** is read once per listing (when the listing asks for the page at offset 0,
//!   and only if a device on it has a user), paged (the pages after the first, which counts the users,
//!   at the allowed concurrency), and kept in the provider until the next listing
//!   starts. It is kept compact, ids and names only (see the `directory` module): about 16 bytes plus
//!   the id and name, some 60 bytes a user, so 6 MB for 100,000 users. The per-user binding index,
//!   when a listing chooses it, holds the bound users of every system it resolves. Single lookups
//!   ([`MdmProvider::devices_by_serial`]) read users by id instead.
//! - **Costs.** A listing of *D* devices in an organisation of *U* users takes `ceil(D/100)` system pages
//!   plus `ceil(U/100)` directory pages, plus the smaller of "one graph call per device without a
//!   primary user" and "one per user" (see above). A lookup takes one request, plus one graph call
//!   without a primary user, plus one user read.
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
mod directory;
mod error;
#[cfg(test)]
mod properties;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, StreamExt, TryStreamExt};
use mdmkit_core::changes::rfc3339_millis;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{
    async_trait, filtered_changes_page, links, parse_base_url, ChangeTracking, ChangesPage,
    ChangesRequest, DeviceUser, Error, ErrorKind, MdmDevice, MdmGroup, MdmProvider,
    NumberedPosition, Operation, Page, PageRequest, PagingStyle, ProviderKind, Resolution,
    ResolvedUserName, Result, SerialNumber, Unresolved, Url, UserRef,
};
use tokio::sync::Mutex;

use crate::client::{offset_of, JumpCloudClient};
use crate::directory::{Directory, DirectoryBuilder};
use crate::wire::{GraphObject, System};

pub use crate::client::PAGE_SIZE;
pub use mdmkit_core::{JumpCloudConfig, JumpCloudRegion};

/// Group member lists read at once: a few, so a group sync leaves room for other work.
const GROUP_FAN_OUT: usize = 4;

/// User names read one by one (`/api/systemusers/{id}`) rather than through the whole directory, when
/// no more than this many are wanted outside a full listing.
const NAMES_BY_ID_UP_TO: usize = 10;
/// How long resolution calls reuse a directory read (by a listing or an earlier call): the span of one
/// refresh run, whose rows are resolved in batches.
const DIRECTORY_REUSE: Duration = Duration::from_secs(10 * 60);

// The operations, named once for requests and for the errors raised outside the HTTP client.
use crate::client::{OPS, RESOLVE_DEVICE_USERS, RESOLVE_USER_NAMES};

/// JumpCloud lists changes by the agent's last contact.
const CHANGE_TRACKING: ChangeTracking = ChangeTracking::supported(
    "lastContact",
    "each contact of the JumpCloud agent with the service (frequent while the device is online), so a \
     listing holds the devices online since the time asked for; changes made in the console (a user \
     bound or unbound) do not move it",
    Duration::from_secs(300),
);

/// How the systems of a listing learn their bound users: one graph read per system, or one per user
/// read once for the whole listing and inverted. Chosen at the first page that needs it.
#[derive(Debug, Default, Clone)]
enum Bindings {
    #[default]
    Undecided,
    PerSystem,
    /// System id to the users bound to it, with their paths.
    Index(Arc<HashMap<String, Vec<GraphObject>>>),
}

impl Bindings {
    /// The inverted index, when the listing reads its bindings that way.
    fn into_index(self) -> Option<Arc<HashMap<String, Vec<GraphObject>>>> {
        match self {
            Bindings::Index(index) => Some(index),
            Bindings::Undecided | Bindings::PerSystem => None,
        }
    }
}

/// How a batch of systems is turned into devices.
#[derive(Debug, Clone, Copy)]
enum Batch {
    /// A lookup by serial: everything read per system and per user.
    Lookup,
    /// A page of a listing of `total` systems (a full listing, or a listing of changes).
    Listing {
        total: Option<u64>,
        resolution: Resolution,
        changes: bool,
    },
}

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
    directory: Mutex<Option<Directory>>,
    /// When that directory was read: resolution calls reuse one read moments ago (by the listing whose
    /// rows they resolve, or an earlier batch of them) rather than read it again per batch.
    directory_read: std::sync::Mutex<Option<Instant>>,
    /// How the listing in progress reads bindings (reset at offset 0).
    bindings: Mutex<Bindings>,
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
            directory_read: std::sync::Mutex::new(None),
            bindings: Mutex::new(Bindings::Undecided),
        })
    }

    /// The console root requests and links use, e.g. `https://console.eu.jumpcloud.com/`.
    pub fn console_url(&self) -> &Url {
        &self.console
    }

    /// The users bound to each of `ids` by one graph read per system, the client's fan-out at a time.
    async fn bound_per_system(
        &self,
        operation: &'static str,
        ids: Vec<String>,
    ) -> Result<Vec<Vec<GraphObject>>> {
        stream::iter(ids)
            .map(|id| async move { self.client.bound_users(operation, &id).await })
            .buffered(self.client.fan_out())
            .try_collect()
            .await
    }

    /// The listing's way of reading bindings, deciding it when first needed: the user-to-systems index
    /// when the directory holds fewer users than the listing is expected to need graph reads (the
    /// estimate scales this page's share of systems without a primary user to the listing's total),
    /// else one read per system. Fewer than a page's worth of reads never pays for an index.
    async fn bindings_for(
        &self,
        operation: &'static str,
        needing: usize,
        page_len: usize,
        total: Option<u64>,
    ) -> Result<Bindings> {
        let mut bindings = self.bindings.lock().await;
        if !matches!(*bindings, Bindings::Undecided) {
            return Ok(bindings.clone());
        }
        let total = total.unwrap_or(page_len as u64).max(page_len as u64);
        let estimate = (needing as u64 * total).div_ceil(page_len.max(1) as u64);
        if estimate <= u64::from(PAGE_SIZE) {
            *bindings = Bindings::PerSystem;
            return Ok(bindings.clone());
        }
        let directory = self.directory(operation).await?;
        if directory.len() as u64 >= estimate {
            tracing::debug!(
                users = directory.len(),
                estimate,
                "JumpCloud bindings read per system"
            );
            *bindings = Bindings::PerSystem;
            return Ok(bindings.clone());
        }
        // Fewer users than systems to resolve: their ids are the smaller list.
        let users: Vec<String> = directory.ids().map(str::to_owned).collect();
        drop(directory);
        tracing::debug!(
            users = users.len(),
            estimate,
            "JumpCloud bindings read per user (fewer users than systems to resolve)"
        );
        // Each user's rows are turned around as they arrive, not collected first.
        let by_system = stream::iter(users)
            .map(|user| async move {
                let systems = self.client.bound_systems(operation, &user).await?;
                Ok::<_, Error>((user, systems))
            })
            .buffered(self.client.fan_out())
            .try_fold(
                HashMap::new(),
                |mut by_system, (user, systems)| async move {
                    invert_into(&mut by_system, &user, systems);
                    Ok(by_system)
                },
            )
            .await?;
        *bindings = Bindings::Index(Arc::new(by_system));
        Ok(bindings.clone())
    }

    /// The directory of the listing in progress, read on first need.
    async fn directory(
        &self,
        operation: &'static str,
    ) -> Result<tokio::sync::MappedMutexGuard<'_, Directory>> {
        let mut guard = self.directory.lock().await;
        if guard.is_none() {
            let mut users = DirectoryBuilder::default();
            self.client.user_directory(operation, &mut users).await?;
            let users = users.build();
            tracing::debug!(
                users = users.len(),
                bytes = users.heap_bytes(),
                "JumpCloud user directory read"
            );
            *guard = Some(users);
            *self
                .directory_read
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        }
        Ok(tokio::sync::MutexGuard::map(guard, |d| {
            d.get_or_insert_with(Directory::default)
        }))
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
        let mut directory = self.directory(operation).await?;
        for id in wanted {
            if directory.get(id).is_none() {
                tracing::debug!(user_id = %id, "user not in the directory read for this listing");
                let entry = self.user_by_id(operation, id).await?;
                directory.insert(id.clone(), entry);
            }
        }
        Ok(wanted
            .iter()
            .filter_map(|id| directory.get(id).map(|e| (id.clone(), e)))
            .collect())
    }

    /// Names for `wanted` user ids, one read each, the client's fan-out at a time.
    async fn names_by_id(
        &self,
        operation: &'static str,
        wanted: &HashSet<String>,
    ) -> Result<HashMap<String, UserEntry>> {
        stream::iter(wanted.iter().cloned())
            .map(|id| async move {
                let entry = self.user_by_id(operation, &id).await?;
                Ok::<_, Error>((id, entry))
            })
            .buffered(self.client.fan_out())
            .try_collect()
            .await
    }

    async fn user_by_id(&self, operation: &'static str, id: &str) -> Result<UserEntry> {
        Ok(match self.client.system_user(operation, id).await? {
            Some(user) => UserEntry::Known(convert::user_name(&user)),
            None => UserEntry::Missing,
        })
    }

    /// Names for `wanted`: from the directory in a full listing, else by id when few are wanted.
    async fn names(
        &self,
        operation: &'static str,
        wanted: &HashSet<String>,
        use_directory: bool,
    ) -> Result<HashMap<String, UserEntry>> {
        if use_directory {
            self.names_from_directory(operation, wanted).await
        } else {
            self.names_by_id(operation, wanted).await
        }
    }

    /// Systems to devices: who is assigned to each (its primary user, else the graph, else nobody), then
    /// the users' names.
    async fn to_devices(
        &self,
        operation: Operation,
        systems: Vec<System>,
        batch: Batch,
    ) -> Result<Vec<MdmDevice>> {
        let ids: Vec<String> = systems
            .iter()
            .map(convert::system_id)
            .collect::<Result<_>>()
            .map_err(operation.tagger())?;
        // `None` in `deferred` position: the binding was not read.
        let mut user_ids: Vec<Option<String>> =
            systems.iter().map(|s| s.primary_user_id.clone()).collect();
        let needing: Vec<usize> = (0..systems.len())
            .filter(|i| user_ids[*i].is_none())
            .collect();
        let mut deferred = vec![false; systems.len()];
        match batch {
            Batch::Listing {
                resolution: Resolution::Deferred,
                ..
            } => needing.iter().for_each(|i| deferred[*i] = true),
            _ if needing.is_empty() => {}
            _ => {
                let index = match batch {
                    Batch::Listing { total, .. } => self
                        .bindings_for(operation.name(), needing.len(), systems.len(), total)
                        .await?
                        .into_index(),
                    _ => None,
                };
                if let Some(index) = index {
                    for i in &needing {
                        user_ids[*i] = index
                            .get(&ids[*i])
                            .and_then(|bound| convert::assigned_user(bound));
                    }
                } else {
                    let bound = self
                        .bound_per_system(
                            operation.name(),
                            needing.iter().map(|i| ids[*i].clone()).collect(),
                        )
                        .await?;
                    for (i, bound) in needing.iter().zip(bound) {
                        user_ids[*i] = convert::assigned_user(&bound);
                    }
                }
            }
        }
        // A deferred listing of changes leaves the names to the caller too (marked
        // [`Unresolved::UserName`]): a caller with a name cache reads only the users it does not know,
        // rather than every changed system's user or the whole directory.
        let names_deferred = matches!(
            batch,
            Batch::Listing {
                resolution: Resolution::Deferred,
                changes: true,
                ..
            }
        );
        let wanted: HashSet<String> = if names_deferred {
            HashSet::new()
        } else {
            user_ids.iter().flatten().cloned().collect()
        };
        let use_directory = match batch {
            Batch::Lookup => false,
            Batch::Listing { changes, .. } => !changes || wanted.len() > NAMES_BY_ID_UP_TO,
        };
        let names = self.names(operation.name(), &wanted, use_directory).await?;
        systems
            .iter()
            .zip(user_ids)
            .zip(deferred)
            .map(|((system, user_id), deferred)| {
                if names_deferred && user_id.is_some() {
                    let device = convert::device(system, user_id, None)?;
                    return Ok(device.with_unresolved(Unresolved::UserName));
                }
                let (user_id, user_name) =
                    match user_id.and_then(|id| names.get(&id).cloned().map(|entry| (id, entry))) {
                        Some((id, UserEntry::Known(name))) => (Some(id), name),
                        Some((_, UserEntry::Missing)) | None => (None, None),
                    };
                let device = convert::device(system, user_id, user_name)?;
                Ok(if deferred {
                    device.with_unresolved(Unresolved::User)
                } else {
                    device
                })
            })
            .collect::<Result<Vec<_>>>()
            .map_err(operation.tagger())
    }

    /// Names for a resolution call: by id when a few are wanted, else from the directory, read again
    /// unless read within [`DIRECTORY_REUSE`] (names as of now, not as of yesterday's listing, but not a
    /// read of the whole directory per batch of a refresh).
    async fn resolution_names(
        &self,
        operation: &'static str,
        wanted: &HashSet<String>,
    ) -> Result<HashMap<String, UserEntry>> {
        let use_directory = wanted.len() > NAMES_BY_ID_UP_TO;
        if use_directory {
            let read = *self
                .directory_read
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if read.is_none_or(|at| at.elapsed() > DIRECTORY_REUSE) {
                *self.directory.lock().await = None;
            }
        }
        self.names(operation, wanted, use_directory).await
    }

    /// Starts a new listing: the directory and the binding strategy are read afresh.
    async fn start_listing(&self) {
        *self.directory.lock().await = None;
        *self.bindings.lock().await = Bindings::Undecided;
    }

    /// A page of systems as devices.
    async fn listing_page(
        &self,
        operation: Operation,
        offset: u64,
        limit: u32,
        filter: Option<&str>,
        resolution: Resolution,
    ) -> Result<(Page<System>, Vec<MdmDevice>)> {
        if offset == 0 {
            self.start_listing().await;
        }
        let page = self
            .client
            .systems_page(operation.name(), offset, limit, filter)
            .await?;
        let devices = self
            .to_devices(
                operation,
                page.items.clone(),
                Batch::Listing {
                    total: page.info.total,
                    resolution,
                    changes: filter.is_some(),
                },
            )
            .await?;
        Ok((page, devices))
    }
}

/// One user's user-to-systems rows, turned around into `by_system`: for each system, the users bound to
/// it with their paths (a path's length, and so whether the binding is direct, reads the same both ways).
fn invert_into(
    by_system: &mut HashMap<String, Vec<GraphObject>>,
    user: &str,
    systems: Vec<GraphObject>,
) {
    for row in systems.into_iter().filter(|r| r.is("system")) {
        if let Some(system) = row.object_id() {
            by_system
                .entry(system.to_owned())
                .or_default()
                .push(GraphObject {
                    id: Some(user.to_owned()),
                    kind: Some("user".to_owned()),
                    paths: row.paths,
                });
        }
    }
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
        if let Err(e) = self
            .client
            .systems_page(OPS.validate.name(), 0, 1, None)
            .await
        {
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
            .systems_by_serial(OPS.device_by_serial.name(), serial.as_str())
            .await?;
        let exact: Vec<System> = serial
            .exact_matches(systems, |s| s.serial_number.as_deref())
            .collect();
        self.to_devices(OPS.device_by_serial, exact, Batch::Lookup)
            .await
    }

    fn device_paging(&self) -> PagingStyle {
        PagingStyle::Offset { limit: PAGE_SIZE }
    }

    /// One page of `GET /api/systems?limit&skip&sort=_id`; the page reports JumpCloud's `totalCount`.
    /// The page at offset 0 starts a new listing and drops the previous listing's user directory.
    /// With [`Resolution::Deferred`], systems without a primary user are not looked up in the graph:
    /// they come marked [`Unresolved::User`] for [`MdmProvider::resolve_device_users`].
    async fn list_devices_page_with(
        &self,
        request: &PageRequest,
        resolution: Resolution,
    ) -> Result<Page<MdmDevice>> {
        let (offset, limit) = offset_of(request).map_err(OPS.list_devices.tagger())?;
        let (page, devices) = self
            .listing_page(OPS.list_devices, offset, limit, None, resolution)
            .await?;
        Ok(Page::new(devices, page.info))
    }

    /// The listing with every user resolved ([`Resolution::Inline`]).
    async fn list_devices_page(&self, request: &PageRequest) -> Result<Page<MdmDevice>> {
        self.list_devices_page_with(request, Resolution::Inline)
            .await
    }

    fn change_tracking(&self) -> ChangeTracking {
        CHANGE_TRACKING
    }

    /// `GET /api/systems?filter=lastContact:$gte:<since>&sort=_id`, 100 a page; every row's
    /// `lastContact` is checked, and a row before `since` (the filter was not applied) makes the
    /// listing a full one ([`mdmkit_core::Coverage::Everything`]).
    async fn list_changed_devices_page(&self, request: &ChangesRequest) -> Result<ChangesPage> {
        let position = NumberedPosition::from_cursor(request.cursor.as_ref())
            .map_err(OPS.list_changed_devices.tagger())?;
        let filter = format!("lastContact:$gte:{}", rfc3339_millis(request.since));
        let (page, devices) = self
            .listing_page(
                OPS.list_changed_devices,
                position.next,
                PAGE_SIZE,
                Some(&filter),
                request.resolution,
            )
            .await?;
        let next = position.after_page(page.items.len(), PAGE_SIZE, page.info.total, true);
        let contacts = page.items.iter().map(|s| s.last_contact.as_deref());
        Ok(filtered_changes_page(
            ProviderKind::JumpCloud,
            devices,
            next,
            contacts,
            |t| t >= request.since,
        ))
    }

    /// One graph read per device (`/api/v2/systems/{id}/users`), at the client's concurrency; the users'
    /// names by id when few, else from the directory. A device JumpCloud no longer has is left out.
    async fn resolve_device_users(&self, device_ids: &[String]) -> Result<Vec<DeviceUser>> {
        let bound: Vec<(String, Option<Option<String>>)> = stream::iter(device_ids.iter().cloned())
            .map(|id| async move {
                match self
                    .client
                    .bound_users(RESOLVE_DEVICE_USERS.name(), &id)
                    .await
                {
                    Ok(bound) => Ok((id, Some(convert::assigned_user(&bound)))),
                    Err(e) if e.kind() == ErrorKind::NotFound => Ok((id, None)),
                    Err(e) => Err(e),
                }
            })
            .buffered(self.client.fan_out())
            .try_collect()
            .await?;
        let wanted: HashSet<String> = bound
            .iter()
            .filter_map(|(_, user)| user.clone().flatten())
            .collect();
        let names = self
            .resolution_names(RESOLVE_DEVICE_USERS.name(), &wanted)
            .await?;
        Ok(bound
            .into_iter()
            .filter_map(|(device, user)| {
                let user = user?;
                let (user_id, name) =
                    match user.and_then(|u| names.get(&u).cloned().map(|e| (u, e))) {
                        Some((id, UserEntry::Known(name))) => (Some(id), name),
                        _ => (None, None),
                    };
                Some(DeviceUser::new(device, user_id, name))
            })
            .collect())
    }

    /// Names of users a deferred listing of changes left unread: by id when a few are wanted, else from a
    /// fresh read of the directory. Users JumpCloud no longer has are left out.
    async fn resolve_user_names(&self, users: &[UserRef]) -> Result<Vec<ResolvedUserName>> {
        let wanted: HashSet<String> = users.iter().map(|u| u.user_id.clone()).collect();
        let names = self
            .resolution_names(RESOLVE_USER_NAMES.name(), &wanted)
            .await?;
        Ok(names
            .into_iter()
            .filter_map(|(id, entry)| match entry {
                UserEntry::Known(name) => Some(ResolvedUserName::new(id, name)),
                UserEntry::Missing => None,
            })
            .collect())
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
            .buffered(GROUP_FAN_OUT)
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
