//! # mdmkit-sync
//!
//! The orchestration that turns MDM providers into product behaviour: validate-before-save, encrypted
//! credentials, metadata refreshed at most once a day, group sync on a schedule, over pluggable storage.
//! It knows no wire format and no concrete provider: providers come from an injected [`ProviderFactory`],
//! storage from four small traits ([`Stores`]: the [`MemoryStore`] here for tests, SQLite and PostgreSQL
//! in `mdmkit-sqlx`, or a backend's own tables), time from a [`Clock`]. The product rules it keeps are
//! cited by number (R3, R5, R8–R10, R12); what they say is summarised in
//! [`mdmkit_core`'s docs](mdmkit_core#product-rules).
//!
//! A backend adds the `mdmkit` facade, whose `sync` feature (on by default) re-exports this crate as
//! `mdmkit::sync` and supplies the real factory: `mdmkit::provider_factory(ClientOptions::default())`.
//! The example below, written as such a backend would, plugs in a stand-in MDM instead, which is how a
//! backend's own tests run without a network.
//!
//! ```
//! use std::sync::Arc;
//! use mdmkit::sync::{MdmSync, Plan, Stores, SystemClock, Vault, WorkspaceId};
//! use mdmkit::{async_trait, FleetConfig, MdmDevice, MdmGroup, MdmProvider, Page, PageInfo,
//!     PageRequest, PagingStyle, ProviderConfig, ProviderKind, RequestCosts, SerialNumber, Url};
//!
//! // A stand-in MDM with one Mac.
//! #[derive(Debug)]
//! struct OneMac;
//! #[async_trait]
//! impl MdmProvider for OneMac {
//!     fn kind(&self) -> ProviderKind { ProviderKind::Fleet }
//!     async fn validate(&self) -> mdmkit::Result<()> { Ok(()) }
//!     async fn devices_by_serial(&self, s: &SerialNumber) -> mdmkit::Result<Vec<MdmDevice>> {
//!         Ok(vec![MdmDevice::new("42", Some(s.clone()), Some("Studio Mac".into()),
//!             Some("u7".into()), Some("Ada Lovelace".into()))])
//!     }
//!     fn device_paging(&self) -> PagingStyle { PagingStyle::Offset { limit: 100 } }
//!     async fn list_devices_page(&self, _: &PageRequest) -> mdmkit::Result<Page<MdmDevice>> {
//!         Ok(Page::new(vec![], PageInfo::default()))
//!     }
//!     async fn groups(&self) -> mdmkit::Result<Vec<MdmGroup>> { Ok(vec![]) }
//!     fn device_url(&self, id: &str) -> Option<Url> {
//!         Url::parse(&format!("https://fleet.example.com/hosts/{id}")).ok()
//!     }
//!     fn request_count(&self) -> u64 { 0 }
//!     fn request_costs(&self) -> RequestCosts { RequestCosts::PAGES_CARRY_EVERYTHING }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any `Fn(&ProviderConfig) -> mdmkit::Result<Arc<dyn MdmProvider>>` is a factory.
//! let factory = |_: &ProviderConfig| -> mdmkit::Result<Arc<dyn MdmProvider>> { Ok(Arc::new(OneMac)) };
//! let vault = Vault::new("2026-01", &*Vault::generate_key()?)?; // or Vault::from_env("MDMKIT_KEYS")
//! let sync = MdmSync::new(Arc::new(factory), vault, Stores::memory(), Arc::new(SystemClock));
//!
//! let ws = WorkspaceId::new("acme");
//! sync.set_plan(&ws, Plan::Pro).await?;
//! sync.add_device(&ws, &SerialNumber::parse("c02zc2qylvdl")?).await?;
//!
//! // Validates, encrypts and saves, then fetches metadata and syncs groups because the connection is new.
//! let config = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "token")?);
//! let report = sync.connect(&ws, config).await?;
//! assert!(report.connection_changed);
//!
//! let found = sync.search(&ws, "lovelace").await?;
//! assert_eq!(found[0].display_name.as_deref(), Some("Ada Lovelace"));
//! let link = found[0].link.as_ref().unwrap();
//! assert_eq!(link.label, "View on Fleet");
//! assert_eq!(link.url.as_str(), "https://fleet.example.com/hosts/42");
//! # Ok(()) }
//! ```
//!
//! ## Where each product rule lives
//!
//! | rule | here |
//! |---|---|
//! | R3 credentials encrypted at rest, bound to the workspace, keys rotate | [`Vault`], [`SealedCredentials`] |
//! | R4 device ID, user ID, display name per serial | [`MdmMetadata`], [`MdmSync::refresh_due`] |
//! | R5 at most once per day | [`DeviceRecord::is_due`], [`SyncConfig::refresh_interval`] |
//! | R6 display name searchable with the serial | [`MdmSync::search`], [`DeviceStore::search_devices`] |
//! | R7 "View on &lt;provider&gt;" | [`DeviceView::link`] |
//! | R8 test call before save, six categories | [`MdmSync::connect`], [`Error::category`] |
//! | R9 credentials change → metadata cleared and refetched | [`MdmSync::connect`] |
//! | R10 plans, 6 h, 15 min cooldown, at once on change, one at a time | [`groups`], [`Scheduler`] |
//! | R11 what a group is per provider | the provider crates' `groups()` |
//! | R12 reconcile: create, overwrite, match by device ID, detach | [`groups`] |
//!
//! ## Decisions
//!
//! - **Connecting.** The configuration's own checks ([`mdmkit_core::ProviderConfig::validated`]) run first,
//!   so a missing credential fails with its message before any request. Validation runs before anything
//!   else and outside the lease, so bad credentials get
//!   their R8 category at once and nothing is written. Saving then takes the workspace's lease: credentials
//!   never change under a running sync (which could otherwise write the old MDM's metadata after the
//!   reset); while a sync runs, `connect` fails with [`Error::AlreadyRunning`] and saves nothing. "Provider
//!   set or changed" (R10) is read as "connection changed" (provider, host, tenant or any secret,
//!   [`mdmkit_core::ProviderConfig::same_connection`]): a new host or tenant is a different MDM, and a
//!   rotated secret costs one extra sync. After a change, `connect` refreshes before the group sync, because
//!   membership is matched by the MDM device IDs that R9 just cleared. Saving the credentials, clearing the
//!   metadata and marking the refresh and group sync pending are one store transaction
//!   ([`CredentialStore::save_connection`]): a failure half-way leaves the previous connection whole, and a
//!   retried `connect` still sees the change and completes it.
//! - **Metadata current for the connection.** A change sets [`WorkspaceState::refresh_pending`] (in the
//!   store, next to `group_sync_pending`); only a *complete* refresh ([`RefreshReport::is_complete`]: no
//!   error, not aborted, no suspicious listing, so every due device got a definite answer) clears it. While
//!   it is set no group sync runs, whoever asks (`connect`, the scheduler, a person:
//!   [`Error::RefreshPending`]): matching members against cleared metadata would empty every synced group.
//!   So when the MDM fails the refresh after a change, groups keep their members, the sync stays pending,
//!   and the scheduler retries the refresh every [`SyncConfig::group_sync_retry_after`] and runs the sync in
//!   the turn whose refresh completes. A device whose lookup keeps failing therefore holds the sync back; the
//!   refresh report names it.
//! - **Disconnecting** deletes the credentials, clears device metadata, detaches synced groups and drops
//!   pending work, in one store transaction ([`CredentialStore::remove_connection`]).
//! - **Plan** defaults to Free, so a workspace whose plan was never set is never group-synced by accident.
//! - **Refresh strategy, outcomes, duplicates**: see [`refresh`]. Lookups unless they would cost more
//!   requests than one bulk listing, from the provider's [`mdmkit_core::RequestCosts`] (commonly
//!   `due <= ceil(M / p)` → lookups). Duplicate serials (different MDM device IDs; one ID listed twice is
//!   one device) clear the device's metadata, stamp the check and are listed in the report; they are never
//!   matched to one of the devices. A complete listing that comes back empty, or under half the last one
//!   ([`SHRINK_CHECK_MIN_DEVICES`]), while devices hold metadata writes nothing and is reported
//!   ([`SuspiciousListing`]); a second listing that agrees is believed.
//! - **Group identity** is provider + MDM account + MDM group id ([`ProviderLink`], [`mdmkit_core::ProviderConfig::account_key`]): a new
//!   server of the same provider never inherits the old server's groups (and their policies) through an id
//!   that happens to repeat; a rotated secret keeps the groups linked.
//! - **Name collisions**: manual groups win and are never touched; the synced group becomes
//!   `Name (Provider)`; see [`groups`].
//! - **Lease.** One per workspace, held by connect, disconnect, refresh and group sync alike (so a refresh
//!   and a group sync never interleave), shared by every replica through the store. Its expiry is judged by
//!   the store's clock, never the caller's, so replicas with skewed clocks agree on the holder. It has a
//!   time to live ([`SyncConfig::lease_ttl`]), is renewed in the background every third of it while the run
//!   lives (also during one long MDM call), and is taken over once expired, so a crashed worker blocks a
//!   workspace for at most one TTL. Each acquisition increments the lease's [`Fence`]; every write under
//!   the lease presents it and the store refuses a stale one, so a run whose lease was taken over (it
//!   paused, or a renewal failed) writes nothing more: it stops with [`Error::LeaseLost`]. Scheduled runs
//!   decide again under the lease whether their job is still due, so two replicas never run one job twice.
//!   Busy callers get [`Error::AlreadyRunning`] with the expiry; nobody waits. A run stopped half-way
//!   (its deadline passed, it panicked, its caller dropped it) gives the lease back from a spawned task, so
//!   `connect` is not refused for a TTL after a slow MDM was cut off.
//! - **Isolation between tenants.** The scheduler runs each workspace in its own task with a deadline
//!   ([`SchedulerConfig::run_deadline`]; an overrun is [`Error::DeadlineExceeded`], an R8 Server error),
//!   catches panics ([`Error::RunPanicked`]), and backs a workspace that keeps failing off exponentially, in
//!   memory per scheduler; see [`Scheduler`]. The engine has no request limit per provider kind: limits
//!   belong to each MDM server and the providers' HTTP clients enforce them there, so one tenant's slow Jamf
//!   never takes another tenant's Jamf requests.
//! - **Secrets** are decrypted only to build a provider, live in `SecretString`s, and never reach `Debug`,
//!   logs or errors; logs carry workspace ids, provider names, counts and error categories. The vault is
//!   the one caller of [`mdmkit_core::ProviderConfig::expose_secrets`]; `tests/canary.rs` proves the rest
//!   for every provider, with every log line recorded at TRACE.
//! - **Keys** come from `MDMKIT_KEYS` ([`Vault::from_env`]); [`Vault::generate_key_entry`] (or
//!   `mdmkit keygen`) makes an entry, and the README's "Vault keys and rotation" gives the rotation steps.
#![deny(missing_docs)]

mod clock;
mod engine;
mod error;
pub mod groups;
mod lease;
pub mod lookup_cache;
mod marks;
mod memory;
mod model;
mod provider;
pub mod refresh;
mod reports;
mod scheduler;
pub mod storage_suite;
mod store;
mod vault;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::{ConnectionInfo, DeviceView, MdmSync, SyncConfig};
pub use error::{Error, Result, StoreError, StoreErrorKind, VaultError};
pub use groups::{GroupSyncOutcome, GroupSyncReport, GroupSyncTrigger, NameCollision};
pub use lookup_cache::{LookupCacheConfig, LookupCacheStore, LookupEntry, LookupKind, LookupStats};
pub use marks::{MarkStore, SyncMarks};
/// Re-exported from `mdmkit-core`: the one console-link type of every layer.
pub use mdmkit_core::DeviceLink;
pub use memory::MemoryStore;
pub use model::{
    ConnectionChange, ConnectionRemoved, DeviceCheck, DevicePage, DeviceRecord, Fence,
    GroupChanges, GroupId, GroupRecord, Lease, LeaseOutcome, MdmMetadata, NewGroup, Paging, Plan,
    ProviderLink, SealedCredentials, WorkspaceId, WorkspaceState,
};
pub use provider::ProviderFactory;
pub use refresh::{
    bulk_listing_requests, choose_strategy, choose_strategy_with, strategy_requests,
    DuplicateSerial, RefreshReport, RunError, Strategy, SuspiciousListing,
    SHRINK_CHECK_MIN_DEVICES,
};
pub use reports::{ConnectReport, DisconnectReport, RefreshOutcome};
pub use scheduler::{Scheduler, SchedulerConfig, TickReport, WorkspaceRun};
pub use store::{
    check_step, CredentialStore, DeviceStore, GroupStore, Step, StepHook, StoreResult, Stores,
    SyncStateStore,
};
pub use vault::{Vault, KEY_LEN};
