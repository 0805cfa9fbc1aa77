//! Incremental refresh against the sandbox: the second day lists only what changed, deletions are seen
//! by the full listing only, a failed run keeps the watermark, an ignored filter counts as a full
//! listing. Request counts come from the sandbox's own counters.

mod sandbox_support;

use std::time::Duration;

use chrono::TimeDelta;
use mdmkit::ProviderKind;
use mdmkit_sandbox::Faults;
use mdmkit_sync::{GroupSyncOutcome, Plan, Strategy, SyncMarks, WorkspaceId};
use sandbox_support::{serial, Env};

const DAY: TimeDelta = TimeDelta::hours(24);

/// A sandbox of `n` devices whose fleet clock and the engine's clock agree, and a workspace holding
/// every device, connected to `kind` (its first, full refresh done).
async fn connected(kind: ProviderKind, n: usize) -> (Env, WorkspaceId) {
    let env = Env::start(n).await;
    env.clock.set(env.sandbox.fleet().now());
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    let first = env.connect(&ws, kind).await;
    assert_eq!(first.strategy, Some(Strategy::Bulk), "{kind}: {first:?}");
    assert!(first.is_complete(), "{kind}: {first:?}");
    let marks = marks(&env, &ws).await;
    assert_eq!(marks.device_watermark, Some(env.now()), "{kind}");
    assert_eq!(marks.last_full_listing, Some(env.now()), "{kind}");
    (env, ws)
}

/// Moves both clocks by `by`.
fn advance(env: &Env, by: TimeDelta) {
    env.advance(by);
    env.sandbox
        .mutate(|f| f.advance(by.to_std().unwrap_or(Duration::ZERO)));
}

async fn marks(env: &Env, ws: &WorkspaceId) -> SyncMarks {
    env.stores.marks.sync_marks(ws).await.unwrap()
}

fn failing() -> Faults {
    Faults {
        server_errors: 1.0,
        ..Faults::default()
    }
}

#[tokio::test]
async fn the_second_day_lists_only_the_changed_devices() {
    // Providers whose listing pages carry everything R4 needs: the cost is the pages of changes.
    for kind in [ProviderKind::Jamf, ProviderKind::Intune, ProviderKind::Iru] {
        let n = 1000;
        let (env, ws) = connected(kind, n).await;
        advance(&env, DAY);
        // 1% of the fleet changes; one of them is renamed and loses its user.
        let changed: Vec<u32> = (0..n as u32).step_by(100).collect();
        env.sandbox.mutate(|f| {
            for &d in &changed {
                f.touch_device(d);
            }
            f.assign_user(changed[1], None);
            f.rename_device(changed[1], "Renamed on day two");
        });
        let before = env.requests(kind);
        let report = env.sync.refresh_due(&ws).await.unwrap();
        let requests = env.requests(kind) - before;
        assert_eq!(
            report.strategy,
            Some(Strategy::Changes),
            "{kind}: {report:?}"
        );
        assert!(report.is_complete(), "{kind}: {report:?}");
        assert_eq!(report.due, n, "{kind}");
        assert_eq!(report.matched, changed.len(), "{kind}: {report:?}");
        assert_eq!(report.unchanged, n - changed.len(), "{kind}: {report:?}");
        assert_eq!(report.still_due(), 0, "{kind}");
        // ceil(10 / page) = 1 page of changes, plus a token request or a user directory page.
        assert!(
            requests <= 3,
            "{kind}: {requests} requests for 10 changed devices"
        );
        assert_eq!(requests, report.requests, "{kind}");
        let renamed = env.view(&ws, &env.serial_of(changed[1])).await;
        assert_eq!(
            renamed.metadata.unwrap().display_name.as_deref(),
            Some("Renamed on day two"),
            "{kind}"
        );
        assert_eq!(
            marks(&env, &ws).await.device_watermark,
            Some(env.now()),
            "{kind}: the watermark moved to this run"
        );
        assert_eq!(
            marks(&env, &ws).await.last_full_listing,
            Some(env.now() - DAY),
            "{kind}: not a full listing"
        );
        // R5: nothing is fetched again the same day.
        let again = env.sync.refresh_due(&ws).await.unwrap();
        assert_eq!((again.due, again.strategy), (0, None), "{kind}");
    }
}

#[tokio::test]
async fn deletions_are_seen_by_the_full_listing_only() {
    let kind = ProviderKind::Jamf;
    let (env, ws) = connected(kind, 60).await;
    let gone = env.serial_of(7);
    advance(&env, DAY);
    env.sandbox.mutate(|f| f.remove_device(7));
    let day_two = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(day_two.strategy, Some(Strategy::Changes));
    assert_eq!(
        day_two.not_found, 0,
        "a listing of changes proves no deletion"
    );
    assert!(
        env.view(&ws, &gone).await.metadata.is_some(),
        "kept until a full listing"
    );

    // Two days after the last full listing, the next run lists in full and clears what vanished.
    advance(&env, DAY);
    let day_three = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(day_three.strategy, Some(Strategy::Bulk), "{day_three:?}");
    assert!(day_three.is_complete());
    assert_eq!(day_three.not_found, 1);
    assert_eq!(env.view(&ws, &gone).await.metadata, None);
    assert_eq!(marks(&env, &ws).await.last_full_listing, Some(env.now()));
}

#[tokio::test]
async fn a_failed_incremental_run_keeps_the_watermark() {
    let kind = ProviderKind::Jamf;
    let (env, ws) = connected(kind, 60).await;
    let first = marks(&env, &ws).await;
    advance(&env, DAY);
    env.sandbox.mutate(|f| {
        f.assign_user(3, None);
        f.rename_device(3, "Renamed before the outage");
    });
    env.sandbox.set_faults(kind, failing());
    let failed = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(failed.strategy, Some(Strategy::Changes));
    assert!(!failed.is_complete() && failed.errors > 0, "{failed:?}");
    assert_eq!(failed.still_due(), 60, "nothing was stamped");
    assert_eq!(marks(&env, &ws).await, first, "the watermark stays");

    // The MDM recovers: the next run asks from the old watermark and sees the change made before.
    env.sandbox.set_faults(kind, Faults::default());
    advance(&env, TimeDelta::hours(1));
    let retried = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(retried.strategy, Some(Strategy::Changes));
    assert!(retried.is_complete(), "{retried:?}");
    assert_eq!(
        env.view(&ws, &env.serial_of(3))
            .await
            .metadata
            .unwrap()
            .display_name
            .as_deref(),
        Some("Renamed before the outage")
    );
    assert_eq!(marks(&env, &ws).await.device_watermark, Some(env.now()));
}

#[tokio::test]
async fn graph_ignoring_the_filter_makes_a_full_listing() {
    let kind = ProviderKind::Intune;
    let (env, ws) = connected(kind, 40).await;
    let gone = env.serial_of(5);
    advance(&env, DAY);
    env.sandbox.mutate(|f| f.remove_device(5));
    env.sandbox.set_graph_ignores_filter(true);
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Changes));
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(
        (report.matched, report.not_found, report.unchanged),
        (39, 1, 0),
        "every device listed: the listing counts as a full one"
    );
    assert_eq!(env.view(&ws, &gone).await.metadata, None);
    let marks = marks(&env, &ws).await;
    assert_eq!(marks.last_full_listing, Some(env.now()));
    assert_eq!(marks.device_watermark, Some(env.now()));
}

#[tokio::test]
async fn a_device_never_checked_is_looked_up_not_assumed_unchanged() {
    let kind = ProviderKind::Jamf;
    let env = Env::start(40).await;
    env.clock.set(env.sandbox.fleet().now());
    let serials = env.fleet_serials();
    let (late, early) = serials.split_last().unwrap();
    let ws = env.workspace("acme", Plan::Free, early).await;
    env.sync.connect(&ws, env.config(kind)).await.unwrap();
    advance(&env, DAY);
    // Added to the workspace now; its MDM record has not changed for days.
    env.sync.add_device(&ws, &serial(late)).await.unwrap();
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Changes));
    assert!(report.is_complete(), "{report:?}");
    // Seeded devices changed before the first listing; the overlap lists the latest again.
    assert!(report.matched >= 1, "{report:?}");
    assert_eq!(
        report.unchanged + report.matched,
        serials.len(),
        "{report:?}"
    );
    let want = env.expected(kind)[&serial(late)].display_name.clone();
    assert_eq!(
        env.view(&ws, &serial(late))
            .await
            .metadata
            .unwrap()
            .display_name,
        Some(want)
    );
}

#[tokio::test]
async fn a_provider_without_a_change_filter_always_lists_in_full() {
    let kind = ProviderKind::SimpleMdm;
    let env = Env::start(120).await;
    env.clock.set(env.sandbox.fleet().now());
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    env.sync.connect(&ws, env.config(kind)).await.unwrap();
    advance(&env, DAY);
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(report.strategy, Some(Strategy::Bulk));
    assert_eq!(report.matched, 120);
}

/// The workspace's serials.
async fn inventory(
    env: &Env,
    ws: &WorkspaceId,
) -> std::collections::BTreeSet<mdmkit::SerialNumber> {
    env.sync
        .devices(ws)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.serial_number)
        .collect()
}

#[tokio::test]
async fn entra_groups_are_read_by_delta_and_read_in_full_after_a_410() {
    let kind = ProviderKind::Intune;
    // 40 groups: a delta touching 3 of them costs less than reading all again.
    let env = Env::start(1000).await;
    let ws = env.fleet_workspace("acme", Plan::Pro).await;
    let connect = env.sync.connect(&ws, env.config(kind)).await.unwrap();
    let GroupSyncOutcome::Completed(full) = connect.group_sync else {
        panic!("the first group sync ran: {:?}", connect.group_sync);
    };
    assert!(!full.delta);
    let inv = inventory(&env, &ws).await;
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(kind, &inv)
    );
    let first = marks(&env, &ws).await;
    assert!(first.group_delta.is_some(), "the delta link is kept");
    assert_eq!(first.last_full_group_read, Some(env.now()));

    // One group renamed, one with new members, one deleted: the next sync reads only those.
    env.sandbox.mutate(|f| {
        f.rename_group(0, "Renamed in Entra");
        f.set_group_members(2, [1, 2, 3]);
        f.delete_group(3);
    });
    env.advance(TimeDelta::hours(6));
    let delta = env.sync.sync_groups_now(&ws).await.unwrap();
    assert!(delta.delta, "{delta:?}");
    assert_eq!(delta.detached, 1, "the deleted group is detached");
    assert!(delta.unchanged > 0 && delta.updated >= 2, "{delta:?}");
    assert!(
        delta.requests < full.requests,
        "a delta ({}) costs less than a full read ({})",
        delta.requests,
        full.requests
    );
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(kind, &inv)
    );
    let second = marks(&env, &ws).await;
    assert_ne!(
        second.group_delta, first.group_delta,
        "the new link is kept"
    );
    assert_eq!(second.last_full_group_read, first.last_full_group_read);

    // A failed sync keeps the link, so the next one reads the same changes again.
    env.sandbox
        .mutate(|f| f.rename_group(1, "Renamed during an outage"));
    env.sandbox.set_faults(kind, failing());
    env.advance(TimeDelta::minutes(20));
    assert!(env.sync.sync_groups_now(&ws).await.is_err());
    assert_eq!(marks(&env, &ws).await, second);
    env.sandbox.set_faults(kind, Faults::default());

    // The link expired (HTTP 410 syncStateNotFound): every group is read again, and reconciled.
    env.sandbox.expire_group_delta_links();
    env.advance(TimeDelta::minutes(20));
    let after = env.sync.sync_groups_now(&ws).await.unwrap();
    assert!(!after.delta, "{after:?}");
    assert_eq!(
        env.synced_groups(&ws).await,
        env.expected_groups(kind, &inv)
    );
    let third = marks(&env, &ws).await;
    assert!(third.group_delta.is_some());
    assert_eq!(third.last_full_group_read, Some(env.now()));

    // A day after the last full read, the next sync reads in full even with a valid link.
    env.advance(TimeDelta::hours(24));
    let daily = env.sync.sync_groups_now(&ws).await.unwrap();
    assert!(!daily.delta, "{daily:?}");
}

#[tokio::test]
async fn connecting_anew_forgets_the_watermark_and_the_delta_link() {
    let kind = ProviderKind::Intune;
    let (env, ws) = connected(kind, 30).await;
    env.sync.set_plan(&ws, Plan::Pro).await.unwrap();
    env.sync.sync_groups_now(&ws).await.unwrap();
    assert!(marks(&env, &ws).await.group_delta.is_some());
    // Another MDM: its first refresh lists in full, from no watermark.
    let refresh = env.connect(&ws, ProviderKind::Jamf).await;
    assert_eq!(refresh.strategy, Some(Strategy::Bulk));
    let after = marks(&env, &ws).await;
    assert_eq!(after.group_delta, None, "Jamf reads no deltas");
    assert_eq!(after.last_full_listing, Some(env.now()));
}

#[tokio::test]
async fn a_fleet_without_scim_reads_each_host_once_and_goes_incremental_the_next_day() {
    // Without SCIM access (Fleet Free) Fleet's listing cannot name users: the first refresh lists in
    // bulk (the provider cannot know SCIM is refused before trying), reads each assigned host's record
    // once for its user, and sets the watermark; the next day lists only the changes, and the users of
    // the changed hosts come from the cache.
    let kind = ProviderKind::Fleet;
    let n = 250; // the last host page is short, so it ends the listing
    let env = Env::start(n).await;
    env.sandbox.set_fleet_premium(false);
    env.clock.set(env.sandbox.fleet().now());
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    let first = env.connect(&ws, kind).await;
    assert_eq!(first.strategy, Some(Strategy::Bulk), "{first:?}");
    assert!(first.is_complete(), "{first:?}");
    let with_user = env
        .expected(kind)
        .values()
        .filter(|d| d.user_id.is_some())
        .count() as u64;
    assert_eq!(first.lookups.reads, with_user, "{first:?}");
    let pages = n.div_ceil(100) as u64;
    // The pages, the one SCIM attempt, a record per host with a user: at most the lookups' cost plus
    // the pages and that attempt.
    assert_eq!(first.requests, pages + 1 + with_user, "{first:?}");
    assert_eq!(marks(&env, &ws).await.device_watermark, Some(env.now()));
    advance(&env, DAY);
    env.sandbox.mutate(|f| {
        f.touch_device(4);
        f.touch_device(5);
    });
    let before = env.requests(kind);
    let report = env.sync.refresh_due(&ws).await.unwrap();
    let requests = env.requests(kind) - before;
    assert_eq!(report.strategy, Some(Strategy::Changes), "{report:?}");
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.matched + report.unchanged, n, "{report:?}");
    assert_eq!(report.lookups.reads, 0, "{report:?}");
    assert!(
        requests < first.requests / 10,
        "{requests} requests against {} for the first refresh",
        first.requests
    );
}

#[tokio::test]
async fn the_watermark_never_passes_a_device_answered_earlier() {
    // A device looked up mid-day holds the MDM's state of then: a full listing the next morning may
    // not move the watermark past it, or a change made between the two would be missed.
    let kind = ProviderKind::Jamf;
    let env = Env::start(40).await;
    env.clock.set(env.sandbox.fleet().now());
    let serials = env.fleet_serials();
    let (late, early) = serials.split_last().unwrap();
    let ws = env.workspace("acme", Plan::Free, early).await;
    env.sync.connect(&ws, env.config(kind)).await.unwrap();
    advance(&env, TimeDelta::hours(12));
    env.sync.add_device(&ws, &serial(late)).await.unwrap();
    let looked_up = env.sync.refresh_due(&ws).await.unwrap();
    assert_eq!(looked_up.strategy, Some(Strategy::Lookups));
    let late_checked = env.now();
    advance(&env, TimeDelta::hours(12));
    let report = env.sync.refresh_due(&ws).await.unwrap();
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(marks(&env, &ws).await.device_watermark, Some(late_checked));
}

#[tokio::test]
async fn fleet_with_scim_lists_in_bulk_and_changed_hosts_of_known_users_cost_no_read() {
    // Fleet Premium: the first refresh lists hosts and names their users in bulk (SCIM). The next day's listing of changes leaves users to the cache, which
    // the first listing filled: the changed hosts cost their page and no host record.
    let kind = ProviderKind::Fleet;
    let n = 250; // the last host page is short, so it ends the listing
    let env = Env::start(n).await;
    env.clock.set(env.sandbox.fleet().now());
    let ws = env.fleet_workspace("acme", Plan::Free).await;
    let before = env.requests(kind);
    let connect = env.sync.connect(&ws, env.config(kind)).await.unwrap();
    let first = connect.refresh.into_report().unwrap();
    assert_eq!(first.strategy, Some(Strategy::Bulk), "{first:?}");
    assert!(first.is_complete(), "{first:?}");
    let pages = n.div_ceil(100) as u64;
    let scim_pages = env.sandbox.listing_directory_requests(kind) as u64;
    // `/me` for the validation, then the host pages and the SCIM users.
    assert_eq!(env.requests(kind) - before, 1 + pages + scim_pages);
    assert!(first.lookups.stored > 0, "{first:?}");

    advance(&env, DAY);
    let changed = [4u32, 5, 6, 7, 8, 9, 10, 11];
    env.sandbox.mutate(|f| {
        for d in changed {
            f.touch_device(d);
        }
    });
    let with_idp_user = changed
        .iter()
        .filter(|d| env.expected(kind)[&env.serial_of(**d)].user_id.is_some())
        .count();
    assert!(with_idp_user > 0);
    let before = env.requests(kind);
    let report = env.sync.refresh_due(&ws).await.unwrap();
    let requests = env.requests(kind) - before;
    assert_eq!(report.strategy, Some(Strategy::Changes), "{report:?}");
    assert!(report.is_complete(), "{report:?}");
    // The changed hosts, and any the watermark's overlap lists again.
    assert!(report.matched >= changed.len(), "{report:?}");
    assert_eq!(report.matched + report.unchanged, n, "{report:?}");
    assert_eq!(report.lookups.reads, 0, "{report:?}");
    assert!(report.lookups.hits as usize >= with_idp_user, "{report:?}");
    assert_eq!(
        requests, 1,
        "one page of changes, no host record: {report:?}"
    );
    // What the cache answered is what a lookup shows.
    for d in changed {
        let s = env.serial_of(d);
        let expected = &env.expected(kind)[&s];
        let stored = env.view(&ws, &s).await.metadata.unwrap();
        assert_eq!(stored.user_id, expected.user_id, "{s}");
        assert_eq!(
            stored.display_name.as_deref(),
            Some(expected.display_name.as_str()),
            "{s}"
        );
    }
}
