//! The paged bulk listing: paging edge cases, Fleet's `meta.has_next_results`, user shapes and request
//! counts.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{ErrorKind, MdmProvider, MdmProviderExt, PageRequest, PagingStyle, SerialNumber};

fn ids(devices: &[mdmkit_core::MdmDevice]) -> Vec<u64> {
    devices
        .iter()
        .map(|d| d.device_id.parse().unwrap())
        .collect()
}

#[tokio::test]
async fn paging_is_page_numbers_from_zero_with_the_configured_size() {
    let server = MockServer::start_async().await;
    let fleet = provider(&server);
    assert_eq!(
        fleet.device_paging(),
        PagingStyle::PageNumber {
            first: 0,
            size: 100
        }
    );
    assert_eq!(
        fleet.with_page_size(0).device_paging(),
        PagingStyle::PageNumber { first: 0, size: 1 }
    );
}

#[tokio::test]
async fn every_user_shape_of_the_list_endpoint() {
    let server = MockServer::start_async().await;
    let page = server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200)
                .body(fixture("hosts_page_user_shapes.json"));
        })
        .await;
    // The list names no users: each host with a mapped user is read once more for its `end_users`.
    // Anna's record names her; Bob's, Carol's and Dan's come from a Fleet whose records carry none.
    let anna_detail = server
        .mock_async(|when, then| {
            when.method(httpmock::Method::GET)
                .path("/api/v1/fleet/hosts/42")
                .query_param("exclude_software", "true")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200).body(
                serde_json::json!({"host": {
                    "id": 42, "hardware_serial": "C0124FXASD6G", "display_name": "Anna's MacBook Pro",
                    "end_users": [{"idp_id": "f26f8649-1e25-42c5-be71-1b1e6de56d3d",
                                   "idp_username": "anna@acme.com", "idp_full_name": "Anna Chao"}]
                }})
                .to_string(),
            );
        })
        .await;
    let mut nameless = Vec::new();
    for id in [44, 46, 47] {
        nameless.push(
            server
                .mock_async(|when, then| {
                    when.method(httpmock::Method::GET)
                        .path(format!("/api/v1/fleet/hosts/{id}"));
                    then.status(200).body(
                        serde_json::json!({"host": {"id": id, "hardware_serial": "X", "end_users": []}})
                            .to_string(),
                    );
                })
                .await,
        );
    }
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let devices = fleet.all_devices().await.unwrap();
    assert_eq!(ids(&devices), [42, 43, 44, 45, 46, 47, 48]);
    let by_id = |id: &str| devices.iter().find(|d| d.device_id == id).unwrap();

    // IdP mapping beats the Chrome profile listed first; the host's record gives the user's name (R4).
    let anna = by_id("42");
    assert_eq!(anna.user_id.as_deref(), Some("anna@acme.com"));
    assert_eq!(anna.display_name.as_deref(), Some("Anna Chao"));
    assert_eq!(
        anna.serial_number,
        Some(SerialNumber::parse("C0124FXASD6G").unwrap())
    );
    // `device_mapping: null`, blank display_name: computer_name.
    let lab = by_id("43");
    assert_eq!(lab.user_id, None);
    assert_eq!(lab.display_name.as_deref(), Some("Lab iMac"));
    assert_eq!(lab.serial_number.as_ref().unwrap().as_str(), "C02ZC2QYLVDL");
    assert_eq!(by_id("44").user_id.as_deref(), Some("bob@acme.com"));
    // No mapping key at all, no serial.
    let web = by_id("45");
    assert_eq!(
        (web.user_id.as_deref(), web.serial_number.as_ref()),
        (None, None)
    );
    assert_eq!(web.display_name.as_deref(), Some("web-01.example.com"));
    // A list of bare e-mails, and the wrapped per-host form.
    assert_eq!(by_id("46").user_id.as_deref(), Some("carol@acme.com"));
    assert_eq!(by_id("47").user_id.as_deref(), Some("dan@acme.com"));
    // Placeholder serial, empty mapping.
    let kiosk = by_id("48");
    assert_eq!(
        (kiosk.serial_number.as_ref(), kiosk.user_id.as_deref()),
        (None, None)
    );
    assert_eq!(kiosk.display_name.as_deref(), Some("Lobby Kiosk"));

    page.assert_calls_async(1).await;
    anna_detail.assert_calls_async(1).await;
    for mock in &nameless {
        mock.assert_calls_async(1).await;
    }
    // A record that names nobody keeps the list's e-mail and the device name.
    assert_eq!(by_id("44").display_name.as_deref(), Some("Bob's ThinkPad"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_empty_fleet_takes_one_request_and_null_is_empty() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(fixture("hosts_null.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert!(fleet.all_devices().await.unwrap().is_empty());
    assert_eq!(fleet.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn exactly_one_full_page_needs_a_second_empty_page() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 3);
            then.status(200).body(hosts_body(1, 4));
        })
        .await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 1, 3);
            then.status(200).body(r#"{"hosts": []}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server).with_page_size(3);

    assert_eq!(ids(&fleet.all_devices().await.unwrap()), [1, 2, 3]);
    assert_eq!(fleet.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

/// Mocks `pages` pages of 100 hosts for a listing of `total` hosts, page `n` holding ids from
/// `n*100+1`.
async fn mock_fleet_of(server: &MockServer, total: u64) {
    let pages = total / 100 + 1;
    for page in 0..pages {
        let from = page * 100 + 1;
        let to = (from + 100).min(total + 1);
        let body = hosts_body(from, to);
        server
            .mock_async(|when, then| {
                hosts_list(when, page, 100);
                then.status(200).body(&body);
            })
            .await;
    }
}

#[tokio::test]
async fn several_pages_with_a_short_last_page() {
    let server = MockServer::start_async().await;
    mock_fleet_of(&server, 250).await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let devices = fleet.all_devices().await.unwrap();
    assert_eq!(ids(&devices), (1..=250).collect::<Vec<_>>());
    assert_eq!(fleet.request_count(), 3, "ceil(250/100) requests");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn several_full_pages_end_with_one_empty_page() {
    let server = MockServer::start_async().await;
    mock_fleet_of(&server, 200).await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert_eq!(fleet.all_devices().await.unwrap().len(), 200);
    assert_eq!(fleet.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn has_next_results_keeps_a_clamped_listing_going() {
    // Asked for 100 a page, Fleet serves 20 and says there is more.
    let server = MockServer::start_async().await;
    for (page, from, to, more) in [(0, 1, 21, true), (1, 21, 41, true), (2, 41, 46, false)] {
        let body = hosts_body_with_meta(from, to, more);
        server
            .mock_async(|when, then| {
                hosts_list(when, page, 100);
                then.status(200).body(&body);
            })
            .await;
    }
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert_eq!(
        ids(&fleet.all_devices().await.unwrap()),
        (1..=45).collect::<Vec<_>>()
    );
    assert_eq!(fleet.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn has_next_results_false_ends_on_a_full_page() {
    let server = MockServer::start_async().await;
    let body = hosts_body_with_meta(1, 101, false);
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert_eq!(fleet.all_devices().await.unwrap().len(), 100);
    assert_eq!(fleet.request_count(), 1, "no probe for an empty page");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn one_page_reports_what_the_server_said() {
    let server = MockServer::start_async().await;
    let body = hosts_body_with_meta(11, 16, true);
    server
        .mock_async(|when, then| {
            hosts_list(when, 2, 5);
            then.status(200).body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let page = fleet
        .list_devices_page(&PageRequest::PageNumber { page: 2, size: 5 })
        .await
        .unwrap();
    assert_eq!(ids(&page.items), [11, 12, 13, 14, 15]);
    assert_eq!(page.info.has_more, Some(true));
    assert_eq!(page.info.total, None);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn requests_fleet_cannot_page_are_refused_without_io() {
    let server = MockServer::start_async().await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    for request in [
        PageRequest::NextLink { url: None },
        PageRequest::Offset {
            offset: 0,
            limit: 10,
        },
        PageRequest::PageNumber { page: 0, size: 0 },
    ] {
        let err = fleet.list_devices_page(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{request:?}");
    }
    assert_eq!(fleet.request_count(), 0);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_list_without_hosts_is_an_invalid_response_not_an_empty_fleet() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200).body(fixture("not_fleet_json.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("list_devices"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_host_without_an_id_fails_the_page_rather_than_shrink_it() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(200)
                .body(r#"{"hosts": [{"id": 1, "hostname": "a"}, {"hostname": "no id"}]}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    unexpected.assert_calls_async(0).await;
}
