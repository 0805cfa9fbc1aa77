//! Listing the computers changed since a time: the RSQL filter on `general.reportDate`, paging by
//! `totalCount` through a capped page size, and users looked up for the page only.

mod common;

use common::*;
use httpmock::{Method, MockServer};
use mdmkit_core::chrono::{DateTime, Utc};
use mdmkit_core::{
    ChangeTracking, ChangesRequest, Coverage, MdmProvider, MdmProviderExt, Resolution,
};

const SINCE: &str = "2026-11-01T23:59:00Z";
const FILTER: &str = "general.reportDate>=\"2026-11-01T23:59:00.000Z\"";

fn since() -> DateTime<Utc> {
    SINCE.parse().unwrap()
}

/// The filtered inventory on v4 serving `rows` with Jamf's paging and a page-size cap.
async fn changed_inventory(
    server: &MockServer,
    rows: Vec<serde_json::Value>,
    cap: usize,
) -> httpmock::Mock<'_> {
    filtered_inventory(server, "v4", Some(FILTER), rows, cap).await
}

#[tokio::test]
async fn changes_are_filtered_by_report_date_and_users_looked_up_for_the_page() {
    let server = MockServer::start_async().await;
    token_mock(&server).await;
    version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let body = fixture_json("computers_inventory_v4_changed_since.json");
    let inventory =
        changed_inventory(&server, body["results"].as_array().unwrap().clone(), 2000).await;
    let users = server
        .mock_async(|when, then| {
            when.method(Method::GET)
                .path("/api/v1/users")
                .query_param("filter", "username==\"jdoe\"");
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("users_search_results.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let jamf = provider(&server);

    assert!(matches!(
        jamf.change_tracking(),
        ChangeTracking::Supported {
            field: "general.reportDate",
            ..
        }
    ));
    let page = jamf
        .list_changed_devices_page(&ChangesRequest::first(since(), Resolution::Inline))
        .await
        .unwrap();
    assert_eq!(page.next, None, "totalCount reached");
    assert_eq!(page.coverage, Coverage::Changed);
    assert_eq!(ids(&page.devices), ["117", "240"]);
    let jane = &page.devices[0];
    assert_eq!(jane.user_id.as_deref(), Some("42"), "the user record's id");
    assert_eq!(jane.display_name.as_deref(), Some("Jane Doe"));
    assert_eq!(page.devices[1].user_id, None);
    inventory.assert_calls_async(1).await;
    users.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_capped_page_size_still_reads_every_changed_computer() {
    let server = MockServer::start_async().await;
    token_mock(&server).await;
    version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    // 2500 changed computers behind a server that cuts pages to 1000.
    let inventory = changed_inventory(&server, computers(1, 2500, None), 1000).await;
    let unexpected = catch_all(&server).await;
    let jamf = provider(&server);
    let changed = jamf.changed_devices(since()).await.unwrap();
    assert_eq!(changed.devices.len(), 2500);
    assert_eq!(changed.coverage, Coverage::Changed);
    inventory.assert_calls_async(3).await;
    unexpected.assert_calls_async(0).await;
}
