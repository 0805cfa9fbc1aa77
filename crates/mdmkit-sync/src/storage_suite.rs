//! The storage test suite: every store implementation runs these unchanged.
//!
//! Each function exercises the stores through their public contract and panics on the first violation,
//! like a test. Workspaces are named with a random suffix, so the suite can run against a shared database
//! that already holds data (it does not clean up after itself).
//!
//! Most cases need one handle on the database ([`run_all`]); some need a second handle with its own
//! connection pool ([`lease_race`], [`skewed_clocks`]) or a handle whose multi-step operations fail on
//! demand ([`atomic_changes`]). A store provides those through [`SuiteTarget`], and
//! [`crate::storage_suite_tests!`] turns the whole suite into one `#[tokio::test]` per case:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use mdmkit_sync::{storage_suite, Stores};
//! storage_suite::run_all(&Stores::memory()).await;
//! # }
//! ```
//!
//! Timing-dependent cases never assert speed: lease expiry is awaited by polling (with a generous hang
//! guard), and [`large_fleet`] returns its timings for a benchmark to print.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use mdmkit_core::{ProviderKind, SerialNumber};

use crate::clock::{Clock, ManualClock};
use crate::error::{StoreError, StoreErrorKind};
use crate::marks::SyncMarks;
use crate::memory::MemoryStore;
use crate::model::{
    ConnectionChange, ConnectionRemoved, DeviceCheck, DevicePage, DeviceRecord, Fence,
    GroupChanges, GroupId, GroupRecord, Lease, LeaseOutcome, MdmMetadata, NewGroup, Paging, Plan,
    ProviderLink, SealedCredentials, WorkspaceId,
};
use crate::store::{Step, StepHook, StoreResult, Stores};
use crate::vault::random_bytes;

mod lookup_cache;
pub use lookup_cache::{large_lookup_cache, lookup_cache, lookup_cache_atomic};

/// How the suite reaches a store's database.
#[async_trait]
pub trait SuiteTarget: Send + Sync {
    /// A new handle, with its own connection pool, on the same database.
    async fn open(&self) -> Stores;
    /// A new handle on the same database whose multi-step operations report their steps to `hook`.
    async fn open_with_hook(&self, hook: Arc<dyn StepHook>) -> Stores;
}

#[async_trait]
impl SuiteTarget for MemoryStore {
    async fn open(&self) -> Stores {
        Stores::from_one(Arc::new(self.clone()))
    }

    async fn open_with_hook(&self, hook: Arc<dyn StepHook>) -> Stores {
        Stores::from_one(Arc::new(self.with_step_hook(hook)))
    }
}

/// One `#[tokio::test]` per suite case, named `suite_*`. The argument is the path of an
/// `async fn() -> Option<impl SuiteTarget>` called by every case; `None` skips the case (say why on
/// stderr), for a database that is not there. The calling crate needs `tokio` with the `macros` and
/// `rt-multi-thread` features.
///
/// ```text
/// async fn target() -> Option<mdmkit_sync::MemoryStore> { Some(mdmkit_sync::MemoryStore::new()) }
/// mdmkit_sync::storage_suite_tests!(target);
/// ```
///
/// (`crates/mdmkit-sync/tests/storage.rs` and `crates/mdmkit-sqlx/tests/` use it like this.)
#[macro_export]
macro_rules! storage_suite_tests {
    ($target:path) => {
        $crate::storage_suite_tests!(@one $target, suite_credentials, |t| credentials(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_devices, |t| devices(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_groups, |t| groups(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_sync_state, |t| sync_state(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_connection_changes, |t| connection_changes(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_leases, |t| leases(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_stale_fences_are_refused, |t| stale_fences_are_refused(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_large_fleet, |t| large_fleet(&open(&t).await, 3_000));
        $crate::storage_suite_tests!(@one $target, suite_lease_race_between_two_pools, |t| lease_race(&open(&t).await, &open(&t).await, 100));
        $crate::storage_suite_tests!(@one $target, suite_skewed_clocks, |t| skewed_clocks(&open(&t).await, &open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_atomic_changes, |t| atomic_changes(&t));
        $crate::storage_suite_tests!(@one $target, suite_lookup_cache, |t| lookup_cache(&open(&t).await));
        $crate::storage_suite_tests!(@one $target, suite_large_lookup_cache, |t| large_lookup_cache(&open(&t).await, 2_500));
        $crate::storage_suite_tests!(@one $target, suite_lookup_cache_atomic, |t| lookup_cache_atomic(&t));
        $crate::storage_suite_tests!(@one $target, suite_sync_marks, |t| sync_marks(&open(&t).await));
    };
    (@one $target:path, $name:ident, |$t:ident| $case:ident($($arg:expr),*)) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            #[allow(dead_code)]
            async fn open(t: &impl $crate::storage_suite::SuiteTarget) -> $crate::Stores {
                t.open().await
            }
            let Some($t) = $target().await else { return };
            let _ = $crate::storage_suite::$case($($arg),*).await;
        }
    };
}

/// [`crate::MarkStore`]: the incremental-read marks are empty at first, written under the lease's fence
/// only, kept per workspace, and forgotten with the metadata when the connection changes (R9) or goes.
pub async fn sync_marks(stores: &Stores) {
    let ws = unique_workspace("marks");
    let bystander = unique_workspace("marks-other");
    let marks = &stores.marks;
    assert_eq!(marks.sync_marks(&ws).await.unwrap(), SyncMarks::default());
    let held = lease(stores, &ws, "marks").await;
    let fence = held.fence;
    let other_fence = lease(stores, &bystander, "other").await.fence;

    // A first full listing sets both; an incremental run moves only the watermark.
    marks
        .record_device_watermark(&ws, fence, t(1), Some(t(1)))
        .await
        .unwrap();
    marks
        .record_device_watermark(&ws, fence, t(5), None)
        .await
        .unwrap();
    // A delta link longer than any index key, as Graph's are.
    let link = format!(
        "https://graph.example/v1.0/groups/delta?$deltatoken={}",
        "x".repeat(3000)
    );
    marks
        .record_group_delta(&ws, fence, Some(&link), Some(t(2)))
        .await
        .unwrap();
    let want = SyncMarks {
        device_watermark: Some(t(5)),
        last_full_listing: Some(t(1)),
        group_delta: Some(link.clone()),
        last_full_group_read: Some(t(2)),
    };
    assert_eq!(marks.sync_marks(&ws).await.unwrap(), want);
    assert!(
        !format!("{want:?}").contains("deltatoken"),
        "Debug shows the link's length only"
    );
    // A changes-only group read replaces the link and keeps the full read; `None` forgets the link.
    marks
        .record_group_delta(&ws, fence, Some("next"), None)
        .await
        .unwrap();
    let got = marks.sync_marks(&ws).await.unwrap();
    assert_eq!(
        (got.group_delta.as_deref(), got.last_full_group_read),
        (Some("next"), Some(t(2)))
    );
    marks
        .record_group_delta(&ws, fence, None, None)
        .await
        .unwrap();
    assert_eq!(marks.sync_marks(&ws).await.unwrap().group_delta, None);
    assert_eq!(
        marks.sync_marks(&bystander).await.unwrap(),
        SyncMarks::default(),
        "marks are per workspace"
    );

    // Only the current lease writes: a fence that is not the workspace's current one is refused.
    for (w, f) in [
        (&ws, Fence::new(fence.get() + 1)),
        (&bystander, Fence::new(other_fence.get() + 1)),
    ] {
        let err = marks
            .record_device_watermark(w, f, t(9), Some(t(9)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::StaleFence);
        let err = marks
            .record_group_delta(w, f, Some("stale"), None)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::StaleFence);
    }
    assert_eq!(
        marks.sync_marks(&ws).await.unwrap().device_watermark,
        Some(t(5))
    );

    // Saving credentials without a change of MDM keeps the marks; a new connection (R9) forgets them, and
    // so does a disconnect, which leaves the other workspace's alone.
    marks
        .record_device_watermark(&bystander, other_fence, t(8), Some(t(8)))
        .await
        .unwrap();
    kept_with_the_metadata(
        stores,
        &ws,
        fence,
        async || {
            marks
                .record_device_watermark(&ws, fence, t(7), Some(t(7)))
                .await
                .unwrap();
            marks
                .record_group_delta(&ws, fence, Some(&link), Some(t(2)))
                .await
                .unwrap();
        },
        async || {
            assert_eq!(
                marks.sync_marks(&ws).await.unwrap().device_watermark,
                Some(t(5))
            );
        },
        async |by| {
            assert_eq!(
                marks.sync_marks(&ws).await.unwrap(),
                SyncMarks::default(),
                "forgotten by {by}"
            );
        },
    )
    .await;
    assert_eq!(
        marks.sync_marks(&bystander).await.unwrap().device_watermark,
        Some(t(8))
    );
    stores.state.release_lease(&ws, &held).await.unwrap();
    let err = marks
        .record_device_watermark(&ws, fence, t(9), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        StoreErrorKind::StaleFence,
        "a released lease writes nothing"
    );
}

/// State kept with the metadata (sync marks, lookup caches) across connection changes: saving the same
/// connection again keeps it (`kept`); a new connection (R9) clears it, and so does a disconnect (`cleared`,
/// told which). `fill` writes it again before each of the two.
async fn kept_with_the_metadata(
    stores: &Stores,
    ws: &WorkspaceId,
    fence: Fence,
    fill: impl AsyncFn(),
    kept: impl AsyncFn(),
    cleared: impl AsyncFn(&str),
) {
    let credentials = &stores.credentials;
    let resealed = sealed(ProviderKind::Fleet, 1);
    credentials
        .save_connection(ws, fence, resealed, ConnectionChange::NONE)
        .await
        .unwrap();
    kept().await;
    fill().await;
    let change = ConnectionChange {
        clear_metadata: true,
        group_sync_pending: true,
    };
    credentials
        .save_connection(ws, fence, sealed(ProviderKind::Jamf, 2), change)
        .await
        .unwrap();
    cleared("a new connection (R9)").await;
    fill().await;
    credentials.remove_connection(ws, fence).await.unwrap();
    cleared("a disconnect").await;
}

/// A workspace id no other run uses.
pub fn unique_workspace(prefix: &str) -> WorkspaceId {
    let mut b = [0u8; 6];
    random_bytes(&mut b).expect("OS randomness");
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    WorkspaceId::new(format!("suite-{prefix}-{hex}"))
}

fn t(hours: i64) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
        + TimeDelta::hours(hours)
}

fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

fn meta(id: &str, name: Option<&str>) -> MdmMetadata {
    MdmMetadata {
        device_id: id.into(),
        user_id: Some(format!("user-{id}")),
        display_name: name.map(str::to_owned),
    }
}

fn check(s: &SerialNumber, metadata: Option<MdmMetadata>, at: DateTime<Utc>) -> DeviceCheck {
    DeviceCheck {
        serial_number: s.clone(),
        metadata,
        checked_at: at,
    }
}

fn sealed(provider: ProviderKind, byte: u8) -> SealedCredentials {
    SealedCredentials {
        provider,
        key_id: format!("k{byte}"),
        nonce: vec![byte; 24],
        ciphertext: vec![byte; 40],
        sealed_at: t(i64::from(byte)),
    }
}

fn link(provider: ProviderKind, id: &str) -> ProviderLink {
    ProviderLink {
        provider,
        account: format!("{}:https://acme.example/", provider.id()),
        mdm_group_id: id.into(),
    }
}

const LONG: Duration = Duration::from_secs(60);

/// Takes the workspace's (free) lease for a minute.
pub async fn lease(stores: &Stores, ws: &WorkspaceId, owner: &str) -> Lease {
    match stores
        .state
        .try_acquire_lease(ws, owner, LONG)
        .await
        .unwrap()
    {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("a free lease was not acquired: {other:?}"),
    }
}

/// Writes a credentials record as is, as a tampering operator or a restore from backup would: takes the
/// workspace's lease, saves the record (nothing else changes) and releases the lease.
pub async fn store_credentials(stores: &Stores, ws: &WorkspaceId, record: SealedCredentials) {
    let held = lease(stores, ws, "store_credentials").await;
    stores
        .credentials
        .save_connection(ws, held.fence, record, ConnectionChange::NONE)
        .await
        .unwrap();
    stores.state.release_lease(ws, &held).await.unwrap();
}

/// Polls until `owner` acquires the lease (it waits for the current one to expire by the store's clock).
async fn acquire_when_expired(
    stores: &Stores,
    ws: &WorkspaceId,
    owner: &str,
    ttl: Duration,
) -> Lease {
    let hang_guard = Instant::now() + Duration::from_secs(60);
    loop {
        match stores
            .state
            .try_acquire_lease(ws, owner, ttl)
            .await
            .unwrap()
        {
            LeaseOutcome::Acquired(l) => return l,
            LeaseOutcome::Busy { .. } => {
                assert!(
                    Instant::now() < hang_guard,
                    "an expired lease was never taken over"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Every device of a workspace that the paged query `page_of` returns.
async fn all_pages<F, Fut>(limit: usize, page_of: F) -> Vec<SerialNumber>
where
    F: Fn(Paging) -> Fut,
    Fut: std::future::Future<Output = StoreResult<DevicePage>>,
{
    let mut out = Vec::new();
    let mut paging = Some(Paging::first(limit));
    while let Some(p) = paging {
        let page = page_of(p).await.unwrap();
        assert!(page.devices.len() <= limit, "a page holds at most `limit`");
        assert!(
            page.next.is_none() || page.devices.len() == limit,
            "only full pages say more follows"
        );
        paging = page.next_page(limit);
        out.extend(page.devices.into_iter().map(|d| d.serial_number));
    }
    out
}

/// Every single-handle case.
pub async fn run_all(stores: &Stores) {
    credentials(stores).await;
    devices(stores).await;
    groups(stores).await;
    sync_state(stores).await;
    connection_changes(stores).await;
    leases(stores).await;
    stale_fences_are_refused(stores).await;
    lookup_cache(stores).await;
    sync_marks(stores).await;
}

/// [`crate::CredentialStore`]: one record per workspace, replaced on save, listed, removed, isolated.
pub async fn credentials(stores: &Stores) {
    let store = &*stores.credentials;
    let a = unique_workspace("cred-a");
    let b = unique_workspace("cred-b");
    let la = lease(stores, &a, "a").await;
    let lb = lease(stores, &b, "b").await;
    assert_eq!(store.load_credentials(&a).await.unwrap(), None);
    let none = ConnectionChange::NONE;
    store
        .save_connection(&a, la.fence, sealed(ProviderKind::Jamf, 1), none)
        .await
        .unwrap();
    assert_eq!(
        store.load_credentials(&a).await.unwrap(),
        Some(sealed(ProviderKind::Jamf, 1))
    );
    store
        .save_connection(&a, la.fence, sealed(ProviderKind::Fleet, 2), none)
        .await
        .unwrap();
    assert_eq!(
        store.load_credentials(&a).await.unwrap(),
        Some(sealed(ProviderKind::Fleet, 2)),
        "a save replaces the workspace's record"
    );
    assert_eq!(store.load_credentials(&b).await.unwrap(), None);
    store
        .save_connection(&b, lb.fence, sealed(ProviderKind::Intune, 3), none)
        .await
        .unwrap();
    let listed = store.connected_workspaces().await.unwrap();
    assert!(listed.contains(&a) && listed.contains(&b), "{listed:?}");
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted, "connected workspaces are sorted");
    let removed = store.remove_connection(&a, la.fence).await.unwrap();
    assert!(removed.was_connected);
    assert!(
        !store
            .remove_connection(&a, la.fence)
            .await
            .unwrap()
            .was_connected
    );
    assert_eq!(store.load_credentials(&a).await.unwrap(), None);
    assert!(!store.connected_workspaces().await.unwrap().contains(&a));
    assert_eq!(
        store.load_credentials(&b).await.unwrap(),
        Some(sealed(ProviderKind::Intune, 3))
    );
    store.remove_connection(&b, lb.fence).await.unwrap();
    stores.state.release_lease(&a, &la).await.unwrap();
    stores.state.release_lease(&b, &lb).await.unwrap();
}

/// [`crate::DeviceStore`]: add, paging, due, counts, batched checks, search, removal, isolation.
pub async fn devices(stores: &Stores) {
    let store = &*stores.devices;
    let ws = unique_workspace("dev");
    let other = unique_workspace("dev-other");
    let (s1, s2, s3) = (
        serial("C02AAA111"),
        serial("C02BBB222"),
        serial("FVFCCC333"),
    );
    assert_eq!(
        store
            .add_devices(&ws, &[s2.clone(), s1.clone()])
            .await
            .unwrap(),
        2
    );
    assert!(store.add_device(&ws, &s3).await.unwrap());
    assert!(!store.add_device(&ws, &s1).await.unwrap(), "adding twice");
    assert_eq!(
        store
            .add_devices(&ws, &[s1.clone(), s3.clone()])
            .await
            .unwrap(),
        0,
        "existing devices are left alone"
    );
    assert!(
        store.add_device(&other, &s1).await.unwrap(),
        "workspaces are separate"
    );
    assert_eq!(store.device_count(&ws).await.unwrap(), 3);
    assert_eq!(store.device_count(&other).await.unwrap(), 1);

    let first = store.devices(&ws, Paging::first(10)).await.unwrap();
    let serials: Vec<_> = first
        .devices
        .iter()
        .map(|d| d.serial_number.clone())
        .collect();
    assert_eq!(
        serials,
        [s1.clone(), s2.clone(), s3.clone()],
        "sorted by serial"
    );
    assert_eq!(first.next, None, "everything fitted");
    assert!(first
        .devices
        .iter()
        .all(|d| d.metadata.is_none() && d.checked_at.is_none()));
    let exact = store.devices(&ws, Paging::first(3)).await.unwrap();
    assert_eq!(exact.next, None, "a page that ends the list says so");
    let page = store.devices(&ws, Paging::first(2)).await.unwrap();
    assert_eq!(page.devices.len(), 2);
    assert_eq!(page.next, Some(s2.clone()));
    let rest = store
        .devices(&ws, page.next_page(2).unwrap())
        .await
        .unwrap();
    assert_eq!(rest.devices.len(), 1);
    assert_eq!(rest.devices[0].serial_number, s3);
    assert_eq!(rest.next, None);
    assert_eq!(
        store
            .devices(&ws, Paging::first(0))
            .await
            .unwrap()
            .devices
            .len(),
        1,
        "a zero limit still reads one"
    );
    assert_eq!(
        store.count_due(&ws, t(0)).await.unwrap(),
        3,
        "new devices are due"
    );
    assert!(store.any_due(&ws, t(0)).await.unwrap());

    let fence = lease(stores, &ws, "dev").await.fence;
    let ghost = serial("NOPE0001");
    let written = store
        .record_checks(
            &ws,
            fence,
            &[
                check(&s1, Some(meta("101", Some("Ada Lovelace"))), t(10)),
                check(&s2, None, t(12)),
                check(&ghost, None, t(1)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(written, 2, "a device that does not exist is skipped");
    assert_eq!(
        store.device(&ws, &ghost).await.unwrap(),
        None,
        "no device is created"
    );
    let d1 = store.device(&ws, &s1).await.unwrap().unwrap();
    assert_eq!(d1.metadata, Some(meta("101", Some("Ada Lovelace"))));
    assert_eq!(d1.checked_at, Some(t(10)));
    assert_eq!(
        store.device(&other, &s1).await.unwrap().unwrap().metadata,
        None
    );
    assert_eq!(
        store.record_checks(&ws, fence, &[]).await.unwrap(),
        0,
        "an empty batch"
    );

    let wsr = &ws;
    let due = |cutoff| async move { all_pages(1, |p| store.devices_due(wsr, cutoff, p)).await };
    assert_eq!(
        due(t(9)).await,
        vec![s3.clone()],
        "checked after the cutoff: not due"
    );
    assert_eq!(
        due(t(10)).await,
        [s1.clone(), s3.clone()],
        "checked at the cutoff: due"
    );
    assert_eq!(due(t(12)).await, [s1.clone(), s2.clone(), s3.clone()]);
    assert_eq!(store.count_due(&ws, t(9)).await.unwrap(), 1);
    assert_eq!(store.count_due(&ws, t(10)).await.unwrap(), 2);

    // Search: serial or display name, substring, case-insensitive (non-ASCII too), wildcards literal.
    let s4 = serial("ÄBC444");
    let s5 = serial("XYZ555");
    store
        .add_devices(&ws, &[s4.clone(), s5.clone()])
        .await
        .unwrap();
    store
        .record_checks(
            &ws,
            fence,
            &[
                check(&s3, Some(meta("303", Some("Zoë's MacBook"))), t(11)),
                check(&s4, Some(meta("404", Some("Ørjan Ødegård"))), t(11)),
                check(&s5, Some(meta("505", Some("50%_off \\ sale"))), t(11)),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        store.count_due(&ws, t(10)).await.unwrap(),
        1,
        "{:?}",
        due(t(10)).await
    );
    let search =
        |q: &'static str| async move { all_pages(2, |p| store.search_devices(wsr, q, p)).await };
    assert_eq!(search("c02").await, [s1.clone(), s2.clone()]);
    assert_eq!(search("bbb2").await, vec![s2.clone()]);
    assert_eq!(search("lovelace").await, vec![s1.clone()]);
    assert_eq!(search(" ZOË ").await, vec![s3.clone()]);
    assert_eq!(search("macbook").await, vec![s3.clone()]);
    assert_eq!(search("äbc").await, vec![s4.clone()], "non-ASCII serial");
    assert_eq!(search("ødegÅrd").await, vec![s4.clone()], "non-ASCII name");
    assert_eq!(search("%").await, vec![s5.clone()], "% is literal");
    assert_eq!(search("_").await, vec![s5.clone()], "_ is literal");
    assert_eq!(search("\\").await, vec![s5.clone()], "\\ is literal");
    assert_eq!(search("0%_O").await, vec![s5.clone()]);
    assert!(search("nobody").await.is_empty());
    assert_eq!(search("").await.len(), 5, "an empty query matches all");
    assert_eq!(search("   ").await.len(), 5);
    assert!(store
        .search_devices(&other, "lovelace", Paging::first(10))
        .await
        .unwrap()
        .devices
        .is_empty());

    assert!(store.remove_device(&ws, &s2).await.unwrap());
    assert!(!store.remove_device(&ws, &s2).await.unwrap());
    assert_eq!(store.device_count(&ws).await.unwrap(), 4);
    assert_eq!(
        store
            .record_checks(&ws, fence, &[check(&s2, None, t(20))])
            .await
            .unwrap(),
        0,
        "a removed device is not recreated"
    );
    assert_eq!(store.device(&ws, &s2).await.unwrap(), None);
    assert_eq!(store.device_count(&other).await.unwrap(), 1);
}

/// [`crate::GroupStore`]: store-assigned ids, read, update, delete, order, atomic group changes.
pub async fn groups(stores: &Stores) {
    let store = &*stores.groups;
    let ws = unique_workspace("grp");
    let other = unique_workspace("grp-other");
    let manual = store
        .create_group(&ws, NewGroup::manual("Zeta"))
        .await
        .unwrap();
    let jamf7 = link(ProviderKind::Jamf, "7");
    let members: BTreeSet<_> = [serial("AAA1"), serial("BBB2")].into();
    let synced = store
        .create_group(
            &ws,
            NewGroup {
                name: "Alpha".into(),
                link: Some(jamf7.clone()),
                members: members.clone(),
            },
        )
        .await
        .unwrap();
    let elsewhere = store
        .create_group(&other, NewGroup::manual("Alpha"))
        .await
        .unwrap();
    assert_ne!(manual.id, synced.id);
    assert_ne!(synced.id, elsewhere.id, "ids are unique within the store");
    assert_eq!(synced.link.as_ref(), Some(&jamf7));
    assert_eq!(synced.members, members);
    assert_eq!(manual.link, None);

    let listed = store.groups(&ws).await.unwrap();
    let names: Vec<_> = listed.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["Alpha", "Zeta"], "sorted by name, workspace only");
    assert_eq!(
        store.group(&ws, &synced.id).await.unwrap(),
        Some(synced.clone())
    );
    assert_eq!(store.group(&ws, &elsewhere.id).await.unwrap(), None);
    assert_eq!(
        store
            .group(&ws, &GroupId::new("no-such-group"))
            .await
            .unwrap(),
        None
    );

    let mut detached = synced.clone();
    detached.link = None;
    detached.name = "Alpha (old)".into();
    detached.members.remove(&serial("AAA1"));
    store.update_group(&ws, &detached).await.unwrap();
    assert_eq!(
        store.group(&ws, &synced.id).await.unwrap(),
        Some(detached.clone())
    );

    let mut missing = detached.clone();
    missing.id = GroupId::new("no-such-group");
    let err = store.update_group(&ws, &missing).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::NotFound, "{err}");
    assert!(
        store.update_group(&other, &detached).await.is_err(),
        "another workspace's group"
    );

    assert!(store.delete_group(&ws, &manual.id).await.unwrap());
    assert!(!store.delete_group(&ws, &manual.id).await.unwrap());
    assert_eq!(store.groups(&ws).await.unwrap(), vec![detached.clone()]);
    assert_eq!(store.groups(&other).await.unwrap().len(), 1);

    // A group sync's changes: all in one go, ordered by name then creation.
    let fence = lease(stores, &ws, "grp").await.fence;
    let mut relinked = detached.clone();
    relinked.link = Some(link(ProviderKind::Jamf, "8"));
    relinked.members = BTreeSet::new();
    let changes = GroupChanges {
        create: vec![
            NewGroup {
                name: "Beta".into(),
                link: Some(link(ProviderKind::Jamf, "9")),
                members: [serial("CCC3")].into(),
            },
            NewGroup::manual("Beta"),
        ],
        update: vec![relinked.clone()],
    };
    store
        .apply_group_changes(&ws, fence, changes)
        .await
        .unwrap();
    let listed = store.groups(&ws).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0], relinked);
    assert_eq!(listed[1].name, "Beta");
    assert_eq!(
        listed[1].link,
        Some(link(ProviderKind::Jamf, "9")),
        "created first"
    );
    assert_eq!(listed[1].members, [serial("CCC3")].into());
    assert_eq!(listed[2].name, "Beta");
    assert_eq!(listed[2].link, None);

    // An update of a group that is gone fails the whole change: nothing is created either.
    let mut gone = relinked.clone();
    gone.id = elsewhere.id.clone();
    let failing = GroupChanges {
        create: vec![NewGroup::manual("Gamma")],
        update: vec![gone],
    };
    assert!(store
        .apply_group_changes(&ws, fence, failing)
        .await
        .is_err());
    assert_eq!(store.groups(&ws).await.unwrap(), listed, "nothing changed");
    store
        .apply_group_changes(&ws, fence, GroupChanges::default())
        .await
        .unwrap();
}

/// [`crate::SyncStateStore`]: defaults, and narrow writes that do not clobber each other.
pub async fn sync_state(stores: &Stores) {
    let store = &*stores.state;
    let ws = unique_workspace("state");
    let state = store.sync_state(&ws).await.unwrap();
    assert_eq!(state.plan, Plan::Free);
    assert_eq!(state.last_group_sync, None);
    assert!(!state.group_sync_pending);
    assert_eq!(state.lease, None);

    store.set_plan(&ws, Plan::Pro).await.unwrap();
    let fence = lease(stores, &ws, "state").await.fence;
    store
        .record_refresh(&ws, fence, t(1), Some(500))
        .await
        .unwrap();
    store.record_refresh(&ws, fence, t(2), None).await.unwrap();
    store
        .set_group_sync_pending(&ws, fence, true)
        .await
        .unwrap();
    store
        .record_group_sync_attempt(&ws, fence, t(3), false)
        .await
        .unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert_eq!(state.plan, Plan::Pro, "other writes keep the plan");
    assert_eq!(state.last_refresh, Some(t(2)));
    assert_eq!(state.mdm_device_count, Some(500), "kept when not given");
    assert_eq!(state.last_group_sync_attempt, Some(t(3)));
    assert_eq!(
        state.last_group_sync, None,
        "a failed attempt is not a sync"
    );
    assert!(
        state.group_sync_pending,
        "a failed attempt leaves it pending"
    );

    store
        .record_group_sync_attempt(&ws, fence, t(4), true)
        .await
        .unwrap();
    store
        .record_manual_group_sync(&ws, fence, t(4))
        .await
        .unwrap();
    store.set_plan(&ws, Plan::Enterprise).await.unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert_eq!(state.last_group_sync, Some(t(4)));
    assert_eq!(state.last_group_sync_attempt, Some(t(4)));
    assert_eq!(state.last_manual_group_sync, Some(t(4)));
    assert!(!state.group_sync_pending, "success clears pending");
    assert_eq!(state.plan, Plan::Enterprise);
    assert_eq!(
        state.last_refresh,
        Some(t(2)),
        "the plan write keeps the rest"
    );
    store
        .set_group_sync_pending(&ws, fence, true)
        .await
        .unwrap();
    store
        .set_group_sync_pending(&ws, fence, false)
        .await
        .unwrap();
    assert!(!store.sync_state(&ws).await.unwrap().group_sync_pending);

    // Metadata not current for the connection: set (forgetting the old MDM's count), then cleared.
    let state = store.sync_state(&ws).await.unwrap();
    assert!(!state.refresh_pending);
    store
        .record_refresh(&ws, fence, t(2), Some(500))
        .await
        .unwrap();
    store.set_refresh_pending(&ws, fence, true).await.unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert!(state.refresh_pending);
    assert_eq!(
        state.mdm_device_count, None,
        "the count described the previous MDM"
    );
    assert_eq!(state.last_refresh, Some(t(2)), "other fields kept");
    assert_eq!(state.last_group_sync, Some(t(4)));
    store
        .record_refresh(&ws, fence, t(2), Some(40))
        .await
        .unwrap();
    store.set_refresh_pending(&ws, fence, false).await.unwrap();
    let state = store.sync_state(&ws).await.unwrap();
    assert!(!state.refresh_pending);
    assert_eq!(state.mdm_device_count, Some(40), "clearing keeps the count");
    assert_eq!(state.plan, Plan::Enterprise);

    // Sub-second instants survive the round trip (at microsecond precision).
    let precise = t(5) + TimeDelta::microseconds(123_456);
    store
        .record_refresh(&ws, fence, precise, None)
        .await
        .unwrap();
    assert_eq!(
        store.sync_state(&ws).await.unwrap().last_refresh,
        Some(precise)
    );
}

/// `save_connection` and `remove_connection`: what changes with the credentials, and what does not.
pub async fn connection_changes(stores: &Stores) {
    let ws = unique_workspace("conn");
    let bystander = unique_workspace("conn-other");
    let fence = lease(stores, &ws, "conn").await.fence;
    let other_fence = lease(stores, &bystander, "other").await.fence;
    let (s1, s2) = (serial("CONN0001"), serial("CONN0002"));
    for w in [&ws, &bystander] {
        stores
            .devices
            .add_devices(w, &[s1.clone(), s2.clone()])
            .await
            .unwrap();
    }
    let checks = [
        check(&s1, Some(meta("1", Some("Ada"))), t(1)),
        check(&s2, None, t(1)),
    ];
    stores
        .devices
        .record_checks(&ws, fence, &checks)
        .await
        .unwrap();
    stores
        .devices
        .record_checks(&bystander, other_fence, &checks)
        .await
        .unwrap();
    stores.state.set_plan(&ws, Plan::Pro).await.unwrap();
    stores
        .state
        .record_refresh(&ws, fence, t(1), Some(2))
        .await
        .unwrap();

    // A new connection: record saved, every device cleared and due, a group sync owed.
    let change = ConnectionChange {
        clear_metadata: true,
        group_sync_pending: true,
    };
    let cleared = stores
        .credentials
        .save_connection(&ws, fence, sealed(ProviderKind::Iru, 7), change)
        .await
        .unwrap();
    assert_eq!(cleared, 2);
    for d in all_records(stores, &ws).await {
        assert_eq!(
            (d.metadata, d.checked_at),
            (None, None),
            "{}",
            d.serial_number
        );
    }
    let state = stores.state.sync_state(&ws).await.unwrap();
    assert!(state.group_sync_pending);
    assert!(
        state.refresh_pending,
        "the metadata is not current for the new connection"
    );
    assert_eq!(
        state.mdm_device_count, None,
        "the old MDM's count is forgotten"
    );
    assert_eq!(state.plan, Plan::Pro);
    assert_eq!(state.last_refresh, Some(t(1)));
    assert_eq!(
        stores
            .devices
            .device(&bystander, &s1)
            .await
            .unwrap()
            .unwrap()
            .metadata,
        Some(meta("1", Some("Ada"))),
        "other workspaces are untouched"
    );

    // The same connection re-sealed: the record only.
    stores
        .devices
        .record_checks(&ws, fence, &checks)
        .await
        .unwrap();
    stores
        .state
        .set_group_sync_pending(&ws, fence, false)
        .await
        .unwrap();
    let cleared = stores
        .credentials
        .save_connection(
            &ws,
            fence,
            sealed(ProviderKind::Iru, 8),
            ConnectionChange::NONE,
        )
        .await
        .unwrap();
    assert_eq!(cleared, 0);
    assert_eq!(
        stores
            .devices
            .device(&ws, &s1)
            .await
            .unwrap()
            .unwrap()
            .metadata,
        Some(meta("1", Some("Ada")))
    );
    assert!(
        !stores
            .state
            .sync_state(&ws)
            .await
            .unwrap()
            .group_sync_pending
    );
    assert_eq!(
        stores.credentials.load_credentials(&ws).await.unwrap(),
        Some(sealed(ProviderKind::Iru, 8))
    );

    // Disconnect: record gone, metadata cleared, synced groups detached (manual ones untouched).
    let manual = stores
        .groups
        .create_group(&ws, NewGroup::manual("Mine"))
        .await
        .unwrap();
    stores
        .groups
        .apply_group_changes(
            &ws,
            fence,
            GroupChanges {
                create: vec![NewGroup {
                    name: "Tag".into(),
                    link: Some(link(ProviderKind::Iru, "t1")),
                    members: [s1.clone()].into(),
                }],
                update: vec![],
            },
        )
        .await
        .unwrap();
    stores
        .state
        .set_group_sync_pending(&ws, fence, true)
        .await
        .unwrap();
    stores
        .state
        .set_refresh_pending(&ws, fence, true)
        .await
        .unwrap();
    let removed = stores
        .credentials
        .remove_connection(&ws, fence)
        .await
        .unwrap();
    assert_eq!(
        removed,
        ConnectionRemoved {
            was_connected: true,
            devices_cleared: 2,
            groups_detached: 1,
        }
    );
    assert_eq!(
        stores.credentials.load_credentials(&ws).await.unwrap(),
        None
    );
    for d in all_records(stores, &ws).await {
        assert_eq!(
            (d.metadata, d.checked_at),
            (None, None),
            "{}",
            d.serial_number
        );
    }
    let groups = stores.groups.groups(&ws).await.unwrap();
    assert_eq!(groups.len(), 2, "kept, not deleted");
    assert!(groups.iter().all(|g| !g.is_synced()));
    let tag = groups.iter().find(|g| g.name == "Tag").unwrap();
    assert_eq!(tag.members, [s1.clone()].into(), "members kept");
    assert!(groups.contains(&manual));
    let state = stores.state.sync_state(&ws).await.unwrap();
    assert!(!state.group_sync_pending);
    assert!(!state.refresh_pending, "nothing is owed once disconnected");
    assert_eq!(
        stores
            .devices
            .device(&bystander, &s1)
            .await
            .unwrap()
            .unwrap()
            .metadata,
        Some(meta("1", Some("Ada")))
    );
}

async fn all_records(stores: &Stores, ws: &WorkspaceId) -> Vec<DeviceRecord> {
    let mut out = Vec::new();
    let mut paging = Some(Paging::first(100));
    while let Some(p) = paging {
        let page = stores.devices.devices(ws, p).await.unwrap();
        paging = page.next_page(100);
        out.extend(page.devices);
    }
    out
}

/// The lease: one holder until it expires by the store's clock, fencing numbers that only grow, renewal
/// and release only by the current holder, and exactly one winner among racing acquirers.
pub async fn leases(stores: &Stores) {
    let store = &*stores.state;
    let ws = unique_workspace("lease");
    let one = lease(stores, &ws, "one").await;
    assert_eq!(one.owner, "one");
    assert!(
        one.expires_at > Utc::now() - TimeDelta::minutes(10),
        "the store's time, roughly ours"
    );
    let busy = store.try_acquire_lease(&ws, "two", LONG).await.unwrap();
    assert_eq!(
        busy,
        LeaseOutcome::Busy {
            expires_at: one.expires_at
        }
    );
    let renewed = store
        .renew_lease(&ws, &one, Duration::from_secs(120))
        .await
        .unwrap()
        .expect("the holder renews");
    assert_eq!(renewed.fence, one.fence, "renewal keeps the fence");
    assert!(renewed.expires_at > one.expires_at);
    assert_eq!(
        store.sync_state(&ws).await.unwrap().lease,
        Some(renewed.clone())
    );
    let impostor = Lease {
        owner: "two".into(),
        ..renewed.clone()
    };
    assert_eq!(store.renew_lease(&ws, &impostor, LONG).await.unwrap(), None);
    assert!(!store.release_lease(&ws, &impostor).await.unwrap());
    assert!(store.release_lease(&ws, &renewed).await.unwrap());
    assert_eq!(store.sync_state(&ws).await.unwrap().lease, None);
    assert!(
        !store.release_lease(&ws, &renewed).await.unwrap(),
        "released once"
    );
    assert_eq!(store.renew_lease(&ws, &renewed, LONG).await.unwrap(), None);

    // Every acquisition increments the fence.
    let two = lease(stores, &ws, "two").await;
    assert!(
        two.fence > one.fence,
        "{:?} after {:?}",
        two.fence,
        one.fence
    );
    store.release_lease(&ws, &two).await.unwrap();

    // Expiry by the store's clock: an expired lease is still renewable until someone takes it over.
    let short = Duration::from_millis(200);
    let three = match store.try_acquire_lease(&ws, "three", short).await.unwrap() {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("{other:?}"),
    };
    let four = acquire_when_expired(stores, &ws, "four", LONG).await;
    assert_eq!(four.fence, Fence::new(three.fence.get() + 1));
    assert_eq!(
        store.renew_lease(&ws, &three, LONG).await.unwrap(),
        None,
        "taken over"
    );
    assert!(!store.release_lease(&ws, &three).await.unwrap());
    assert_eq!(
        store.sync_state(&ws).await.unwrap().lease,
        Some(four.clone())
    );
    store.release_lease(&ws, &four).await.unwrap();

    let five = match store.try_acquire_lease(&ws, "five", short).await.unwrap() {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("{other:?}"),
    };
    tokio::time::sleep(short * 2).await;
    let kept = store.renew_lease(&ws, &five, LONG).await.unwrap();
    assert!(
        kept.is_some_and(|k| k.fence == five.fence),
        "expired, but nobody took it over: still the holder's"
    );

    // Racing requests on one handle: exactly one wins.
    let race = unique_workspace("race");
    let owners: Vec<String> = (0..16).map(|i| format!("owner-{i}")).collect();
    let outcomes = futures::future::join_all(
        owners
            .iter()
            .map(|o| store.try_acquire_lease(&race, o, LONG)),
    )
    .await;
    let won = outcomes
        .into_iter()
        .filter(|o| matches!(o, Ok(LeaseOutcome::Acquired(_))))
        .count();
    assert_eq!(won, 1, "exactly one of 16 racing acquirers holds the lease");
}

/// Every write made under a lease is refused once its fence is stale (released, or taken over), and
/// nothing is written; the current fence writes.
pub async fn stale_fences_are_refused(stores: &Stores) {
    let ws = unique_workspace("fence");
    let s1 = serial("FENCE001");
    stores.devices.add_device(&ws, &s1).await.unwrap();
    let group = stores
        .groups
        .create_group(
            &ws,
            NewGroup {
                name: "Synced".into(),
                link: Some(link(ProviderKind::Fleet, "1")),
                members: BTreeSet::new(),
            },
        )
        .await
        .unwrap();

    let never = Fence::new(1);
    let refused = stores
        .state
        .record_refresh(&ws, never, t(1), None)
        .await
        .unwrap_err();
    assert!(
        refused.is_stale_fence(),
        "no lease was ever taken: {refused}"
    );

    let old = lease(stores, &ws, "old").await;
    stores
        .credentials
        .save_connection(
            &ws,
            old.fence,
            sealed(ProviderKind::Fleet, 1),
            ConnectionChange::NONE,
        )
        .await
        .unwrap();
    stores.state.release_lease(&ws, &old).await.unwrap();
    let released = old.fence;
    let stale = |r: StoreResult<()>, what: &str| match r {
        Err(e) => {
            assert!(e.is_stale_fence(), "{what}: {e}");
            assert_eq!(e.workspace(), Some(&ws), "{what}");
        }
        Ok(()) => panic!("{what}: a write under a released lease was accepted"),
    };
    stale(
        stores
            .state
            .record_refresh(&ws, released, t(1), Some(1))
            .await,
        "record_refresh after release",
    );

    let new = lease(stores, &ws, "new").await;
    for fence in [released, Fence::new(new.fence.get() + 1)] {
        let checks = [check(&s1, Some(meta("1", Some("Stale"))), t(2))];
        stale(
            stores
                .devices
                .record_checks(&ws, fence, &checks)
                .await
                .map(drop),
            "record_checks",
        );
        stale(
            stores
                .credentials
                .save_connection(
                    &ws,
                    fence,
                    sealed(ProviderKind::Jamf, 2),
                    ConnectionChange {
                        clear_metadata: true,
                        group_sync_pending: true,
                    },
                )
                .await
                .map(drop),
            "save_connection",
        );
        stale(
            stores
                .credentials
                .remove_connection(&ws, fence)
                .await
                .map(drop),
            "remove_connection",
        );
        let mut renamed = group.clone();
        renamed.name = "Stale".into();
        stale(
            stores
                .groups
                .apply_group_changes(
                    &ws,
                    fence,
                    GroupChanges {
                        create: vec![NewGroup::manual("Stale")],
                        update: vec![renamed],
                    },
                )
                .await,
            "apply_group_changes",
        );
        stale(
            stores.state.record_refresh(&ws, fence, t(2), Some(9)).await,
            "record_refresh",
        );
        stale(
            stores
                .state
                .record_group_sync_attempt(&ws, fence, t(2), true)
                .await,
            "record_group_sync_attempt",
        );
        stale(
            stores
                .state
                .record_manual_group_sync(&ws, fence, t(2))
                .await,
            "record_manual_group_sync",
        );
        stale(
            stores.state.set_group_sync_pending(&ws, fence, true).await,
            "set_group_sync_pending",
        );
        stale(
            stores.state.set_refresh_pending(&ws, fence, true).await,
            "set_refresh_pending",
        );
    }
    // Nothing was written.
    assert_eq!(
        stores.credentials.load_credentials(&ws).await.unwrap(),
        Some(sealed(ProviderKind::Fleet, 1))
    );
    assert_eq!(
        stores.devices.device(&ws, &s1).await.unwrap(),
        Some(DeviceRecord::new(s1.clone()))
    );
    assert_eq!(stores.groups.groups(&ws).await.unwrap(), vec![group]);
    let state = stores.state.sync_state(&ws).await.unwrap();
    assert_eq!(
        (
            state.last_refresh,
            state.last_group_sync_attempt,
            state.last_manual_group_sync,
            state.group_sync_pending,
            state.refresh_pending
        ),
        (None, None, None, false, false)
    );
    // The current fence writes.
    stores
        .state
        .record_refresh(&ws, new.fence, t(3), None)
        .await
        .unwrap();
    assert_eq!(
        stores.state.sync_state(&ws).await.unwrap().last_refresh,
        Some(t(3))
    );
}

/// Two handles with their own connection pools race for one lease, `rounds` times: exactly one wins each
/// round, and fencing numbers only grow.
pub async fn lease_race(a: &Stores, b: &Stores, rounds: usize) {
    let ws = unique_workspace("race2");
    let mut last = None::<Fence>;
    for round in 0..rounds {
        let (oa, ob) = (format!("a-{round}"), format!("b-{round}"));
        let (ra, rb) = tokio::join!(
            a.state.try_acquire_lease(&ws, &oa, LONG),
            b.state.try_acquire_lease(&ws, &ob, LONG)
        );
        let (winner, store) = match (ra.unwrap(), rb.unwrap()) {
            (LeaseOutcome::Acquired(l), LeaseOutcome::Busy { expires_at }) => {
                assert_eq!(expires_at, l.expires_at, "round {round}");
                (l, a)
            }
            (LeaseOutcome::Busy { expires_at }, LeaseOutcome::Acquired(l)) => {
                assert_eq!(expires_at, l.expires_at, "round {round}");
                (l, b)
            }
            other => panic!("round {round}: not exactly one winner: {other:?}"),
        };
        if let Some(previous) = last {
            assert!(winner.fence > previous, "round {round}: the fence grows");
        }
        last = Some(winner.fence);
        assert!(store.state.release_lease(&ws, &winner).await.unwrap());
    }
}

/// Two callers whose clocks are five minutes apart: expiry is the store's to judge. The caller whose clock
/// runs ahead cannot take over a lease that, by its own clock, ran out long ago; once the lease has expired
/// by the store's clock it can, although by the holder's clock the lease has minutes left, and from then on
/// the old holder can neither renew nor write.
pub async fn skewed_clocks(a: &Stores, b: &Stores) {
    let ws = unique_workspace("skew");
    let behind = ManualClock::new(Utc::now() - TimeDelta::minutes(5));
    let ahead = ManualClock::new(behind.now() + TimeDelta::minutes(5) + TimeDelta::minutes(5));
    let ttl = Duration::from_millis(800);
    let held = match a.state.try_acquire_lease(&ws, "behind", ttl).await.unwrap() {
        LeaseOutcome::Acquired(l) => l,
        other => panic!("{other:?}"),
    };
    match b.state.try_acquire_lease(&ws, "ahead", LONG).await.unwrap() {
        LeaseOutcome::Busy { expires_at } => {
            assert_eq!(expires_at, held.expires_at);
            assert!(
                ahead.now() > expires_at,
                "by the clock that runs ahead the lease ran out, yet the store refused"
            );
        }
        other => panic!("a live lease was taken over: {other:?}"),
    }
    let taken = acquire_when_expired(b, &ws, "ahead", LONG).await;
    assert!(
        behind.now() < held.expires_at,
        "by the holder's clock its lease still runs, yet it was taken over"
    );
    assert!(taken.fence > held.fence);
    assert_eq!(a.state.renew_lease(&ws, &held, LONG).await.unwrap(), None);
    let err = a
        .state
        .record_refresh(&ws, held.fence, behind.now(), None)
        .await
        .unwrap_err();
    assert!(err.is_stale_fence(), "{err}");
    b.state
        .record_refresh(&ws, taken.fence, ahead.now(), None)
        .await
        .unwrap();
    assert_eq!(
        a.state
            .sync_state(&ws)
            .await
            .unwrap()
            .last_refresh
            .map(|t| t.timestamp()),
        Some(ahead.now().timestamp()),
        "both handles see the new holder's write"
    );
}

/// A [`StepHook`] that fails a multi-step operation once, at a chosen step, and remembers every step it saw.
#[derive(Debug, Default)]
pub struct FaultInjector {
    armed: Mutex<Option<Step>>,
    seen: Mutex<Vec<Step>>,
}

impl FaultInjector {
    /// No fault armed.
    pub fn new() -> Self {
        FaultInjector::default()
    }

    /// The next operation that reaches `step` fails there (once).
    pub fn fail_at(&self, step: Step) {
        *self.armed.lock().unwrap() = Some(step);
        self.seen.lock().unwrap().clear();
    }

    /// Whether the armed fault has fired.
    pub fn fired(&self) -> bool {
        self.armed.lock().unwrap().is_none()
    }

    /// The steps seen since the last call (or [`FaultInjector::fail_at`]), in order; forgets them.
    pub fn take_seen(&self) -> Vec<Step> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

impl StepHook for FaultInjector {
    fn after(&self, step: Step) -> StoreResult<()> {
        self.seen.lock().unwrap().push(step);
        let mut armed = self.armed.lock().unwrap();
        if *armed == Some(step) {
            *armed = None;
            return Err(StoreError::new(format!("injected fault after {step:?}")));
        }
        Ok(())
    }
}

fn assert_injected<T: std::fmt::Debug>(result: StoreResult<T>, faults: &FaultInjector, step: Step) {
    let err = result.expect_err("the injected fault fails the operation");
    assert!(
        err.message().contains("injected fault"),
        "{step:?}: failed for another reason: {err}"
    );
    assert!(
        faults.fired(),
        "{step:?} was never reached: the store skipped the hook"
    );
    assert_eq!(
        faults.take_seen().last(),
        Some(&step),
        "it stopped at the fault"
    );
}

/// The connection change an atomicity case interrupts: at a [`Step::CONNECT`] step, saving `to` with
/// `change`; at a [`Step::DISCONNECT`] step, removing the connection.
struct Interrupted {
    to: SealedCredentials,
    change: ConnectionChange,
}

/// What a connection change that went through reported.
#[derive(Debug, PartialEq)]
enum Completed {
    /// `save_connection`: how many devices' metadata it cleared.
    Saved(usize),
    /// `remove_connection`.
    Removed(ConnectionRemoved),
}

impl Interrupted {
    /// The change whose steps `step` is one of.
    async fn run(
        &self,
        stores: &Stores,
        ws: &WorkspaceId,
        fence: Fence,
        step: Step,
    ) -> StoreResult<Completed> {
        let credentials = &stores.credentials;
        if Step::CONNECT.contains(&step) {
            let saved = credentials.save_connection(ws, fence, self.to.clone(), self.change);
            saved.await.map(Completed::Saved)
        } else {
            credentials
                .remove_connection(ws, fence)
                .await
                .map(Completed::Removed)
        }
    }

    /// For each of `steps`: `prepare` a workspace (its id, its lease's fence and what `kept` compares
    /// with), fail the change right after the step and let `kept` check that nothing changed, then retry
    /// and let `done` check what the completed change left. The failure must be the injected fault, and
    /// the retry must report every step of its change, in order.
    async fn at_each<S>(
        &self,
        stores: &Stores,
        faults: &FaultInjector,
        steps: impl IntoIterator<Item = Step>,
        prepare: impl AsyncFn() -> (WorkspaceId, Fence, S),
        kept: impl AsyncFn(Step, &WorkspaceId, &S),
        done: impl AsyncFn(Step, &WorkspaceId, Completed),
    ) {
        for step in steps {
            let (ws, fence, before) = prepare().await;
            faults.fail_at(step);
            assert_injected(self.run(stores, &ws, fence, step).await, faults, step);
            kept(step, &ws, &before).await;
            let completed = self.run(stores, &ws, fence, step).await.unwrap();
            let all: &[Step] = if Step::CONNECT.contains(&step) {
                &Step::CONNECT
            } else {
                &Step::DISCONNECT
            };
            assert_eq!(
                faults.take_seen(),
                all,
                "{step:?}: every step reported, in order"
            );
            done(step, &ws, completed).await;
        }
    }
}

/// Multi-step changes are atomic: a failure between any two steps of `save_connection`,
/// `remove_connection`, `record_checks` or `apply_group_changes` leaves the old state whole, and a retry
/// completes the change.
pub async fn atomic_changes(target: &dyn SuiteTarget) {
    let faults = Arc::new(FaultInjector::new());
    let stores = target.open_with_hook(faults.clone()).await;
    let (s1, s2) = (serial("ATOM0001"), serial("ATOM0002"));
    let old_meta = [
        check(&s1, Some(meta("1", Some("Ada"))), t(1)),
        check(&s2, Some(meta("2", Some("Grace"))), t(1)),
    ];
    // A workspace with both devices checked and Jamf credentials saved (with `change`).
    let connected = |prefix: &'static str, change: ConnectionChange| {
        let (stores, devices, old_meta) = (&stores, [s1.clone(), s2.clone()], old_meta.clone());
        async move {
            let ws = unique_workspace(prefix);
            let fence = lease(stores, &ws, "w").await.fence;
            stores.devices.add_devices(&ws, &devices).await.unwrap();
            stores
                .devices
                .record_checks(&ws, fence, &old_meta)
                .await
                .unwrap();
            stores
                .credentials
                .save_connection(&ws, fence, sealed(ProviderKind::Jamf, 1), change)
                .await
                .unwrap();
            (ws, fence)
        }
    };

    // A new MDM that clears the metadata: a failure keeps the old credentials, metadata and watermark.
    let reconnect = Interrupted {
        to: sealed(ProviderKind::Fleet, 2),
        change: ConnectionChange {
            clear_metadata: true,
            group_sync_pending: true,
        },
    };
    reconnect
        .at_each(
            &stores,
            &faults,
            Step::CONNECT,
            async || {
                let (ws, fence) = connected("atomic-connect", ConnectionChange::NONE).await;
                let before = all_records(&stores, &ws).await;
                stores
                    .marks
                    .record_device_watermark(&ws, fence, t(1), Some(t(1)))
                    .await
                    .unwrap();
                let marks_before = stores.marks.sync_marks(&ws).await.unwrap();
                (ws, fence, (before, marks_before))
            },
            async |step,
                   ws: &WorkspaceId,
                   (before, marks_before): &(Vec<DeviceRecord>, SyncMarks)| {
                assert_eq!(
                    stores.credentials.load_credentials(ws).await.unwrap(),
                    Some(sealed(ProviderKind::Jamf, 1)),
                    "{step:?}: the old credentials stay"
                );
                assert_eq!(
                    &all_records(&stores, ws).await,
                    before,
                    "{step:?}: metadata kept"
                );
                assert_eq!(
                    &stores.marks.sync_marks(ws).await.unwrap(),
                    marks_before,
                    "{step:?}: the watermark is kept with the metadata"
                );
                let state = stores.state.sync_state(ws).await.unwrap();
                assert!(
                    !state.group_sync_pending && !state.refresh_pending,
                    "{step:?}"
                );
            },
            async |step, ws: &WorkspaceId, completed| {
                assert_eq!(
                    completed,
                    Completed::Saved(2),
                    "{step:?}: the retry completes"
                );
                assert_eq!(
                    stores.credentials.load_credentials(ws).await.unwrap(),
                    Some(sealed(ProviderKind::Fleet, 2))
                );
                assert!(all_records(&stores, ws)
                    .await
                    .iter()
                    .all(|d| d.metadata.is_none()));
                let state = stores.state.sync_state(ws).await.unwrap();
                assert!(state.group_sync_pending && state.refresh_pending);
                assert_eq!(
                    stores.marks.sync_marks(ws).await.unwrap(),
                    SyncMarks::default(),
                    "{step:?}: the watermark goes with the metadata"
                );
            },
        )
        .await;

    // A disconnect with a synced group: a failure keeps the connection, devices and groups whole.
    reconnect
        .at_each(
            &stores,
            &faults,
            Step::DISCONNECT,
            async || {
                let pending = ConnectionChange {
                    clear_metadata: false,
                    group_sync_pending: true,
                };
                let (ws, fence) = connected("atomic-disconnect", pending).await;
                let synced = NewGroup {
                    name: "Synced".into(),
                    link: Some(link(ProviderKind::Jamf, "5")),
                    members: [s1.clone()].into(),
                };
                stores
                    .groups
                    .apply_group_changes(
                        &ws,
                        fence,
                        GroupChanges {
                            create: vec![synced],
                            update: vec![],
                        },
                    )
                    .await
                    .unwrap();
                let before_devices = all_records(&stores, &ws).await;
                let before_groups = stores.groups.groups(&ws).await.unwrap();
                (ws, fence, (before_devices, before_groups))
            },
            async |step, ws: &WorkspaceId, (before_devices, before_groups): &(Vec<DeviceRecord>, Vec<GroupRecord>)| {
                assert_eq!(
                    stores.credentials.load_credentials(ws).await.unwrap(),
                    Some(sealed(ProviderKind::Jamf, 1)),
                    "{step:?}: still connected"
                );
                assert_eq!(&all_records(&stores, ws).await, before_devices, "{step:?}");
                assert_eq!(
                    &stores.groups.groups(ws).await.unwrap(),
                    before_groups,
                    "{step:?}"
                );
                assert!(
                    stores
                        .state
                        .sync_state(ws)
                        .await
                        .unwrap()
                        .group_sync_pending
                );
            },
            async |step, ws: &WorkspaceId, completed| {
                assert_eq!(
                    completed,
                    Completed::Removed(ConnectionRemoved {
                        was_connected: true,
                        devices_cleared: 2,
                        groups_detached: 1
                    }),
                    "{step:?}: the retry completes"
                );
                assert_eq!(
                    stores.credentials.load_credentials(ws).await.unwrap(),
                    None
                );
                assert!(stores
                    .groups
                    .groups(ws)
                    .await
                    .unwrap()
                    .iter()
                    .all(|g| !g.is_synced()));
                assert!(
                    !stores
                        .state
                        .sync_state(ws)
                        .await
                        .unwrap()
                        .group_sync_pending
                );
            },
        )
        .await;

    // A batch of checks: all or none.
    let ws = unique_workspace("atomic-checks");
    let fence = lease(&stores, &ws, "w").await.fence;
    stores
        .devices
        .add_devices(&ws, &[s1.clone(), s2.clone()])
        .await
        .unwrap();
    faults.fail_at(Step::ChecksPartlyWritten);
    assert_injected(
        stores.devices.record_checks(&ws, fence, &old_meta).await,
        &faults,
        Step::ChecksPartlyWritten,
    );
    assert!(all_records(&stores, &ws)
        .await
        .iter()
        .all(|d| d.checked_at.is_none()));
    assert_eq!(
        stores
            .devices
            .record_checks(&ws, fence, &old_meta)
            .await
            .unwrap(),
        2
    );

    // A group sync's changes: all or none.
    let kept = stores
        .groups
        .create_group(&ws, NewGroup::manual("Kept"))
        .await
        .unwrap();
    let mut renamed = kept.clone();
    renamed.name = "Renamed".into();
    let changes = GroupChanges {
        create: vec![NewGroup::manual("New")],
        update: vec![renamed.clone()],
    };
    faults.fail_at(Step::GroupsCreated);
    assert_injected(
        stores
            .groups
            .apply_group_changes(&ws, fence, changes.clone())
            .await,
        &faults,
        Step::GroupsCreated,
    );
    assert_eq!(stores.groups.groups(&ws).await.unwrap(), vec![kept]);
    stores
        .groups
        .apply_group_changes(&ws, fence, changes)
        .await
        .unwrap();
    let names: Vec<String> = stores
        .groups
        .groups(&ws)
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["New", "Renamed"]);
}

/// Timings of [`large_fleet`], for a benchmark to print.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct LargeFleetTimings {
    /// Devices in the workspace.
    pub devices: usize,
    /// Adding every device.
    pub add: Duration,
    /// Writing every device's metadata in batches of [`LARGE_FLEET_BATCH`].
    pub write: Duration,
    /// Batches written.
    pub batches: usize,
    /// A search that matches a small fraction, every page read.
    pub search: Duration,
    /// Matches of that search.
    pub search_matches: usize,
    /// Counting the due devices.
    pub count_due: Duration,
    /// Reading every device page by page.
    pub scan: Duration,
}

/// Devices per `record_checks` call in [`large_fleet`], as a bulk refresh writes them.
pub const LARGE_FLEET_BATCH: usize = 1000;

fn fleet_serial(i: usize) -> SerialNumber {
    SerialNumber::parse(&format!("LF{i:07}")).unwrap()
}

fn fleet_name(i: usize) -> String {
    const NAMES: [&str; 5] = ["Ada", "Zoë", "Jürgen", "Søren", "Grace"];
    format!("{} Person{i}", NAMES[i % NAMES.len()])
}

/// `n` devices in one workspace: bulk add, metadata written in batches (every tenth device left
/// unchecked), a search, a due count and a full paged scan, each checked against what was written.
/// Returns the timings; nothing about them is asserted.
pub async fn large_fleet(stores: &Stores, n: usize) -> LargeFleetTimings {
    let ws = unique_workspace("large");
    let serials: Vec<SerialNumber> = (0..n).map(fleet_serial).collect();
    let started = Instant::now();
    assert_eq!(stores.devices.add_devices(&ws, &serials).await.unwrap(), n);
    let add = started.elapsed();

    let fence = lease(stores, &ws, "large").await.fence;
    let checked = |i: usize| i % 10 != 0;
    let started = Instant::now();
    let mut batches = 0;
    for chunk in (0..n).collect::<Vec<_>>().chunks(LARGE_FLEET_BATCH) {
        let checks: Vec<DeviceCheck> = chunk
            .iter()
            .filter(|i| checked(**i))
            .map(|&i| DeviceCheck {
                serial_number: serials[i].clone(),
                metadata: Some(MdmMetadata {
                    device_id: i.to_string(),
                    user_id: None,
                    display_name: Some(fleet_name(i)),
                }),
                checked_at: t(1),
            })
            .collect();
        let written = stores
            .devices
            .record_checks(&ws, fence, &checks)
            .await
            .unwrap();
        assert_eq!(written, checks.len());
        batches += 1;
    }
    let write = started.elapsed();

    // "søren person1" matches Søren's devices numbered 1, 10–19, 100–199, …: a small, known set.
    let query = "SØREN PERSON1";
    let needle = query.to_lowercase();
    let expected: Vec<SerialNumber> = (0..n)
        .filter(|&i| checked(i) && fleet_name(i).to_lowercase().contains(&needle))
        .map(fleet_serial)
        .collect();
    let started = Instant::now();
    let found = all_pages(500, |p| stores.devices.search_devices(&ws, query, p)).await;
    let search = started.elapsed();
    assert_eq!(found, expected, "search over {n} devices");

    let started = Instant::now();
    let due = stores.devices.count_due(&ws, t(0)).await.unwrap();
    let count_due = started.elapsed();
    assert_eq!(due as usize, (0..n).filter(|&i| !checked(i)).count());
    assert!(stores.devices.any_due(&ws, t(0)).await.unwrap());
    assert_eq!(
        stores.devices.count_due(&ws, t(1)).await.unwrap() as usize,
        n
    );

    let started = Instant::now();
    let scanned = all_pages(1000, |p| stores.devices.devices(&ws, p)).await;
    let scan = started.elapsed();
    assert_eq!(scanned, serials, "every device once, in order");
    assert_eq!(stores.devices.device_count(&ws).await.unwrap() as usize, n);

    LargeFleetTimings {
        devices: n,
        add,
        write,
        batches,
        search,
        search_matches: expected.len(),
        count_due,
        scan,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_injector_fails_once_at_its_step() {
        let f = FaultInjector::new();
        assert!(f.after(Step::ConnectionSaved).is_ok());
        f.fail_at(Step::ConnectMetadataCleared);
        assert!(f.after(Step::ConnectionSaved).is_ok());
        assert!(f.after(Step::ConnectMetadataCleared).is_err());
        assert!(f.after(Step::ConnectMetadataCleared).is_ok(), "once");
        assert_eq!(
            f.take_seen(),
            [
                Step::ConnectionSaved,
                Step::ConnectMetadataCleared,
                Step::ConnectMetadataCleared
            ]
        );
    }

    #[test]
    fn the_large_fleet_query_matches_a_small_known_set() {
        let n = 3000;
        let hits = (0..n)
            .filter(|&i| i % 10 != 0 && fleet_name(i).to_lowercase().contains("søren person1"))
            .count();
        assert!(hits > 10 && hits < n / 10, "{hits}");
    }
}

/// A [`crate::SyncStateStore`] that watches the leases passing through it, for tests of several replicas: it
/// counts the holders of each workspace's lease at any moment (from a successful acquisition to the start
/// of its release), remembers the most ever seen at once, and can hold acquisitions back until told.
///
/// Wrap each replica's state store with [`WatchedLeases::wrap`], sharing one watch, then check
/// [`WatchedLeases::most_at_once`]: a store whose lease is not exclusive across pools shows 2.
#[derive(Debug, Default)]
pub struct WatchedLeases {
    holders: Mutex<std::collections::HashMap<WorkspaceId, usize>>,
    most_at_once: std::sync::atomic::AtomicUsize,
    acquired: std::sync::atomic::AtomicUsize,
    gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

impl WatchedLeases {
    /// A watch with no lease seen.
    pub fn new() -> Arc<WatchedLeases> {
        Arc::new(WatchedLeases::default())
    }

    /// `stores` with its state store watched by `watch`.
    pub fn wrap(watch: &Arc<WatchedLeases>, stores: &Stores) -> Stores {
        Stores {
            state: Arc::new(Watched {
                inner: stores.state.clone(),
                watch: watch.clone(),
            }),
            ..stores.clone()
        }
    }

    /// The most holders one workspace's lease ever had at once.
    pub fn most_at_once(&self) -> usize {
        self.most_at_once.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Leases acquired so far.
    pub fn acquired(&self) -> usize {
        self.acquired.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// From now on every acquisition waits for a permit of the returned semaphore.
    pub fn hold_acquisitions(&self) -> Arc<tokio::sync::Semaphore> {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        *self.gate.lock().unwrap() = Some(gate.clone());
        gate
    }
}

#[derive(Debug)]
struct Watched {
    inner: Arc<dyn crate::store::SyncStateStore>,
    watch: Arc<WatchedLeases>,
}

#[async_trait]
impl crate::store::SyncStateStore for Watched {
    async fn sync_state(&self, ws: &WorkspaceId) -> StoreResult<crate::model::WorkspaceState> {
        self.inner.sync_state(ws).await
    }
    async fn set_plan(&self, ws: &WorkspaceId, plan: Plan) -> StoreResult<()> {
        self.inner.set_plan(ws, plan).await
    }
    async fn record_refresh(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
        count: Option<u64>,
    ) -> StoreResult<()> {
        self.inner.record_refresh(ws, fence, at, count).await
    }
    async fn record_group_sync_attempt(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
        succeeded: bool,
    ) -> StoreResult<()> {
        self.inner
            .record_group_sync_attempt(ws, fence, at, succeeded)
            .await
    }
    async fn record_manual_group_sync(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.inner.record_manual_group_sync(ws, fence, at).await
    }
    async fn set_group_sync_pending(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        pending: bool,
    ) -> StoreResult<()> {
        self.inner.set_group_sync_pending(ws, fence, pending).await
    }
    async fn set_refresh_pending(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        pending: bool,
    ) -> StoreResult<()> {
        self.inner.set_refresh_pending(ws, fence, pending).await
    }
    async fn try_acquire_lease(
        &self,
        ws: &WorkspaceId,
        owner: &str,
        ttl: Duration,
    ) -> StoreResult<LeaseOutcome> {
        let gate = self.watch.gate.lock().unwrap().clone();
        if let Some(gate) = gate {
            let _ = gate.acquire().await.map(|p| p.forget());
        }
        let outcome = self.inner.try_acquire_lease(ws, owner, ttl).await?;
        if matches!(outcome, LeaseOutcome::Acquired(_)) {
            use std::sync::atomic::Ordering::SeqCst;
            let mut holders = self.watch.holders.lock().unwrap();
            let n = holders.entry(ws.clone()).or_default();
            *n += 1;
            self.watch.most_at_once.fetch_max(*n, SeqCst);
            self.watch.acquired.fetch_add(1, SeqCst);
        }
        Ok(outcome)
    }
    async fn renew_lease(
        &self,
        ws: &WorkspaceId,
        lease: &Lease,
        ttl: Duration,
    ) -> StoreResult<Option<Lease>> {
        self.inner.renew_lease(ws, lease, ttl).await
    }
    async fn release_lease(&self, ws: &WorkspaceId, lease: &Lease) -> StoreResult<bool> {
        // Counted out before the store frees it, so the next holder is never counted with this one.
        if let Some(n) = self.watch.holders.lock().unwrap().get_mut(ws) {
            *n = n.saturating_sub(1);
        }
        self.inner.release_lease(ws, lease).await
    }
}
