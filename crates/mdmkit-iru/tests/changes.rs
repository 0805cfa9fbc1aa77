//! Listing the devices changed since a time: newest first by `last_check_in`, stopping at the first older
//! device, and listing everything when the server did not order as asked.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::chrono::{DateTime, Duration, Utc};
use mdmkit_core::{
    ChangeTracking, ChangesRequest, Coverage, MdmProvider, MdmProviderExt, Resolution,
};
use serde_json::{json, Value};

fn since() -> DateTime<Utc> {
    "2026-11-02T00:00:00Z".parse().unwrap()
}

/// Generated rows whose `last_check_in` goes from `newest` back one minute a row.
fn rows_checked_in(start: usize, count: usize, newest: DateTime<Utc>) -> Vec<Value> {
    let mut rows = device_rows(start, count);
    for (n, row) in rows.iter_mut().enumerate() {
        let t = newest - Duration::minutes((start + n) as i64);
        row["last_check_in"] = json!(t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string());
    }
    rows
}

async fn newest_first_page<'a>(
    server: &'a MockServer,
    offset: u64,
    body: String,
) -> httpmock::Mock<'a> {
    let offset = offset.to_string();
    server
        .mock_async(move |when, then| {
            get_exactly(
                when,
                "/api/v1/devices",
                &[
                    ("limit", "300"),
                    ("offset", &offset),
                    ("ordering", "-last_check_in"),
                ],
            );
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

#[tokio::test]
async fn the_listing_stops_at_the_first_device_older_than_the_time_asked_for() {
    let server = MockServer::start_async().await;
    let page = newest_first_page(&server, 0, fixture("devices_newest_first.json")).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);
    assert!(matches!(
        iru.change_tracking(),
        ChangeTracking::Supported {
            field: "last_check_in",
            ..
        }
    ));
    let changed = iru
        .list_changed_devices_page(&ChangesRequest::first(since(), Resolution::Inline))
        .await
        .unwrap();
    let ids: Vec<&str> = changed
        .devices
        .iter()
        .map(|d| d.device_id.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "4820db3b-dec7-40b2-9c8f-eb771ac1a250",
            "03f81208-2b6a-4a77-81f5-cf1633bcfb95",
            "9c6d1e3a-2b4f-4d7e-8a1c-3f5e7d9b2a64"
        ],
        "the device without a check-in is listed; the older one ends the listing"
    );
    assert_eq!(changed.next, None);
    assert_eq!(changed.coverage, Coverage::Changed);
    assert_eq!(
        changed.devices[1].display_name.as_deref(),
        Some("acchuive admin")
    );
    page.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn full_pages_of_recent_devices_continue_to_the_next_offset() {
    let server = MockServer::start_async().await;
    let newest = since() + Duration::hours(10);
    // 300 + 300 recent devices, then the third page crosses the time asked for (600 minutes back).
    let all = rows_checked_in(0, 900, newest);
    let first = newest_first_page(&server, 0, Value::Array(all[..300].to_vec()).to_string()).await;
    let second = newest_first_page(
        &server,
        300,
        Value::Array(all[300..600].to_vec()).to_string(),
    )
    .await;
    let third = newest_first_page(
        &server,
        600,
        Value::Array(all[600..900].to_vec()).to_string(),
    )
    .await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server).changed_devices(since()).await.unwrap();
    // Minute 600 back is exactly `since`: rows 0..=600 are kept.
    assert_eq!(changed.devices.len(), 601);
    assert_eq!(changed.coverage, Coverage::Changed);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    third.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn devices_out_of_order_make_it_a_full_listing() {
    let server = MockServer::start_async().await;
    // The server ignored `ordering`: oldest first, and older than `since` from the start.
    let mut rows = rows_checked_in(0, 400, since() - Duration::days(1));
    rows.reverse();
    let first = newest_first_page(&server, 0, Value::Array(rows[..300].to_vec()).to_string()).await;
    let second =
        newest_first_page(&server, 300, Value::Array(rows[300..].to_vec()).to_string()).await;
    let unexpected = catch_all(&server).await;
    let changed = provider(&server).changed_devices(since()).await.unwrap();
    assert_eq!(changed.devices.len(), 400, "every device");
    assert_eq!(changed.coverage, Coverage::Everything);
    first.assert_calls_async(1).await;
    second.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}
