//! Throttled refresh of device metadata (R4, R5): strategy, per-device outcomes, the run report.
//!
//! # Strategy
//!
//! A run fetches only devices that are due (never checked, or checked at least
//! [`crate::SyncConfig::refresh_interval`] ago). There are two ways to ask the MDM:
//!
//! - **lookups**: one `devices_by_serial` call per due device: `d * l` requests, where `l` is the
//!   provider's [`RequestCosts::per_lookup`] (1 for most);
//! - **bulk**: one paged listing of the whole MDM, matched locally by normalised serial:
//!   `ceil(M / p) + M * e` requests (at least one), where `M` is the MDM's device count, `p` its page size
//!   (`provider.device_paging().page_size()`, or [`crate::SyncConfig::assumed_page_size`] for next-link
//!   paging that does not say) and `e` the per-device reads the API forces on a listing
//!   ([`RequestCosts::per_listed_device`]: 0 for most and for Fleet with SCIM access, 1 for JumpCloud and
//!   Fleet without it).
//!
//! - **changes** ([`Strategy::Changes`]): where the provider lists "changed since T"
//!   ([`mdmkit_core::MdmProvider::change_tracking`]), a run that would list in bulk lists only the devices
//!   changed since the workspace's watermark ([`crate::SyncMarks`]) minus the provider's overlap:
//!   `ceil(changed / p)` requests plus a lookup per due device never answered before.
//!
//! A bulk listing and a listing of changes read with [`mdmkit_core::Resolution::Deferred`] and make follow-up
//! reads only for the due devices they answer, from the [`crate::lookup_cache`] where it can (in batches,
//! before they are written); so the run compares lookups with `ceil(M / p)` plus the follow-ups the cache is
//! not expected to answer (one per due device beyond its young entries, for providers with `e > 0`).
//!
//! [`choose_strategy_with`] takes the cheaper one; with the common costs (`l = 1`, `e = 0`,
//! [`choose_strategy`]) that is lookups while `d <= ceil(M / p)`, bulk beyond. `M` is not known
//! before listing, so it is estimated as the larger of the workspace's device count and the row count of the
//! last complete bulk listing. A run therefore costs `min(d, ceil(M / p))` requests plus authentication, the
//! bulk lower bound whenever bulk is chosen. With Jamf's 2000-row pages and a 5,000-device fleet the
//! crossover is 3 due devices; with 100-row pages, 50.
//!
//! # Outcomes per due device
//!
//! | MDM answer | stored metadata | check time | counted as |
//! |---|---|---|---|
//! | exactly one device with the serial | replaced (R4) | stamped | `matched` |
//! | no device with the serial | cleared | stamped | `not_found` |
//! | several devices (different MDM device IDs) with the serial | cleared: never silently matched to one | stamped | `duplicates` |
//! | an error | **kept** | unchanged, so still due | `errors` |
//!
//! Duplicates are stamped because the answer is definite and asking again within the day would return the
//! same; they come back the next day, after someone fixed the MDM. A device is its MDM device ID: rows with
//! the same ID are one device (offset paging shows a row twice when devices are added during the listing),
//! and the last row read for it counts.
//!
//! # Incremental refresh
//!
//! A bulk run lists changes instead of every device when the provider tracks changes, the workspace has a
//! watermark for its current connection (connecting anew forgets it, R9), and the last complete full
//! listing is younger than [`crate::SyncConfig::full_listing_interval`] (48 h: with the daily refresh of R5,
//! every other run lists in full). [`incremental_since`] takes that decision. In such a run:
//!
//! - a listed row that continues the device the workspace stored (same MDM device ID) is written; any
//!   other row of a due device (a new or re-enrolled device, a serial that had no answer) is asked again by
//!   serial, so duplicates are still never matched silently; two listed rows of different IDs are a
//!   duplicate;
//! - a due device the listing does not mention is **unchanged**: its metadata is kept and its check time
//!   stamped ([`RefreshReport::unchanged`]); one never checked is looked up;
//! - nothing is ever cleared as vanished: a listing of changes proves no deletion. Only a complete,
//!   believed full listing clears devices the MDM no longer has;
//! - when the provider could not filter ([`mdmkit_core::Coverage::Everything`], e.g. Graph ignoring
//!   `$filter`), the listing is a full one and is treated as such.
//!
//! The watermark moves only when the run is complete ([`RefreshReport::is_complete`]), to the run's start
//! or to the oldest check time of the devices the run left alone (not due), whichever is earlier: what
//! those hold reflects the MDM as of their check. The full-listing time moves only after a complete,
//! believed full listing, or a complete lookup run over every device of the workspace (as good for the
//! workspace, and how a provider refreshed by lookups, such as Fleet without SCIM, gets its first watermark). A failed
//! run asks again from the old watermark. A listing of changes replaces a bulk listing whenever it is
//! allowed, and lookups when those would cost more than the bulk listing's pages (the daily run). Changed devices that are not due (checked within the interval) are not written:
//! R5 holds for every device, and the next full listing catches such a change at the latest.
//!
//! # Memory
//!
//! A listing is streamed: each row that answers a due device is written as it arrives, in batches of
//! [`WRITE_BATCH`]. A full listing's pages are read by a task of their own
//! ([`mdmkit_core::device_page_stream_in_task`]), at most one page ahead of the writes beyond those the
//! provider reads at once ([`mdmkit_core::MdmProvider::device_pages_at_once`]), so the next pages arrive
//! while this one is written; no run holds the fleet's rows (rows waiting for follow-up reads, at most
//! [`WRITE_BATCH`], are resolved through the lookup caches and written as a batch). What a run keeps is compact: a 64-bit hash
//! of each listed MDM device ID (to count distinct devices, 8 bytes plus the set's overhead per device), and
//! per device of the workspace its serial (twice: all serials, due serials) and, for due devices the listing
//! answered, the MDM device ID of its first row: about 150 bytes per workspace device. That map keeps the
//! duplicate rule while streaming: a second row with the same serial and another ID turns the answer into a
//! duplicate, written when the listing ends (after the first row's write, so the later write wins).
//!
//! Errors that concern the whole connection (Unauthorized, Forbidden, Not found, SSL, invalid configuration)
//! stop a lookup run at once, since every further request would fail the same way. A listing that
//! fails part-way keeps what it already wrote (devices listed before the failure, answered by their row;
//! a duplicate whose second row lay beyond the failure is caught by the next run) and clears nothing:
//! without the whole listing "not found" cannot be concluded, and the devices not yet answered stay due.
//!
//! # Listings that shrink suspiciously
//!
//! A complete listing is believed only if it is plausible. While devices of the workspace hold metadata, a
//! listing is **suspicious** when it returns no device at all, or fewer than half the devices of the last
//! complete listing when that one had at least [`SHRINK_CHECK_MIN_DEVICES`] (an API answering with an empty
//! or partial page set, a permission silently narrowed). A suspicious listing clears nothing: the devices
//! it did not list keep their metadata and check times, so they stay due and are asked again on a later
//! run (those it listed were written as they streamed in); the report says so in
//! [`RefreshReport::suspicious_listing`]. Its count becomes the new reference, so a second complete listing
//! that agrees with it is believed: a fleet that really shrank is cleared one run later, an MDM that
//! glitched once clears nothing.
//!
//! # Complete runs
//!
//! A run is complete ([`RefreshReport::is_complete`]) when every due device got a definite answer: no error,
//! not aborted, no suspicious listing. Only a complete run makes the metadata current again after a
//! connection change ([`crate::WorkspaceState::refresh_pending`]), which group sync waits for.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use mdmkit_core::{ChangeTracking, RequestCosts};
use mdmkit_core::{ErrorKind, MdmDevice, ProviderKind, SerialNumber};

use crate::clock::{earlier, later};
use crate::engine::{Connection, MdmSync};
use crate::error::Result;
use crate::lease::LeaseGuard;
use crate::lookup_cache::{choose_strategy_cached, learned_from, LookupEntry};
use crate::marks::SyncMarks;
use crate::model::{DeviceCheck, MdmMetadata, Paging, WorkspaceId, WorkspaceState};
pub use crate::reports::{
    DuplicateSerial, RefreshOutcome, RefreshReport, RunError, Strategy, SuspiciousListing,
};

mod listing;

/// The smallest last complete listing for which a listing under half its size is suspicious: small fleets
/// do lose half their devices at times.
pub const SHRINK_CHECK_MIN_DEVICES: u64 = 20;

/// Requests a complete listing of `mdm_devices` rows takes at `page_size` rows a page (at least one: an
/// empty MDM still answers one page).
pub fn bulk_listing_requests(mdm_devices: u64, page_size: u32) -> u64 {
    mdm_devices.div_ceil(u64::from(page_size.max(1))).max(1)
}

/// The cheaper way to fetch `due` devices from an MDM estimated to hold `mdm_devices_estimate` devices,
/// listed `page_size` rows a page: lookups while `due <= ceil(M / p)`, bulk beyond (see the module docs).
pub fn choose_strategy(due: usize, mdm_devices_estimate: u64, page_size: u32) -> Strategy {
    choose_strategy_with(
        due,
        mdm_devices_estimate,
        page_size,
        RequestCosts::PAGES_CARRY_EVERYTHING,
    )
}

/// Requests a refresh of `due` devices costs with `strategy` (see the module docs).
pub fn strategy_requests(
    strategy: Strategy,
    due: usize,
    mdm_devices_estimate: u64,
    page_size: u32,
    costs: RequestCosts,
) -> u64 {
    match strategy {
        Strategy::Lookups => due as u64 * u64::from(costs.per_lookup.max(1)),
        Strategy::Bulk => {
            bulk_listing_requests(mdm_devices_estimate, page_size)
                + mdm_devices_estimate * u64::from(costs.per_listed_device)
        }
        // Not known before listing: at least one page; ceil(changed / page size) in all.
        Strategy::Changes => 1,
    }
}

/// The cheaper way to fetch `due` devices given the provider's [`RequestCosts`]: bulk only when lookups
/// would cost more requests than the listing.
pub fn choose_strategy_with(
    due: usize,
    mdm_devices_estimate: u64,
    page_size: u32,
    costs: RequestCosts,
) -> Strategy {
    let cost = |s| strategy_requests(s, due, mdm_devices_estimate, page_size, costs);
    if cost(Strategy::Lookups) > cost(Strategy::Bulk) {
        Strategy::Bulk
    } else {
        Strategy::Lookups
    }
}

impl SuspiciousListing {
    /// Whether a complete listing of `listed` distinct devices is suspicious, given the last complete
    /// listing's count and how many devices of the workspace hold metadata.
    pub fn check(
        listed: u64,
        last_listed: Option<u64>,
        devices_with_metadata: usize,
    ) -> Option<SuspiciousListing> {
        if devices_with_metadata == 0 {
            return None;
        }
        let emptied = listed == 0 && last_listed != Some(0);
        let shrunk = last_listed.is_some_and(|last| {
            last >= SHRINK_CHECK_MIN_DEVICES && listed.saturating_mul(2) < last
        });
        (emptied || shrunk).then_some(SuspiciousListing {
            listed,
            last_listed,
            devices_with_metadata,
        })
    }
}

impl RefreshReport {
    fn new(
        workspace: &WorkspaceId,
        provider: ProviderKind,
        started_at: DateTime<Utc>,
        due: usize,
    ) -> Self {
        RefreshReport {
            workspace: workspace.clone(),
            provider,
            started_at,
            due,
            strategy: None,
            estimated_requests: 0,
            devices_seen: 0,
            matched: 0,
            unmatched: 0,
            not_found: 0,
            unchanged: 0,
            duplicates: Vec::new(),
            errors: 0,
            last_error: None,
            aborted: false,
            suspicious_listing: None,
            requests: 0,
            lookups: Default::default(),
        }
    }

    /// Due devices that got no definite answer and stay due.
    pub fn still_due(&self) -> usize {
        self.due
            .saturating_sub(self.matched + self.not_found + self.unchanged + self.duplicates.len())
    }

    /// Whether every due device got a definite answer: no error, not aborted, no suspicious listing. After
    /// a connection change only a complete run makes the metadata current again, and group sync waits for
    /// one.
    pub fn is_complete(&self) -> bool {
        !self.aborted && self.errors == 0 && self.suspicious_listing.is_none()
    }

    /// Whether the run got nowhere: aborted, a suspicious listing, or only errors. The scheduler backs such
    /// a workspace off.
    pub(crate) fn made_no_progress(&self) -> bool {
        let answered = self.matched + self.not_found + self.unchanged + self.duplicates.len();
        self.aborted || self.suspicious_listing.is_some() || (self.errors > 0 && answered == 0)
    }

    pub(crate) fn fail(&mut self, error: &mdmkit_core::Error, serial: Option<SerialNumber>) {
        self.errors += 1;
        self.last_error = Some(RunError::new(error, serial));
    }
}

/// The MDM's definite answer about one serial.
enum Answer {
    Found(Box<MdmDevice>),
    NotFound,
    Duplicate(Vec<String>),
}

impl Answer {
    /// Devices are told apart by MDM device ID: the same ID twice is one device (its last record counts).
    fn from_matches(found: Vec<MdmDevice>) -> Answer {
        let mut by_id: BTreeMap<String, MdmDevice> = BTreeMap::new();
        for device in found {
            by_id.insert(device.device_id.clone(), device);
        }
        match by_id.len() {
            0 => Answer::NotFound,
            1 => match by_id.into_values().next() {
                Some(device) => Answer::Found(Box::new(device)),
                None => Answer::NotFound,
            },
            _ => Answer::Duplicate(by_id.into_keys().collect()),
        }
    }
}

/// Errors after which no further request of the run can succeed.
fn concerns_connection(error: &mdmkit_core::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::Unauthorized
            | ErrorKind::Forbidden
            | ErrorKind::NotFound
            | ErrorKind::Ssl
            | ErrorKind::InvalidConfiguration
    )
}

/// Where an incremental refresh starts listing: the watermark minus the provider's overlap, when the
/// provider tracks changes, the workspace has a watermark for its current connection and the last complete
/// full listing is younger than `full_interval`; `None` means a full listing is due.
pub fn incremental_since(
    tracking: ChangeTracking,
    marks: &SyncMarks,
    state: &WorkspaceState,
    now: DateTime<Utc>,
    full_interval: std::time::Duration,
) -> Option<DateTime<Utc>> {
    if !tracking.is_supported() || state.refresh_pending {
        return None;
    }
    let watermark = marks.device_watermark?;
    let full = marks.last_full_listing?;
    // A full listing "from the future" (the clock went back) proves nothing: list in full.
    let fresh = full <= now && now < later(full, full_interval);
    fresh.then(|| earlier(watermark, tracking.overlap()))
}

/// Device checks written per store call: a bulk refresh of 10,000 devices writes them in 20 batches (one
/// transaction each, a handful of statements), not 10,000 round trips.
pub const WRITE_BATCH: usize = 500;

/// Collects a run's definite answers and writes them in batches, under the run's lease.
pub(crate) struct Checks<'a> {
    sync: &'a MdmSync,
    pub(crate) workspace: &'a WorkspaceId,
    pub(crate) guard: &'a LeaseGuard,
    pub(crate) now: DateTime<Utc>,
    pending: Vec<DeviceCheck>,
    /// Whether the provider may leave users to the lookup caches ([`mdmkit_core::MdmProvider::defers_user_reads`]):
    /// then what complete answers of the MDM say about users is remembered, written with the checks.
    learns: bool,
    learned: Vec<LookupEntry>,
    /// Cache entries written so far (for [`crate::LookupStats::stored`]).
    stored: u64,
}

impl<'a> Checks<'a> {
    fn new(
        sync: &'a MdmSync,
        workspace: &'a WorkspaceId,
        guard: &'a LeaseGuard,
        now: DateTime<Utc>,
        learns: bool,
    ) -> Self {
        Checks {
            sync,
            workspace,
            guard,
            now,
            pending: Vec::with_capacity(WRITE_BATCH),
            learns,
            learned: Vec::new(),
            stored: 0,
        }
    }

    /// Remembers what a complete answer of the MDM (a lookup's device, a row the listing resolved
    /// itself) says about its user, for the lookup caches (see [`learned_from`]).
    pub(crate) fn learn(&mut self, device: &MdmDevice) {
        if self.learns {
            self.learned.extend(learned_from(device, self.now));
        }
    }

    /// Counts the answer in the report and queues its write; writes a full batch.
    async fn push(
        &mut self,
        serial: SerialNumber,
        answer: Answer,
        report: &mut RefreshReport,
    ) -> Result<()> {
        let metadata = match answer {
            Answer::Found(device) => {
                report.matched += 1;
                Some(MdmMetadata::from(&*device))
            }
            Answer::NotFound => {
                report.not_found += 1;
                None
            }
            Answer::Duplicate(device_ids) => {
                tracing::warn!(workspace = %self.workspace, serial = %serial, ?device_ids, "several MDM devices share a serial; not matched");
                report.duplicates.push(DuplicateSerial {
                    serial_number: serial.clone(),
                    device_ids,
                });
                None
            }
        };
        self.write(serial, metadata).await
    }

    /// Queues a write without counting it (the listing counts its answers when it ends).
    async fn write(&mut self, serial: SerialNumber, metadata: Option<MdmMetadata>) -> Result<()> {
        self.pending.push(DeviceCheck {
            serial_number: serial,
            metadata,
            checked_at: self.now,
        });
        if self.pending.len() >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is queued, in one transaction under the lease's fence, then what the answers taught
    /// the lookup caches.
    async fn flush(&mut self) -> Result<()> {
        if !self.pending.is_empty() {
            self.guard.check()?;
            self.sync
                .stores
                .devices
                .record_checks(self.workspace, self.guard.fence(), &self.pending)
                .await?;
            self.pending.clear();
        }
        for chunk in self.learned.chunks(WRITE_BATCH) {
            self.guard.check()?;
            let written = self
                .sync
                .stores
                .lookups
                .store_lookups(self.workspace, self.guard.fence(), chunk)
                .await?;
            self.stored += written as u64;
        }
        self.learned.clear();
        Ok(())
    }
}

impl MdmSync {
    /// Fetches the MDM metadata of every device that is due (R5), choosing lookups or a bulk listing (see
    /// [`crate::refresh`]). Provider failures are in the report; `Err` means the run could not start or
    /// store its results (not connected, lease busy or lost, storage or vault failure).
    pub async fn refresh_due(&self, workspace: &WorkspaceId) -> Result<RefreshReport> {
        self.refresh_at(workspace, self.clock.now()).await
    }

    pub(crate) async fn refresh_at(
        &self,
        workspace: &WorkspaceId,
        now: DateTime<Utc>,
    ) -> Result<RefreshReport> {
        self.under_lease(workspace, async |guard| {
            let connection = self.connection(workspace).await?;
            self.refresh_locked(workspace, &connection, now, guard)
                .await
        })
        .await
    }

    /// A refresh the scheduler decided on. Under the lease the decision is taken again on fresh state,
    /// because another replica may have just run it: `None` when the window (`window_open`) has closed or
    /// no device is due any more (and no refresh is owed after a connection change).
    pub(crate) async fn refresh_scheduled(
        &self,
        workspace: &WorkspaceId,
        now: DateTime<Utc>,
        window_open: impl Fn(&WorkspaceState) -> bool,
    ) -> Result<Option<RefreshReport>> {
        self.under_lease(workspace, async |guard| {
            let state = self.stores.state.sync_state(workspace).await?;
            let cutoff = earlier(now, self.config.refresh_interval);
            let still_due = window_open(&state)
                && (state.refresh_pending
                    || self.stores.devices.any_due(workspace, cutoff).await?);
            if !still_due {
                return Ok(None);
            }
            let connection = self.connection(workspace).await?;
            self.refresh_locked(workspace, &connection, now, guard)
                .await
                .map(Some)
        })
        .await
    }

    pub(crate) async fn refresh_locked(
        &self,
        workspace: &WorkspaceId,
        connection: &Connection,
        now: DateTime<Utc>,
        guard: &LeaseGuard,
    ) -> Result<RefreshReport> {
        let provider = &connection.provider;
        let requests_before = provider.request_count();
        let cutoff = earlier(now, self.config.refresh_interval);
        let state = self.stores.state.sync_state(workspace).await?;
        let devices = &self.stores.devices;
        let due =
            usize::try_from(devices.count_due(workspace, cutoff).await?).unwrap_or(usize::MAX);
        let mut report = RefreshReport::new(workspace, connection.kind, now, due);
        let mut listed = None;
        if due > 0 {
            let sizing = Sizing {
                estimate: devices
                    .device_count(workspace)
                    .await?
                    .max(state.mdm_device_count.unwrap_or(0)),
                page_size: provider
                    .device_paging()
                    .page_size()
                    .unwrap_or(self.config.assumed_page_size),
                costs: provider.request_costs(),
            };
            let Sizing {
                estimate,
                page_size,
                costs,
            } = sizing;
            // Bulk listings defer follow-up reads to the lookup caches (see `lookup_cache`).
            let follow_ups = self.expected_follow_ups(workspace, due, costs, now).await?;
            let (mut strategy, estimated) =
                choose_strategy_cached(due, estimate, page_size, costs, follow_ups);
            report.estimated_requests = estimated;
            let since = self
                .incremental_plan(
                    workspace, connection, &state, now, &sizing, strategy, &report,
                )
                .await?;
            if since.is_some() {
                strategy = Strategy::Changes;
                report.estimated_requests = strategy_requests(strategy, due, 0, page_size, costs);
            }
            report.strategy = Some(strategy);
            let mut checks = Checks::new(self, workspace, guard, now, provider.defers_user_reads());
            match strategy {
                Strategy::Lookups => {
                    self.by_lookups(connection, cutoff, &mut checks, &mut report)
                        .await?;
                    // Every device of the workspace answered now, by serial: as good as a full
                    // listing for the workspace (a device the MDM lost was found missing), so
                    // providers refreshed by lookups (Fleet without SCIM) can go incremental the next day.
                    let all = devices.device_count(workspace).await? == due as u64;
                    if all && report.is_complete() {
                        checks.flush().await?;
                        guard.check()?;
                        self.stores
                            .marks
                            .record_device_watermark(workspace, guard.fence(), now, Some(now))
                            .await?;
                    }
                }
                _ => {
                    let outcome = self
                        .by_listing(connection, since, cutoff, &state, &mut checks, &mut report)
                        .await?;
                    checks.flush().await?;
                    listed = outcome.listed;
                    if report.is_complete() {
                        // Only now: a failed run asks again from the old watermark. Devices not due
                        // were answered earlier: the watermark may not pass their check.
                        let watermark = outcome.oldest_recent.map_or(now, |at| at.min(now));
                        guard.check()?;
                        self.stores
                            .marks
                            .record_device_watermark(
                                workspace,
                                guard.fence(),
                                watermark,
                                outcome.full.then_some(now),
                            )
                            .await?;
                    }
                }
            }
            checks.flush().await?;
            report.lookups.stored += checks.stored;
        }
        report.requests = provider.request_count().saturating_sub(requests_before);
        guard.check()?;
        self.stores
            .state
            .record_refresh(workspace, guard.fence(), now, listed)
            .await?;
        if state.refresh_pending && report.is_complete() {
            self.stores
                .state
                .set_refresh_pending(workspace, guard.fence(), false)
                .await?;
            tracing::info!(workspace = %workspace, "device metadata current for the new MDM connection");
        }
        tracing::info!(
            workspace = %workspace,
            provider = %report.provider,
            due = report.due,
            matched = report.matched,
            not_found = report.not_found,
            duplicates = report.duplicates.len(),
            errors = report.errors,
            suspicious_listing = report.suspicious_listing.is_some(),
            requests = report.requests,
            strategy = ?report.strategy,
            "MDM refresh finished"
        );
        Ok(report)
    }

    /// Where an incremental run would start, when it should replace `chosen` (see the module docs):
    /// [`incremental_since`] allows one, and the run would cost fewer requests than `chosen`. A listing of
    /// changes costs its pages (unknown before listing, at most the bulk listing's) plus a lookup per
    /// due device never answered; it replaces a bulk listing always, and lookups when they cost more
    /// than the bulk listing's pages (the daily run, when every device is due).
    #[allow(clippy::too_many_arguments)]
    async fn incremental_plan(
        &self,
        workspace: &WorkspaceId,
        connection: &Connection,
        state: &WorkspaceState,
        now: DateTime<Utc>,
        sizing: &Sizing,
        chosen: Strategy,
        report: &RefreshReport,
    ) -> Result<Option<DateTime<Utc>>> {
        let provider = &connection.provider;
        let marks = self.stores.marks.sync_marks(workspace).await?;
        let Some(since) = incremental_since(
            provider.change_tracking(),
            &marks,
            state,
            now,
            self.config.full_listing_interval,
        ) else {
            return Ok(None);
        };
        let Sizing {
            estimate,
            page_size,
            costs,
        } = *sizing;
        let pages = bulk_listing_requests(estimate, page_size);
        let fresh = self
            .stores
            .devices
            .count_due(workspace, DateTime::UNIX_EPOCH)
            .await?;
        let fresh = usize::try_from(fresh).unwrap_or(usize::MAX);
        let changes = pages.saturating_add(strategy_requests(
            Strategy::Lookups,
            fresh,
            estimate,
            page_size,
            costs,
        ));
        let worth_it = match chosen {
            Strategy::Lookups => {
                report.estimated_requests > pages && changes < report.estimated_requests
            }
            _ => changes <= report.estimated_requests.saturating_add(pages),
        };
        Ok(worth_it.then_some(since))
    }

    /// One lookup per due device, a page of due devices at a time; each page's answers are one write.
    async fn by_lookups(
        &self,
        connection: &Connection,
        cutoff: DateTime<Utc>,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<()> {
        let workspace = checks.workspace;
        let provider = connection.provider.clone();
        let mut paging = Some(Paging::first(WRITE_BATCH));
        while let Some(page) = paging {
            let page = self
                .stores
                .devices
                .devices_due(workspace, cutoff, page)
                .await?;
            // Keyset paging: devices answered on this page are no longer due, the cursor moves past them.
            paging = page.next_page(WRITE_BATCH);
            let mut answers = stream::iter(page.devices.into_iter().map(|device| {
                let provider = provider.clone();
                async move {
                    let result = provider.devices_by_serial(&device.serial_number).await;
                    (device.serial_number, result)
                }
            }))
            .buffer_unordered(self.config.lookup_concurrency.max(1));
            while let Some((serial, result)) = answers.next().await {
                checks.guard.check()?;
                match result {
                    Ok(found) => {
                        report.devices_seen += found.len() as u64;
                        // Providers re-check serials; check again rather than trust a fuzzy filter.
                        let exact: Vec<MdmDevice> = found
                            .into_iter()
                            .filter(|d| d.serial_number.as_ref().is_none_or(|s| *s == serial))
                            .collect();
                        if let [device] = exact.as_slice() {
                            checks.learn(device);
                        }
                        checks
                            .push(serial, Answer::from_matches(exact), report)
                            .await?;
                    }
                    Err(e) => {
                        tracing::debug!(workspace = %workspace, serial = %serial, error = %e, "MDM lookup failed");
                        report.fail(&e, Some(serial));
                        if concerns_connection(&e) {
                            report.aborted = true;
                            return Ok(());
                        }
                    }
                }
            }
            drop(answers);
            checks.flush().await?;
        }
        Ok(())
    }
}

/// What a run's strategy is chosen from: the fleet's expected size (the larger of the devices tracked and
/// the MDM's last count), the provider's listing page size and its request costs. Read once per run.
#[derive(Debug, Clone, Copy)]
struct Sizing {
    estimate: u64,
    page_size: u32,
    costs: RequestCosts,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_requests_round_up_and_never_reach_zero() {
        assert_eq!(bulk_listing_requests(0, 100), 1);
        assert_eq!(bulk_listing_requests(100, 100), 1);
        assert_eq!(bulk_listing_requests(101, 100), 2);
        assert_eq!(bulk_listing_requests(5000, 2000), 3);
        assert_eq!(
            bulk_listing_requests(10, 0),
            10,
            "a zero page size counts as one row a page"
        );
    }

    #[test]
    fn crossover_is_the_bulk_request_count() {
        // 5,000 devices at Jamf's 2000-row pages: a listing costs 3 requests.
        assert_eq!(choose_strategy(3, 5000, 2000), Strategy::Lookups);
        assert_eq!(choose_strategy(4, 5000, 2000), Strategy::Bulk);
        // The same fleet at 100-row pages: 50 requests.
        assert_eq!(choose_strategy(50, 5000, 100), Strategy::Lookups);
        assert_eq!(choose_strategy(51, 5000, 100), Strategy::Bulk);
        // A one-page MDM: a single due device is a lookup, two are a listing.
        assert_eq!(choose_strategy(1, 40, 300), Strategy::Lookups);
        assert_eq!(choose_strategy(2, 40, 300), Strategy::Bulk);
        // A listing that reads every device once more (Fleet) never beats one-request lookups.
        let fleet = RequestCosts {
            per_lookup: 1,
            per_listed_device: 1,
        };
        assert_eq!(
            choose_strategy_with(5000, 5000, 100, fleet),
            Strategy::Lookups
        );
        // Three-request lookups (JumpCloud) lose to a listing once a third of the MDM is due.
        let jumpcloud = RequestCosts {
            per_lookup: 3,
            per_listed_device: 1,
        };
        assert_eq!(
            choose_strategy_with(1000, 5000, 100, jumpcloud),
            Strategy::Lookups
        );
        assert_eq!(
            choose_strategy_with(1800, 5000, 100, jumpcloud),
            Strategy::Bulk
        );
        assert_eq!(
            strategy_requests(Strategy::Bulk, 1800, 5000, 100, jumpcloud),
            5050
        );
    }

    fn device(id: &str, name: &str) -> MdmDevice {
        MdmDevice::new(
            id,
            SerialNumber::parse_opt(Some("C02X")),
            Some(name.into()),
            None,
            None,
        )
    }

    #[test]
    fn the_same_device_id_twice_is_one_device_and_its_last_row_counts() {
        let Answer::Found(d) = Answer::from_matches(vec![device("7", "old"), device("7", "new")])
        else {
            panic!("one device");
        };
        assert_eq!(d.device_name.as_deref(), Some("new"));
        let Answer::Duplicate(ids) =
            Answer::from_matches(vec![device("9", "a"), device("7", "b"), device("9", "c")])
        else {
            panic!("two devices");
        };
        assert_eq!(ids, ["7", "9"]);
        assert!(matches!(Answer::from_matches(vec![]), Answer::NotFound));
    }

    #[test]
    fn a_listing_is_suspicious_when_it_empties_or_halves_a_fleet_that_had_metadata() {
        let check = SuspiciousListing::check;
        // Empty while devices hold metadata: suspicious, unless the last listing was empty too.
        assert!(check(0, Some(40), 3).is_some());
        assert!(check(0, None, 1).is_some());
        assert!(
            check(0, Some(0), 3).is_none(),
            "confirmed by a second listing"
        );
        // Under half of a fleet of at least 20.
        assert!(check(19, Some(40), 3).is_some());
        assert!(
            check(20, Some(40), 3).is_none(),
            "exactly half is plausible"
        );
        assert!(check(9, Some(SHRINK_CHECK_MIN_DEVICES), 3).is_some());
        assert!(
            check(2, Some(SHRINK_CHECK_MIN_DEVICES - 1), 3).is_none(),
            "small fleets shrink"
        );
        assert!(check(1, None, 3).is_none(), "nothing to compare with");
        // Nothing to lose: believed.
        assert!(check(0, Some(40), 0).is_none());
        assert_eq!(
            check(5, Some(u64::MAX), 2),
            Some(SuspiciousListing {
                listed: 5,
                last_listed: Some(u64::MAX),
                devices_with_metadata: 2,
            })
        );
    }

    #[test]
    fn the_chosen_cost_never_exceeds_either_alternative() {
        for due in 1..300usize {
            for fleet in [1u64, 99, 100, 101, 999, 5000, 20_000] {
                for page in [1u32, 50, 100, 2000] {
                    let bulk = bulk_listing_requests(fleet, page);
                    let cost = match choose_strategy(due, fleet, page) {
                        Strategy::Lookups => due as u64,
                        Strategy::Bulk => bulk,
                        Strategy::Changes => panic!("never chosen without a watermark"),
                    };
                    assert_eq!(cost, bulk.min(due as u64), "{due} {fleet} {page}");
                }
            }
        }
    }
}
