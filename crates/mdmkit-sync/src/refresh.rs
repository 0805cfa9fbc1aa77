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
//!   ([`RequestCosts::per_listed_device`]: 0 for most, 1 for Fleet and JumpCloud).
//!
//! A bulk refresh lists with [`mdmkit_core::Resolution::Deferred`] and makes follow-up reads only for the
//! due devices it matched, answered from the [`crate::lookup_cache`] where it can; so the run compares
//! lookups with `ceil(M / p)` plus the follow-ups the cache is not expected to answer (one per due device
//! beyond its young entries, for providers with `e > 0`).
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
//! Errors that concern the whole connection (Unauthorized, Forbidden, Not found, SSL, invalid configuration)
//! stop a lookup run at once, since every further request would fail the same way. A bulk listing that
//! fails part-way writes nothing: without the whole listing neither "not found" nor "exactly one" can be
//! concluded.
//!
//! # Listings that shrink suspiciously
//!
//! A complete listing is believed only if it is plausible. While devices of the workspace hold metadata, a
//! listing is **suspicious** when it returns no device at all, or fewer than half the devices of the last
//! complete listing when that one had at least [`SHRINK_CHECK_MIN_DEVICES`] (an API answering with an empty
//! or partial page set, a permission silently narrowed). A suspicious listing writes nothing: metadata and
//! check times are kept, so the devices stay due and are asked again on a later run; the report says so in
//! [`RefreshReport::suspicious_listing`]. Its count becomes the new reference, so a second complete listing
//! that agrees with it is believed: a fleet that really shrank is cleared one run later, an MDM that
//! glitched once clears nothing.
//!
//! # Complete runs
//!
//! A run is complete ([`RefreshReport::is_complete`]) when every due device got a definite answer: no error,
//! not aborted, no suspicious listing. Only a complete run makes the metadata current again after a
//! connection change ([`crate::WorkspaceState::refresh_pending`]), which group sync waits for.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use mdmkit_core::paging::DEFAULT_MAX_PAGES;
use mdmkit_core::RequestCosts;
use mdmkit_core::{device_stream_with, ErrorKind, MdmDevice, ProviderKind, SerialNumber};

use crate::clock::earlier;
use crate::engine::{all_pages, Connection, MdmSync};
use crate::error::Result;
use crate::lease::LeaseGuard;
use crate::lookup_cache::{choose_strategy_cached, names_from_lookup};
use crate::model::{DeviceCheck, MdmMetadata, Paging, WorkspaceId, WorkspaceState};
pub use crate::reports::{DuplicateSerial, RefreshReport, RunError, Strategy, SuspiciousListing};

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
            .saturating_sub(self.matched + self.not_found + self.duplicates.len())
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
        let answered = self.matched + self.not_found + self.duplicates.len();
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
}

impl<'a> Checks<'a> {
    fn new(
        sync: &'a MdmSync,
        workspace: &'a WorkspaceId,
        guard: &'a LeaseGuard,
        now: DateTime<Utc>,
    ) -> Self {
        Checks {
            sync,
            workspace,
            guard,
            now,
            pending: Vec::with_capacity(WRITE_BATCH),
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
                    serial: serial.clone(),
                    device_ids,
                });
                None
            }
        };
        self.pending.push(DeviceCheck {
            serial,
            metadata,
            checked_at: self.now,
        });
        if self.pending.len() >= WRITE_BATCH {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes what is queued, in one transaction under the lease's fence.
    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.guard.check()?;
        self.sync
            .stores
            .devices
            .record_checks(self.workspace, self.guard.fence(), &self.pending)
            .await?;
        self.pending.clear();
        Ok(())
    }
}

/// What a bulk refresh needs to know of the workspace's devices, read page by page.
struct Inventory {
    known: HashSet<SerialNumber>,
    due: Vec<SerialNumber>,
    with_metadata: usize,
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
        let guard = self.acquire_lease(workspace).await?;
        let result = async {
            let connection = self.connection(workspace).await?;
            self.refresh_locked(workspace, &connection, now, &guard)
                .await
        }
        .await;
        self.release_lease(guard).await;
        result
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
        let guard = self.acquire_lease(workspace).await?;
        let result = async {
            let state = self.stores.state.sync_state(workspace).await?;
            let cutoff = earlier(now, self.config.refresh_interval);
            let still_due = window_open(&state)
                && (state.refresh_pending
                    || self.stores.devices.any_due(workspace, cutoff).await?);
            if !still_due {
                return Ok(None);
            }
            let connection = self.connection(workspace).await?;
            self.refresh_locked(workspace, &connection, now, &guard)
                .await
                .map(Some)
        }
        .await;
        self.release_lease(guard).await;
        result
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
            let estimate = devices
                .device_count(workspace)
                .await?
                .max(state.mdm_device_count.unwrap_or(0));
            let page_size = provider
                .device_paging()
                .page_size()
                .unwrap_or(self.config.assumed_page_size);
            let costs = provider.request_costs();
            // Bulk listings defer follow-up reads to the lookup caches (see `lookup_cache`).
            let follow_ups = self.expected_follow_ups(workspace, due, costs, now).await?;
            let (strategy, estimated) =
                choose_strategy_cached(due, estimate, page_size, costs, follow_ups);
            report.strategy = Some(strategy);
            report.estimated_requests = estimated;
            let mut checks = Checks::new(self, workspace, guard, now);
            match strategy {
                Strategy::Lookups => {
                    self.by_lookups(connection, cutoff, &mut checks, &mut report)
                        .await?
                }
                Strategy::Bulk => {
                    listed = self
                        .by_listing(connection, cutoff, &state, &mut checks, &mut report)
                        .await?;
                }
            }
            checks.flush().await?;
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
        let costs = provider.request_costs();
        let mut learned = Vec::new();
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
                    let result = provider.devices_by_serial(&device.serial).await;
                    (device.serial, result)
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
                            learned.extend(names_from_lookup(costs, device, checks.now));
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
            self.store_entries(workspace, checks.guard, &learned, report)
                .await?;
            learned.clear();
        }
        Ok(())
    }

    /// The workspace's serials, the due ones and how many hold metadata, read page by page.
    async fn inventory(&self, workspace: &WorkspaceId, cutoff: DateTime<Utc>) -> Result<Inventory> {
        let mut inventory = Inventory {
            known: HashSet::new(),
            due: Vec::new(),
            with_metadata: 0,
        };
        let devices = &self.stores.devices;
        for device in all_pages(|p| devices.devices(workspace, p)).await? {
            if device.checked_at.is_none_or(|at| at <= cutoff) {
                inventory.due.push(device.serial.clone());
            }
            if device.metadata.is_some() {
                inventory.with_metadata += 1;
            }
            inventory.known.insert(device.serial);
        }
        Ok(inventory)
    }

    /// Returns the listing's count of distinct devices when it completed (suspicious or not).
    async fn by_listing(
        &self,
        connection: &Connection,
        cutoff: DateTime<Utc>,
        state: &WorkspaceState,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<Option<u64>> {
        let workspace = checks.workspace;
        let inventory = self.inventory(workspace, cutoff).await?;
        // Every MDM device ID read, and the rows of ours by ID: a row read twice is one device.
        let mut seen: HashSet<String> = HashSet::new();
        let mut ours: HashMap<String, MdmDevice> = HashMap::new();
        let mut rows = device_stream_with(
            &*connection.provider,
            DEFAULT_MAX_PAGES,
            self.listing_resolution(),
        );
        while let Some(row) = rows.next().await {
            // A lease found lost stops the listing at once: nothing it read could be written.
            checks.guard.check()?;
            match row {
                Ok(device) => {
                    seen.insert(device.device_id.clone());
                    match &device.serial_number {
                        Some(serial) if inventory.known.contains(serial) => {
                            ours.insert(device.device_id.clone(), device);
                        }
                        // Its serial may have changed since an earlier row.
                        _ => {
                            ours.remove(&device.device_id);
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(workspace = %workspace, error = %e, "MDM listing failed");
                    report.fail(&e, None);
                    report.aborted = true;
                    return Ok(None);
                }
            }
        }
        drop(rows);
        let listed = seen.len() as u64;
        report.devices_seen = listed;
        report.unmatched = listed.saturating_sub(ours.len() as u64);
        if let Some(suspicious) =
            SuspiciousListing::check(listed, state.mdm_device_count, inventory.with_metadata)
        {
            tracing::warn!(
                workspace = %workspace,
                listed,
                last_listed = ?suspicious.last_listed,
                devices_with_metadata = inventory.with_metadata,
                "MDM listing shrank suspiciously; metadata kept, asking again later"
            );
            report.suspicious_listing = Some(suspicious);
            return Ok(Some(listed));
        }
        let mut by_serial: HashMap<SerialNumber, Vec<MdmDevice>> = HashMap::new();
        for device in ours.into_values() {
            if let Some(serial) = device.serial_number.clone() {
                by_serial.entry(serial).or_default().push(device);
            }
        }
        let resolved = self
            .resolve_due(connection, checks, &inventory.due, &mut by_serial, report)
            .await?;
        for serial in inventory.due {
            let found = by_serial.remove(&serial).unwrap_or_default();
            if found.iter().any(|d| resolved.failed.contains(&d.device_id)) {
                // Its follow-up read failed: no definite answer, so it keeps its metadata and stays due.
                continue;
            }
            checks
                .push(serial, Answer::from_matches(found), report)
                .await?;
        }
        Ok(Some(listed))
    }
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
                    };
                    assert_eq!(cost, bulk.min(due as u64), "{due} {fleet} {page}");
                }
            }
        }
    }
}
