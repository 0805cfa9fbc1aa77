//! Hosts changed since a time: keyset paging on `updated_at` (strict `after`, no `page`), hosts sharing
//! a second across page boundaries, the fall back to a full listing, and the check of every row.

mod common;

use common::*;
use httpmock::{Method, MockServer};
use mdmkit_core::{ChangeTracking, Coverage, MdmProvider, MdmProviderExt};
use serde_json::{json, Value};

fn since() -> mdmkit_core::chrono::DateTime<mdmkit_core::chrono::Utc> {
    "2026-11-02T00:00:00Z".parse().unwrap()
}

/// A host row updated at second `secs` after midnight of 2026-11-02.
fn host(id: u64, secs: u32) -> Value {
    json!({
        "id": id, "hostname": format!("h{id}.local"), "hardware_serial": format!("C02CHANGED{id:02}"),
        "updated_at": format!("2026-11-02T00:{:02}:{:02}Z", secs / 60, secs % 60),
        "device_mapping": null
    })
}

async fn keyset_page<'a>(
    server: &'a MockServer,
    after: &str,
    rows: Vec<Value>,
) -> httpmock::Mock<'a> {
    let after = after.to_owned();
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v1/fleet/hosts")
                .header("authorization", format!("Bearer {TOKEN}"))
                .query_param("order_key", "updated_at")
                .query_param("after", after)
                .query_param("page", "0")
                .query_param("per_page", "3")
                .query_param("device_mapping", "true")
                .query_param_missing("order_direction");
            then.status(200).body(json!({ "hosts": rows }).to_string());
        })
        .await
}

fn ids(devices: &[mdmkit_core::MdmDevice]) -> Vec<String> {
    devices.iter().map(|d| d.device_id.clone()).collect()
}

#[tokio::test]
async fn keyset_pages_carry_hosts_that_share_a_second_across_the_boundary() {
    let server = MockServer::start_async().await;
    let first = keyset_page(
        &server,
        "2026-11-01 23:59:59",
        vec![host(1, 5), host(2, 9), host(3, 9)],
    )
    .await;
    // From one second before the last key: hosts 2 and 3 come again and are dropped.
    let second = keyset_page(
        &server,
        "2026-11-02 00:00:08",
        vec![host(2, 9), host(3, 9), host(4, 12)],
    )
    .await;
    let third = keyset_page(
        &server,
        "2026-11-02 00:00:11",
        vec![host(4, 12), host(5, 15)],
    )
    .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server).with_page_size(3);
    assert!(matches!(
        fleet.change_tracking(),
        ChangeTracking::Supported {
            field: "updated_at",
            ..
        }
    ));
    let changed = fleet.changed_devices(since()).await.unwrap();
    assert_eq!(ids(&changed.devices), ["1", "2", "3", "4", "5"]);
    assert_eq!(changed.coverage, Coverage::Changed);
    for mock in [&first, &second, &third] {
        mock.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_documented_host_shape_is_listed_and_named() {
    let server = MockServer::start_async().await;
    let body = fixture("hosts_updated_after.json");
    server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path("/api/v1/fleet/hosts")
                .query_param("order_key", "updated_at")
                .query_param("after", "2026-11-01 23:59:59");
            then.status(200).body(body);
        })
        .await;
    let scim = server
        .mock_async(|when, then| {
            when.method(Method::GET).path("/api/v1/fleet/scim/Users");
            then.status(200).body(fixture("scim_users_page.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server).changed_devices(since()).await.unwrap();
    assert_eq!(changed.coverage, Coverage::Changed);
    assert_eq!(
        changed.devices[0].display_name.as_deref(),
        Some("Anna Chao")
    );
    assert_eq!(changed.devices[1].display_name.as_deref(), Some("Lab iMac"));
    scim.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn exactly_a_page_of_hosts_in_one_second_is_read_again_with_a_larger_page() {
    let server = MockServer::start_async().await;
    let ties = vec![host(1, 9), host(2, 9), host(3, 9)];
    keyset_page(&server, "2026-11-01 23:59:59", ties.clone()).await;
    let again = keyset_page(&server, "2026-11-02 00:00:08", ties.clone()).await;
    let larger = server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path("/api/v1/fleet/hosts")
                .query_param("after", "2026-11-02 00:00:08")
                .query_param("per_page", "6");
            then.status(200).body(json!({ "hosts": ties }).to_string());
        })
        .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server)
        .with_page_size(3)
        .changed_devices(since())
        .await
        .unwrap();
    assert_eq!(changed.coverage, Coverage::Changed);
    assert_eq!(ids(&changed.devices), ["1", "2", "3"]);
    again.assert_calls_async(1).await;
    larger.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn more_hosts_in_one_second_than_eight_pages_hold_become_a_full_listing() {
    let server = MockServer::start_async().await;
    // Every keyset request answers as many hosts of one second as it asked for.
    let keyset = server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path("/api/v1/fleet/hosts")
                .query_param("order_key", "updated_at");
            then.respond_with(|req: &httpmock::HttpMockRequest| {
                let per_page: u64 = req
                    .query_params()
                    .into_iter()
                    .find(|(k, _)| k == "per_page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap();
                let rows: Vec<Value> = (1..=per_page).map(|id| host(id, 9)).collect();
                httpmock::HttpMockResponse::builder()
                    .status(200)
                    .body(json!({ "hosts": rows }).to_string())
                    .build()
            });
        })
        .await;
    let full = server
        .mock_async(|when, then| {
            hosts_list(when, 0, 3);
            then.status(200)
                .body(json!({"hosts": [host(1, 9), host(9, 1)]}).to_string());
        })
        .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server)
        .with_page_size(3)
        .changed_devices(since())
        .await
        .unwrap();
    assert_eq!(changed.coverage, Coverage::Everything);
    // Larger pages move on a little each time, until even 24 rows of one second bring nothing new.
    assert!(keyset.calls_async().await >= 5);
    full.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_host_older_than_asked_means_after_was_ignored() {
    let server = MockServer::start_async().await;
    let mut old = host(7, 0);
    old["updated_at"] = json!("2026-09-30T12:00:00Z");
    keyset_page(&server, "2026-11-01 23:59:59", vec![old, host(8, 3)]).await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 3);
            then.status(200)
                .body(json!({"hosts": [host(7, 0), host(8, 3)]}).to_string());
        })
        .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server)
        .with_page_size(3)
        .changed_devices(since())
        .await
        .unwrap();
    assert_eq!(changed.coverage, Coverage::Everything);
    unexpected.assert_calls_async(0).await;
}

/// The SCIM page `startIndex=start` of a directory of `total` users, holding only the users given.
async fn scim_page<'a>(
    server: &'a MockServer,
    start: u64,
    total: u64,
    users: Value,
) -> httpmock::Mock<'a> {
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v1/fleet/scim/Users")
                .query_param("startIndex", start.to_string())
                .query_param("count", "100");
            then.status(200).body(
                json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": total, "itemsPerPage": 100, "startIndex": start,
                    "Resources": users
                })
                .to_string(),
            );
        })
        .await
}

async fn changed_hosts(server: &MockServer) -> httpmock::Mock<'_> {
    let body = fixture("hosts_updated_after.json");
    server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path("/api/v1/fleet/hosts")
                .query_param("order_key", "updated_at")
                .query_param("after", "2026-11-01 23:59:59");
            then.status(200).body(body);
        })
        .await
}

#[tokio::test]
async fn few_changed_hosts_in_a_large_directory_are_named_from_their_host_records() {
    let server = MockServer::start_async().await;
    changed_hosts(&server).await;
    // 9,500 users: 95 more SCIM pages would name one host; its host record names it in one read.
    let first = scim_page(
        &server,
        1,
        9_500,
        json!([{"id": "7", "userName": "someone.else", "name": {"givenName": "Someone"}}]),
    )
    .await;
    let host = server
        .mock_async(|when, then| {
            when.method(Method::GET).path("/api/v1/fleet/hosts/42");
            then.status(200)
                .body(fixture("host_by_identifier_with_end_user.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server).changed_devices(since()).await.unwrap();
    let anna = &changed.devices[0];
    assert_eq!(
        (anna.user_id.as_deref(), anna.display_name.as_deref()),
        (Some("anna@acme.com"), Some("Anna Chao"))
    );
    assert_eq!(anna.unresolved, None);
    assert_eq!(changed.devices[1].display_name.as_deref(), Some("Lab iMac"));
    first.assert_calls_async(1).await;
    host.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn changed_hosts_outnumbering_the_scim_pages_left_read_the_directory() {
    let server = MockServer::start_async().await;
    changed_hosts(&server).await;
    // 101 users: one more page, no dearer than the one host record.
    let users: Vec<Value> = (1..=100)
        .map(|i| json!({"id": i.to_string(), "userName": format!("user{i}@acme.com")}))
        .collect();
    let first = scim_page(&server, 1, 101, Value::Array(users)).await;
    let second = scim_page(
        &server,
        101,
        101,
        json!([{"id": "101", "userName": "anna@acme.com",
                "name": {"givenName": "Anna", "familyName": "Chao"}}]),
    )
    .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server).changed_devices(since()).await.unwrap();
    assert_eq!(
        changed.devices[0].display_name.as_deref(),
        Some("Anna Chao")
    );
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}
