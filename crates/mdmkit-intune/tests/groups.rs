//! Entra ID security groups: the paged group list, transitive device members, the join to managed devices
//! through `deviceId == azureADDeviceId`, and the permission errors.

mod common;

use common::*;
use mdmkit_core::{Category, ErrorKind, MdmGroup, MdmProvider};

const GROUPS_QUERY: &[(&str, &str)] = &[
    ("$filter", "securityEnabled eq true"),
    ("$select", "id,displayName,securityEnabled"),
    ("$top", "999"),
];
const MEMBERS_QUERY: &[(&str, &str)] = &[
    ("$select", "id,deviceId"),
    ("$top", "999"),
    ("$count", "true"),
];
const JOIN_QUERY: &[(&str, &str)] = &[("$select", "id,azureADDeviceId")];
const FINANCE: &str = "11111111-aaaa-4aaa-8aaa-111111111111";
const KIOSKS: &str = "22222222-bbbb-4bbb-8bbb-222222222222";
const EMPTY: &str = "33333333-cccc-4ccc-8ccc-333333333333";

fn members_path(group: &str) -> String {
    format!("/v1.0/groups/{group}/transitiveMembers/microsoft.graph.device")
}

/// The first page of a group's transitive device members: an advanced query, so `ConsistencyLevel:
/// eventual` is required.
async fn members<'a>(env: &'a Env, group: &str, fixture: &str) -> httpmock::Mock<'a> {
    env.graph_reply(
        &members_path(group),
        MEMBERS_QUERY,
        Reply::new(200, env.fixture(fixture)).requires("consistencylevel", "eventual"),
    )
    .await
}

/// A later page of members, reached through `linked_from`'s next link, with the same header.
async fn members_next<'a>(env: &'a Env, linked_from: &str, fixture: &str) -> httpmock::Mock<'a> {
    env.graph_exact_reply(
        &env.next_link_target(linked_from),
        Reply::new(200, env.fixture(fixture)).requires("consistencylevel", "eventual"),
    )
    .await
}

#[tokio::test]
async fn groups_are_listed_paged_and_joined_to_managed_devices() {
    let env = Env::start().await;
    env.token_ok().await;
    let groups1 = env
        .graph_get(
            "/v1.0/groups",
            GROUPS_QUERY,
            200,
            "groups_security_page1.json",
        )
        .await;
    let groups2 = env
        .graph_exact(
            &env.next_link_target("groups_security_page1.json"),
            200,
            "groups_security_page2.json",
        )
        .await;
    let finance1 = members(&env, FINANCE, "group_members_finance_page1.json").await;
    let finance2 = members_next(
        &env,
        "group_members_finance_page1.json",
        "group_members_finance_page2.json",
    )
    .await;
    let kiosks = members(&env, KIOSKS, "group_members_kiosks.json").await;
    let empty = members(&env, EMPTY, "group_members_empty.json").await;
    let join1 = env
        .graph_get(
            DEVICES_PATH,
            JOIN_QUERY,
            200,
            "managed_devices_for_group_join_page1.json",
        )
        .await;
    let join2 = env
        .graph_exact(
            &env.next_link_target("managed_devices_for_group_join_page1.json"),
            200,
            "managed_devices_for_group_join_page2.json",
        )
        .await;
    // The Microsoft 365 group (securityEnabled false) must not have its members read: no mock for it, so
    // the catch-all would see the request.
    let sealed = env.seal().await;
    let intune = env.provider();

    let groups = intune.groups().await.unwrap();

    assert_eq!(
        groups,
        vec![
            MdmGroup::new(
                FINANCE,
                "Finance Macs",
                ["m-finance-1".to_owned(), "m-finance-2".to_owned()]
            ),
            MdmGroup::new(KIOSKS, "Kiosks", ["m-kiosk-1".to_owned()]),
            MdmGroup::new(EMPTY, "Empty Security Group", Vec::<String>::new()),
        ]
    );
    for mock in [
        &groups1, &groups2, &finance1, &finance2, &kiosks, &empty, &join1, &join2,
    ] {
        mock.assert_calls_async(1).await;
    }
    // 1 token + 2 group pages + 4 member pages + 2 managed-device pages, the device list read once.
    assert_eq!(intune.request_count(), 9);
    sealed.verify().await;
}

#[tokio::test]
async fn no_groups_means_no_member_or_device_requests() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get("/v1.0/groups", GROUPS_QUERY, 200, "groups_empty.json")
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    assert!(intune.groups().await.unwrap().is_empty());
    assert_eq!(intune.request_count(), 2);
    sealed.verify().await;
}

#[tokio::test]
async fn groups_without_device_members_skip_the_device_listing() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_reply(
        "/v1.0/groups",
        GROUPS_QUERY,
        Reply::new(
            200,
            serde_json::json!({"value": [{"id": EMPTY, "displayName": "Empty Security Group", "securityEnabled": true}]})
                .to_string(),
        ),
    )
    .await;
    members(&env, EMPTY, "group_members_empty.json").await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let groups = intune.groups().await.unwrap();

    assert_eq!(groups.len(), 1);
    assert!(groups[0].member_device_ids.is_empty());
    assert_eq!(intune.request_count(), 3);
    sealed.verify().await;
}

#[tokio::test]
async fn members_without_device_id_are_an_error_naming_device_read_all() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_reply(
        "/v1.0/groups",
        GROUPS_QUERY,
        Reply::new(
            200,
            serde_json::json!({"value": [{"id": KIOSKS, "displayName": "Kiosks", "securityEnabled": true}]})
                .to_string(),
        ),
    )
    .await;
    members(&env, KIOSKS, "group_members_without_device_id.json").await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let err = intune.groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(err.operation(), Some("groups"));
    let text = err.to_string();
    assert!(text.contains("Device.Read.All"), "{text}");
    assert!(text.contains("\"Kiosks\""), "{text}");
    assert!(
        text.contains("2 device member(s) without a deviceId"),
        "{text}"
    );
    // The managed-device list is not read for a join that cannot be made.
    assert_eq!(intune.request_count(), 3);
    sealed.verify().await;
}

#[tokio::test]
async fn a_directory_refusal_names_the_group_permission() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        "/v1.0/groups",
        GROUPS_QUERY,
        403,
        "graph_error_403_authorization_request_denied.json",
    )
    .await;
    let sealed = env.seal().await;

    let err = env.provider().groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.operation(), Some("groups"));
    let text = err.to_string();
    assert!(
        text.contains(
            "Authorization_RequestDenied: Insufficient privileges to complete the operation."
        ),
        "{text}"
    );
    assert!(
        text.contains("GroupMember.Read.All (or Group.Read.All)"),
        "{text}"
    );
    sealed.verify().await;
}

#[tokio::test]
async fn a_device_listing_refusal_during_the_join_names_the_device_permission() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_reply(
        "/v1.0/groups",
        GROUPS_QUERY,
        Reply::new(
            200,
            serde_json::json!({"value": [{"id": KIOSKS, "displayName": "Kiosks", "securityEnabled": true}]})
                .to_string(),
        ),
    )
    .await;
    members(&env, KIOSKS, "group_members_kiosks.json").await;
    env.graph_get(
        DEVICES_PATH,
        JOIN_QUERY,
        403,
        "graph_error_403_forbidden_json_string.json",
    )
    .await;
    let sealed = env.seal().await;

    let err = env.provider().groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.operation(), Some("groups"));
    assert!(
        err.to_string()
            .contains("DeviceManagementManagedDevices.Read.All, with admin consent"),
        "{err}"
    );
    sealed.verify().await;
}
