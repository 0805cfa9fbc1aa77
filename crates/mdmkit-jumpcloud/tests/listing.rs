//! The bulk listing: `limit=100&skip=N&sort=_id` until `totalCount`, one user-directory read per
//! listing, and the request budget that follows.

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, PageRequest, PagingStyle};
use serde_json::json;

/// Mocks page `skip` of a directory of `total` generated users.
async fn directory_page(
    server: &MockServer,
    skip: usize,
    rows: usize,
    total: u64,
) -> httpmock::Mock<'_> {
    let body = v1_list((skip..skip + rows).map(user).collect(), Some(total)).to_string();
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systemusers")
                .query_param("limit", "100")
                .query_param("skip", skip.to_string())
                .query_param("sort", "_id");
            then.status(200).body(body);
        })
        .await
}

#[tokio::test]
async fn pages_by_offset_of_one_hundred() {
    let server = MockServer::start_async().await;
    assert_eq!(
        provider(&server, None).device_paging(),
        PagingStyle::Offset { limit: 100 }
    );
}

#[tokio::test]
async fn an_empty_inventory_takes_one_request_and_reads_no_users() {
    let server = MockServer::start_async().await;
    let page = systems_page(&server, 0, 0, Some(0), |_| None).await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    assert!(provider.all_devices().await.unwrap().is_empty());
    page.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 1);
}

#[tokio::test]
async fn exactly_one_full_page_stops_at_the_total() {
    let server = MockServer::start_async().await;
    systems_page(&server, 0, 100, Some(100), |n| Some(user_id(n % 3))).await;
    let dir = directory_page(&server, 0, 3, 3).await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let devices = provider.all_devices().await.unwrap();
    assert_eq!(devices.len(), 100);
    assert_eq!(devices[4].display_name.as_deref(), Some("User 1"));
    assert_eq!(devices[4].user_id.as_deref(), Some(user_id(1).as_str()));
    dir.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(
        provider.request_count(),
        2,
        "one system page + one directory page"
    );
}

#[tokio::test]
async fn several_pages_with_a_short_last_page_read_the_directory_once() {
    let server = MockServer::start_async().await;
    // 250 devices, each with a primary user among 150 users (two directory pages).
    let user_of = |n: usize| Some(user_id(n % 150));
    let pages = [
        systems_page(&server, 0, 100, Some(250), user_of).await,
        systems_page(&server, 100, 100, Some(250), user_of).await,
        systems_page(&server, 200, 50, Some(250), user_of).await,
    ];
    let dir = [
        directory_page(&server, 0, 100, 150).await,
        directory_page(&server, 100, 50, 150).await,
    ];
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let devices = provider.all_devices().await.unwrap();
    assert_eq!(devices.len(), 250);
    let ids: std::collections::HashSet<_> = devices.iter().map(|d| d.device_id.clone()).collect();
    assert_eq!(ids.len(), 250, "no row twice");
    assert_eq!(devices[249].display_name.as_deref(), Some("User 99"));
    assert_eq!(devices[120].display_name.as_deref(), Some("User 120"));
    assert_eq!(
        devices[120].serial_number.as_ref().unwrap().as_str(),
        "C02TEST00120"
    );
    for page in &pages {
        page.assert_calls_async(1).await;
    }
    for page in &dir {
        page.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
    // ceil(250/100) system pages + ceil(150/100) directory pages, no per-device calls.
    assert_eq!(provider.request_count(), 5);
}

#[tokio::test]
async fn every_unassigned_shape_and_the_graph_fallback_in_one_page() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("skip", "0");
            then.status(200)
                .body(fixture("systems_page_unassigned_user_shapes.json"));
        })
        .await;
    let dir = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systemusers");
            then.status(200).body(fixture("systemusers_directory.json"));
        })
        .await;
    let graph = |id: &'static str, body: &'static str, total: &'static str| {
        let server = &server;
        async move {
            server
                .mock_async(|when, then| {
                    authed(when, None)
                        .path(format!("/api/v2/systems/{id}/users"))
                        .query_param("limit", "100")
                        .query_param("skip", "0");
                    then.status(200)
                        .header("x-total-count", total)
                        .body(fixture(body));
                })
                .await
        }
    };
    let graphs = [
        graph(
            "63923eb5664f0d6d7ec30002",
            "graph_system_users_single_direct.json",
            "1",
        )
        .await,
        graph("63923eb5664f0d6d7ec30003", "graph_empty.json", "0").await,
        graph(
            "63923eb5664f0d6d7ec30004",
            "graph_system_users_shared_via_group.json",
            "2",
        )
        .await,
        graph(
            "63923eb5664f0d6d7ec30006",
            "graph_system_users_one_direct_two_via_group.json",
            "3",
        )
        .await,
    ];
    // The departed user is not in the directory: read by id once, and gone.
    let departed = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systemusers/64a1b2c3d4e5f600123456dd");
            then.status(404).body(fixture("error_404_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let devices = provider.all_devices().await.unwrap();
    let summary: Vec<_> = devices
        .iter()
        .map(|d| {
            (
                d.device_id.as_str(),
                d.user_id.as_deref(),
                d.display_name.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "63923eb5664f0d6d7ec30001",
                Some("64a1b2c3d4e5f60012345678"),
                Some("Anna Chao")
            ),
            (
                "63923eb5664f0d6d7ec30002",
                Some("64a1b2c3d4e5f600123456aa"),
                Some("Björn Berg")
            ),
            ("63923eb5664f0d6d7ec30003", None, Some("kiosk-lobby")),
            ("63923eb5664f0d6d7ec30004", None, Some("Lab iMac")),
            (
                "63923eb5664f0d6d7ec30005",
                None,
                Some("Departed user's Mac")
            ),
            (
                "63923eb5664f0d6d7ec30006",
                Some("64a1b2c3d4e5f600123456bb"),
                Some("kiosk@acme.com")
            ),
        ]
    );
    dir.assert_calls_async(1).await;
    for g in &graphs {
        g.assert_calls_async(1).await;
    }
    departed.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    // 1 system page + 1 directory page + 4 graph calls (one per device without a primary user) + 1
    // read of the user the directory lacked.
    assert_eq!(provider.request_count(), 7);
}

#[tokio::test]
async fn the_directory_is_read_again_for_the_next_listing() {
    let server = MockServer::start_async().await;
    systems_page(&server, 0, 2, Some(2), |n| Some(user_id(n))).await;
    let dir = directory_page(&server, 0, 2, 2).await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    provider.all_devices().await.unwrap();
    provider.all_devices().await.unwrap();
    dir.assert_calls_async(2).await;
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 4);
}

#[tokio::test]
async fn an_empty_page_ends_the_listing_even_if_the_total_says_more() {
    let server = MockServer::start_async().await;
    // Devices deleted while we read: the total still says 150.
    systems_page(&server, 0, 100, Some(150), |_| None).await;
    systems_page(&server, 100, 0, Some(150), |_| None).await;
    // 150 systems to resolve but 120 users: the bindings are read per user.
    directory_page(&server, 0, 100, 120).await;
    directory_page(&server, 100, 20, 120).await;
    let per_user = server
        .mock_async(|when, then| {
            authed(when, None).path_matches("^/api/v2/users/[0-9a-f]{24}/systems$");
            then.status(200).header("x-total-count", "0").body("[]");
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let devices = provider.all_devices().await.unwrap();
    assert_eq!(devices.len(), 100);
    assert!(devices.iter().all(|d| d.user_id.is_none()));
    per_user.assert_calls_async(120).await;
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 2 + 2 + 120);
}

#[tokio::test]
async fn without_a_total_a_short_page_ends_the_listing() {
    let server = MockServer::start_async().await;
    systems_page(&server, 0, 100, None, |_| Some(user_id(0))).await;
    systems_page(&server, 100, 7, None, |_| Some(user_id(0))).await;
    directory_page(&server, 0, 1, 1).await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    assert_eq!(provider.all_devices().await.unwrap().len(), 107);
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 3);
}

#[tokio::test]
async fn list_devices_page_reports_the_total_and_clamps_the_limit() {
    let server = MockServer::start_async().await;
    systems_page(&server, 0, 100, Some(412), |_| None).await;
    // 412 systems to resolve and 500 users in the directory: one graph read per system.
    for skip in (0..500).step_by(100) {
        directory_page(&server, skip, 100, 500).await;
    }
    let graphs = server
        .mock_async(|when, then| {
            authed(when, None).path_matches("^/api/v2/systems/[0-9a-f]{24}/users$");
            then.status(200).header("x-total-count", "0").body("[]");
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let page = provider
        .list_devices_page(&PageRequest::Offset {
            offset: 0,
            limit: 500,
        })
        .await
        .unwrap();
    assert_eq!(page.items.len(), 100);
    assert_eq!(page.info.total, Some(412));
    graphs.assert_calls_async(100).await;
    stray.assert_calls_async(0).await;

    let err = provider
        .list_devices_page(&PageRequest::NextLink { url: None })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert_eq!(err.operation(), Some("list_devices"));
}

#[tokio::test]
async fn a_system_without_any_id_fails_the_page_rather_than_shift_the_offset() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200)
                .body(fixture("systems_page_system_without_id.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let err = provider.all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("list_devices"));
    assert!(err.to_string().contains("no-id.local"), "{err}");
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 1);
}

#[tokio::test]
async fn graph_pages_follow_x_total_count() {
    let server = MockServer::start_async().await;
    let body = v1_list(vec![system(1, None)], Some(1)).to_string();
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200).body(body);
        })
        .await;
    let sys = system(1, None)["_id"].as_str().unwrap().to_owned();
    let path = format!("/api/v2/systems/{sys}/users");
    // 101 users bound through a group: two graph pages, no one assigned.
    let grouped = |n: usize| {
        json!({"id": user_id(n), "type": "user", "paths": [[
            {"to": {"id": "6500000000000000000000a1", "type": "user_group"}},
            {"to": {"id": user_id(n), "type": "user"}}
        ]]})
    };
    let first: Vec<_> = (0..100).map(grouped).collect();
    let p1 = server
        .mock_async(|when, then| {
            authed(when, None)
                .path(path.clone())
                .query_param("skip", "0");
            then.status(200)
                .header("x-total-count", "101")
                .json_body(json!(first));
        })
        .await;
    let p2 = server
        .mock_async(|when, then| {
            authed(when, None)
                .path(path.clone())
                .query_param("skip", "100");
            then.status(200)
                .header("x-total-count", "101")
                .json_body(json!([grouped(100)]));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let devices = provider.all_devices().await.unwrap();
    assert_eq!(devices[0].user_id, None);
    p1.assert_calls_async(1).await;
    p2.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}
