//! The scheduler: R10's 6-hour schedule, R5 refresh pacing, jitter, bounds and graceful shutdown, all on
//! driven time.

mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{Harness, Op};
use mdmkit_core::{ErrorKind, ProviderKind};
use mdmkit_sync::{GroupSyncTrigger, Plan, Scheduler, SchedulerConfig, SyncConfig, WorkspaceId};

fn no_jitter() -> SchedulerConfig {
    let mut config = SchedulerConfig::default();
    config.jitter = Duration::ZERO;
    config
}

/// `n` Pro workspaces `w0`…, each connected to its own Fleet account holding `devices` devices (1-row
/// pages, so refreshes use lookups), connected at the harness's current time.
async fn workspaces(h: &Harness, n: usize, devices: usize) -> Vec<WorkspaceId> {
    let mut out = Vec::new();
    for i in 0..n {
        let account = format!("a{i}");
        h.mdm.account(&account, ProviderKind::Fleet);
        h.mdm.set_page_size(&account, 1);
        h.mdm.set_groups(&account, &[("1", "All", &[])]);
        let mut serials = Vec::new();
        for d in 0..devices {
            let s = format!("W{i}D{d}");
            h.mdm
                .add_device(&account, &s, &format!("{i}-{d}"), "Mac", None);
            serials.push(s);
        }
        let refs: Vec<&str> = serials.iter().map(String::as_str).collect();
        let ws = h.workspace(&format!("w{i}"), Plan::Pro, &refs).await;
        h.sync.connect(&ws, h.mdm.config(&account)).await.unwrap();
        out.push(ws);
    }
    out
}

#[tokio::test]
async fn r10_group_sync_runs_every_six_hours_and_never_on_free() {
    let h = Harness::new();
    let ws = workspaces(&h, 1, 1).await.remove(0);
    let free = h.workspace("free", Plan::Free, &[]).await;
    h.mdm.account("f", ProviderKind::Fleet);
    h.sync.connect(&free, h.mdm.config("f")).await.unwrap();
    let t0 = h.now();
    let scheduler = Scheduler::new(h.sync.clone(), no_jitter());

    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(5) + TimeDelta::minutes(59)))
        .await
        .unwrap();
    assert_eq!(tick.considered, 2);
    assert!(tick.runs.is_empty(), "nothing due before 6 h: {tick:?}");

    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(1)))
        .await
        .unwrap();
    assert_eq!(tick.runs.len(), 1, "the Free workspace never syncs groups");
    let run = &tick.runs[0];
    assert_eq!(run.workspace, ws);
    assert!(
        run.refresh.is_none(),
        "devices were fetched less than a day ago"
    );
    let sync = run.group_sync.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(sync.trigger, GroupSyncTrigger::Scheduled);
    assert_eq!(
        h.sync.state(&ws).await.unwrap().last_group_sync,
        Some(t0 + TimeDelta::hours(6))
    );

    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(1)))
        .await
        .unwrap();
    assert!(tick.runs.is_empty());
    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(5)))
        .await
        .unwrap();
    assert_eq!(tick.runs.len(), 1, "12 h: the next one");
}

#[tokio::test]
async fn r5_the_scheduler_refreshes_due_devices_and_retries_failures_at_its_own_pace() {
    let h = Harness::new();
    let ws = workspaces(&h, 1, 2).await.remove(0);
    let scheduler = Scheduler::new(h.sync.clone(), no_jitter());

    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(23)))
        .await
        .unwrap();
    assert!(tick.runs.iter().all(|r| r.refresh.is_none()), "not due yet");

    h.mdm.fail_serial("a0", "W0D0", ErrorKind::Timeout, None);
    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(1)))
        .await
        .unwrap();
    let refresh = tick.runs[0].refresh.as_ref().unwrap().as_ref().unwrap();
    assert_eq!((refresh.due, refresh.matched, refresh.errors), (2, 1, 1));

    // The failed device stays due, but is retried once the refresh interval has passed, not every tick.
    let before = h.mdm.requests("a0");
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(30)))
        .await
        .unwrap();
    assert!(tick.runs.iter().all(|r| r.refresh.is_none()));
    assert_eq!(h.mdm.requests("a0"), before);
    h.mdm.clear_faults("a0");
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(30)))
        .await
        .unwrap();
    let refresh = tick.runs[0].refresh.as_ref().unwrap().as_ref().unwrap();
    assert_eq!((refresh.due, refresh.matched), (1, 1));
    assert_eq!(tick.runs[0].workspace, ws);
}

#[tokio::test]
async fn a_failed_scheduled_sync_backs_off_then_retries() {
    let h = Harness::new();
    let ws = workspaces(&h, 1, 0).await.remove(0);
    let scheduler = Scheduler::new(h.sync.clone(), no_jitter());
    h.mdm.fail("a0", Op::Groups, ErrorKind::Server, Some(1));
    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(6)))
        .await
        .unwrap();
    assert!(tick.runs[0].group_sync.as_ref().unwrap().is_err());
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(14)))
        .await
        .unwrap();
    assert!(tick.runs.is_empty(), "backing off");
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(1)))
        .await
        .unwrap();
    assert!(tick.runs[0].group_sync.as_ref().unwrap().is_ok());
    assert_eq!(
        h.sync.state(&ws).await.unwrap().last_group_sync,
        Some(h.now())
    );
}

#[tokio::test]
async fn jitter_spreads_workspaces_by_a_fixed_offset() {
    let h = Harness::new();
    let mut config = SchedulerConfig::default();
    config.jitter = Duration::from_secs(600);
    let scheduler = Scheduler::new(h.sync.clone(), config.clone());
    let ids: Vec<WorkspaceId> = (0..20)
        .map(|i| WorkspaceId::new(format!("ws-{i}")))
        .collect();
    let offsets: Vec<TimeDelta> = ids.iter().map(|w| scheduler.jitter_for(w)).collect();
    assert!(offsets
        .iter()
        .all(|o| *o >= TimeDelta::zero() && *o < TimeDelta::minutes(10)));
    let distinct: std::collections::BTreeSet<_> = offsets.iter().collect();
    assert!(distinct.len() > 10, "{offsets:?}");
    let again = Scheduler::new(h.sync.clone(), config);
    assert_eq!(
        again.jitter_for(&ids[3]),
        offsets[3],
        "stable across restarts"
    );

    // The offset really delays the 6-hour sync.
    let ws = workspaces(&h, 1, 0).await.remove(0);
    let jitter = again.jitter_for(&ws);
    let t0 = h.now();
    h.clock
        .set(t0 + TimeDelta::hours(6) + jitter - TimeDelta::seconds(1));
    assert!(again.tick(h.now()).await.unwrap().runs.is_empty());
    h.clock.set(t0 + TimeDelta::hours(6) + jitter);
    assert_eq!(again.tick(h.now()).await.unwrap().runs.len(), 1);
}

#[tokio::test]
async fn at_most_n_workspaces_run_at_once() {
    let mut sync_config = SyncConfig::default();
    sync_config.lookup_concurrency = 1;
    sync_config.max_in_flight_per_provider = 100;
    let h = Harness::with_config(sync_config);
    workspaces(&h, 6, 3).await;
    for (limit, expected) in [(2usize, 2usize), (6, 6)] {
        let mut config = no_jitter();
        config.max_concurrent_workspaces = limit;
        let scheduler = Scheduler::new(h.sync.clone(), config);
        h.mdm.reset_peaks();
        let tick = scheduler
            .tick(h.advance(TimeDelta::hours(24)))
            .await
            .unwrap();
        assert_eq!(tick.runs.len(), 6);
        assert!(tick
            .runs
            .iter()
            .all(|r| r.refresh.as_ref().unwrap().as_ref().unwrap().matched == 3));
        assert_eq!(
            h.mdm.peak_in_flight(ProviderKind::Fleet),
            expected,
            "limit {limit}"
        );
    }
}

#[tokio::test]
async fn requests_per_provider_are_bounded_across_workspaces() {
    for (per_provider, expected) in [(3usize, 3usize), (100, 12)] {
        let mut sync_config = SyncConfig::default();
        sync_config.lookup_concurrency = 4;
        sync_config.max_in_flight_per_provider = per_provider;
        let h = Harness::with_config(sync_config);
        workspaces(&h, 3, 4).await;
        let mut config = no_jitter();
        config.max_concurrent_workspaces = 10;
        let scheduler = Scheduler::new(h.sync.clone(), config);
        h.mdm.reset_peaks();
        let tick = scheduler
            .tick(h.advance(TimeDelta::hours(24)))
            .await
            .unwrap();
        assert_eq!(tick.runs.len(), 3);
        assert_eq!(
            h.mdm.peak_in_flight(ProviderKind::Fleet),
            expected,
            "bound {per_provider}"
        );
    }
}

#[tokio::test]
async fn stop_lets_running_work_finish_and_starts_nothing_new() {
    let h = Harness::new();
    let all = workspaces(&h, 3, 1).await;
    let mut config = no_jitter();
    config.max_concurrent_workspaces = 1;
    let scheduler = std::sync::Arc::new(Scheduler::new(h.sync.clone(), config));
    let gate = h.mdm.block_calls();
    let now = h.advance(TimeDelta::hours(24));
    let tick = tokio::spawn({
        let scheduler = scheduler.clone();
        async move { scheduler.tick(now).await }
    });
    while h.mdm.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    scheduler.stop();
    gate.add_permits(1000);
    let report = tick.await.unwrap().unwrap();
    assert_eq!(report.runs.len(), 1, "the run in progress finished");
    let finished = &report.runs[0];
    assert!(finished.refresh.as_ref().unwrap().is_ok());
    assert!(
        finished.group_sync.is_none(),
        "its next job was not started"
    );
    assert_eq!(report.skipped_for_shutdown.len(), 2);
    for ws in &all {
        assert_eq!(
            h.sync.state(ws).await.unwrap().lease,
            None,
            "no lease left behind"
        );
    }
    assert!(scheduler.tick(now).await.unwrap().runs.is_empty());
}

#[tokio::test(start_paused = true)]
async fn run_ticks_on_its_own_until_shut_down() {
    let h = Harness::new();
    let ws = workspaces(&h, 1, 0).await.remove(0);
    let mut config = no_jitter();
    config.tick_every = Duration::from_secs(60);
    let scheduler = std::sync::Arc::new(Scheduler::new(h.sync.clone(), config));
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    h.advance(TimeDelta::hours(6));
    let handle = tokio::spawn({
        let scheduler = scheduler.clone();
        async move {
            scheduler
                .run(async {
                    let _ = rx.await;
                })
                .await
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        h.sync.state(&ws).await.unwrap().last_group_sync,
        Some(h.now()),
        "the first tick ran the due sync"
    );
    tx.send(()).unwrap();
    handle.await.unwrap();
    assert!(scheduler.is_stopping());

    // stop() ends a running loop as well.
    let scheduler = std::sync::Arc::new(Scheduler::new(h.sync.clone(), no_jitter()));
    let handle = tokio::spawn({
        let scheduler = scheduler.clone();
        async move { scheduler.run(std::future::pending()).await }
    });
    tokio::time::sleep(Duration::from_secs(120)).await;
    scheduler.stop();
    handle.await.unwrap();
}
