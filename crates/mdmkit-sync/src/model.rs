//! The records the engine reads and writes through the storage traits.
//!
//! They are plain data (serde-serialisable) so that a durable store can map them onto its own tables.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit_core::{MdmDevice, ProviderKind, SerialNumber};
use serde::{Deserialize, Serialize};

/// The embedder's identifier of a workspace (tenant). Every record is scoped by one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkspaceId(String);

impl WorkspaceId {
    /// Wraps the embedder's identifier as is.
    pub fn new(id: impl Into<String>) -> Self {
        WorkspaceId(id.into())
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WorkspaceId({:?})", self.0)
    }
}

impl From<&str> for WorkspaceId {
    fn from(value: &str) -> Self {
        WorkspaceId::new(value)
    }
}

impl From<String> for WorkspaceId {
    fn from(value: String) -> Self {
        WorkspaceId(value)
    }
}

/// The workspace's subscription plan. Group sync (R10) needs Pro or Enterprise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Plan {
    /// No group sync. The default, so that a workspace whose plan was never set is not synced by mistake.
    #[default]
    Free,
    /// Group sync included.
    Pro,
    /// Group sync included.
    Enterprise,
}

impl Plan {
    /// Whether MDM group sync is part of the plan (R10).
    pub fn allows_group_sync(self) -> bool {
        matches!(self, Plan::Pro | Plan::Enterprise)
    }

    /// The plan's name as shown to people.
    pub fn name(self) -> &'static str {
        match self {
            Plan::Free => "Free",
            Plan::Pro => "Pro",
            Plan::Enterprise => "Enterprise",
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The MDM metadata stored per device (R4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MdmMetadata {
    /// The device's identifier in the MDM; group membership (R12) and console links (R7) use it.
    pub device_id: String,
    /// The assigned user's identifier in the MDM, if a user is assigned.
    pub user_id: Option<String>,
    /// The assigned user's name, else the device's name (R4), searchable (R6).
    pub display_name: Option<String>,
}

impl From<&MdmDevice> for MdmMetadata {
    fn from(device: &MdmDevice) -> Self {
        MdmMetadata {
            device_id: device.device_id.clone(),
            user_id: device.user_id.clone(),
            display_name: device.display_name.clone(),
        }
    }
}

/// A device of the workspace's own inventory, keyed by its normalised serial number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// The normalised serial number: the only key devices are matched on.
    pub serial_number: SerialNumber,
    /// What the MDM says about the device; `None` when unknown to the MDM, never fetched or cleared (R9).
    pub metadata: Option<MdmMetadata>,
    /// When the MDM last gave a definite answer about this device (found, not found or ambiguous).
    /// `None` means due now. A failed request does not change it, so the device stays due.
    pub checked_at: Option<DateTime<Utc>>,
}

impl DeviceRecord {
    /// A device that was never checked.
    pub fn new(serial: SerialNumber) -> Self {
        DeviceRecord {
            serial_number: serial,
            metadata: None,
            checked_at: None,
        }
    }

    /// Whether the device's metadata may be fetched again at `now` (R5: at most once per `interval`).
    pub fn is_due(&self, now: DateTime<Utc>, interval: TimeDelta) -> bool {
        self.checked_at.is_none_or(|at| now - at >= interval)
    }
}

/// The store's identifier of a group.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GroupId(String);

impl GroupId {
    /// Wraps a store-assigned identifier.
    pub fn new(id: impl Into<String>) -> Self {
        GroupId(id.into())
    }

    /// The identifier's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupId({:?})", self.0)
    }
}

/// What ties a synced group to its group in the MDM (R12).
///
/// `account` is [`mdmkit_core::ProviderConfig::account_key`] of the connection the group came from, so that a group with the same id in
/// a *different* MDM account (another Jamf server numbering its groups from 1 too) is never mistaken for it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProviderLink {
    /// The provider the group is managed by.
    pub provider: ProviderKind,
    /// The MDM account (see [`mdmkit_core::ProviderConfig::account_key`]); never contains a secret.
    pub account: String,
    /// The group's identifier in the MDM.
    pub mdm_group_id: String,
}

/// A device group of the workspace: manual (no link) or synced from the MDM (with a link).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    /// The store's identifier.
    pub id: GroupId,
    /// The name; for a synced group it comes from the MDM and is overwritten on every sync.
    pub name: String,
    /// The MDM link; `None` for a manual (or detached) group.
    pub link: Option<ProviderLink>,
    /// Member devices by serial; for a synced group it is overwritten on every sync.
    pub members: BTreeSet<SerialNumber>,
}

impl GroupRecord {
    /// Whether the MDM manages this group's name and membership.
    pub fn is_synced(&self) -> bool {
        self.link.is_some()
    }

    /// `Managed by <provider>` for a synced group (R12), `None` for a manual one. Derived from the link so
    /// label and link can never disagree.
    pub fn managed_by(&self) -> Option<String> {
        self.link.as_ref().map(|l| l.provider.managed_by_label())
    }
}

/// A group to create; the store assigns its [`GroupId`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewGroup {
    /// The name.
    pub name: String,
    /// The MDM link, for a synced group.
    pub link: Option<ProviderLink>,
    /// Member devices by serial.
    pub members: BTreeSet<SerialNumber>,
}

impl NewGroup {
    /// A manual group with no members.
    pub fn manual(name: impl Into<String>) -> Self {
        NewGroup {
            name: name.into(),
            link: None,
            members: BTreeSet::new(),
        }
    }
}

/// The fencing number of one acquisition of a workspace's lease. Increments on every acquisition, so a
/// later holder always presents a larger number than an earlier one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fence(u64);

impl Fence {
    /// The number as stored.
    pub fn new(number: u64) -> Self {
        Fence(number)
    }

    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fence({})", self.0)
    }
}

impl fmt::Display for Fence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The right to run sync work on a workspace until `expires_at` (in the store's clock). Writes under it
/// present its [`Fence`]; the store refuses a stale one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// A random token naming the holder; only the holder may renew or release.
    pub owner: String,
    /// The fencing number of this acquisition; writes under the lease present it.
    pub fence: Fence,
    /// After this instant, by the store's clock, anyone may take the lease over.
    pub expires_at: DateTime<Utc>,
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseOutcome {
    /// The lease is ours.
    Acquired(Lease),
    /// Someone else holds it until `expires_at` (the store's clock).
    Busy {
        /// When the current holder's lease runs out unless renewed.
        expires_at: DateTime<Utc>,
    },
}

/// What the engine remembers per workspace between runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkspaceState {
    /// The plan (Free unless the embedder said otherwise).
    pub plan: Plan,
    /// When a refresh run last started.
    pub last_refresh: Option<DateTime<Utc>>,
    /// Rows the last complete bulk listing returned: the best estimate of the MDM's fleet for choosing the
    /// refresh strategy.
    pub mdm_device_count: Option<u64>,
    /// When the last successful group sync started.
    pub last_group_sync: Option<DateTime<Utc>>,
    /// When the last group sync attempt started, successful or not (failed attempts back off from it).
    pub last_group_sync_attempt: Option<DateTime<Utc>>,
    /// When a person last asked for a group sync (the 15-minute cooldown runs from it).
    pub last_manual_group_sync: Option<DateTime<Utc>>,
    /// A group sync is owed at once (the connection changed and the sync has not yet succeeded).
    pub group_sync_pending: bool,
    /// The device metadata is not current for the connection: it changed and no refresh has completed
    /// since (see [`crate::RefreshReport::is_complete`]). While set, no group sync runs, because it would
    /// match members against metadata that was cleared or belongs to the previous MDM.
    #[serde(default)]
    pub refresh_pending: bool,
    /// The current lease, if any (possibly expired).
    pub lease: Option<Lease>,
}

/// Which page of a workspace's devices to read: devices are ordered by serial, and a page starts after
/// the serial that ended the previous one (keyset paging: stable while devices are added or removed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    /// Start after this serial; `None` for the first page.
    pub after: Option<SerialNumber>,
    /// At most this many devices (at least one is always asked for).
    pub limit: usize,
}

impl Paging {
    /// The first page of at most `limit` devices.
    pub fn first(limit: usize) -> Self {
        Paging { after: None, limit }
    }

    /// The limit actually used: never zero.
    pub fn effective_limit(&self) -> usize {
        self.limit.max(1)
    }
}

/// One page of devices, sorted by serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePage<T = DeviceRecord> {
    /// The devices of this page.
    pub devices: Vec<T>,
    /// The serial to continue after, if more devices follow; `None` on the last page.
    pub next: Option<SerialNumber>,
}

impl<T> DevicePage<T> {
    /// The request for the page after this one, with the same `limit`; `None` on the last page.
    pub fn next_page(&self, limit: usize) -> Option<Paging> {
        self.next.clone().map(|after| Paging {
            after: Some(after),
            limit,
        })
    }
}

/// The MDM's definite answer about one device, as a refresh writes it (see
/// [`crate::DeviceStore::record_checks`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceCheck {
    /// The device.
    pub serial_number: SerialNumber,
    /// Its metadata; `None`: unknown to the MDM, or ambiguous.
    pub metadata: Option<MdmMetadata>,
    /// When the MDM answered (the start of the run).
    pub checked_at: DateTime<Utc>,
}

/// What changes in the same transaction as a new credentials record (see
/// [`crate::CredentialStore::save_connection`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionChange {
    /// Clear the MDM metadata and check time of every device of the workspace, so all are due (R9), and
    /// mark the metadata not current for the connection ([`WorkspaceState::refresh_pending`], which also
    /// forgets `mdm_device_count`).
    pub clear_metadata: bool,
    /// Mark a group sync as owed at once (R10: the provider was set or changed).
    pub group_sync_pending: bool,
}

impl ConnectionChange {
    /// The record only (a key rotation re-seals the same connection).
    pub const NONE: ConnectionChange = ConnectionChange {
        clear_metadata: false,
        group_sync_pending: false,
    };
}

/// What [`crate::CredentialStore::remove_connection`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionRemoved {
    /// Whether there was a credentials record to delete.
    pub was_connected: bool,
    /// Devices whose MDM metadata was cleared.
    pub devices_cleared: usize,
    /// Synced groups turned into ordinary groups (their link removed).
    pub groups_detached: usize,
}

/// The group changes of one group sync, written in one transaction (see
/// [`crate::GroupStore::apply_group_changes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// Groups to create (the store assigns their ids).
    pub create: Vec<NewGroup>,
    /// Groups whose name, link and members are replaced (a detach is an update without a link).
    pub update: Vec<GroupRecord>,
}

impl GroupChanges {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty()
    }
}

impl WorkspaceState {
    /// Marks the metadata current or not for the connection; not current also forgets
    /// `mdm_device_count`, which described the previous connection's MDM.
    pub(crate) fn set_refresh_pending(&mut self, pending: bool) {
        self.refresh_pending = pending;
        if pending {
            self.mdm_device_count = None;
        }
    }
}

/// Encrypted credentials as stored: one record per workspace (R3).
///
/// Only `ciphertext` holds anything secret, and only in encrypted form. `provider` is kept in clear so an
/// operator can see which MDM a workspace uses without a key; it is also bound into the ciphertext, so
/// editing it makes the record fail to open.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCredentials {
    /// The provider the credentials are for.
    pub provider: ProviderKind,
    /// The vault key that encrypted the record (keys rotate; old records keep naming their key).
    pub key_id: String,
    /// The 24-byte XChaCha20 nonce, fresh for every write.
    pub nonce: Vec<u8>,
    /// The encrypted configuration with its authentication tag.
    pub ciphertext: Vec<u8>,
    /// When the record was written.
    pub sealed_at: DateTime<Utc>,
}

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedCredentials")
            .field("provider", &self.provider)
            .field("key_id", &self.key_id)
            .field("nonce_len", &self.nonce.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .field("sealed_at", &self.sealed_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mdmkit_core::{FleetConfig, IntuneConfig, ProviderConfig};

    #[test]
    fn due_is_measured_from_the_last_definite_answer() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut d = DeviceRecord::new(SerialNumber::parse("ABC1").unwrap());
        let day = TimeDelta::hours(24);
        assert!(d.is_due(now, day));
        d.checked_at = Some(now - TimeDelta::hours(23));
        assert!(!d.is_due(now, day));
        d.checked_at = Some(now - day);
        assert!(d.is_due(now, day));
    }

    #[test]
    fn account_key_ignores_secrets_but_not_hosts_or_tenants() {
        let a = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "one").unwrap());
        let b = ProviderConfig::Fleet(FleetConfig::new("fleet.example.com", "two").unwrap());
        let c = ProviderConfig::Fleet(FleetConfig::new("other.example.com", "one").unwrap());
        assert_eq!(a.account_key(), b.account_key());
        assert_ne!(a.account_key(), c.account_key());
        assert!(!a.account_key().contains("one"));
        let t1 = ProviderConfig::Intune(IntuneConfig::new("T1", "app", "s").unwrap());
        let t2 = ProviderConfig::Intune(IntuneConfig::new("t2", "app", "s").unwrap());
        assert_ne!(t1.account_key(), t2.account_key());
    }

    #[test]
    fn plans_and_labels() {
        assert!(!Plan::Free.allows_group_sync());
        assert!(Plan::Pro.allows_group_sync() && Plan::Enterprise.allows_group_sync());
        assert_eq!(Plan::default(), Plan::Free);
        let g = GroupRecord {
            id: GroupId::new("1"),
            name: "Eng".into(),
            link: Some(ProviderLink {
                provider: ProviderKind::Iru,
                account: "iru:x".into(),
                mdm_group_id: "t1".into(),
            }),
            members: BTreeSet::new(),
        };
        assert_eq!(
            g.managed_by().as_deref(),
            Some("Managed by Iru (formerly Kandji)")
        );
    }
}
