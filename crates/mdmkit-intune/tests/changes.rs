//! Listing managed devices changed since a time (with Graph's ignored `$filter` caught row by row), and
//! Entra groups by delta: a first round, a round of changes reading nested parents again, and the
//! fallback when the delta link expired.

mod common;

use common::*;
use mdmkit_core::{
    ChangeTracking, Coverage, GroupDeltaKind, GroupDeltaToken, MdmGroup, MdmProvider,
    MdmProviderExt,
};

const CHANGE_QUERY: &[(&str, &str)] = &[
    ("$filter", "lastSyncDateTime gt 2026-11-01T23:59:59.999Z"),
    (
        "$select",
        "id,deviceName,serialNumber,userId,userDisplayName,azureADDeviceId,lastSyncDateTime",
    ),
];
const DELTA_QUERY: &[(&str, &str)] = &[("$select", "displayName,securityEnabled,members")];
const MEMBERS_QUERY: &[(&str, &str)] = &[
    ("$select", "id,deviceId"),
    ("$top", "999"),
    ("$count", "true"),
];
const GROUP_QUERY: &[(&str, &str)] = &[("$select", "id,displayName,securityEnabled")];
const JOIN_QUERY: &[(&str, &str)] = &[("$select", "id,azureADDeviceId")];
const FINANCE: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
const KIOSKS: &str = "22222222-bbbb-4bbb-8bbb-222222222222";
const EMPTY: &str = "33333333-cccc-4ccc-8ccc-333333333333";

fn since() -> mdmkit_core::chrono::DateTime<mdmkit_core::chrono::Utc> {
    "2026-11-02T00:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn changes_use_last_sync_gt_and_every_row_is_checked() {
    let env = Env::start().await;
    env.token_ok().await;
    let page = env
        .graph_get(
            DEVICES_PATH,
            CHANGE_QUERY,
            200,
            "managed_devices_changed_since.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();
    assert!(matches!(
        intune.change_tracking(),
        ChangeTracking::Supported {
            field: "lastSyncDateTime",
            ..
        }
    ));
    let changed = intune.changed_devices(since()).await.unwrap();
    assert_eq!(changed.coverage, Coverage::Changed);
    assert_eq!(changed.devices.len(), 2);
    assert_eq!(
        changed.devices[0].display_name.as_deref(),
        Some("Anna Chao")
    );
    page.assert_calls_async(1).await;
    sealed.verify().await;
}

#[tokio::test]
async fn an_ignored_filter_is_caught_and_read_to_the_end_as_a_full_listing() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        CHANGE_QUERY,
        200,
        "managed_devices_changed_filter_ignored_page1.json",
    )
    .await;
    let second = env
        .graph_exact(
            &env.next_link_target("managed_devices_changed_filter_ignored_page1.json"),
            200,
            "managed_devices_changed_filter_ignored_page2.json",
        )
        .await;
    let sealed = env.seal().await;
    let changed = env.provider().changed_devices(since()).await.unwrap();
    assert_eq!(changed.coverage, Coverage::Everything);
    assert_eq!(
        changed.devices.len(),
        3,
        "the old rows are kept: every device"
    );
    second.assert_calls_async(1).await;
    sealed.verify().await;
}

/// Mocks the transitive device members of the fixture groups and the join listing.
async fn member_reads(env: &Env) -> Vec<httpmock::Mock<'_>> {
    let members =
        |group: &str| format!("/v1.0/groups/{group}/transitiveMembers/microsoft.graph.device");
    vec![
        env.graph_reply(
            &members(FINANCE),
            MEMBERS_QUERY,
            Reply::new(
                200,
                env.fixture("group_members_kiosks.json").replace(
                    "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
                    "7c0e6f3a-1d2b-4c5e-9f8a-0b1c2d3e4f5a",
                ),
            )
            .requires("consistencylevel", "eventual"),
        )
        .await,
        env.graph_reply(
            &members(KIOSKS),
            MEMBERS_QUERY,
            Reply::new(200, env.fixture("group_members_kiosks.json"))
                .requires("consistencylevel", "eventual"),
        )
        .await,
        env.graph_reply(
            &members(EMPTY),
            MEMBERS_QUERY,
            Reply::new(200, env.fixture("group_members_empty.json"))
                .requires("consistencylevel", "eventual"),
        )
        .await,
        env.graph_get(
            DEVICES_PATH,
            JOIN_QUERY,
            200,
            "managed_devices_for_group_join_page2.json",
        )
        .await,
    ]
}

#[tokio::test]
async fn a_first_round_reads_every_security_group_and_later_rounds_only_what_changed() {
    let env = Env::start().await;
    env.token_ok().await;
    let round1 = env
        .graph_get(
            "/v1.0/groups/delta",
            DELTA_QUERY,
            200,
            "groups_delta_round1_page1.json",
        )
        .await;
    let round1b = env
        .graph_exact(
            &env.next_link_target("groups_delta_round1_page1.json"),
            200,
            "groups_delta_round1_page2.json",
        )
        .await;
    let link1 = env.fixture_json("groups_delta_round1_page2.json")["@odata.deltaLink"]
        .as_str()
        .unwrap()
        .strip_prefix(&env.graph_root())
        .unwrap()
        .to_owned();
    let round2 = env
        .graph_exact(&link1, 200, "groups_delta_round2_changes.json")
        .await;
    let finance = env
        .graph_get(
            &format!("/v1.0/groups/{FINANCE}"),
            GROUP_QUERY,
            200,
            "group_finance.json",
        )
        .await;
    let kiosks = env
        .graph_get(
            &format!("/v1.0/groups/{KIOSKS}"),
            GROUP_QUERY,
            200,
            "group_kiosks.json",
        )
        .await;
    let reads = member_reads(&env).await;
    let sealed = env.seal().await;
    let intune = env.provider();
    assert!(intune.supports_group_delta());

    let first = intune.groups_delta(None).await.unwrap();
    assert_eq!(first.kind, GroupDeltaKind::Full);
    let names: Vec<&str> = first.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["Finance Macs", "Kiosks", "Empty Security Group"],
        "not the Microsoft 365 group"
    );
    assert_eq!(
        first.groups[1],
        MdmGroup::new(KIOSKS, "Kiosks", ["m-kiosk-1".to_owned()])
    );
    round1.assert_calls_async(1).await;
    round1b.assert_calls_async(1).await;

    // Kiosks lost a member; Finance contains Kiosks, so it is read again too. The empty group is gone.
    let next = intune.groups_delta(first.token.as_ref()).await.unwrap();
    assert_eq!(next.kind, GroupDeltaKind::Changes);
    let ids: Vec<&str> = next.groups.iter().map(|g| g.id.as_str()).collect();
    assert_eq!(ids, [FINANCE, KIOSKS]);
    assert_eq!(next.removed, [EMPTY]);
    assert!(next.token.as_ref().unwrap().as_str().contains("round2"));
    round2.assert_calls_async(1).await;
    finance.assert_calls_async(1).await;
    kiosks.assert_calls_async(1).await;
    reads[1].assert_calls_async(2).await; // Kiosks' members: first round and again
    reads[2].assert_calls_async(1).await; // the empty group only in the first round
    sealed.verify().await;
}

#[tokio::test]
async fn an_expired_delta_link_falls_back_to_a_full_read() {
    let env = Env::start().await;
    env.token_ok().await;
    let expired = env
        .graph_exact(
            "/v1.0/groups/delta?$deltatoken=stale",
            410,
            "graph_error_410_sync_state_not_found.json",
        )
        .await;
    env.graph_get(
        "/v1.0/groups/delta",
        DELTA_QUERY,
        200,
        "groups_delta_round1_page1.json",
    )
    .await;
    env.graph_exact(
        &env.next_link_target("groups_delta_round1_page1.json"),
        200,
        "groups_delta_round1_page2.json",
    )
    .await;
    member_reads(&env).await;
    let sealed = env.seal().await;
    let token = GroupDeltaToken::new(format!(
        r#"{{"link": "{}/v1.0/groups/delta?$deltatoken=stale", "parents": {{}}}}"#,
        env.graph_root()
    ));
    let delta = env.provider().groups_delta(Some(&token)).await.unwrap();
    assert_eq!(delta.kind, GroupDeltaKind::Full);
    assert_eq!(delta.groups.len(), 3);
    assert!(delta.token.is_some());
    expired.assert_calls_async(1).await;
    sealed.verify().await;

    // A token that does not parse reads every group too, without touching any link.
    let garbage = env
        .provider()
        .groups_delta(Some(&GroupDeltaToken::new("not a token")))
        .await
        .unwrap();
    assert_eq!(garbage.kind, GroupDeltaKind::Full);
}
