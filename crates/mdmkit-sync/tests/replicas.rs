//! What holds when several workers share a store: the lease is renewed in the background and judged by the
//! store's clock, a worker that lost it writes nothing, connect and disconnect are all-or-nothing, and a
//! bulk refresh writes in batches.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use common::{serial, Harness, VAULT_KEY};
use mdmkit_core::{ProviderKind, SerialNumber};
use mdmkit_sync::storage_suite::{FaultInjector, WatchedLeases};
use mdmkit_sync::{
    Clock, DeviceCheck, DevicePage, DeviceRecord, DeviceStore, Error, Fence, LeaseOutcome,
    ManualClock, MdmSync, MemoryStore, Paging, Plan, Scheduler, SchedulerConfig, Step, StoreResult,
    Stores, SyncConfig, Vault, WorkspaceId,
};

/// A Jamf account `acme` and a Pro workspace that both hold `n` devices `SER00000`…, ids `1`….
async fn fleet(h: &Harness, n: usize) -> WorkspaceId {
    h.mdm.account("acme", ProviderKind::Jamf);
    let serials: Vec<String> = (0..n).map(|i| format!("SER{i:05}")).collect();
    for (i, s) in serials.iter().enumerate() {
        h.mdm
            .add_device("acme", s, &(i + 1).to_string(), &format!("Mac {i}"), None);
    }
    let refs: Vec<&str> = serials.iter().map(String::as_str).collect();
    h.workspace("w", Plan::Pro, &refs).await
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

async fn checked_at(sync: &MdmSync, ws: &WorkspaceId) -> Vec<Option<DateTime<Utc>>> {
    sync.devices(ws)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.checked_at)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_lease_is_renewed_in_the_background_while_a_provider_call_runs_long() {
    let mut config = SyncConfig::default();
    config.lookup_concurrency = 1;
    let ttl = config.lease_ttl;
    let h = Harness::with_config(config);
    let ws = fleet(&h, 2).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    h.advance(TimeDelta::hours(24));

    let gate = h.mdm.block_calls();
    let run = tokio::spawn({
        let sync = h.sync.clone();
        let ws = ws.clone();
        async move { sync.refresh_due(&ws).await }
    });
    while h.mdm.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    // 24 minutes pass on the store's clock during one provider call, more than twice the 10-minute TTL,
    // in steps of 4 minutes while the renewal timer moves a third of the TTL: renewed every third of
    // it, the lease never lapses, so another worker finds it held at every step (a renewal that only
    // came after the lease had run out would let the other worker in).
    for step in 1..=6 {
        h.advance(TimeDelta::minutes(4));
        tokio::time::advance(ttl / 3).await;
        settle().await;
        let other = h
            .stores
            .state
            .try_acquire_lease(&ws, "other-worker", ttl)
            .await
            .unwrap();
        assert!(
            matches!(other, LeaseOutcome::Busy { expires_at } if expires_at > h.now()),
            "step {step}: the running refresh kept its lease: {other:?}"
        );
    }
    gate.add_permits(100);
    let report = run.await.unwrap().unwrap();
    assert_eq!(report.matched, 2);
    assert_eq!(
        h.sync.state(&ws).await.unwrap().lease,
        None,
        "released at the end"
    );
}

#[tokio::test]
async fn a_replica_whose_clock_runs_ahead_cannot_take_a_live_lease_and_the_one_that_lost_it_writes_nothing(
) {
    let store_clock = Arc::new(ManualClock::new(common::start()));
    let memory = Arc::new(MemoryStore::with_clock(store_clock.clone()));
    let stores = Stores::from_one(memory);
    let mut config = SyncConfig::default();
    config.lookup_concurrency = 1;
    let h = Harness::with_stores(config.clone(), |_| stores.clone());
    // Replica A's clock is five minutes behind the store's, replica B's five minutes ahead.
    let behind = Arc::new(ManualClock::new(common::start() - TimeDelta::minutes(5)));
    let ahead = Arc::new(ManualClock::new(common::start() + TimeDelta::minutes(5)));
    let replica = |clock: Arc<ManualClock>| {
        Arc::new(
            MdmSync::new(
                h.mdm.factory(),
                Vault::new("k1", &VAULT_KEY).unwrap(),
                stores.clone(),
                clock,
            )
            .with_config(config.clone()),
        )
    };
    let (a, b) = (replica(behind.clone()), replica(ahead.clone()));
    let ws = fleet(&h, 2).await;
    a.connect(&ws, h.mdm.config("acme")).await.unwrap();
    for clock in [&store_clock, &behind, &ahead] {
        clock.advance(TimeDelta::hours(24));
    }
    let before = checked_at(&a, &ws).await;

    let gate = h.mdm.block_calls();
    let run = tokio::spawn({
        let a = a.clone();
        let ws = ws.clone();
        async move { a.refresh_due(&ws).await }
    });
    while h.mdm.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    // By B's clock A's lease (10 minutes from A's start) ends in 0 minutes; by the store's in 10. B waits.
    let err = b.refresh_due(&ws).await.unwrap_err();
    let Error::AlreadyRunning {
        lease_expires_at, ..
    } = err
    else {
        panic!("B took a live lease: {err:?}");
    };
    assert_eq!(lease_expires_at, store_clock.now() + TimeDelta::minutes(10));
    assert!(ahead.now() >= lease_expires_at - TimeDelta::minutes(5));

    // A pauses past its lease by the store's clock (by its own it has a minute left); B takes over.
    store_clock.advance(TimeDelta::minutes(11));
    behind.advance(TimeDelta::minutes(11));
    let taken = stores
        .state
        .try_acquire_lease(&ws, "replica-b", Duration::from_secs(600))
        .await
        .unwrap();
    assert!(matches!(taken, LeaseOutcome::Acquired(_)), "{taken:?}");
    gate.add_permits(100);
    let err = run.await.unwrap().unwrap_err();
    assert!(matches!(err, Error::LeaseLost { .. }), "{err:?}");
    assert_eq!(
        checked_at(&a, &ws).await,
        before,
        "nothing written after the takeover"
    );
}

#[tokio::test]
async fn a_store_failure_in_the_middle_of_connect_leaves_the_old_connection_whole_and_a_retry_completes(
) {
    for step in Step::CONNECT {
        let faults = Arc::new(FaultInjector::new());
        let hook = faults.clone();
        let h = Harness::with_stores(SyncConfig::default(), move |clock| {
            Stores::from_one(Arc::new(
                MemoryStore::with_clock(clock).with_step_hook(hook),
            ))
        });
        let ws = fleet(&h, 3).await;
        h.mdm
            .set_groups("acme", &[("10", "Engineering", &["1", "2"])]);
        h.mdm.account("other", ProviderKind::Fleet);
        for i in 0..3 {
            h.mdm.add_device(
                "other",
                &format!("SER{i:05}"),
                &format!("f{i}"),
                "Mac",
                None,
            );
        }
        h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
        let devices_before = h.sync.devices(&ws).await.unwrap();
        let groups_before = h.sync.groups(&ws).await.unwrap();

        faults.fail_at(step);
        let err = h
            .sync
            .connect(&ws, h.mdm.config("other"))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Storage(_)), "{step:?}: {err:?}");
        assert!(faults.fired());
        assert_eq!(
            h.sync.connection_info(&ws).await.unwrap().unwrap().provider,
            ProviderKind::Jamf,
            "{step:?}: the old credentials stay"
        );
        assert_eq!(
            h.sync.devices(&ws).await.unwrap(),
            devices_before,
            "{step:?}"
        );
        assert_eq!(h.sync.groups(&ws).await.unwrap(), groups_before, "{step:?}");
        let state = h.sync.state(&ws).await.unwrap();
        assert!(!state.refresh_pending && !state.group_sync_pending);

        // The retry sees the change (the old code had saved the new credentials and saw none).
        let report = h.sync.connect(&ws, h.mdm.config("other")).await.unwrap();
        assert!(report.connection_changed, "{step:?}");
        assert_eq!(report.devices_reset, 3);
        assert_eq!(report.refresh.into_report().unwrap().matched, 3);
        assert_eq!(h.device_id(&ws, "SER00001").await.as_deref(), Some("f1"));
        assert!(
            h.sync
                .groups(&ws)
                .await
                .unwrap()
                .iter()
                .all(|g| !g.is_synced()),
            "the Jamf groups were detached by the sync with Fleet"
        );
    }
}

#[tokio::test]
async fn a_store_failure_in_the_middle_of_disconnect_leaves_everything_connected_and_a_retry_completes(
) {
    for step in Step::DISCONNECT {
        let faults = Arc::new(FaultInjector::new());
        let hook = faults.clone();
        let h = Harness::with_stores(SyncConfig::default(), move |clock| {
            Stores::from_one(Arc::new(
                MemoryStore::with_clock(clock).with_step_hook(hook),
            ))
        });
        let ws = fleet(&h, 2).await;
        h.mdm.set_groups("acme", &[("10", "Engineering", &["1"])]);
        h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
        let devices_before = h.sync.devices(&ws).await.unwrap();
        let groups_before = h.sync.groups(&ws).await.unwrap();
        assert!(groups_before[0].is_synced());

        faults.fail_at(step);
        assert!(matches!(
            h.sync.disconnect(&ws).await.unwrap_err(),
            Error::Storage(_)
        ));
        assert!(
            h.sync.connection_info(&ws).await.unwrap().is_some(),
            "{step:?}"
        );
        assert_eq!(
            h.sync.devices(&ws).await.unwrap(),
            devices_before,
            "{step:?}"
        );
        assert_eq!(h.sync.groups(&ws).await.unwrap(), groups_before, "{step:?}");

        let report = h.sync.disconnect(&ws).await.unwrap();
        assert!(report.was_connected);
        assert_eq!((report.devices_cleared, report.groups_detached), (2, 1));
        assert!(h.sync.connection_info(&ws).await.unwrap().is_none());
    }
}

/// A [`DeviceStore`] that counts the batched writes it passes on.
#[derive(Debug)]
struct CountingDevices {
    inner: Arc<dyn DeviceStore>,
    counts: Arc<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    record_checks_calls: AtomicUsize,
    checks_written: AtomicUsize,
}

#[async_trait]
impl DeviceStore for CountingDevices {
    async fn add_devices(&self, ws: &WorkspaceId, serials: &[SerialNumber]) -> StoreResult<usize> {
        self.inner.add_devices(ws, serials).await
    }
    async fn remove_device(&self, ws: &WorkspaceId, s: &SerialNumber) -> StoreResult<bool> {
        self.inner.remove_device(ws, s).await
    }
    async fn device(
        &self,
        ws: &WorkspaceId,
        s: &SerialNumber,
    ) -> StoreResult<Option<DeviceRecord>> {
        self.inner.device(ws, s).await
    }
    async fn devices(&self, ws: &WorkspaceId, page: Paging) -> StoreResult<DevicePage> {
        self.inner.devices(ws, page).await
    }
    async fn device_count(&self, ws: &WorkspaceId) -> StoreResult<u64> {
        self.inner.device_count(ws).await
    }
    async fn devices_due(
        &self,
        ws: &WorkspaceId,
        cutoff: DateTime<Utc>,
        page: Paging,
    ) -> StoreResult<DevicePage> {
        self.inner.devices_due(ws, cutoff, page).await
    }
    async fn count_due(&self, ws: &WorkspaceId, cutoff: DateTime<Utc>) -> StoreResult<u64> {
        self.inner.count_due(ws, cutoff).await
    }
    async fn search_devices(
        &self,
        ws: &WorkspaceId,
        query: &str,
        page: Paging,
    ) -> StoreResult<DevicePage> {
        self.inner.search_devices(ws, query, page).await
    }
    async fn record_checks(
        &self,
        ws: &WorkspaceId,
        fence: Fence,
        checks: &[DeviceCheck],
    ) -> StoreResult<usize> {
        self.counts
            .record_checks_calls
            .fetch_add(1, Ordering::SeqCst);
        self.counts
            .checks_written
            .fetch_add(checks.len(), Ordering::SeqCst);
        self.inner.record_checks(ws, fence, checks).await
    }
}

#[tokio::test]
async fn a_bulk_refresh_of_ten_thousand_devices_writes_in_twenty_batches() {
    let counting = Arc::new(Counts::default());
    let counts = counting.clone();
    let h = Harness::with_stores(SyncConfig::default(), move |clock| {
        let memory = MemoryStore::with_clock(clock);
        let mut stores = Stores::from_one(Arc::new(memory.clone()));
        // The same data (clones share it), its device writes counted.
        stores.devices = Arc::new(CountingDevices {
            inner: Arc::new(memory),
            counts,
        });
        stores
    });
    h.mdm.account("acme", ProviderKind::Jamf);
    h.mdm.set_page_size("acme", 2000);
    let ws = WorkspaceId::new("w");
    let serials: Vec<SerialNumber> = (0..10_000)
        .map(|i| serial(&format!("BULK{i:05}")))
        .collect();
    for (i, s) in serials.iter().enumerate() {
        h.mdm
            .add_device("acme", s.as_str(), &i.to_string(), "Mac", None);
    }
    h.stores.devices.add_devices(&ws, &serials).await.unwrap();

    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let refresh = report.refresh.into_report().unwrap();
    assert_eq!(refresh.matched, 10_000);
    assert_eq!(refresh.requests, 5, "five 2000-row pages");
    assert_eq!(counting.checks_written.load(Ordering::SeqCst), 10_000);
    assert_eq!(
        counting.record_checks_calls.load(Ordering::SeqCst),
        10_000 / mdmkit_sync::refresh::WRITE_BATCH,
        "one write per batch of {} devices",
        mdmkit_sync::refresh::WRITE_BATCH
    );

    // A few due devices are looked up one by one, and written together.
    for s in &serials[..3] {
        h.stores.devices.remove_device(&ws, s).await.unwrap();
        h.stores.devices.add_device(&ws, s).await.unwrap();
    }
    counting.record_checks_calls.store(0, Ordering::SeqCst);
    let refresh = h.sync.refresh_due(&ws).await.unwrap();
    assert_eq!((refresh.due, refresh.matched), (3, 3));
    assert_eq!(refresh.strategy, Some(mdmkit_sync::Strategy::Lookups));
    assert_eq!(counting.record_checks_calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_replica_that_decided_on_stale_state_finds_the_job_done_under_the_lease() {
    let h = Harness::new();
    let ws = fleet(&h, 3).await;
    h.mdm
        .set_groups("acme", &[("10", "Engineering", &["1", "2"])]);
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let watch = WatchedLeases::new();
    let replica = |stores: Stores| {
        let engine = Arc::new(MdmSync::new(
            h.mdm.factory(),
            Vault::new("k1", &VAULT_KEY).unwrap(),
            stores,
            h.clock.clone(),
        ));
        let mut config = SchedulerConfig::default();
        config.jitter = Duration::ZERO;
        Arc::new(Scheduler::new(engine, config))
    };
    let one = replica(h.stores.clone());
    let two = replica(WatchedLeases::wrap(&watch, &h.stores));

    // A day later a refresh and a group sync are due. Replica two decides so, then waits for the lease
    // while replica one runs both.
    let now = h.advance(TimeDelta::hours(24));
    let gate = watch.hold_acquisitions();
    let late = tokio::spawn({
        let two = two.clone();
        async move { two.tick(now).await }
    });
    settle().await;
    let first = one.tick(now).await.unwrap();
    let ran = &first.runs[0];
    assert_eq!(ran.refresh.report().unwrap().matched, 3);
    assert!(ran.group_sync.as_ref().unwrap().is_ok());
    let requests = h.mdm.requests("acme");
    let state = h.sync.state(&ws).await.unwrap();

    gate.add_permits(10);
    let second = late.await.unwrap().unwrap();
    assert_eq!(watch.acquired(), 2, "replica two did take the lease, twice");
    assert!(
        second
            .runs
            .iter()
            .all(|r| !r.refresh.ran() && r.group_sync.is_none()),
        "nothing ran twice: {second:#?}"
    );
    assert_eq!(h.mdm.requests("acme"), requests, "no MDM request");
    assert_eq!(h.sync.state(&ws).await.unwrap(), state, "nothing written");
}
