//! The scheduler: R10's 6-hour schedule, R5 refresh pacing, jitter, bounds and graceful shutdown, all on
//! driven time.

mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::{Harness, Op};
use mdmkit_core::{Category, ErrorKind, ProviderKind};
use mdmkit_sync::{
    Error, GroupSyncOutcome, GroupSyncTrigger, Plan, Scheduler, SchedulerConfig, SyncConfig,
    TickReport, WorkspaceId, WorkspaceRun,
};

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
        !run.refresh.ran(),
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
    assert!(tick.runs.iter().all(|r| !r.refresh.ran()), "not due yet");

    h.mdm.fail_serial("a0", "W0D0", ErrorKind::Timeout, None);
    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(1)))
        .await
        .unwrap();
    let refresh = tick.runs[0].refresh.report().unwrap();
    assert_eq!((refresh.due, refresh.matched, refresh.errors), (2, 1, 1));

    // The failed device stays due, but is retried once the refresh interval has passed, not every tick.
    let before = h.mdm.requests("a0");
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(30)))
        .await
        .unwrap();
    assert!(tick.runs.iter().all(|r| !r.refresh.ran()));
    assert_eq!(h.mdm.requests("a0"), before);
    h.mdm.clear_faults("a0");
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(30)))
        .await
        .unwrap();
    let refresh = tick.runs[0].refresh.report().unwrap();
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
            .all(|r| r.refresh.report().unwrap().matched == 3));
        assert_eq!(
            h.mdm.peak_in_flight(ProviderKind::Fleet),
            expected,
            "limit {limit}"
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
    assert!(
        finished.refresh.report().is_some(),
        "{:?}",
        finished.refresh
    );
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

fn run_of<'a>(tick: &'a TickReport, ws: &WorkspaceId) -> &'a WorkspaceRun {
    tick.runs
        .iter()
        .find(|r| &r.workspace == ws)
        .unwrap_or_else(|| panic!("no run of {ws}: {tick:?}"))
}

/// Lets spawned tasks (a lease released by a stopped run, say) take their turn.
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// Defect 2 of issue 9, scheduler side: a pending sync after a connection change waits for a refresh that
/// completed for the new connection, and follows it in the same turn.
#[tokio::test]
async fn a_pending_sync_after_a_change_waits_until_a_refresh_completes_for_the_new_connection() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Fleet);
    h.mdm.set_page_size("acme", 1);
    h.mdm.add_device("acme", "C02AAA", "1", "Mac A", None);
    h.mdm.add_device("acme", "C02BBB", "2", "Mac B", None);
    h.mdm
        .set_groups("acme", &[("10", "Engineering", &["1", "2"])]);
    let ws = h.workspace("w", Plan::Pro, &["C02AAA", "C02BBB"]).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let groups = h.sync.groups(&ws).await.unwrap();
    assert_eq!(groups[0].members.len(), 2);

    h.mdm.set_token("acme", "rotated");
    h.mdm.fail("acme", Op::Lookup, ErrorKind::Server, None);
    let report = h
        .sync
        .connect(&ws, h.mdm.config_with_token("acme", "rotated"))
        .await
        .unwrap();
    assert!(matches!(
        report.group_sync,
        GroupSyncOutcome::WaitingForRefresh
    ));
    let scheduler = Scheduler::new(h.sync.clone(), no_jitter());

    // 15 minutes on, the owed refresh is retried (no device needs to be due by age); it fails again, so
    // the pending sync does not run.
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(15)))
        .await
        .unwrap();
    let run = run_of(&tick, &ws);
    assert_eq!(run.refresh.report().unwrap().errors, 2);
    assert!(run.group_sync.is_none(), "{run:?}");
    assert!(run.failed());
    assert_eq!(h.sync.groups(&ws).await.unwrap(), groups);
    let state = h.sync.state(&ws).await.unwrap();
    assert!(state.group_sync_pending && state.refresh_pending);

    // The MDM recovers: the refresh completes and the sync follows in the same turn.
    h.mdm.clear_faults("acme");
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(15)))
        .await
        .unwrap();
    let run = run_of(&tick, &ws);
    assert!(run.refresh.report().unwrap().is_complete());
    let sync = run.group_sync.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(sync.members_matched, 2);
    assert_eq!(h.sync.groups(&ws).await.unwrap(), groups);
    let state = h.sync.state(&ws).await.unwrap();
    assert!(!state.group_sync_pending && !state.refresh_pending);
}

/// Defect 4 of issue 9: a hanging MDM is stopped at the run's deadline; the other workspace's run is not
/// held up, and the hanging one's data and lease are left as they were.
#[tokio::test(start_paused = true)]
async fn a_hanging_mdm_is_stopped_at_the_deadline_and_holds_up_no_other_workspace() {
    let h = Harness::new();
    let all = workspaces(&h, 2, 2).await;
    let (slow, healthy) = (&all[0], &all[1]);
    let devices_before = h.sync.devices(slow).await.unwrap();
    let groups_before = h.sync.groups(slow).await.unwrap();
    h.mdm.hang("a0");
    let scheduler = Scheduler::new(h.sync.clone(), no_jitter());
    assert_eq!(
        SchedulerConfig::default().run_deadline,
        Duration::from_secs(30 * 60)
    );

    let now = h.advance(TimeDelta::hours(24));
    let tick = tokio::time::timeout(Duration::from_secs(2 * 3600), scheduler.tick(now))
        .await
        .expect("the tick ends once the slow run hits its deadline")
        .unwrap();
    let fine = run_of(&tick, healthy);
    assert_eq!(fine.refresh.report().unwrap().matched, 2);
    assert!(fine.group_sync.as_ref().unwrap().is_ok());
    assert!(!fine.failed());

    let stuck = run_of(&tick, slow);
    let err = stuck.refresh.error().unwrap();
    assert!(matches!(err, Error::DeadlineExceeded { .. }), "{err:?}");
    assert_eq!(err.category(), Some(Category::Server));
    assert!(stuck.group_sync.is_none(), "the run was over");
    assert!(stuck.failed());
    assert!(stuck.elapsed >= Duration::from_secs(30 * 60));
    assert!(
        fine.elapsed < stuck.elapsed,
        "the healthy run did not wait for the slow one"
    );

    assert_eq!(h.sync.devices(slow).await.unwrap(), devices_before);
    assert_eq!(h.sync.groups(slow).await.unwrap(), groups_before);
    settle().await;
    assert_eq!(
        h.sync.state(slow).await.unwrap().lease,
        None,
        "the stopped run gave its lease back at once"
    );
    assert_eq!(
        scheduler.backing_off_until(slow),
        Some(now + TimeDelta::minutes(5))
    );
    assert_eq!(scheduler.backing_off_until(healthy), None);
}

/// Defect 4 of issue 9: a workspace whose run is still going is not started again by the next tick, which
/// starts everything else that is due.
#[tokio::test(start_paused = true)]
async fn a_workspace_whose_run_is_still_going_is_not_started_again() {
    let h = Harness::new();
    let all = workspaces(&h, 2, 1).await;
    let (slow, healthy) = (all[0].clone(), all[1].clone());
    h.mdm.hang("a0");
    let scheduler = std::sync::Arc::new(Scheduler::new(h.sync.clone(), no_jitter()));
    let now = h.advance(TimeDelta::hours(24));
    let first = tokio::spawn({
        let scheduler = scheduler.clone();
        async move { scheduler.tick(now).await }
    });
    while scheduler.running() != [slow.clone()] || h.mdm.waiting() == 0 {
        tokio::task::yield_now().await;
    }

    // Six hours later the healthy workspace's group sync is due again; the slow one is still running.
    let later = h.advance(TimeDelta::hours(6));
    let second = scheduler.tick(later).await.unwrap();
    assert_eq!(second.already_running, std::slice::from_ref(&slow));
    assert_eq!(second.runs.len(), 1);
    assert_eq!(second.runs[0].workspace, healthy);
    assert!(second.runs[0].group_sync.as_ref().unwrap().is_ok());

    h.mdm.unhang("a0");
    let first = first.await.unwrap().unwrap();
    let run = run_of(&first, &slow);
    assert_eq!(run.refresh.report().unwrap().matched, 1);
    assert!(scheduler.running().is_empty());
}

/// Defect 4 of issue 9: a panic in one workspace's run is that workspace's failure, not the tick's.
#[tokio::test]
async fn a_panic_in_one_run_is_caught_and_reported_as_that_workspaces_failure() {
    let h = Harness::new();
    let all = workspaces(&h, 2, 1).await;
    let (broken, fine) = (&all[0], &all[1]);
    let devices_before = h.sync.devices(broken).await.unwrap();
    h.mdm.panic_on("a0", Some(Op::Lookup));
    let scheduler = Scheduler::new(h.sync.clone(), no_jitter());
    let now = h.advance(TimeDelta::hours(24));
    let tick = scheduler.tick(now).await.unwrap();

    let run = run_of(&tick, broken);
    let err = run.refresh.error().unwrap();
    assert!(matches!(err, Error::RunPanicked { .. }), "{err:?}");
    assert!(run.group_sync.is_none());
    assert!(run.failed());
    let other = run_of(&tick, fine);
    assert_eq!(other.refresh.report().unwrap().matched, 1);
    assert!(other.group_sync.as_ref().unwrap().is_ok());

    assert_eq!(h.sync.devices(broken).await.unwrap(), devices_before);
    settle().await;
    assert_eq!(h.sync.state(broken).await.unwrap().lease, None);
    assert_eq!(
        scheduler.backing_off_until(broken),
        Some(now + TimeDelta::minutes(5))
    );

    // Fixed and past its backoff, it runs again; success ends the backoff.
    h.mdm.panic_on("a0", None);
    assert!(scheduler
        .tick(h.advance(TimeDelta::minutes(4)))
        .await
        .unwrap()
        .backing_off
        .contains(broken));
    let tick = scheduler
        .tick(h.advance(TimeDelta::minutes(1)))
        .await
        .unwrap();
    let run = run_of(&tick, broken);
    assert_eq!(run.refresh.report().unwrap().matched, 1);
    assert!(!run.failed());
    assert_eq!(scheduler.backing_off_until(broken), None);
}

/// Defect 4 of issue 9: a workspace that keeps failing is tried less and less often, up to a cap, instead
/// of every tick; saving its credentials again ends the backoff.
#[tokio::test]
async fn a_workspace_that_keeps_failing_backs_off_exponentially_up_to_a_cap() {
    let h = Harness::new();
    let ws = workspaces(&h, 1, 1).await.remove(0);
    // Its stored credentials can no longer be decrypted.
    let mut record = h
        .stores
        .credentials
        .load_credentials(&ws)
        .await
        .unwrap()
        .unwrap();
    record.nonce[0] ^= 0xff;
    mdmkit_sync::storage_suite::store_credentials(&h.stores, &ws, record).await;

    let mut config = no_jitter();
    config.max_failure_backoff = Duration::from_secs(40 * 60);
    let scheduler = Scheduler::new(h.sync.clone(), config);
    let start = h.advance(TimeDelta::hours(24));
    let mut attempts = Vec::new();
    for minute in 0..180 {
        let now = start + TimeDelta::minutes(minute);
        h.clock.set(now);
        let tick = scheduler.tick(now).await.unwrap();
        if let Some(run) = tick.runs.first() {
            assert!(run.failed(), "minute {minute}: {run:?}");
            let err = run.refresh.error().unwrap();
            assert!(matches!(err, Error::Vault(_)), "{err:?}");
            attempts.push(minute);
        } else {
            assert_eq!(
                tick.backing_off,
                std::slice::from_ref(&ws),
                "minute {minute}"
            );
        }
    }
    // Waits of 5, 10, 20, then 40 minutes (the cap).
    assert_eq!(attempts, [0, 5, 15, 35, 75, 115, 155]);

    // New credentials end the wait at once.
    let now = h.advance(TimeDelta::minutes(1));
    assert!(scheduler.backing_off_until(&ws).unwrap() > now);
    h.sync.connect(&ws, h.mdm.config("a0")).await.unwrap();
    let tick = scheduler.tick(now).await.unwrap();
    assert!(tick.backing_off.is_empty(), "{tick:?}");
    assert_eq!(scheduler.backing_off_until(&ws), None);
}

/// Defect 5 of issue 9: no limit per provider kind in the engine, so a slow Jamf tenant does not hold up
/// another Jamf tenant (limits belong to each MDM server, in the provider's HTTP client).
#[tokio::test(start_paused = true)]
async fn a_slow_jamf_tenant_does_not_delay_another_jamf_tenants_run() {
    let mut config = SyncConfig::default();
    config.lookup_concurrency = 16;
    let h = Harness::with_config(config);
    let mut ids = Vec::new();
    for (name, devices) in [("slow", 16), ("healthy", 2)] {
        h.mdm.account(name, ProviderKind::Jamf);
        h.mdm.set_page_size(name, 1);
        let serials: Vec<String> = (0..devices).map(|d| format!("{name}{d:03}")).collect();
        for (d, s) in serials.iter().enumerate() {
            h.mdm.add_device(name, s, &d.to_string(), "Mac", None);
        }
        let refs: Vec<&str> = serials.iter().map(String::as_str).collect();
        let ws = h.workspace(name, Plan::Free, &refs).await;
        h.sync.connect(&ws, h.mdm.config(name)).await.unwrap();
        ids.push(ws);
    }
    h.mdm.hang("slow");
    h.advance(TimeDelta::hours(24));
    let slow = tokio::spawn({
        let sync = h.sync.clone();
        let ws = ids[0].clone();
        async move { sync.refresh_due(&ws).await }
    });
    // Many of the slow tenant's lookups are in flight (more than the old per-kind limit of 8).
    while h.mdm.waiting() < 8 {
        tokio::task::yield_now().await;
    }
    let report = tokio::time::timeout(Duration::from_secs(60), h.sync.refresh_due(&ids[1]))
        .await
        .expect("not held up by the other Jamf tenant")
        .unwrap();
    assert_eq!(report.matched, 2);
    assert!(
        h.mdm.peak_in_flight(ProviderKind::Jamf) >= 16,
        "all of the slow tenant's lookups were in flight at once"
    );
    h.mdm.unhang("slow");
    assert_eq!(slow.await.unwrap().unwrap().matched, 16);
}

/// The engine's durations at their largest ("never"): a failed group sync's retry wait, the manual
/// cooldown, the lease and the refresh interval are added to instants without panicking, and simply mean
/// "not yet".
#[tokio::test]
async fn engine_durations_of_any_size_never_panic() {
    let mut config = SyncConfig::default();
    config.refresh_interval = Duration::MAX;
    config.group_sync_interval = Duration::MAX;
    config.manual_group_sync_cooldown = Duration::MAX;
    config.group_sync_retry_after = Duration::MAX;
    config.lease_ttl = Duration::MAX;
    let h = Harness::with_config(config);
    h.mdm.account("a", ProviderKind::Fleet);
    h.mdm.set_groups("a", &[("1", "All", &[])]);
    h.mdm.add_device("a", "HUGE1", "1", "Mac", None);
    let ws = h.workspace("huge", Plan::Pro, &["HUGE1"]).await;
    // The group sync after connecting fails: an attempt is recorded and the sync stays pending.
    h.mdm.fail("a", Op::Groups, ErrorKind::Server, Some(1));
    let report = h.sync.connect(&ws, h.mdm.config("a")).await.unwrap();
    assert!(matches!(report.group_sync, GroupSyncOutcome::Failed(_)));
    assert!(h.sync.state(&ws).await.unwrap().group_sync_pending);

    let mut scheduler_config = no_jitter();
    scheduler_config.refresh_every = Duration::MAX;
    let scheduler = Scheduler::new(h.sync.clone(), scheduler_config);
    let tick = scheduler
        .tick(h.advance(TimeDelta::days(365 * 1000)))
        .await
        .unwrap();
    assert!(
        tick.runs.is_empty(),
        "a retry wait of Duration::MAX has not passed: {tick:?}"
    );

    // A person's first request runs; the second meets a cooldown that ends at the end of time.
    h.sync.sync_groups_now(&ws).await.unwrap();
    let err = h.sync.sync_groups_now(&ws).await.unwrap_err();
    assert!(matches!(err, Error::Cooldown { .. }), "{err:?}");
}

/// The scheduler's durations at their largest: a run's deadline, the jitter and a failing workspace's
/// backoff are computed without panicking.
#[tokio::test]
async fn scheduler_durations_of_any_size_never_panic() {
    let h = Harness::new();
    h.mdm.account("a", ProviderKind::Fleet);
    h.mdm.add_device("a", "HUGE2", "1", "Mac", None);
    let ws = h.workspace("huge", Plan::Pro, &["HUGE2"]).await;
    // The refresh after connecting fails, so a refresh is owed and retried by the scheduler.
    h.mdm.fail("a", Op::Lookup, ErrorKind::Server, None);
    h.sync.connect(&ws, h.mdm.config("a")).await.unwrap();
    assert!(h.sync.state(&ws).await.unwrap().refresh_pending);

    let mut config = SchedulerConfig::default();
    config.refresh_every = Duration::MAX;
    config.jitter = Duration::MAX;
    config.run_deadline = Duration::MAX;
    config.failure_backoff = Duration::MAX;
    config.max_failure_backoff = Duration::MAX;
    let scheduler = Scheduler::new(h.sync.clone(), config);
    assert!(scheduler.jitter_for(&ws) >= TimeDelta::zero());
    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(tick.runs.len(), 1, "{tick:?}");
    assert!(tick.runs[0].failed());
    let until = scheduler.backing_off_until(&ws).unwrap();
    assert!(until > h.now() + TimeDelta::days(365 * 1000), "{until}");
    let tick = scheduler
        .tick(h.advance(TimeDelta::hours(1)))
        .await
        .unwrap();
    assert_eq!(tick.backing_off, [ws]);
}
