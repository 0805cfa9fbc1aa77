//! `devices_by_serial()`: the `$eq` filter, the exact re-check, and the assigned user.

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, SerialNumber};

const ANNA: &str = "64a1b2c3d4e5f60012345678";
const BJORN: &str = "64a1b2c3d4e5f600123456aa";

#[tokio::test]
async fn exact_match_with_a_primary_user_takes_two_requests() {
    let server = MockServer::start_async().await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("filter", "serialNumber:$eq:C02XK0AAJG5J")
                .query_param("limit", "100")
                .query_param("skip", "0")
                .query_param("sort", "_id");
            then.status(200)
                .body(fixture("system_by_serial_primary_user.json"));
        })
        .await;
    let user = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/systemusers/{ANNA}"));
            then.status(200).body(fixture("systemuser_anna.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let serial = SerialNumber::parse("C02XK0AAJG5J").unwrap();
    let device = provider.device_by_serial(&serial).await.unwrap().unwrap();
    assert_eq!(device.device_id, "63923eb5664f0d6d7ec123e2");
    assert_eq!(device.serial_number.as_ref(), Some(&serial));
    assert_eq!(device.user_id.as_deref(), Some(ANNA));
    assert_eq!(device.user_name.as_deref(), Some("Anna Chao"));
    assert_eq!(device.display_name.as_deref(), Some("Anna Chao"));
    assert_eq!(device.device_name.as_deref(), Some("Anna-MBP"));

    systems.assert_calls_async(1).await;
    user.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(
        provider.request_count(),
        2,
        "no graph call with a primary user"
    );
}

#[tokio::test]
async fn lower_case_input_is_sent_upper_case_and_org_header_goes_everywhere() {
    let server = MockServer::start_async().await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, Some(ORG))
                .path("/api/systems")
                .query_param("filter", "serialNumber:$eq:C02XK0AAJG5J");
            then.status(200)
                .body(fixture("system_by_serial_primary_user.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, Some(ORG)).path(format!("/api/systemusers/{ANNA}"));
            then.status(200).body(fixture("systemuser_anna.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let serial = SerialNumber::parse(" c02xk0aajg5j ").unwrap();
    let found = provider(&server, Some(ORG))
        .devices_by_serial(&serial)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    systems.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn substring_prefix_and_missing_serials_are_rejected_and_cost_nothing_more() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("filter", "serialNumber:$eq:C02XK0AAJG5J");
            then.status(200)
                .body(fixture("systems_by_serial_fuzzy_results.json"));
        })
        .await;
    // Only the exact match (reported in lower case, `primarySystemUser: {}`) reaches the graph.
    let graph = server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/v2/systems/63923eb5664f0d6d7ec10005/users")
                .query_param("limit", "100")
                .query_param("skip", "0");
            then.status(200)
                .header("x-total-count", "1")
                .body(fixture("graph_system_users_single_direct.json"));
        })
        .await;
    let user = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/systemusers/{BJORN}"));
            then.status(200)
                .body(fixture("systemuser_no_displayname.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let found = provider
        .devices_by_serial(&SerialNumber::parse("C02XK0AAJG5J").unwrap())
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:#?}");
    let device = &found[0];
    assert_eq!(
        device.device_id, "63923eb5664f0d6d7ec10005",
        "read from `id`"
    );
    assert_eq!(device.user_id.as_deref(), Some(BJORN));
    assert_eq!(
        device.display_name.as_deref(),
        Some("Björn Berg"),
        "first and last name when displayname is blank"
    );
    graph.assert_calls_async(1).await;
    user.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 3);
}

#[tokio::test]
async fn no_match_is_none_after_one_request() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("filter", "serialNumber:$eq:UNKNOWN123");
            then.status(200).body(fixture("systems_empty.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let serial = SerialNumber::parse("unknown123").unwrap();
    assert!(provider.device_by_serial(&serial).await.unwrap().is_none());
    assert_eq!(provider.request_count(), 1);
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn duplicates_are_all_returned_and_the_single_lookup_refuses_to_pick() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("filter", "serialNumber:$eq:C02XK0AAJG5J");
            then.status(200)
                .body(fixture("systems_by_serial_duplicates.json"));
        })
        .await;
    let user = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/systemusers/{ANNA}"));
            then.status(200).body(fixture("systemuser_anna.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let serial = SerialNumber::parse("C02XK0AAJG5J").unwrap();
    let all = provider.devices_by_serial(&serial).await.unwrap();
    let ids: Vec<_> = all.iter().map(|d| d.device_id.as_str()).collect();
    assert_eq!(
        ids,
        ["63923eb5664f0d6d7ec20001", "63923eb5664f0d6d7ec20002"]
    );
    assert!(all
        .iter()
        .all(|d| d.display_name.as_deref() == Some("Anna Chao")));
    user.assert_calls_async(1).await; // the shared user is read once
    assert_eq!(provider.request_count(), 2);

    let err = provider.device_by_serial(&serial).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("63923eb5664f0d6d7ec20002"));
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_primary_user_that_no_longer_exists_leaves_the_device_unassigned() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200)
                .body(fixture("system_by_serial_primary_user.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/systemusers/{ANNA}"));
            then.status(404).body(fixture("error_404_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let device = provider(&server, None)
        .device_by_serial(&SerialNumber::parse("C02XK0AAJG5J").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.user_id, None);
    assert_eq!(device.user_name, None);
    assert_eq!(device.display_name.as_deref(), Some("Anna-MBP"));
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_shared_device_bound_only_through_a_user_group_has_no_assigned_user() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200)
                .body(fixture("systems_by_serial_fuzzy_results.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/v2/systems/63923eb5664f0d6d7ec10005/users");
            then.status(200)
                .header("x-total-count", "2")
                .body(fixture("graph_system_users_shared_via_group.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let device = provider
        .device_by_serial(&SerialNumber::parse("C02XK0AAJG5J").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device.user_id, None);
    assert_eq!(device.display_name.as_deref(), Some("Lower-case exact"));
    assert_eq!(
        provider.request_count(),
        2,
        "no user read for an unassigned device"
    );
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn user_lookup_failures_other_than_404_fail_the_lookup() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200)
                .body(fixture("system_by_serial_primary_user.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/systemusers/{ANNA}"));
            then.status(403).body(fixture("error_403_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, None)
        .device_by_serial(&SerialNumber::parse("C02XK0AAJG5J").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.operation(), Some("device_by_serial"));
    stray.assert_calls_async(0).await;
}
