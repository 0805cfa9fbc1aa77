//! Tenant isolation (issue 9): one workspace's MDM drip-feeds its answers a byte a second, another's is
//! healthy. Both run on one engine and one scheduler, through the real providers against two in-process
//! sandbox MDMs of the same provider (Jamf), so nothing is shared but the engine itself.
//!
//! The healthy workspace completes its refresh and group sync within the run deadline; the slow one is
//! stopped at the deadline with an R8 Server error and its data is exactly what it was.

mod sandbox_support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::TimeDelta;
use mdmkit::{Category, ProviderKind};
use mdmkit_sandbox::{Access, Faults, Sandbox, SandboxConfig};
use mdmkit_sync::{Error, GroupSyncOutcome, Plan, Scheduler, SchedulerConfig};
use sandbox_support::{serial, serials_of, Env};

const JAMF: ProviderKind = ProviderKind::Jamf;
/// Short, so the test is quick; the default is 30 minutes.
const DEADLINE: Duration = Duration::from_secs(4);

#[tokio::test]
async fn a_drip_feeding_mdm_ends_at_its_deadline_and_delays_no_other_tenant() {
    let env = Env::start(12).await;
    let dripping = Sandbox::start(SandboxConfig {
        devices: 12,
        seed: 7,
        ..SandboxConfig::default()
    })
    .await
    .unwrap();

    let healthy = env.fleet_workspace("healthy", Plan::Pro).await;
    let slow = env
        .workspace("slow", Plan::Pro, &serials_of(&dripping))
        .await;
    for (ws, config) in [
        (&healthy, env.config(JAMF)),
        (&slow, dripping.config(JAMF, Access::Full)),
    ] {
        let report = env.sync.connect(ws, config).await.unwrap();
        assert!(matches!(report.group_sync, GroupSyncOutcome::Completed(_)));
    }
    let devices_before = env.sync.devices(&slow).await.unwrap();
    let groups_before = env.stores.groups.groups(&slow).await.unwrap();
    assert!(devices_before.iter().all(|d| d.metadata.is_some()));
    assert!(groups_before.iter().any(|g| !g.members.is_empty()));

    // From now on the slow MDM sends every body one byte per second; both workspaces come due.
    dripping.set_faults(
        JAMF,
        Faults {
            drip: Some(Duration::from_secs(1)),
            ..Faults::default()
        },
    );
    env.sandbox
        .mutate(|fleet| fleet.rename_group(0, "Renamed while the other MDM drips"));
    let now = env.advance(TimeDelta::hours(24));
    let mut config = SchedulerConfig::default();
    config.jitter = Duration::ZERO;
    config.run_deadline = DEADLINE;
    let scheduler = Scheduler::new(env.sync.clone(), config);
    let tick = tokio::time::timeout(Duration::from_secs(120), scheduler.tick(now))
        .await
        .expect("hang guard: the tick ends at the slow run's deadline")
        .unwrap();
    assert_eq!(tick.runs.len(), 2, "{tick:?}");
    let run = |ws| tick.runs.iter().find(|r| &r.workspace == ws).unwrap();

    // The healthy tenant: both jobs done, within the same deadline (else they would have been stopped),
    // and before the slow run ended.
    let fine = run(&healthy);
    let refresh = fine.refresh.report().unwrap();
    assert!(refresh.is_complete(), "{refresh:?}");
    assert_eq!(refresh.matched, serials_of(&env.sandbox).len());
    let sync = fine.group_sync.as_ref().unwrap().as_ref().unwrap();
    assert_eq!(sync.updated, 1);
    let inventory: BTreeSet<_> = serials_of(&env.sandbox).iter().map(|s| serial(s)).collect();
    assert_eq!(
        env.synced_groups(&healthy).await,
        env.expected_groups(JAMF, &inventory)
    );
    let state = env.sync.state(&healthy).await.unwrap();
    assert_eq!(
        (state.last_refresh, state.last_group_sync),
        (Some(now), Some(now))
    );
    assert!(!fine.failed());

    // The slow tenant: stopped at its deadline with a Server error, nothing written.
    let stuck = run(&slow);
    let err = stuck.refresh.error().unwrap();
    assert!(matches!(err, Error::DeadlineExceeded { .. }), "{err:?}");
    assert_eq!(err.category(), Some(Category::Server));
    assert!(stuck.group_sync.is_none());
    assert!(stuck.failed());
    assert!(stuck.elapsed >= DEADLINE);
    assert!(fine.elapsed < stuck.elapsed);
    assert_eq!(
        env.sync.devices(&slow).await.unwrap(),
        devices_before,
        "every device record as it was"
    );
    assert_eq!(
        env.stores.groups.groups(&slow).await.unwrap(),
        groups_before,
        "every group record as it was"
    );
    let mut released = false;
    for _ in 0..200 {
        if env.sync.state(&slow).await.unwrap().lease.is_none() {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(released, "the stopped run gave its lease back");
    assert!(scheduler.backing_off_until(&slow).is_some());
}
