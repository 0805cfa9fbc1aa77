//! `devices_by_serial`: the identifier endpoint, the exact serial check, and the search fallback.

mod common;

use common::*;
use httpmock::{Method::GET, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt, SerialNumber};
use serde_json::json;

const IDENTIFIER: &str = "/api/v1/fleet/hosts/identifier/";

fn serial(s: &str) -> SerialNumber {
    SerialNumber::parse(s).unwrap()
}

#[tokio::test]
async fn finds_the_host_and_its_idp_user_from_lower_case_input() {
    let server = MockServer::start_async().await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("{IDENTIFIER}C0124FXASD6G"))
                .query_param("exclude_software", "true")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .body(fixture("host_by_identifier_with_end_user.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let found = fleet
        .devices_by_serial(&serial(" c0124fxasd6g "))
        .await
        .unwrap();

    assert_eq!(found.len(), 1);
    let d = &found[0];
    assert_eq!(d.device_id, "42");
    assert_eq!(d.serial_number, Some(serial("C0124FXASD6G")));
    assert_eq!(d.user_id.as_deref(), Some("anna@acme.com"));
    assert_eq!(d.user_name.as_deref(), Some("Anna Chao"));
    assert_eq!(d.display_name.as_deref(), Some("Anna Chao"));
    assert_eq!(d.device_name.as_deref(), Some("Anna's MacBook Pro"));
    lookup.assert_calls_async(1).await;
    assert_eq!(fleet.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_lower_case_serial_in_fleet_matches_and_no_user_means_the_device_name() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}C02ZC2QYLVDL"));
            then.status(200).body(fixture(
                "host_by_identifier_lowercase_serial_no_end_users.json",
            ));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let d = provider(&server)
        .device_by_serial(&serial("C02ZC2QYLVDL"))
        .await
        .unwrap()
        .expect("found");
    assert_eq!(d.device_id, "43");
    assert_eq!(d.user_id, None);
    assert_eq!(d.display_name.as_deref(), Some("Lab iMac"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn fleets_404_means_not_in_the_mdm() {
    let server = MockServer::start_async().await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}NOTENROLLED1"));
            then.status(404)
                .header("content-type", "application/json")
                .body(fixture("error_404_host_not_found.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let found = fleet
        .devices_by_serial(&serial("notenrolled1"))
        .await
        .unwrap();
    assert!(found.is_empty());
    lookup.assert_calls_async(1).await;
    assert_eq!(fleet.request_count(), 1, "no search after a Fleet 404");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_404_that_is_not_fleets_is_an_error_not_an_empty_result() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}C0124FXASD6G"));
            then.status(404)
                .header("content-type", "text/html")
                .body(fixture("not_found_page.html"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server)
        .devices_by_serial(&serial("C0124FXASD6G"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert_eq!(err.category(), Category::NotFound);
    assert!(err.to_string().contains("not the Fleet API"), "{err}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_host_found_by_another_identifier_is_rejected_and_substring_matches_too() {
    let server = MockServer::start_async().await;
    // Host 77 is *named* C0124FXASD6G but its serial is another one.
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}C0124FXASD6G"));
            then.status(200)
                .body(fixture("host_by_identifier_hostname_collision.json"));
        })
        .await;
    let search = server
        .mock_async(|when, then| {
            paged(when, "/api/v1/fleet/hosts", 0, 100)
                .query_param("query", "C0124FXASD6G")
                .query_param("device_mapping", "true");
            then.status(200)
                .body(fixture("hosts_search_substring_matches_only.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let found = fleet
        .devices_by_serial(&serial("C0124FXASD6G"))
        .await
        .unwrap();
    assert!(found.is_empty(), "{found:?}");
    lookup.assert_calls_async(1).await;
    search.assert_calls_async(1).await;
    assert_eq!(fleet.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_search_finds_the_host_hidden_behind_a_colliding_hostname() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}C0124FXASD6G"));
            then.status(200)
                .body(fixture("host_by_identifier_hostname_collision.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            paged(when, "/api/v1/fleet/hosts", 0, 100).query_param("query", "C0124FXASD6G");
            then.status(200)
                .body(fixture("hosts_search_with_exact_match.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let found = provider(&server)
        .devices_by_serial(&serial("C0124FXASD6G"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].device_id, "42");
    assert_eq!(found[0].user_id.as_deref(), Some("anna@acme.com"));
    assert_eq!(found[0].display_name.as_deref(), Some("Anna's MacBook Pro"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn duplicates_found_by_the_search_are_all_reported() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}C0124FXASD6G"));
            then.status(200)
                .body(fixture("host_by_identifier_hostname_collision.json"));
        })
        .await;
    let body = json!({"hosts": [
        {"id": 42, "hardware_serial": "C0124FXASD6G", "hostname": "old-enrolment"},
        {"id": 91, "hardware_serial": "C0124FXASD6G", "hostname": "re-enrolled"}
    ]})
    .to_string();
    server
        .mock_async(|when, then| {
            paged(when, "/api/v1/fleet/hosts", 0, 100).query_param("query", "C0124FXASD6G");
            then.status(200).body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let found = fleet
        .devices_by_serial(&serial("C0124FXASD6G"))
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|d| d.device_id.as_str()).collect();
    assert_eq!(ids, ["42", "91"]);
    let err = fleet
        .device_by_serial(&serial("C0124FXASD6G"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("42, 91"), "{err}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_serial_is_escaped_as_one_path_segment() {
    let server = MockServer::start_async().await;
    let lookup = server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("{IDENTIFIER}AB%2F12%3FC%23D%25"));
            then.status(200).body(
                json!({"host": {"id": 5, "hardware_serial": "ab/12?c#d%", "hostname": "odd"}})
                    .to_string(),
            );
        })
        .await;
    let unexpected = catch_all(&server).await;

    let found = provider(&server)
        .devices_by_serial(&serial("ab/12?c#d%"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].device_id, "5");
    lookup.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_dots_only_serial_goes_straight_to_the_search() {
    let server = MockServer::start_async().await;
    let search = server
        .mock_async(|when, then| {
            paged(when, "/api/v1/fleet/hosts", 0, 100).query_param("query", "..");
            then.status(200).body(
                json!({"hosts": [
                    {"id": 8, "hardware_serial": "..", "hostname": "strange"},
                    {"id": 9, "hardware_serial": "A..B", "hostname": "other"}
                ]})
                .to_string(),
            );
        })
        .await;
    let unexpected = catch_all(&server).await;

    let found = provider(&server)
        .devices_by_serial(&serial(".."))
        .await
        .unwrap();
    let ids: Vec<_> = found.iter().map(|d| d.device_id.as_str()).collect();
    assert_eq!(ids, ["8"]);
    search.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_lookup_answer_without_a_host_is_an_invalid_response() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path(format!("{IDENTIFIER}C0124FXASD6G"));
            then.status(200).body(fixture("not_fleet_json.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server)
        .devices_by_serial(&serial("C0124FXASD6G"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("device_by_serial"));
    unexpected.assert_calls_async(0).await;
}
