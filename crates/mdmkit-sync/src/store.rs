//! Storage, pluggable: four small object-safe traits for what a backend already keeps, and [`Stores`] to
//! hand them to the engine together.
//!
//! The traits are narrow on purpose. Each write names exactly what it changes (`record_check`,
//! `record_group_sync_attempt`, …) instead of "load, edit, save the whole row", so two writers (a sync and
//! an embedder changing the plan) never overwrite each other's fields. The only operations that must be
//! atomic are the lease operations of [`SyncStateStore`]; everything else the engine writes while it holds
//! the workspace's lease.
//!
//! Implementations must pass [`crate::storage_suite`] unchanged. [`crate::MemoryStore`] is the embedded
//! default.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mdmkit_core::SerialNumber;

use crate::error::StoreError;
use crate::memory::MemoryStore;
use crate::model::{
    DeviceRecord, GroupId, GroupRecord, Lease, LeaseOutcome, MdmMetadata, NewGroup, Plan,
    SealedCredentials, WorkspaceId, WorkspaceState,
};

/// Result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;

/// One encrypted credentials record per workspace (R3). The store never sees plaintext.
#[async_trait]
pub trait CredentialStore: Debug + Send + Sync + 'static {
    /// The workspace's record, if it is connected.
    async fn load_credentials(
        &self,
        workspace: &WorkspaceId,
    ) -> StoreResult<Option<SealedCredentials>>;
    /// Replaces the workspace's record.
    async fn save_credentials(
        &self,
        workspace: &WorkspaceId,
        record: SealedCredentials,
    ) -> StoreResult<()>;
    /// Deletes the record; `true` if there was one.
    async fn delete_credentials(&self, workspace: &WorkspaceId) -> StoreResult<bool>;
    /// Every workspace with a record, sorted (the scheduler's work list).
    async fn connected_workspaces(&self) -> StoreResult<Vec<WorkspaceId>>;
}

/// The workspace's devices, their MDM metadata (R4) and when it was last fetched (R5).
#[async_trait]
pub trait DeviceStore: Debug + Send + Sync + 'static {
    /// Adds a device (never checked, so due at once); `false` if it already existed (left unchanged).
    async fn add_device(&self, workspace: &WorkspaceId, serial: &SerialNumber)
        -> StoreResult<bool>;
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
    /// Every device of the workspace, sorted by serial.
    async fn devices(&self, workspace: &WorkspaceId) -> StoreResult<Vec<DeviceRecord>>;
    /// Devices never checked or last checked at or before `checked_at_or_before`, sorted by serial.
    async fn devices_due(
        &self,
        workspace: &WorkspaceId,
        checked_at_or_before: DateTime<Utc>,
    ) -> StoreResult<Vec<DeviceRecord>>;
    /// Stores the MDM's definite answer about a device: its metadata (`None`: unknown to the MDM, or
    /// ambiguous) and the time of the check. `false` if the device no longer exists (nothing written).
    async fn record_check(
        &self,
        workspace: &WorkspaceId,
        serial: &SerialNumber,
        metadata: Option<MdmMetadata>,
        checked_at: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Clears the metadata and check time of every device of the workspace, so all are due (R9). Returns
    /// the number of devices.
    async fn reset_metadata(&self, workspace: &WorkspaceId) -> StoreResult<usize>;
    /// Devices whose serial or MDM display name contains `query`, case-insensitively (R6), sorted by
    /// serial. Surrounding whitespace of the query is ignored; an empty query matches every device.
    async fn search_devices(
        &self,
        workspace: &WorkspaceId,
        query: &str,
    ) -> StoreResult<Vec<DeviceRecord>>;
}

/// The workspace's device groups, manual and synced (R12).
#[async_trait]
pub trait GroupStore: Debug + Send + Sync + 'static {
    /// Every group of the workspace, sorted by name then id.
    async fn groups(&self, workspace: &WorkspaceId) -> StoreResult<Vec<GroupRecord>>;
    /// One group.
    async fn group(
        &self,
        workspace: &WorkspaceId,
        id: &GroupId,
    ) -> StoreResult<Option<GroupRecord>>;
    /// Creates a group; the store assigns its id (unique within the store).
    async fn create_group(
        &self,
        workspace: &WorkspaceId,
        group: NewGroup,
    ) -> StoreResult<GroupRecord>;
    /// Replaces name, link and members of an existing group; an error if it does not exist.
    async fn update_group(&self, workspace: &WorkspaceId, group: &GroupRecord) -> StoreResult<()>;
    /// Deletes a group; `true` if it existed.
    async fn delete_group(&self, workspace: &WorkspaceId, id: &GroupId) -> StoreResult<bool>;
}

/// Per-workspace sync state: plan, last runs, pending work and the lease.
#[async_trait]
pub trait SyncStateStore: Debug + Send + Sync + 'static {
    /// The workspace's state; [`WorkspaceState::default`] for a workspace never seen.
    async fn sync_state(&self, workspace: &WorkspaceId) -> StoreResult<WorkspaceState>;
    /// Sets the plan.
    async fn set_plan(&self, workspace: &WorkspaceId, plan: Plan) -> StoreResult<()>;
    /// Records that a refresh run started at `at`; `mdm_device_count` replaces the stored estimate when
    /// given (a complete bulk listing), otherwise it is kept.
    async fn record_refresh(
        &self,
        workspace: &WorkspaceId,
        at: DateTime<Utc>,
        mdm_device_count: Option<u64>,
    ) -> StoreResult<()>;
    /// Records a group sync attempt started at `at`; on success also the last successful sync, and the
    /// pending flag is cleared.
    async fn record_group_sync_attempt(
        &self,
        workspace: &WorkspaceId,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> StoreResult<()>;
    /// Records a manual group sync request at `at` (the cooldown runs from it).
    async fn record_manual_group_sync(
        &self,
        workspace: &WorkspaceId,
        at: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Sets or clears "a group sync is owed at once".
    async fn set_group_sync_pending(
        &self,
        workspace: &WorkspaceId,
        pending: bool,
    ) -> StoreResult<()>;
    /// Sets or clears "the device metadata is not current for the connection"
    /// ([`WorkspaceState::refresh_pending`]). Setting it also forgets `mdm_device_count`: that count
    /// described the previous connection's MDM.
    async fn set_refresh_pending(&self, workspace: &WorkspaceId, pending: bool) -> StoreResult<()>;
    /// Atomically takes the lease for `owner` until `expires_at`, if nobody holds an unexpired one
    /// (`expires_at` of the current lease `<= now`). Must be atomic across every process sharing the store.
    async fn try_acquire_lease(
        &self,
        workspace: &WorkspaceId,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<LeaseOutcome>;
    /// Extends `lease` to `expires_at` if `lease.owner` still holds it (even if it has expired but nobody
    /// took it over); `None` if it was lost.
    async fn renew_lease(
        &self,
        workspace: &WorkspaceId,
        lease: &Lease,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Option<Lease>>;
    /// Releases `lease` if `lease.owner` still holds it; `false` if it had been taken over.
    async fn release_lease(&self, workspace: &WorkspaceId, lease: &Lease) -> StoreResult<bool>;
}

/// The four stores the engine works with. Any mix of implementations works; one type may implement all four
/// (see [`Stores::from_one`]).
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
}

impl Stores {
    /// All four from one value that implements every trait.
    pub fn from_one<S>(store: Arc<S>) -> Stores
    where
        S: CredentialStore + DeviceStore + GroupStore + SyncStateStore,
    {
        Stores {
            credentials: store.clone(),
            devices: store.clone(),
            groups: store.clone(),
            state: store,
        }
    }

    /// A fresh in-memory store (the embedded default; nothing survives the process).
    pub fn memory() -> Stores {
        Stores::from_one(Arc::new(MemoryStore::new()))
    }
}
