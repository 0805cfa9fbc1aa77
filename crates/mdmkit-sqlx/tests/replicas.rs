//! Four replicas, each with its own connection pool, on one PostgreSQL database and one sandbox MDM: 20
//! workspaces across the six providers, three simulated days on a manual clock, every replica's scheduler
//! ticking at once at every step.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use mdmkit::{ProviderKind, SerialNumber};
use mdmkit_sandbox::{Access, Sandbox, SandboxConfig};
use mdmkit_sqlx::testing::TestSchema;
use mdmkit_sync::storage_suite::WatchedLeases;
use mdmkit_sync::{
    Clock, Error, GroupSyncOutcome, GroupSyncTrigger, ManualClock, MdmSync, Plan, Scheduler,
    SchedulerConfig, Vault, WorkspaceId,
};

const REPLICAS: usize = 4;
const WORKSPACES: usize = 20;
const STEP: TimeDelta = TimeDelta::minutes(30);
const DAYS: i64 = 3;

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-03-02T08:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn total_requests(sandbox: &Sandbox) -> u64 {
    ProviderKind::ALL
        .iter()
        .map(|k| sandbox.request_count(*k))
        .sum()
}

#[derive(Default)]
struct Seen {
    /// When a scheduled refresh ran, with its due count.
    refreshes: Vec<(DateTime<Utc>, usize)>,
    /// When a scheduled group sync ran.
    syncs: Vec<DateTime<Utc>>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_replicas_share_twenty_workspaces_for_three_days_and_do_every_job_once() {
    let Some(db) = TestSchema::create().await else {
        return;
    };
    let sandbox = Sandbox::start(SandboxConfig {
        devices: 24,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let clock = Arc::new(ManualClock::new(start()));
    let watch = WatchedLeases::new();
    let options = sandbox.client_options();
    let mut replicas = Vec::new();
    for i in 0..REPLICAS {
        let store = db.open_with(3).await;
        let engine = Arc::new(MdmSync::new(
            mdmkit::provider_factory(options.clone()),
            Vault::new("k1", &[7u8; 32]).unwrap(),
            WatchedLeases::wrap(&watch, &store.stores()),
            clock.clone(),
        ));
        let mut config = SchedulerConfig::default();
        config.jitter = Duration::ZERO;
        config.seed = i as u64;
        replicas.push(Arc::new(Scheduler::new(engine, config)));
    }

    // 20 workspaces, the six providers in turn, each connected through one of the replicas.
    let fleet: Vec<String> = sandbox
        .fleet()
        .devices
        .values()
        .map(|d| d.serial.clone())
        .collect();
    let mut workspaces = Vec::new();
    let mut answered_at_connect = BTreeMap::new();
    for w in 0..WORKSPACES {
        let kind = ProviderKind::ALL[w % ProviderKind::ALL.len()];
        let plan = match w % 5 {
            4 => Plan::Free,
            n if n % 2 == 0 => Plan::Pro,
            _ => Plan::Enterprise,
        };
        let ws = WorkspaceId::new(format!("ws{w:02}-{}", kind.id()));
        let engine = replicas[w % REPLICAS].engine();
        engine.set_plan(&ws, plan).await.unwrap();
        let mut serials: Vec<SerialNumber> = fleet
            .iter()
            .enumerate()
            .filter(|(i, _)| (i + w) % 3 != 0)
            .filter_map(|(_, s)| SerialNumber::parse(s).ok())
            .collect();
        serials.push(SerialNumber::parse(&format!("NOTINMDM{w:02}")).unwrap());
        engine
            .stores()
            .devices
            .add_devices(&ws, &serials)
            .await
            .unwrap();
        let report = engine
            .connect(&ws, sandbox.config(kind, Access::Full))
            .await
            .unwrap();
        let refresh = report.refresh.unwrap().unwrap();
        assert!(refresh.is_complete(), "{ws}: {refresh:?}");
        assert!(
            refresh.matched > 0 && refresh.not_found >= 1,
            "{ws}: {refresh:?}"
        );
        match (plan.allows_group_sync(), &report.group_sync) {
            (true, GroupSyncOutcome::Completed(r)) => assert!(r.created > 0, "{ws}"),
            (false, GroupSyncOutcome::NotOnPlan(_)) => {}
            (_, other) => panic!("{ws}: {other:?}"),
        }
        answered_at_connect.insert(ws.clone(), refresh.matched);
        workspaces.push((ws, kind, plan));
    }
    let groups_after_connect: BTreeMap<WorkspaceId, usize> = {
        let engine = replicas[0].engine();
        let mut out = BTreeMap::new();
        for (ws, _, _) in &workspaces {
            out.insert(ws.clone(), engine.groups(ws).await.unwrap().len());
        }
        out
    };

    // Three days in 30-minute steps; at every step all four replicas tick at once.
    let mut seen: BTreeMap<WorkspaceId, Seen> = BTreeMap::new();
    let mut contested = 0;
    for _ in 0..(DAYS * 24 * 60 / STEP.num_minutes()) {
        let now = clock.advance(STEP);
        let requests_before = total_requests(&sandbox);
        let ticks = futures::future::join_all(replicas.iter().map(|r| r.tick(now))).await;
        let mut reported = 0;
        for tick in ticks {
            let tick = tick.unwrap();
            assert!(tick.backing_off.is_empty(), "{now}: {tick:?}");
            for run in tick.runs {
                let entry = seen.entry(run.workspace.clone()).or_default();
                match &run.refresh {
                    Some(Ok(r)) => {
                        assert!(r.is_complete(), "{}: {r:?}", run.workspace);
                        reported += r.requests;
                        entry.refreshes.push((now, r.due));
                    }
                    Some(Err(Error::AlreadyRunning { .. })) => contested += 1,
                    None => {}
                    Some(Err(e)) => panic!("{}: refresh failed at {now}: {e}", run.workspace),
                }
                match &run.group_sync {
                    Some(Ok(r)) => {
                        assert_eq!(r.trigger, GroupSyncTrigger::Scheduled);
                        assert_eq!(
                            (r.created, r.updated, r.detached),
                            (0, 0, 0),
                            "{}: nothing changed in the MDM, so nothing is written again",
                            run.workspace
                        );
                        reported += r.requests;
                        entry.syncs.push(now);
                    }
                    Some(Err(Error::AlreadyRunning { .. })) | None => {}
                    Some(Err(e)) => panic!("{}: group sync failed at {now}: {e}", run.workspace),
                }
            }
        }
        assert_eq!(
            total_requests(&sandbox) - requests_before,
            reported,
            "{now}: every MDM request belongs to exactly one reported run"
        );
    }

    eprintln!(
        "{} leases taken, {contested} runs found another replica holding the lease",
        watch.acquired()
    );
    assert_eq!(
        watch.most_at_once(),
        1,
        "never two holders of one workspace's lease"
    );
    let engine = replicas[1].engine();
    let end = clock.now();
    for (ws, _kind, plan) in &workspaces {
        let seen = seen.remove(ws).unwrap_or_default();
        // R5: every device once a day: one refresh a day, exactly 24 h apart, answering every device.
        let days: Vec<DateTime<Utc>> = (1..=DAYS).map(|d| start() + TimeDelta::days(d)).collect();
        let devices = engine.devices(ws).await.unwrap();
        assert_eq!(
            seen.refreshes,
            days.iter().map(|d| (*d, devices.len())).collect::<Vec<_>>(),
            "{ws}: refreshes"
        );
        assert!(
            devices.iter().all(|d| d.checked_at == Some(end)),
            "{ws}: every device checked on the last day"
        );
        let matched = devices.iter().filter(|d| d.metadata.is_some()).count();
        assert_eq!(
            matched, answered_at_connect[ws],
            "{ws}: the same devices matched"
        );
        // R10: every 6 hours on Pro and Enterprise, never on Free.
        let expected_syncs: Vec<DateTime<Utc>> = if plan.allows_group_sync() {
            (1..=DAYS * 4)
                .map(|i| start() + TimeDelta::hours(6 * i))
                .collect()
        } else {
            Vec::new()
        };
        assert_eq!(seen.syncs, expected_syncs, "{ws}: group syncs");
        let state = engine.state(ws).await.unwrap();
        assert_eq!(
            state.last_group_sync,
            Some(expected_syncs.last().copied().unwrap_or(start()))
                .filter(|_| plan.allows_group_sync()),
            "{ws}"
        );
        assert_eq!(state.lease, None, "{ws}: no lease left behind");
        let groups = engine.groups(ws).await.unwrap();
        assert_eq!(
            groups.len(),
            groups_after_connect[ws],
            "{ws}: no group created twice"
        );
    }
}
