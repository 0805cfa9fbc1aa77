//! The in-memory store: for tests and single-process experiments, and the reference the storage suite is
//! checked against. Nothing survives the process; use `mdmkit-sqlx` for a durable store.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mdmkit_core::SerialNumber;

use crate::clock::{later, Clock, SystemClock};
use crate::error::StoreError;
use crate::marks::{MarkStore, SyncMarks};
use crate::model::{
    ConnectionChange, ConnectionRemoved, DeviceCheck, DevicePage, DeviceRecord, Fence,
    GroupChanges, GroupId, GroupRecord, Lease, LeaseOutcome, NewGroup, Paging, Plan,
    SealedCredentials, WorkspaceId, WorkspaceState,
};
mod lookup_cache;

use crate::store::{
    check_step, CredentialStore, DeviceStore, GroupStore, Step, StepHook, StoreResult, Stores,
    SyncStateStore,
};

/// Every store trait, in memory, behind one mutex (each operation is atomic).
///
/// Leases expire by the store's own [`Clock`] ([`SystemClock`] unless given one with
/// [`MemoryStore::with_clock`]), as a database judges them by its own `now()`. Clones share the data, like
/// two connection pools on one database.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
    clock: Arc<dyn Clock>,
    hook: Option<Arc<dyn StepHook>>,
}

#[derive(Debug, Default)]
struct Inner {
    credentials: BTreeMap<WorkspaceId, SealedCredentials>,
    devices: HashMap<WorkspaceId, BTreeMap<SerialNumber, DeviceRecord>>,
    groups: HashMap<WorkspaceId, BTreeMap<u64, GroupRecord>>,
    next_group: u64,
    state: HashMap<WorkspaceId, WorkspaceState>,
    /// Fencing numbers: kept after release, so writes under a released lease are refused.
    fences: HashMap<WorkspaceId, Fence>,
    /// Lookup caches by workspace (see `lookup_cache`).
    lookups: HashMap<WorkspaceId, lookup_cache::Entries>,
    /// Incremental-read marks.
    marks: HashMap<WorkspaceId, SyncMarks>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store on the system clock.
    pub fn new() -> Self {
        MemoryStore::with_clock(Arc::new(SystemClock))
    }

    /// An empty store whose leases expire by `clock` (a [`crate::ManualClock`] in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryStore {
            inner: Arc::new(Mutex::new(Inner::default())),
            clock,
            hook: None,
        }
    }

    /// Another handle on the same data whose multi-step operations report their steps to `hook`.
    pub fn with_step_hook(&self, hook: Arc<dyn StepHook>) -> Self {
        MemoryStore {
            hook: Some(hook),
            ..self.clone()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written record: every operation computes its
        // changes first and writes them last, so the data stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn step(&self, step: Step) -> StoreResult<()> {
        check_step(self.hook.as_ref(), step)
    }

    /// The store, locked for a write under `fence`: refused unless that is the workspace's held lease.
    fn lock_fenced(&self, ws: &WorkspaceId, fence: Fence) -> StoreResult<MutexGuard<'_, Inner>> {
        let mut inner = self.lock();
        inner.fenced(ws, fence)?;
        Ok(inner)
    }

    /// Changes one record of the workspace under `fence`: `record` picks it ([`Inner::state`],
    /// [`Inner::marks`]).
    fn write_fenced<T>(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        record: for<'a> fn(&'a mut Inner, &WorkspaceId) -> &'a mut T,
        write: impl FnOnce(&mut T),
    ) -> StoreResult<()> {
        let mut inner = self.lock_fenced(ws, fence)?;
        write(record(&mut inner, ws));
        Ok(())
    }
}

impl Stores {
    /// A fresh in-memory store on the system clock (nothing survives the process).
    pub fn memory() -> Stores {
        Stores::from_one(Arc::new(MemoryStore::new()))
    }
}

impl Inner {
    fn state(&mut self, ws: &WorkspaceId) -> &mut WorkspaceState {
        self.state.entry(ws.clone()).or_default()
    }

    fn marks(&mut self, ws: &WorkspaceId) -> &mut SyncMarks {
        self.marks.entry(ws.clone()).or_default()
    }

    /// Refuses a write under a fence that is not the workspace's current, held lease.
    fn fenced(&mut self, ws: &WorkspaceId, fence: Fence) -> StoreResult<()> {
        let held = self.state.get(ws).and_then(|s| s.lease.as_ref());
        match held {
            Some(lease) if lease.fence == fence => Ok(()),
            _ => Err(StoreError::stale_fence(ws, fence)),
        }
    }

    /// Clears every device's metadata and check time (R9), so all are due, and the lookup caches that
    /// came from the same MDM.
    fn clear_metadata(&mut self, ws: &WorkspaceId) {
        self.lookups.remove(ws);
        for record in self
            .devices
            .get_mut(ws)
            .into_iter()
            .flat_map(|d| d.values_mut())
        {
            record.metadata = None;
            record.checked_at = None;
        }
    }

    fn devices(&self, ws: &WorkspaceId) -> impl Iterator<Item = &DeviceRecord> {
        self.devices.get(ws).into_iter().flat_map(|d| d.values())
    }

    fn groups_of(&self, ws: &WorkspaceId) -> impl Iterator<Item = &GroupRecord> {
        self.groups.get(ws).into_iter().flat_map(|g| g.values())
    }
}

/// The store's group ids: `g` and a number, so they sort by creation.
/// Whether `held` is the hold `lease` names (the same owner and fence): only that holder renews or
/// releases.
fn same_hold(held: &Lease, lease: &Lease) -> bool {
    held.owner == lease.owner && held.fence == lease.fence
}

fn group_id(n: u64) -> GroupId {
    GroupId::new(format!("g{n:010}"))
}

fn group_number(id: &GroupId) -> Option<u64> {
    id.as_str().strip_prefix('g')?.parse().ok()
}

fn is_due(record: &DeviceRecord, cutoff: DateTime<Utc>) -> bool {
    record.checked_at.is_none_or(|at| at <= cutoff)
}

fn matches_search(record: &DeviceRecord, needle: &str) -> bool {
    record
        .serial_number
        .as_str()
        .to_lowercase()
        .contains(needle)
        || record
            .metadata
            .as_ref()
            .and_then(|m| m.display_name.as_deref())
            .is_some_and(|n| n.to_lowercase().contains(needle))
}

/// One page of the workspace's devices that pass `keep`, after `page.after`.
fn page_of(
    inner: &Inner,
    ws: &WorkspaceId,
    page: &Paging,
    keep: impl Fn(&DeviceRecord) -> bool,
) -> DevicePage {
    let limit = page.effective_limit();
    let start = match &page.after {
        Some(after) => Bound::Excluded(after.clone()),
        None => Bound::Unbounded,
    };
    let mut devices: Vec<DeviceRecord> = inner
        .devices
        .get(ws)
        .into_iter()
        .flat_map(|d| d.range((start.clone(), Bound::Unbounded)))
        .map(|(_, r)| r)
        .filter(|r| keep(r))
        .take(limit + 1)
        .cloned()
        .collect();
    let next = if devices.len() > limit {
        devices.truncate(limit);
        devices.last().map(|d| d.serial_number.clone())
    } else {
        None
    };
    DevicePage { devices, next }
}

fn sort_groups(groups: &mut [GroupRecord]) {
    groups.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| group_number(&a.id).cmp(&group_number(&b.id)))
    });
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn load_credentials(&self, ws: &WorkspaceId) -> StoreResult<Option<SealedCredentials>> {
        Ok(self.lock().credentials.get(ws).cloned())
    }

    async fn connected_workspaces(&self) -> StoreResult<Vec<WorkspaceId>> {
        Ok(self.lock().credentials.keys().cloned().collect())
    }

    async fn save_connection(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        record: SealedCredentials,
        change: ConnectionChange,
    ) -> StoreResult<usize> {
        let mut inner = self.lock_fenced(ws, fence)?;
        // Every step is checked before anything is written: a failure leaves the old state whole.
        self.step(Step::ConnectionSaved)?;
        let mut cleared = 0;
        if change.clear_metadata {
            self.step(Step::ConnectMetadataCleared)?;
            cleared = inner.devices(ws).count();
            inner.clear_metadata(ws);
            inner.state(ws).set_refresh_pending(true);
            inner.marks.remove(ws);
        }
        inner.credentials.insert(ws.clone(), record);
        if change.group_sync_pending {
            inner.state(ws).group_sync_pending = true;
        }
        Ok(cleared)
    }

    async fn remove_connection(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
    ) -> StoreResult<ConnectionRemoved> {
        let mut inner = self.lock_fenced(ws, fence)?;
        let removed = ConnectionRemoved {
            was_connected: inner.credentials.contains_key(ws),
            devices_cleared: inner.devices(ws).count(),
            groups_detached: inner.groups_of(ws).filter(|g| g.is_synced()).count(),
        };
        for step in Step::DISCONNECT {
            self.step(step)?;
        }
        inner.credentials.remove(ws);
        inner.clear_metadata(ws);
        inner.marks.remove(ws);
        for group in inner
            .groups
            .get_mut(ws)
            .into_iter()
            .flat_map(|g| g.values_mut())
        {
            group.link = None;
        }
        if let Some(state) = inner.state.get_mut(ws) {
            state.group_sync_pending = false;
            state.set_refresh_pending(false);
        }
        Ok(removed)
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn add_devices(&self, ws: &WorkspaceId, serials: &[SerialNumber]) -> StoreResult<usize> {
        let mut inner = self.lock();
        let devices = inner.devices.entry(ws.clone()).or_default();
        let mut added = 0;
        for serial in serials {
            if !devices.contains_key(serial) {
                devices.insert(serial.clone(), DeviceRecord::new(serial.clone()));
                added += 1;
            }
        }
        Ok(added)
    }

    async fn remove_device(&self, ws: &WorkspaceId, serial: &SerialNumber) -> StoreResult<bool> {
        let mut inner = self.lock();
        Ok(inner
            .devices
            .get_mut(ws)
            .is_some_and(|d| d.remove(serial).is_some()))
    }

    async fn device(
        &self,
        ws: &WorkspaceId,
        serial: &SerialNumber,
    ) -> StoreResult<Option<DeviceRecord>> {
        Ok(self
            .lock()
            .devices
            .get(ws)
            .and_then(|d| d.get(serial))
            .cloned())
    }

    async fn devices(&self, ws: &WorkspaceId, page: Paging) -> StoreResult<DevicePage> {
        Ok(page_of(&self.lock(), ws, &page, |_| true))
    }

    async fn device_count(&self, ws: &WorkspaceId) -> StoreResult<u64> {
        Ok(self.lock().devices(ws).count() as u64)
    }

    async fn devices_due(
        &self,
        ws: &WorkspaceId,
        cutoff: DateTime<Utc>,
        page: Paging,
    ) -> StoreResult<DevicePage> {
        Ok(page_of(&self.lock(), ws, &page, |r| is_due(r, cutoff)))
    }

    async fn count_due(&self, ws: &WorkspaceId, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .lock()
            .devices(ws)
            .filter(|r| is_due(r, cutoff))
            .count() as u64)
    }

    async fn any_due(&self, ws: &WorkspaceId, cutoff: DateTime<Utc>) -> StoreResult<bool> {
        Ok(self.lock().devices(ws).any(|r| is_due(r, cutoff)))
    }

    async fn search_devices(
        &self,
        ws: &WorkspaceId,
        query: &str,
        page: Paging,
    ) -> StoreResult<DevicePage> {
        let needle = query.trim().to_lowercase();
        Ok(page_of(&self.lock(), ws, &page, |r| {
            matches_search(r, &needle)
        }))
    }

    async fn record_checks(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        checks: &[DeviceCheck],
    ) -> StoreResult<usize> {
        let mut inner = self.lock_fenced(ws, fence)?;
        if checks.len() > 1 {
            self.step(Step::ChecksPartlyWritten)?;
        }
        let Some(devices) = inner.devices.get_mut(ws) else {
            return Ok(0);
        };
        let mut written = 0;
        for check in checks {
            if let Some(record) = devices.get_mut(&check.serial_number) {
                record.metadata = check.metadata.clone();
                record.checked_at = Some(check.checked_at);
                written += 1;
            }
        }
        Ok(written)
    }
}

#[async_trait]
impl GroupStore for MemoryStore {
    async fn groups(&self, ws: &WorkspaceId) -> StoreResult<Vec<GroupRecord>> {
        let mut groups: Vec<GroupRecord> = self.lock().groups_of(ws).cloned().collect();
        sort_groups(&mut groups);
        Ok(groups)
    }

    async fn group(&self, ws: &WorkspaceId, id: &GroupId) -> StoreResult<Option<GroupRecord>> {
        let Some(n) = group_number(id) else {
            return Ok(None);
        };
        Ok(self.lock().groups.get(ws).and_then(|g| g.get(&n)).cloned())
    }

    async fn create_group(&self, ws: &WorkspaceId, group: NewGroup) -> StoreResult<GroupRecord> {
        let mut inner = self.lock();
        Ok(create(&mut inner, ws, group))
    }

    async fn update_group(&self, ws: &WorkspaceId, group: &GroupRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        check_exists(&inner, ws, group)?;
        update(&mut inner, ws, group);
        Ok(())
    }

    async fn delete_group(&self, ws: &WorkspaceId, id: &GroupId) -> StoreResult<bool> {
        let Some(n) = group_number(id) else {
            return Ok(false);
        };
        Ok(self
            .lock()
            .groups
            .get_mut(ws)
            .is_some_and(|g| g.remove(&n).is_some()))
    }

    async fn apply_group_changes(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        changes: GroupChanges,
    ) -> StoreResult<()> {
        let mut inner = self.lock_fenced(ws, fence)?;
        for group in &changes.update {
            check_exists(&inner, ws, group)?;
        }
        if !changes.create.is_empty() {
            self.step(Step::GroupsCreated)?;
        }
        for group in changes.create {
            create(&mut inner, ws, group);
        }
        for group in &changes.update {
            update(&mut inner, ws, group);
        }
        Ok(())
    }
}

fn create(inner: &mut Inner, ws: &WorkspaceId, group: NewGroup) -> GroupRecord {
    inner.next_group += 1;
    let n = inner.next_group;
    let record = GroupRecord {
        id: group_id(n),
        name: group.name,
        link: group.link,
        members: group.members,
    };
    inner
        .groups
        .entry(ws.clone())
        .or_default()
        .insert(n, record.clone());
    record
}

fn check_exists(inner: &Inner, ws: &WorkspaceId, group: &GroupRecord) -> StoreResult<()> {
    let exists = group_number(&group.id)
        .is_some_and(|n| inner.groups.get(ws).is_some_and(|g| g.contains_key(&n)));
    if exists {
        Ok(())
    } else {
        Err(StoreError::not_found(format!(
            "group {} does not exist in workspace {ws}",
            group.id
        )))
    }
}

fn update(inner: &mut Inner, ws: &WorkspaceId, group: &GroupRecord) {
    if let Some(existing) =
        group_number(&group.id).and_then(|n| inner.groups.get_mut(ws).and_then(|g| g.get_mut(&n)))
    {
        *existing = group.clone();
    }
}

#[async_trait]
impl SyncStateStore for MemoryStore {
    async fn sync_state(&self, ws: &WorkspaceId) -> StoreResult<WorkspaceState> {
        Ok(self.lock().state.get(ws).cloned().unwrap_or_default())
    }

    async fn set_plan(&self, ws: &WorkspaceId, plan: Plan) -> StoreResult<()> {
        self.lock().state(ws).plan = plan;
        Ok(())
    }

    async fn record_refresh(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
        mdm_device_count: Option<u64>,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::state, |state| {
            state.last_refresh = Some(at);
            if mdm_device_count.is_some() {
                state.mdm_device_count = mdm_device_count;
            }
        })
    }

    async fn record_group_sync_attempt(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::state, |state| {
            state.last_group_sync_attempt = Some(at);
            if succeeded {
                state.last_group_sync = Some(at);
                state.group_sync_pending = false;
            }
        })
    }

    async fn record_manual_group_sync(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::state, |state| {
            state.last_manual_group_sync = Some(at)
        })
    }

    async fn set_group_sync_pending(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        pending: bool,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::state, |state| {
            state.group_sync_pending = pending
        })
    }

    async fn set_refresh_pending(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        pending: bool,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::state, |state| {
            state.set_refresh_pending(pending)
        })
    }

    async fn try_acquire_lease(
        &self,
        ws: &WorkspaceId,
        owner: &str,
        ttl: Duration,
    ) -> StoreResult<LeaseOutcome> {
        let now = self.clock.now();
        let mut inner = self.lock();
        if let Some(current) = &inner.state(ws).lease {
            if current.expires_at > now {
                return Ok(LeaseOutcome::Busy {
                    expires_at: current.expires_at,
                });
            }
        }
        let fence = Fence::new(inner.fences.get(ws).map_or(1, |f| f.get() + 1));
        inner.fences.insert(ws.clone(), fence);
        let lease = Lease {
            owner: owner.to_owned(),
            fence,
            expires_at: later(now, ttl),
        };
        inner.state(ws).lease = Some(lease.clone());
        Ok(LeaseOutcome::Acquired(lease))
    }

    async fn renew_lease(
        &self,
        ws: &WorkspaceId,
        lease: &Lease,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        let now = self.clock.now();
        let mut inner = self.lock();
        match &mut inner.state(ws).lease {
            Some(current) if same_hold(current, lease) => {
                current.expires_at = later(now, ttl);
                Ok(Some(current.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn release_lease(&self, ws: &WorkspaceId, lease: &Lease) -> StoreResult<bool> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        if state
            .lease
            .as_ref()
            .is_some_and(|held| same_hold(held, lease))
        {
            state.lease = None;
            return Ok(true);
        }
        Ok(false)
    }
}

#[async_trait]
impl MarkStore for MemoryStore {
    async fn sync_marks(&self, ws: &WorkspaceId) -> StoreResult<SyncMarks> {
        Ok(self.lock().marks.get(ws).cloned().unwrap_or_default())
    }

    async fn record_device_watermark(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        watermark: DateTime<Utc>,
        full_listing: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::marks, |marks| {
            marks.device_watermark = Some(watermark);
            if full_listing.is_some() {
                marks.last_full_listing = full_listing;
            }
        })
    }

    async fn record_group_delta(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        token: Option<&str>,
        full_read: Option<DateTime<Utc>>,
    ) -> StoreResult<()> {
        self.write_fenced(ws, fence, Inner::marks, |marks| {
            marks.group_delta = token.map(str::to_owned);
            if full_read.is_some() {
                marks.last_full_group_read = full_read;
            }
        })
    }
}
