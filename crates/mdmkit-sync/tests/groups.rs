//! Group sync: R10 (plans, cooldown, one at a time) and R12 (reconcile: create and label, overwrite, match by
//! device ID, detach), plus name collisions and account switches.

mod common;

use chrono::TimeDelta;
use common::{serial, Harness, Op};
use mdmkit_core::{Category, ErrorKind, ProviderKind};
use mdmkit_sync::{Error, GroupRecord, GroupSyncTrigger, NewGroup, Plan, WorkspaceId};

/// A Pro workspace connected to Jamf account `acme` holding devices SER0..SER3 (ids 1..4) and `groups`.
async fn connected(h: &Harness, groups: &[(&str, &str, &[&str])]) -> WorkspaceId {
    h.mdm.account("acme", ProviderKind::Jamf);
    for i in 0..4 {
        h.mdm.add_device(
            "acme",
            &format!("SER{i}"),
            &(i + 1).to_string(),
            "Mac",
            None,
        );
    }
    h.mdm.set_groups("acme", groups);
    let ws = h
        .workspace("w", Plan::Pro, &["SER0", "SER1", "SER2", "SER3"])
        .await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    ws
}

async fn group(h: &Harness, ws: &WorkspaceId, name: &str) -> GroupRecord {
    h.sync
        .groups(ws)
        .await
        .unwrap()
        .into_iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name}"))
}

fn members(serials: &[&str]) -> std::collections::BTreeSet<mdmkit_core::SerialNumber> {
    serials.iter().map(|s| serial(s)).collect()
}

#[tokio::test]
async fn r10_free_workspaces_get_a_clear_error_and_no_request() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Fleet);
    h.mdm.set_groups("acme", &[("1", "Labels", &[])]);
    let ws = h.workspace("w", Plan::Free, &[]).await;
    h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let before = h.mdm.requests("acme");
    let err = h.sync.sync_groups_now(&ws).await.unwrap_err();
    assert!(matches!(
        err,
        Error::PlanExcludesGroupSync { plan: Plan::Free }
    ));
    assert_eq!(
        err.to_string(),
        "MDM group sync is available on the Pro and Enterprise plans; this workspace is on the Free plan"
    );
    assert_eq!(h.mdm.requests("acme"), before);
    assert!(h.sync.groups(&ws).await.unwrap().is_empty());

    h.sync.set_plan(&ws, Plan::Enterprise).await.unwrap();
    assert_eq!(h.sync.sync_groups_now(&ws).await.unwrap().created, 1);
}

#[tokio::test]
async fn r10_manual_syncs_have_a_15_minute_cooldown_that_says_when() {
    let h = Harness::new();
    let ws = connected(&h, &[("10", "Eng", &["1"])]).await;
    let t0 = h.advance(TimeDelta::minutes(1));
    let report = h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(report.trigger, GroupSyncTrigger::Manual);

    h.advance(TimeDelta::minutes(10));
    let err = h.sync.sync_groups_now(&ws).await.unwrap_err();
    let Error::Cooldown { last, next_allowed } = err else {
        panic!("{err:?}");
    };
    assert_eq!(last, t0);
    assert_eq!(next_allowed, t0 + TimeDelta::minutes(15));
    assert!(Error::Cooldown { last, next_allowed }
        .to_string()
        .contains(&next_allowed.to_string()));

    h.clock.set(t0 + TimeDelta::minutes(15));
    h.mdm.fail("acme", Op::Groups, ErrorKind::Server, Some(1));
    let err = h.sync.sync_groups_now(&ws).await.unwrap_err();
    assert_eq!(err.category(), Some(Category::Server));
    h.advance(TimeDelta::minutes(1));
    assert!(
        matches!(
            h.sync.sync_groups_now(&ws).await,
            Err(Error::Cooldown { .. })
        ),
        "a failed manual sync counts too"
    );
}

#[tokio::test]
async fn r10_only_one_sync_runs_per_workspace_at_a_time() {
    let h = Harness::new();
    let ws = connected(&h, &[("10", "Eng", &["1"])]).await;
    let gate = h.mdm.block_calls();
    let first = tokio::spawn({
        let sync = h.sync.clone();
        let ws = ws.clone();
        async move { sync.sync_groups_now(&ws).await }
    });
    while h.mdm.waiting() == 0 {
        tokio::task::yield_now().await;
    }
    let second = h.sync.sync_groups_now(&ws).await.unwrap_err();
    assert!(matches!(second, Error::AlreadyRunning { .. }), "{second:?}");
    assert!(matches!(
        h.sync.refresh_due(&ws).await,
        Err(Error::AlreadyRunning { .. })
    ));
    gate.add_permits(100);
    assert_eq!(first.await.unwrap().unwrap().unchanged, 1);
    assert_eq!(h.sync.state(&ws).await.unwrap().lease, None, "released");
}

#[tokio::test]
async fn r12_new_groups_are_created_labelled_with_members_matched_by_mdm_device_id() {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Jamf);
    // The MDM's device IDs say which serial is which; group members are device IDs.
    h.mdm.add_device("acme", "SER0", "501", "Mac", None);
    h.mdm.add_device("acme", "SER1", "502", "Mac", None);
    h.mdm.set_groups(
        "acme",
        &[
            ("10", "Engineering", &["502", "999"]),
            ("11", "Design", &["501", "502"]),
        ],
    );
    let ws = h.workspace("w", Plan::Pro, &["SER0", "SER1", "SER9"]).await;
    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let mdmkit_sync::GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!()
    };
    assert_eq!((sync.mdm_groups, sync.created), (2, 2));
    assert_eq!((sync.members_matched, sync.members_unmatched), (3, 1));

    let eng = group(&h, &ws, "Engineering").await;
    assert!(eng.is_synced());
    assert_eq!(eng.managed_by().as_deref(), Some("Managed by Jamf"));
    assert_eq!(eng.members, members(&["SER1"]));
    let link = eng.link.unwrap();
    assert_eq!(
        (link.provider, link.mdm_group_id.as_str()),
        (ProviderKind::Jamf, "10")
    );
    assert_eq!(
        group(&h, &ws, "Design").await.members,
        members(&["SER0", "SER1"])
    );
}

#[tokio::test]
async fn r12_name_and_membership_are_overwritten_from_the_mdm() {
    let h = Harness::new();
    let ws = connected(&h, &[("10", "Eng", &["1", "2"])]).await;
    let synced = group(&h, &ws, "Eng").await;

    // Local edits to a synced group do not survive a sync.
    let mut edited = synced.clone();
    edited.name = "My name".into();
    edited.members = members(&["SER3"]);
    h.stores.groups.update_group(&ws, &edited).await.unwrap();
    h.advance(TimeDelta::minutes(20));
    let report = h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((report.updated, report.created), (1, 0));
    assert_eq!(
        h.sync.groups(&ws).await.unwrap(),
        vec![synced.clone()],
        "same group, MDM name and members"
    );

    // MDM-side changes come through, on the same group.
    h.mdm
        .set_groups("acme", &[("10", "Engineering", &["2", "3"])]);
    h.advance(TimeDelta::minutes(20));
    h.sync.sync_groups_now(&ws).await.unwrap();
    let now = group(&h, &ws, "Engineering").await;
    assert_eq!(now.id, synced.id);
    assert_eq!(now.members, members(&["SER1", "SER2"]));

    h.advance(TimeDelta::minutes(20));
    let report = h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((report.unchanged, report.updated), (1, 0));
}

#[tokio::test]
async fn r12_groups_gone_from_the_mdm_are_detached_not_deleted() {
    let h = Harness::new();
    let ws = connected(&h, &[("10", "Eng", &["1"]), ("11", "Ops", &["2"])]).await;
    h.mdm.set_groups("acme", &[("11", "Ops", &["2"])]);
    h.advance(TimeDelta::minutes(20));
    let report = h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((report.detached, report.unchanged), (1, 1));

    let eng = group(&h, &ws, "Eng").await;
    assert_eq!(eng.link, None, "an ordinary group now");
    assert_eq!(eng.managed_by(), None);
    assert_eq!(eng.members, members(&["SER0"]), "its members stay");

    // It is editable, and later syncs leave it alone.
    let mut edited = eng.clone();
    edited.members.insert(serial("SER3"));
    h.stores.groups.update_group(&ws, &edited).await.unwrap();
    h.advance(TimeDelta::minutes(20));
    h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(group(&h, &ws, "Eng").await, edited);
}

#[tokio::test]
async fn a_name_taken_by_a_manual_group_gets_the_provider_appended_and_the_manual_group_is_untouched(
) {
    let h = Harness::new();
    h.mdm.account("acme", ProviderKind::Jamf);
    h.mdm.add_device("acme", "SER0", "1", "Mac", None);
    h.mdm.set_groups(
        "acme",
        &[
            ("10", "engineering", &["1"]),
            ("20", "Sales", &[]),
            ("21", "Sales", &[]),
        ],
    );
    let ws = h.workspace("w", Plan::Pro, &["SER0", "SER1"]).await;
    let mut manual = h
        .stores
        .groups
        .create_group(&ws, NewGroup::manual("Engineering"))
        .await
        .unwrap();
    manual.members = members(&["SER1"]);
    h.stores.groups.update_group(&ws, &manual).await.unwrap();

    let report = h.sync.connect(&ws, h.mdm.config("acme")).await.unwrap();
    let mdmkit_sync::GroupSyncOutcome::Completed(sync) = report.group_sync else {
        panic!()
    };
    let renamed: Vec<(&str, &str)> = sync
        .renamed
        .iter()
        .map(|r| (r.mdm_group_id.as_str(), r.name.as_str()))
        .collect();
    assert_eq!(
        renamed,
        [("10", "engineering (Jamf)"), ("21", "Sales (Jamf)")]
    );
    assert_eq!(
        h.stores.groups.group(&ws, &manual.id).await.unwrap(),
        Some(manual.clone())
    );
    let synced = group(&h, &ws, "engineering (Jamf)").await;
    assert_eq!(
        synced.members,
        members(&["SER0"]),
        "not merged with the manual group"
    );
    assert_eq!(
        group(&h, &ws, "Sales").await.link.unwrap().mdm_group_id,
        "20"
    );

    // Stable from run to run.
    h.advance(TimeDelta::minutes(20));
    let again = h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!((again.unchanged, again.updated), (3, 0));

    // Once the manual group is renamed, the synced group gets its MDM name back.
    manual.name = "Engineering (old)".into();
    h.stores.groups.update_group(&ws, &manual).await.unwrap();
    h.advance(TimeDelta::minutes(20));
    h.sync.sync_groups_now(&ws).await.unwrap();
    assert_eq!(group(&h, &ws, "engineering").await.id, synced.id);
}

#[tokio::test]
async fn a_failed_group_listing_changes_nothing() {
    let h = Harness::new();
    let ws = connected(&h, &[("10", "Eng", &["1"])]).await;
    let before = h.sync.groups(&ws).await.unwrap();
    let synced_at = h.sync.state(&ws).await.unwrap().last_group_sync;
    h.advance(TimeDelta::minutes(20));
    h.mdm
        .fail("acme", Op::Groups, ErrorKind::RateLimited, Some(1));
    let err = h.sync.sync_groups_now(&ws).await.unwrap_err();
    assert_eq!(err.kind(), Some(ErrorKind::RateLimited));
    assert_eq!(
        h.sync.groups(&ws).await.unwrap(),
        before,
        "nothing detached"
    );
    let state = h.sync.state(&ws).await.unwrap();
    assert_eq!(state.last_group_sync, synced_at);
    assert_eq!(state.last_group_sync_attempt, Some(h.now()));
}

#[tokio::test]
async fn another_account_of_the_same_provider_never_inherits_groups_but_a_rotated_secret_keeps_them(
) {
    let h = Harness::new();
    let ws = connected(&h, &[("1", "Eng", &["1"])]).await;
    let eng = group(&h, &ws, "Eng").await;

    h.mdm.set_token("acme", "rotated");
    h.advance(TimeDelta::minutes(1));
    h.sync
        .connect(&ws, h.mdm.config_with_token("acme", "rotated"))
        .await
        .unwrap();
    assert_eq!(
        h.sync.groups(&ws).await.unwrap(),
        vec![eng.clone()],
        "same account: still linked"
    );

    // Another Jamf server also numbers its groups from 1.
    h.mdm.account("other", ProviderKind::Jamf);
    h.mdm.add_device("other", "SER2", "1", "Mac", None);
    h.mdm.set_groups("other", &[("1", "Finance", &["1"])]);
    h.advance(TimeDelta::minutes(1));
    h.sync.connect(&ws, h.mdm.config("other")).await.unwrap();
    let old = h.stores.groups.group(&ws, &eng.id).await.unwrap().unwrap();
    assert_eq!(old.name, "Eng", "the old group kept its identity");
    assert_eq!(old.link, None, "and was detached");
    let finance = group(&h, &ws, "Finance").await;
    assert_ne!(finance.id, eng.id);
    assert_eq!(finance.members, members(&["SER2"]));
}

#[tokio::test]
async fn every_provider_labels_its_groups() {
    let h = Harness::new();
    for (i, kind) in ProviderKind::ALL.into_iter().enumerate() {
        let name = format!("acct{i}");
        h.mdm.account(&name, kind);
        h.mdm.add_device(&name, "SER0", "dev-0", "Mac", None);
        h.mdm
            .set_groups(&name, &[("g", kind.group_noun(), &["dev-0"])]);
        let ws = h.workspace(&format!("w{i}"), Plan::Pro, &["SER0"]).await;
        h.sync.connect(&ws, h.mdm.config(&name)).await.unwrap();
        let g = group(&h, &ws, kind.group_noun()).await;
        assert_eq!(
            g.managed_by(),
            Some(format!("Managed by {}", kind.display_name()))
        );
        assert_eq!(g.members, members(&["SER0"]));
    }
}
