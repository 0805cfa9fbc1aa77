//! Storage, pluggable: four small object-safe traits for what a backend already keeps, and [`Stores`] to
//! hand them to the engine together.
//!
//! The traits are narrow on purpose. Each write names exactly what it changes (`record_checks`,
//! `record_group_sync_attempt`, …) instead of "load, edit, save the whole row", so two writers (a sync and
//! an embedder changing the plan) never overwrite each other's fields.
//!
//! # Rules every implementation keeps
//!
//! - **Leases are judged by the store's clock** ([`SyncStateStore::try_acquire_lease`] takes a time to live,
//!   not an instant), and every acquisition increments the lease's fencing number ([`Fence`]).
//! - **Every write the engine makes under a lease presents its fence** and is refused with
//!   [`StoreError::stale_fence`] when the fence is no longer current; the check and the write happen in one
//!   statement or transaction, so no write slips in after a takeover.
//! - **Multi-step changes are atomic**: [`CredentialStore::save_connection`],
//!   [`CredentialStore::remove_connection`], [`DeviceStore::record_checks`] and
//!   [`GroupStore::apply_group_changes`] either happen whole or not at all. `save_connection` and
//!   `remove_connection` change devices, groups and sync state too, so the four traits must be implemented
//!   over one database ([`Stores::from_one`]).
//! - **Reads page**: device listings take a [`Paging`] and return a [`DevicePage`].
//!
//! Implementations must pass [`crate::storage_suite`] unchanged. [`crate::MemoryStore`] is the reference;
//! the `mdmkit-sqlx` crate has SQLite and PostgreSQL stores.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mdmkit_core::SerialNumber;

use crate::error::StoreError;
use crate::lookup_cache::LookupCacheStore;
use crate::marks::MarkStore;
use crate::model::{
    ConnectionChange, ConnectionRemoved, DeviceCheck, DevicePage, DeviceRecord, Fence,
    GroupChanges, GroupId, GroupRecord, Lease, LeaseOutcome, NewGroup, Paging, Plan,
    SealedCredentials, WorkspaceId, WorkspaceState,
};

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One encrypted credentials record per workspace (R3), and the changes that go with connecting and
/// disconnecting. The store never sees plaintext.
#[async_trait]
pub trait CredentialStore: Debug + Send + Sync + 'static {
    /// The workspace's record, if it is connected.
    async fn load_credentials(
        &self,
        workspace: &WorkspaceId,
    ) -> StoreResult<Option<SealedCredentials>>;
    /// Every workspace with a record, sorted (the scheduler's work list).
    async fn connected_workspaces(&self) -> StoreResult<Vec<WorkspaceId>>;
    /// In one transaction under `fence`: replaces the workspace's record and applies `change` (clears every
    /// device's metadata and check time and marks a refresh pending, R9; marks a group sync pending, R10). Returns the number of
    /// devices cleared. On any failure nothing is changed, so a retry sees the old record and does the
    /// whole change again.
    async fn save_connection(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        record: SealedCredentials,
        change: ConnectionChange,
    ) -> StoreResult<usize>;
    /// In one transaction under `fence`: deletes the record, clears every device's metadata and check
    /// time, detaches every synced group (removes its link, keeps its name and members) and clears the
    /// pending group sync and pending refresh. On any failure nothing is changed.
    async fn remove_connection(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
    ) -> StoreResult<ConnectionRemoved>;
}

/// The workspace's devices, their MDM metadata (R4) and when it was last fetched (R5).
#[async_trait]
pub trait DeviceStore: Debug + Send + Sync + 'static {
    /// Adds devices (never checked, so due at once) in one transaction; devices that already exist are
    /// left unchanged. Returns how many were new.
    async fn add_devices(
        &self,
        workspace: &WorkspaceId,
        serials: &[SerialNumber],
    ) -> StoreResult<usize>;
    /// Adds one device; `false` if it already existed (left unchanged).
    async fn add_device(
        &self,
        workspace: &WorkspaceId,
        serial: &SerialNumber,
    ) -> StoreResult<bool> {
        Ok(self
            .add_devices(workspace, std::slice::from_ref(serial))
            .await?
            == 1)
    }
    /// Removes a device; `true` if it existed.
    async fn remove_device(
        &self,
        workspace: &WorkspaceId,
        serial: &SerialNumber,
    ) -> StoreResult<bool>;
    /// One device.
    async fn device(
        &self,
        workspace: &WorkspaceId,
        serial: &SerialNumber,
    ) -> StoreResult<Option<DeviceRecord>>;
    /// A page of the workspace's devices, sorted by serial.
    async fn devices(&self, workspace: &WorkspaceId, page: Paging) -> StoreResult<DevicePage>;
    /// How many devices the workspace has (the refresh strategy's estimate of the fleet).
    async fn device_count(&self, workspace: &WorkspaceId) -> StoreResult<u64>;
    /// A page of the devices never checked or last checked at or before `checked_at_or_before`, sorted by
    /// serial.
    async fn devices_due(
        &self,
        workspace: &WorkspaceId,
        checked_at_or_before: DateTime<Utc>,
        page: Paging,
    ) -> StoreResult<DevicePage>;
    /// How many devices [`DeviceStore::devices_due`] would return in all.
    async fn count_due(
        &self,
        workspace: &WorkspaceId,
        checked_at_or_before: DateTime<Utc>,
    ) -> StoreResult<u64>;
    /// Whether any device is due (the scheduler's question: an existence test, no rows loaded).
    async fn any_due(
        &self,
        workspace: &WorkspaceId,
        checked_at_or_before: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(self.count_due(workspace, checked_at_or_before).await? > 0)
    }
    /// Devices whose serial or MDM display name contains `query`, case-insensitively (R6), a page sorted
    /// by serial. Surrounding whitespace of the query is ignored; an empty query matches every device.
    async fn search_devices(
        &self,
        workspace: &WorkspaceId,
        query: &str,
        page: Paging,
    ) -> StoreResult<DevicePage>;
    /// Stores the MDM's definite answers about devices (metadata, `None` for unknown or ambiguous, and the
    /// check time) in one transaction under `fence`: all or none. Devices that no longer exist are skipped
    /// (nothing is created). Returns the number of devices written.
    async fn record_checks(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        checks: &[DeviceCheck],
    ) -> StoreResult<usize>;
}

/// The workspace's device groups, manual and synced (R12).
#[async_trait]
pub trait GroupStore: Debug + Send + Sync + 'static {
    /// Every group of the workspace, sorted by name, then by creation.
    async fn groups(&self, workspace: &WorkspaceId) -> StoreResult<Vec<GroupRecord>>;
    /// One group.
    async fn group(
        &self,
        workspace: &WorkspaceId,
        id: &GroupId,
    ) -> StoreResult<Option<GroupRecord>>;
    /// Creates a group (the embedder's own, typically manual); the store assigns its id.
    async fn create_group(
        &self,
        workspace: &WorkspaceId,
        group: NewGroup,
    ) -> StoreResult<GroupRecord>;
    /// Replaces name, link and members of an existing group; a [`crate::StoreErrorKind::NotFound`] error if
    /// it does not exist in the workspace.
    async fn update_group(&self, workspace: &WorkspaceId, group: &GroupRecord) -> StoreResult<()>;
    /// Deletes a group; `true` if it existed.
    async fn delete_group(&self, workspace: &WorkspaceId, id: &GroupId) -> StoreResult<bool>;
    /// A group sync's writes, in one transaction under `fence`: all or none. An update naming a group that
    /// no longer exists fails the whole change.
    async fn apply_group_changes(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        changes: GroupChanges,
    ) -> StoreResult<()>;
}

/// Per-workspace sync state: plan, last runs, pending work and the lease.
#[async_trait]
pub trait SyncStateStore: Debug + Send + Sync + 'static {
    /// The workspace's state; [`WorkspaceState::default`] for a workspace never seen. `lease` is the
    /// current holder's lease, possibly expired, `None` once released.
    async fn sync_state(&self, workspace: &WorkspaceId) -> StoreResult<WorkspaceState>;
    /// Sets the plan (the embedder's write: no lease needed).
    async fn set_plan(&self, workspace: &WorkspaceId, plan: Plan) -> StoreResult<()>;
    /// Under `fence`: records that a refresh run started at `at`; `mdm_device_count` replaces the stored
    /// estimate when given (a complete bulk listing), otherwise it is kept.
    async fn record_refresh(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
        mdm_device_count: Option<u64>,
    ) -> StoreResult<()>;
    /// Under `fence`: records a group sync attempt started at `at`; on success also the last successful
    /// sync, and the pending flag is cleared.
    async fn record_group_sync_attempt(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> StoreResult<()>;
    /// Under `fence`: records a manual group sync request at `at` (the cooldown runs from it).
    async fn record_manual_group_sync(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Under `fence`: sets or clears the pending group sync.
    async fn set_group_sync_pending(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        pending: bool,
    ) -> StoreResult<()>;
    /// Under `fence`: sets or clears "the device metadata is not current for the connection"
    /// ([`WorkspaceState::refresh_pending`]). Setting it also forgets `mdm_device_count`: that count
    /// described the previous connection's MDM.
    async fn set_refresh_pending(
        &self,
        workspace: &WorkspaceId,
        fence: Fence,
        pending: bool,
    ) -> StoreResult<()>;
    /// Atomically takes the lease for `owner` for `ttl` if nobody holds it or the holder's lease has
    /// expired, both judged by the store's clock; each acquisition increments the fencing number. Must be
    /// atomic across every process sharing the store.
    async fn try_acquire_lease(
        &self,
        workspace: &WorkspaceId,
        owner: &str,
        ttl: Duration,
    ) -> StoreResult<LeaseOutcome>;
    /// Extends `lease` to `ttl` from the store's now if it is still the current one (same owner and fence,
    /// even if expired but not taken over); `None` if it was lost.
    async fn renew_lease(
        &self,
        workspace: &WorkspaceId,
        lease: &Lease,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>>;
    /// Releases `lease` if it is still the current one; `false` if it had been taken over. The fencing
    /// number is kept, so writes under the released lease are refused.
    async fn release_lease(&self, workspace: &WorkspaceId, lease: &Lease) -> StoreResult<bool>;
}

/// A point between two steps of a multi-step store operation. Stores report each one to their
/// [`StepHook`], which lets tests fail the operation there and check that nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// `save_connection`: the credentials record was written.
    ConnectionSaved,
    /// `save_connection`: device metadata was cleared.
    ConnectMetadataCleared,
    /// `remove_connection`: the credentials record was deleted.
    ConnectionDeleted,
    /// `remove_connection`: device metadata was cleared.
    DisconnectMetadataCleared,
    /// `remove_connection`: synced groups were detached.
    GroupsDetached,
    /// `record_checks`: part of the checks was written.
    ChecksPartlyWritten,
    /// `apply_group_changes`: the new groups were created.
    GroupsCreated,
}

impl Step {
    /// The steps of `save_connection`, in order.
    pub const CONNECT: [Step; 2] = [Step::ConnectionSaved, Step::ConnectMetadataCleared];
    /// The steps of `remove_connection`, in order.
    pub const DISCONNECT: [Step; 3] = [
        Step::ConnectionDeleted,
        Step::DisconnectMetadataCleared,
        Step::GroupsDetached,
    ];
}

/// Told about every [`Step`] of a multi-step operation while its transaction is open; an error aborts the
/// operation (and rolls the transaction back). Production stores have none; tests inject faults with one.
pub trait StepHook: Debug + Send + Sync + 'static {
    /// Called after `step`; an error fails the operation.
    fn after(&self, step: Step) -> StoreResult<()>;
}

/// Runs the hook, if any.
pub fn check_step(hook: Option<&Arc<dyn StepHook>>, step: Step) -> StoreResult<()> {
    hook.map_or(Ok(()), |h| h.after(step))
}

/// The stores the engine works with, over one database (see the module docs on atomicity).
#[derive(Debug, Clone)]
pub struct Stores {
    /// Encrypted credentials.
    pub credentials: Arc<dyn CredentialStore>,
    /// Devices and their metadata.
    pub devices: Arc<dyn DeviceStore>,
    /// Groups.
    pub groups: Arc<dyn GroupStore>,
    /// Sync state and leases.
    pub state: Arc<dyn SyncStateStore>,
    /// Lookup caches ([`crate::lookup_cache`]).
    pub lookups: Arc<dyn LookupCacheStore>,
    /// Incremental-read marks (device watermark, group delta link).
    pub marks: Arc<dyn MarkStore>,
}

impl Stores {
    /// All of them from one value that implements every trait.
    pub fn from_one<S>(store: Arc<S>) -> Stores
    where
        S: CredentialStore
            + DeviceStore
            + GroupStore
            + SyncStateStore
            + MarkStore
            + LookupCacheStore,
    {
        Stores {
            credentials: store.clone(),
            devices: store.clone(),
            groups: store.clone(),
            state: store.clone(),
            marks: store.clone(),
            lookups: store,
        }
    }
}
