//! The listing half of a refresh, streamed: a full listing or a listing of changes is read page by page
//! and its answers are written [`WRITE_BATCH`] devices at a time, so a run never holds the fleet's
//! device records (see "Memory" in [`crate::refresh`]).
//!
//! Both kinds of listing read with [`Resolution::Deferred`] (see [`crate::lookup_cache`]): a row that
//! answers a due device and still needs a follow-up read (a Fleet user name, a JumpCloud binding) waits in
//! a batch of at most [`WRITE_BATCH`] rows, is resolved from the cache or the MDM, and only then written,
//! so the stored metadata is what a listing resolved inline would have stored.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use mdmkit_core::paging::DEFAULT_MAX_PAGES;
use mdmkit_core::{
    device_page_stream_in_task, ChangeListing, ChangesRequest, Coverage, MdmDevice, MdmProvider,
    ProviderOperations, SerialNumber,
};

use super::{concerns_connection, Answer, Checks, SuspiciousListing, WRITE_BATCH};
use crate::engine::{Connection, MdmSync};
use crate::error::Result;
use crate::model::{MdmMetadata, Paging, WorkspaceId, WorkspaceState};
use crate::reports::RefreshReport;

/// What a listing run tells the refresh when it ends.
pub(super) struct ListingOutcome {
    /// Distinct devices of a complete listing that covered every device (suspicious or not): the new
    /// estimate of the MDM's fleet.
    pub(super) listed: Option<u64>,
    /// A complete, believed listing of every device: the only kind that may clear what vanished, and
    /// the one that restarts the full-listing clock.
    pub(super) full: bool,
    /// The oldest check time of the devices this run did not answer because they were not due: what
    /// they hold reflects the MDM as of then, so the watermark may not be later.
    pub(super) oldest_recent: Option<DateTime<Utc>>,
}

/// The compact state of a streamed listing. Per listed device it keeps 8 bytes (a hash of its MDM id,
/// to count distinct devices); per due device of the workspace, its serial and the MDM id of its first
/// row (the duplicate rule); rows are never kept, except the few an incremental run must verify.
struct Tally {
    hasher: RandomState,
    /// Every serial of the workspace (to count the rows that belong to none).
    known: HashSet<SerialNumber>,
    /// The due serials.
    due: HashSet<SerialNumber>,
    with_metadata: usize,
    /// The oldest check time among devices that are not due.
    oldest_recent: Option<DateTime<Utc>>,
    /// Hashes of every MDM device id listed, and of those whose serial is the workspace's.
    ids: HashSet<u64>,
    ours: HashSet<u64>,
    /// Due serial -> MDM id of the first row with it.
    first: HashMap<SerialNumber, String>,
    /// Due serials listed with several MDM ids.
    dups: BTreeMap<SerialNumber, BTreeSet<String>>,
    /// Incremental runs: rows that do not continue the device the workspace stored (a new enrolment, a
    /// re-enrolment, a device that had no answer), asked again by serial unless the listing turns out
    /// to cover everything.
    held: BTreeMap<SerialNumber, MdmDevice>,
    /// The listing covers every device.
    everything: bool,
    /// Rows that answer a due device but wait for follow-up reads ([`crate::lookup_cache`]), by serial;
    /// resolved and written [`WRITE_BATCH`] at a time.
    deferred: BTreeMap<SerialNumber, MdmDevice>,
    /// Due serials the listing answered but that were not written: their follow-up read failed (or the
    /// listing failed before they were resolved). They keep their metadata and stay due.
    unwritten: HashSet<SerialNumber>,
}

impl Tally {
    fn hash(&self, id: &str) -> u64 {
        self.hasher.hash_one(id)
    }
}

impl MdmSync {
    /// The workspace's serials, the due ones and how many hold metadata, read page by page.
    async fn tally(&self, workspace: &WorkspaceId, cutoff: DateTime<Utc>) -> Result<Tally> {
        let mut tally = Tally {
            hasher: RandomState::new(),
            known: HashSet::new(),
            due: HashSet::new(),
            with_metadata: 0,
            oldest_recent: None,
            ids: HashSet::new(),
            ours: HashSet::new(),
            first: HashMap::new(),
            dups: BTreeMap::new(),
            held: BTreeMap::new(),
            everything: false,
            deferred: BTreeMap::new(),
            unwritten: HashSet::new(),
        };
        let mut paging = Some(Paging::first(WRITE_BATCH));
        while let Some(p) = paging {
            let page = self.stores.devices.devices(workspace, p).await?;
            paging = page.next_page(WRITE_BATCH);
            for device in page.devices {
                match device.checked_at {
                    Some(at) if at > cutoff => {
                        tally.oldest_recent = Some(tally.oldest_recent.map_or(at, |o| o.min(at)));
                    }
                    _ => {
                        tally.due.insert(device.serial_number.clone());
                    }
                }
                if device.metadata.is_some() {
                    tally.with_metadata += 1;
                }
                tally.known.insert(device.serial_number);
            }
        }
        Ok(tally)
    }

    /// One listed row: written at once when it answers a due device (a later row of another MDM device
    /// with the same serial turns the answer into a duplicate, written when the listing ends).
    /// `verify`: an incremental run, which writes a row only if it continues the stored device.
    async fn take_row(
        &self,
        connection: &Connection,
        tally: &mut Tally,
        device: MdmDevice,
        verify: bool,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<()> {
        let id = tally.hash(&device.device_id);
        tally.ids.insert(id);
        let Some(serial) = device.serial_number.clone() else {
            return Ok(());
        };
        if !tally.known.contains(&serial) {
            return Ok(());
        }
        tally.ours.insert(id);
        if !tally.due.contains(&serial) {
            // R5: a device checked within the interval is not fetched again, even if it changed.
            return Ok(());
        }
        if let Some(ids) = tally.dups.get_mut(&serial) {
            ids.insert(device.device_id);
            return Ok(());
        }
        match tally.first.get(&serial) {
            Some(first) if *first != device.device_id => {
                let ids = BTreeSet::from([first.clone(), device.device_id]);
                tally.held.remove(&serial);
                // A duplicate is written as such when the listing ends: no follow-up read for it.
                tally.deferred.remove(&serial);
                tally.unwritten.remove(&serial);
                tally.dups.insert(serial, ids);
                return Ok(());
            }
            // The same device again (offset paging shows a row twice): its last row counts.
            Some(_) => {}
            None => {
                tally.first.insert(serial.clone(), device.device_id.clone());
            }
        }
        if verify {
            let continues = !tally.held.contains_key(&serial)
                && self
                    .stores
                    .devices
                    .device(checks.workspace, &serial)
                    .await?
                    .and_then(|r| r.metadata)
                    .is_some_and(|m| m.device_id == device.device_id);
            if !continues {
                tally.held.insert(serial, device);
                return Ok(());
            }
        }
        self.store_row(connection, tally, serial, device, checks, report)
            .await
    }

    /// Writes a row that answers a due device; one that needs follow-up reads waits for its batch.
    async fn store_row(
        &self,
        connection: &Connection,
        tally: &mut Tally,
        serial: SerialNumber,
        device: MdmDevice,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<()> {
        if device.unresolved.is_none() {
            // A later row of the same device replaces a waiting one (its last row counts).
            tally.deferred.remove(&serial);
            tally.unwritten.remove(&serial);
            checks.learn(&device);
            return checks.write(serial, Some(MdmMetadata::from(&device))).await;
        }
        tally.deferred.insert(serial, device);
        if tally.deferred.len() >= WRITE_BATCH {
            self.resolve_deferred(connection, tally, checks, report)
                .await?;
        }
        Ok(())
    }

    /// Resolves the waiting rows (cache first, then the MDM) and writes those that got their answer;
    /// a row whose follow-up read failed is not written, so its device keeps its metadata and stays due.
    async fn resolve_deferred(
        &self,
        connection: &Connection,
        tally: &mut Tally,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<()> {
        if tally.deferred.is_empty() {
            return Ok(());
        }
        let (serials, mut devices): (Vec<SerialNumber>, Vec<MdmDevice>) =
            std::mem::take(&mut tally.deferred).into_iter().unzip();
        let resolved = self
            .resolve_listed(
                &*connection.provider,
                checks.workspace,
                checks.guard,
                checks.now,
                &mut devices,
                report,
            )
            .await?;
        for (serial, device) in serials.into_iter().zip(devices) {
            if resolved.failed.contains(&device.device_id) {
                tally.unwritten.insert(serial);
            } else {
                tally.unwritten.remove(&serial);
                checks
                    .write(serial, Some(MdmMetadata::from(&device)))
                    .await?;
            }
        }
        Ok(())
    }

    /// Lists every device (`since` is `None`) or the devices changed since `since`, and writes the
    /// answers for the due devices (see the module docs of [`crate::refresh`]).
    pub(super) async fn by_listing(
        &self,
        connection: &Connection,
        since: Option<DateTime<Utc>>,
        cutoff: DateTime<Utc>,
        state: &WorkspaceState,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<ListingOutcome> {
        let workspace = checks.workspace;
        let provider = &connection.provider;
        let mut tally = self.tally(workspace, cutoff).await?;
        let mut failure = None;
        match since {
            None => {
                tally.everything = true;
                // Read by a task of its own: the next pages arrive while this one's rows are written.
                let mut pages = device_page_stream_in_task(
                    provider.clone(),
                    DEFAULT_MAX_PAGES,
                    self.listing_resolution(),
                );
                while let Some(page) = pages.next().await {
                    let devices = match page {
                        Ok(page) => page.items,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    };
                    for device in devices {
                        // A lease found lost stops the listing at once.
                        checks.guard.check()?;
                        self.take_row(connection, &mut tally, device, false, checks, report)
                            .await?;
                    }
                }
            }
            Some(since) => {
                let mut listing = ChangeListing::new(since);
                while let Some(cursor) = listing.next_cursor().map(|c| c.cloned()) {
                    checks.guard.check()?;
                    let page = provider
                        .list_changed_devices_page(&ChangesRequest {
                            since,
                            cursor,
                            resolution: self.listing_resolution(),
                        })
                        .await
                        .and_then(|page| {
                            listing.record(&page).map_err(
                                ProviderOperations::of(provider.kind())
                                    .list_changed_devices
                                    .tagger(),
                            )?;
                            Ok(page)
                        });
                    let page = match page {
                        Ok(page) => page,
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    };
                    if page.coverage == Coverage::Everything && !tally.everything {
                        tracing::info!(workspace = %workspace, "the MDM ignored the change filter; the listing counts as a full one");
                        tally.everything = true;
                    }
                    let verify = !tally.everything;
                    for device in page.devices {
                        self.take_row(connection, &mut tally, device, verify, checks, report)
                            .await?;
                    }
                }
            }
        }
        // The rows still waiting for follow-up reads: resolved and written before the duplicates, so a
        // duplicate's write comes last. After a failure that concerns the connection every read would
        // fail the same way: they are left unwritten (still due).
        if failure.as_ref().is_some_and(concerns_connection) {
            let waiting = std::mem::take(&mut tally.deferred);
            tally.unwritten.extend(waiting.into_keys());
        } else {
            self.resolve_deferred(connection, &mut tally, checks, report)
                .await?;
        }
        let listed = tally.ids.len() as u64;
        report.devices_seen = listed;
        report.unmatched = listed.saturating_sub(tally.ours.len() as u64);
        // Several MDM devices with one serial is a definite answer, whatever else happened.
        let dups = std::mem::take(&mut tally.dups);
        let dup_count = dups.len();
        for (serial, ids) in dups {
            checks
                .push(serial, Answer::Duplicate(ids.into_iter().collect()), report)
                .await?;
        }
        let written = tally.first.len().saturating_sub(dup_count);
        if let Some(e) = failure {
            tracing::debug!(workspace = %workspace, error = %e, "MDM listing failed");
            report.fail(&e, None);
            report.aborted = true;
            report.matched += written.saturating_sub(tally.held.len() + tally.unwritten.len());
            return Ok(ListingOutcome {
                listed: None,
                full: false,
                oldest_recent: tally.oldest_recent,
            });
        }
        if tally.everything {
            // The listing saw every device: a single row is the answer, no need to ask again.
            for (serial, device) in std::mem::take(&mut tally.held) {
                self.store_row(connection, &mut tally, serial, device, checks, report)
                    .await?;
            }
            self.resolve_deferred(connection, &mut tally, checks, report)
                .await?;
            report.matched += written.saturating_sub(tally.unwritten.len());
            if let Some(suspicious) =
                SuspiciousListing::check(listed, state.mdm_device_count, tally.with_metadata)
            {
                tracing::warn!(
                    workspace = %workspace,
                    listed,
                    last_listed = ?suspicious.last_listed,
                    devices_with_metadata = tally.with_metadata,
                    "MDM listing shrank suspiciously; devices it missed keep their metadata, asking again later"
                );
                report.suspicious_listing = Some(suspicious);
                return Ok(ListingOutcome {
                    listed: Some(listed),
                    full: false,
                    oldest_recent: tally.oldest_recent,
                });
            }
            let mut vanished: Vec<SerialNumber> = tally
                .due
                .iter()
                .filter(|s| !tally.first.contains_key(*s))
                .cloned()
                .collect();
            vanished.sort();
            for serial in vanished {
                checks.push(serial, Answer::NotFound, report).await?;
            }
            return Ok(ListingOutcome {
                listed: Some(listed),
                full: true,
                oldest_recent: tally.oldest_recent,
            });
        }
        report.matched += written.saturating_sub(tally.held.len() + tally.unwritten.len());
        let held = std::mem::take(&mut tally.held);
        let unwritten = std::mem::take(&mut tally.unwritten);
        self.apply_unlisted(connection, cutoff, held, unwritten, checks, report)
            .await?;
        Ok(ListingOutcome {
            listed: None,
            full: false,
            oldest_recent: tally.oldest_recent,
        })
    }

    /// An incremental run's end: rows to verify are asked again by serial; due devices the listing did
    /// not mention are unchanged since the watermark (their metadata is kept and their check stamped),
    /// except devices never checked, which are looked up. `unwritten`: devices the listing did mention
    /// but whose follow-up read failed; they stay due, untouched.
    async fn apply_unlisted(
        &self,
        connection: &Connection,
        cutoff: DateTime<Utc>,
        held: BTreeMap<SerialNumber, MdmDevice>,
        unwritten: HashSet<SerialNumber>,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<()> {
        let workspace = checks.workspace;
        let mut failed = unwritten;
        for serial in held.into_keys() {
            if !self.look_up(connection, &serial, checks, report).await? {
                if report.aborted {
                    return Ok(());
                }
                failed.insert(serial);
            }
        }
        // Devices written so far are no longer due: the pass below sees only the unlisted ones.
        checks.flush().await?;
        let mut paging = Some(Paging::first(WRITE_BATCH));
        while let Some(p) = paging {
            let page = self
                .stores
                .devices
                .devices_due(workspace, cutoff, p)
                .await?;
            paging = page.next_page(WRITE_BATCH);
            for device in page.devices {
                if failed.contains(&device.serial_number) {
                    continue;
                }
                if device.checked_at.is_none() {
                    // Never answered: a listing of changes says nothing about it.
                    if !self
                        .look_up(connection, &device.serial_number, checks, report)
                        .await?
                        && report.aborted
                    {
                        return Ok(());
                    }
                    continue;
                }
                report.unchanged += 1;
                checks.write(device.serial_number, device.metadata).await?;
            }
        }
        Ok(())
    }

    /// One lookup by serial, its answer queued; `false` when it failed (counted in the report, and the
    /// run aborted when the error concerns the connection).
    async fn look_up(
        &self,
        connection: &Connection,
        serial: &SerialNumber,
        checks: &mut Checks<'_>,
        report: &mut RefreshReport,
    ) -> Result<bool> {
        checks.guard.check()?;
        match connection.provider.devices_by_serial(serial).await {
            Ok(found) => {
                let exact: Vec<MdmDevice> = found
                    .into_iter()
                    .filter(|d| d.serial_number.as_ref().is_none_or(|s| s == serial))
                    .collect();
                if let [device] = exact.as_slice() {
                    checks.learn(device);
                }
                checks
                    .push(serial.clone(), Answer::from_matches(exact), report)
                    .await?;
                Ok(true)
            }
            Err(e) => {
                tracing::debug!(workspace = %checks.workspace, serial = %serial, error = %e, "MDM lookup failed");
                report.fail(&e, Some(serial.clone()));
                if concerns_connection(&e) {
                    report.aborted = true;
                }
                Ok(false)
            }
        }
    }
}
