//! What runs report: connect, disconnect, refresh and group sync. Plain data, so that the modules that run
//! them (and the scheduler that collects them) depend on this one, not on each other.

use std::fmt;

use chrono::{DateTime, Utc};
use mdmkit_core::{Category, ErrorKind, ProviderKind, SerialNumber};

use crate::error::{Error, Result};
use crate::model::{Plan, WorkspaceId};

/// What [`crate::MdmSync::connect`] did after the credentials passed validation and were saved.
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectReport {
    /// The provider now connected.
    pub provider: ProviderKind,
    /// Whether the provider or any credential differs from what was saved before (or nothing was).
    pub connection_changed: bool,
    /// Devices whose MDM metadata was cleared to be fetched again (R9); 0 when nothing changed.
    pub devices_reset: usize,
    /// The refresh run at once after a change, so the group sync can match members
    /// ([`RefreshOutcome::NotRun`] when the connection did not change).
    pub refresh: RefreshOutcome,
    /// The group sync at once after a change (R10), or why there was none: it runs only if that refresh
    /// completed ([`GroupSyncOutcome::WaitingForRefresh`] otherwise).
    pub group_sync: GroupSyncOutcome,
}

/// Whether a refresh ran (after a connect, or in a scheduler turn) and how it ended. The three cases are
/// all there are, so a `match` needs no wildcard.
#[derive(Debug)]
pub enum RefreshOutcome {
    /// No refresh ran: the connection did not change (connect), or nothing was due or another replica ran
    /// it first (scheduler).
    NotRun,
    /// It ran to its end. Some devices may still lack an answer: [`RefreshReport::is_complete`] says
    /// whether every due device got one, and the report names the rest.
    Ran(RefreshReport),
    /// It stopped with an error (the MDM refused the listing, the store failed, the lease was lost, the
    /// run passed its deadline, ...). What was stored before stays.
    Failed(Error),
}

impl RefreshOutcome {
    /// Whether a refresh ran, to its end or not.
    pub fn ran(&self) -> bool {
        !matches!(self, RefreshOutcome::NotRun)
    }

    /// The report of a refresh that ran to its end.
    pub fn report(&self) -> Option<&RefreshReport> {
        match self {
            RefreshOutcome::Ran(report) => Some(report),
            _ => None,
        }
    }

    /// The report of a refresh that ran to its end, by value.
    pub fn into_report(self) -> Option<RefreshReport> {
        match self {
            RefreshOutcome::Ran(report) => Some(report),
            _ => None,
        }
    }

    /// The error that stopped the refresh.
    pub fn error(&self) -> Option<&Error> {
        match self {
            RefreshOutcome::Failed(error) => Some(error),
            _ => None,
        }
    }
}

impl From<Result<RefreshReport>> for RefreshOutcome {
    fn from(result: Result<RefreshReport>) -> Self {
        match result {
            Ok(report) => RefreshOutcome::Ran(report),
            Err(error) => RefreshOutcome::Failed(error),
        }
    }
}

impl From<Result<Option<RefreshReport>>> for RefreshOutcome {
    /// `Ok(None)`: the run found nothing to do.
    fn from(result: Result<Option<RefreshReport>>) -> Self {
        match result {
            Ok(None) => RefreshOutcome::NotRun,
            Ok(Some(report)) => RefreshOutcome::Ran(report),
            Err(error) => RefreshOutcome::Failed(error),
        }
    }
}

/// What [`crate::MdmSync::disconnect`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DisconnectReport {
    /// Whether there were credentials to delete.
    pub was_connected: bool,
    /// Devices whose MDM metadata was cleared.
    pub devices_cleared: usize,
    /// Synced groups turned into ordinary groups.
    pub groups_detached: usize,
}

/// How a refresh run asked the MDM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Strategy {
    /// One lookup by serial per due device.
    Lookups,
    /// One paged listing of every MDM device, matched locally.
    Bulk,
    /// An incremental refresh: a listing of the devices changed since the workspace's watermark; due
    /// devices it does not mention keep their metadata (see [`crate::refresh`]).
    Changes,
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Lookups => "lookups by serial",
            Strategy::Bulk => "bulk listing",
            Strategy::Changes => "changes since the watermark",
        })
    }
}

/// An error met during a run, kept for the report (no secrets: built from the provider error's text).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunError {
    /// The precise kind.
    pub kind: ErrorKind,
    /// The user-facing R8 category.
    pub category: Category,
    /// The provider error's text.
    pub message: String,
    /// The device the request was about, for a lookup.
    pub serial_number: Option<SerialNumber>,
}

impl RunError {
    pub(crate) fn new(error: &mdmkit_core::Error, serial: Option<SerialNumber>) -> Self {
        RunError {
            kind: error.kind(),
            category: error.category(),
            message: error.to_string(),
            serial_number: serial,
        }
    }
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.serial_number {
            Some(s) => write!(f, "{} ({}): {}", s, self.category.name(), self.message),
            None => write!(f, "{}: {}", self.category.name(), self.message),
        }
    }
}

/// Several MDM devices share a serial: reported, never matched to one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateSerial {
    /// The serial.
    pub serial_number: SerialNumber,
    /// The MDM device IDs that carry it, sorted.
    pub device_ids: Vec<String>,
}

/// A complete listing that was not believed (see [the module docs](crate::refresh)): nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SuspiciousListing {
    /// Distinct MDM devices the listing returned.
    pub listed: u64,
    /// Distinct MDM devices the last complete listing returned, if there was one for this connection.
    pub last_listed: Option<u64>,
    /// Devices of the workspace holding metadata, all kept.
    pub devices_with_metadata: usize,
}

/// What a refresh run did, for operators: coverage at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshReport {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The provider asked.
    pub provider: ProviderKind,
    /// When the run started (check times are stamped with it).
    pub started_at: DateTime<Utc>,
    /// Devices due at the start.
    pub due: usize,
    /// How the MDM was asked; `None` when nothing was due.
    pub strategy: Option<Strategy>,
    /// The request count the strategy was chosen on.
    pub estimated_requests: u64,
    /// MDM device records read: distinct devices of the listing (a device listed twice counts once), or
    /// results of the lookups.
    pub devices_seen: u64,
    /// Due devices matched to exactly one MDM device; their metadata was written.
    pub matched: usize,
    /// MDM devices read that belong to no device of the workspace, or have no usable serial (bulk only).
    pub unmatched: u64,
    /// Due devices the MDM does not know; their metadata was cleared.
    pub not_found: usize,
    /// Due devices an incremental refresh found unchanged since the watermark: their metadata was kept
    /// and their check time stamped.
    pub unchanged: usize,
    /// Serials the MDM holds more than once.
    pub duplicates: Vec<DuplicateSerial>,
    /// Failed requests; their devices kept their metadata and stay due.
    pub errors: usize,
    /// The last error met.
    pub last_error: Option<RunError>,
    /// Whether the run stopped early on an error that concerns the whole connection, or a listing failed.
    pub aborted: bool,
    /// A complete listing that was not believed: the devices it did not list were not cleared and stay
    /// due (those it listed were written).
    pub suspicious_listing: Option<SuspiciousListing>,
    /// HTTP requests the provider sent during the run (retries and token requests included).
    pub requests: u64,
    /// What the lookup caches answered and what had to be read ([`crate::lookup_cache`]).
    pub lookups: crate::lookup_cache::LookupStats,
}

/// Why a group sync ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GroupSyncTrigger {
    /// The 6-hour schedule, or a pending sync the scheduler caught up on.
    Scheduled,
    /// A person asked for it.
    Manual,
    /// The provider or credentials were just set or changed.
    ConnectionChanged,
}

/// A synced group that could not take the MDM's name as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameCollision {
    /// The group's id in the MDM.
    pub mdm_group_id: String,
    /// The MDM's name for it.
    pub mdm_name: String,
    /// The name it was given.
    pub name: String,
}

/// What a group sync did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSyncReport {
    /// The workspace.
    pub workspace: WorkspaceId,
    /// The provider.
    pub provider: ProviderKind,
    /// Why it ran.
    pub trigger: GroupSyncTrigger,
    /// When it started.
    pub started_at: DateTime<Utc>,
    /// Groups the MDM listed.
    pub mdm_groups: usize,
    /// Synced groups created.
    pub created: usize,
    /// Synced groups whose name or membership changed.
    pub updated: usize,
    /// Synced groups already up to date.
    pub unchanged: usize,
    /// Synced groups detached (the MDM no longer has them).
    pub detached: usize,
    /// Synced groups named differently from the MDM to avoid a collision.
    pub renamed: Vec<NameCollision>,
    /// Memberships matched to a device of the workspace.
    pub members_matched: usize,
    /// MDM members no device of the workspace carries (unknown device, or metadata not fetched yet).
    pub members_unmatched: usize,
    /// HTTP requests the provider sent during the run.
    pub requests: u64,
    /// The MDM answered with changes since the previous sync (a delta read) rather than every group;
    /// groups it did not mention are counted as unchanged.
    pub delta: bool,
}

/// Whether and how a group sync followed a connect.
#[derive(Debug)]
#[non_exhaustive]
pub enum GroupSyncOutcome {
    /// The connection did not change, so no sync was owed.
    NotNeeded,
    /// The plan has no group sync.
    NotOnPlan(Plan),
    /// It ran.
    Completed(GroupSyncReport),
    /// It failed; it stays pending and the scheduler retries it.
    Failed(Error),
    /// The refresh after the change did not complete, so the device metadata is not current for the new
    /// connection and matching members now would empty every synced group. The sync stays pending; the
    /// scheduler runs it after its next complete refresh. Groups keep their members meanwhile.
    WaitingForRefresh,
}

impl fmt::Display for GroupSyncTrigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GroupSyncTrigger::Scheduled => "scheduled",
            GroupSyncTrigger::Manual => "manual",
            GroupSyncTrigger::ConnectionChanged => "connection changed",
        })
    }
}
