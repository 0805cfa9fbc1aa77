//! The in-memory store: the embedded default, and the reference the storage suite is checked against.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use mdmkit_core::SerialNumber;

use crate::error::StoreError;
use crate::model::{
    DeviceRecord, GroupId, GroupRecord, Lease, LeaseOutcome, MdmMetadata, NewGroup, Plan,
    SealedCredentials, WorkspaceId, WorkspaceState,
};
use crate::store::{CredentialStore, DeviceStore, GroupStore, StoreResult, SyncStateStore};

/// Every store trait, in memory, behind one mutex (each operation is atomic).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    credentials: BTreeMap<WorkspaceId, SealedCredentials>,
    devices: HashMap<WorkspaceId, BTreeMap<SerialNumber, DeviceRecord>>,
    groups: HashMap<WorkspaceId, BTreeMap<GroupId, GroupRecord>>,
    next_group: u64,
    state: HashMap<WorkspaceId, WorkspaceState>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written record: every operation writes whole
        // values, so the data stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn state(&mut self, ws: &WorkspaceId) -> &mut WorkspaceState {
        self.state.entry(ws.clone()).or_default()
    }
}

fn lower(s: &str) -> String {
    s.to_lowercase()
}

#[async_trait]
impl CredentialStore for MemoryStore {
    async fn load_credentials(&self, ws: &WorkspaceId) -> StoreResult<Option<SealedCredentials>> {
        Ok(self.lock().credentials.get(ws).cloned())
    }

    async fn save_credentials(
        &self,
        ws: &WorkspaceId,
        record: SealedCredentials,
    ) -> StoreResult<()> {
        self.lock().credentials.insert(ws.clone(), record);
        Ok(())
    }

    async fn delete_credentials(&self, ws: &WorkspaceId) -> StoreResult<bool> {
        Ok(self.lock().credentials.remove(ws).is_some())
    }

    async fn connected_workspaces(&self) -> StoreResult<Vec<WorkspaceId>> {
        Ok(self.lock().credentials.keys().cloned().collect())
    }
}

#[async_trait]
impl DeviceStore for MemoryStore {
    async fn add_device(&self, ws: &WorkspaceId, serial: &SerialNumber) -> StoreResult<bool> {
        let mut inner = self.lock();
        let devices = inner.devices.entry(ws.clone()).or_default();
        if devices.contains_key(serial) {
            return Ok(false);
        }
        devices.insert(serial.clone(), DeviceRecord::new(serial.clone()));
        Ok(true)
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

    async fn devices(&self, ws: &WorkspaceId) -> StoreResult<Vec<DeviceRecord>> {
        Ok(self
            .lock()
            .devices
            .get(ws)
            .map(|d| d.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn devices_due(
        &self,
        ws: &WorkspaceId,
        checked_at_or_before: DateTime<Utc>,
    ) -> StoreResult<Vec<DeviceRecord>> {
        Ok(self
            .lock()
            .devices
            .get(ws)
            .map(|d| {
                d.values()
                    .filter(|r| r.checked_at.is_none_or(|at| at <= checked_at_or_before))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn record_check(
        &self,
        ws: &WorkspaceId,
        serial: &SerialNumber,
        metadata: Option<MdmMetadata>,
        checked_at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut inner = self.lock();
        let Some(record) = inner.devices.get_mut(ws).and_then(|d| d.get_mut(serial)) else {
            return Ok(false);
        };
        record.metadata = metadata;
        record.checked_at = Some(checked_at);
        Ok(true)
    }

    async fn reset_metadata(&self, ws: &WorkspaceId) -> StoreResult<usize> {
        let mut inner = self.lock();
        let Some(devices) = inner.devices.get_mut(ws) else {
            return Ok(0);
        };
        for record in devices.values_mut() {
            record.metadata = None;
            record.checked_at = None;
        }
        Ok(devices.len())
    }

    async fn search_devices(
        &self,
        ws: &WorkspaceId,
        query: &str,
    ) -> StoreResult<Vec<DeviceRecord>> {
        let needle = lower(query.trim());
        Ok(self
            .lock()
            .devices
            .get(ws)
            .map(|d| {
                d.values()
                    .filter(|r| {
                        lower(r.serial.as_str()).contains(&needle)
                            || r.metadata
                                .as_ref()
                                .and_then(|m| m.display_name.as_deref())
                                .is_some_and(|n| lower(n).contains(&needle))
                    })
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }
}

#[async_trait]
impl GroupStore for MemoryStore {
    async fn groups(&self, ws: &WorkspaceId) -> StoreResult<Vec<GroupRecord>> {
        let mut groups: Vec<GroupRecord> = self
            .lock()
            .groups
            .get(ws)
            .map(|g| g.values().cloned().collect())
            .unwrap_or_default();
        groups.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(groups)
    }

    async fn group(&self, ws: &WorkspaceId, id: &GroupId) -> StoreResult<Option<GroupRecord>> {
        Ok(self.lock().groups.get(ws).and_then(|g| g.get(id)).cloned())
    }

    async fn create_group(&self, ws: &WorkspaceId, group: NewGroup) -> StoreResult<GroupRecord> {
        let mut inner = self.lock();
        inner.next_group += 1;
        let record = GroupRecord {
            id: GroupId::new(format!("g{:06}", inner.next_group)),
            name: group.name,
            link: group.link,
            members: group.members,
        };
        inner
            .groups
            .entry(ws.clone())
            .or_default()
            .insert(record.id.clone(), record.clone());
        Ok(record)
    }

    async fn update_group(&self, ws: &WorkspaceId, group: &GroupRecord) -> StoreResult<()> {
        let mut inner = self.lock();
        match inner.groups.get_mut(ws).and_then(|g| g.get_mut(&group.id)) {
            Some(existing) => {
                *existing = group.clone();
                Ok(())
            }
            None => Err(StoreError::new(format!(
                "group {} does not exist in workspace {ws}",
                group.id
            ))),
        }
    }

    async fn delete_group(&self, ws: &WorkspaceId, id: &GroupId) -> StoreResult<bool> {
        Ok(self
            .lock()
            .groups
            .get_mut(ws)
            .is_some_and(|g| g.remove(id).is_some()))
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
        at: DateTime<Utc>,
        mdm_device_count: Option<u64>,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        state.last_refresh = Some(at);
        if mdm_device_count.is_some() {
            state.mdm_device_count = mdm_device_count;
        }
        Ok(())
    }

    async fn record_group_sync_attempt(
        &self,
        ws: &WorkspaceId,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> StoreResult<()> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        state.last_group_sync_attempt = Some(at);
        if succeeded {
            state.last_group_sync = Some(at);
            state.group_sync_pending = false;
        }
        Ok(())
    }

    async fn record_manual_group_sync(
        &self,
        ws: &WorkspaceId,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.lock().state(ws).last_manual_group_sync = Some(at);
        Ok(())
    }

    async fn set_group_sync_pending(&self, ws: &WorkspaceId, pending: bool) -> StoreResult<()> {
        self.lock().state(ws).group_sync_pending = pending;
        Ok(())
    }

    async fn set_refresh_pending(&self, ws: &WorkspaceId, pending: bool) -> StoreResult<()> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        state.refresh_pending = pending;
        if pending {
            state.mdm_device_count = None;
        }
        Ok(())
    }

    async fn try_acquire_lease(
        &self,
        ws: &WorkspaceId,
        owner: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<LeaseOutcome> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        if let Some(current) = &state.lease {
            if current.expires_at > now && current.owner != owner {
                return Ok(LeaseOutcome::Busy {
                    expires_at: current.expires_at,
                });
            }
        }
        let lease = Lease {
            owner: owner.to_owned(),
            expires_at,
        };
        state.lease = Some(lease.clone());
        Ok(LeaseOutcome::Acquired(lease))
    }

    async fn renew_lease(
        &self,
        ws: &WorkspaceId,
        lease: &Lease,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<Option<Lease>> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        match &mut state.lease {
            Some(current) if current.owner == lease.owner => {
                current.expires_at = expires_at;
                Ok(Some(current.clone()))
            }
            _ => Ok(None),
        }
    }

    async fn release_lease(&self, ws: &WorkspaceId, lease: &Lease) -> StoreResult<bool> {
        let mut inner = self.lock();
        let state = inner.state(ws);
        if state.lease.as_ref().is_some_and(|l| l.owner == lease.owner) {
            state.lease = None;
            return Ok(true);
        }
        Ok(false)
    }
}
