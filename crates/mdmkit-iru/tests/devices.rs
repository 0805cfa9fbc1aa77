//! Validation, serial lookups and the bulk device listing against a mock Iru tenant.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{
    Category, ErrorKind, MdmProvider, MdmProviderExt, PageRequest, PagingStyle, SerialNumber,
};

#[tokio::test]
async fn validate_sends_the_documented_probe_with_the_bearer_token() {
    let server = MockServer::start_async().await;
    let probe = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &[("limit", "1")]);
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("devices_documented_example.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    iru.validate().await.unwrap();

    probe.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_accepts_a_tenant_without_devices() {
    let server = MockServer::start_async().await;
    let probe = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &[("limit", "1")]);
            then.status(200).body("[]");
        })
        .await;
    let unexpected = catch_all(&server).await;

    provider(&server).validate().await.unwrap();

    probe.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_refuses_a_success_that_is_not_the_api() {
    let server = MockServer::start_async().await;
    let probe = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &[("limit", "1")]);
            then.status(200).header("content-type", "text/html").body(
                "<!DOCTYPE html><html><head><title>Sign in</title></head><body></body></html>",
            );
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.category(), Category::Server);
    assert_eq!(err.operation(), Some("validate"));
    assert!(err.to_string().contains("Sign in"), "{err}");
    probe.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_documented_list_example_maps_to_devices() {
    let server = MockServer::start_async().await;
    let page = device_page(&server, 0, &[], fixture("devices_documented_example.json")).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let devices = iru.all_devices().await.unwrap();

    assert_eq!(devices.len(), 2);
    let mac = &devices[0];
    assert_eq!(mac.device_id, "03f81208-2b6a-4a77-81f5-cf1633bcfb95");
    assert_eq!(mac.serial_number.as_ref().unwrap().as_str(), "FVHHFKF7Q6L4");
    assert_eq!(
        mac.user_id.as_deref(),
        Some("5344c996-8823-4b37-8d6e-8515fc7c3a0a")
    );
    assert_eq!(mac.display_name.as_deref(), Some("acchuive admin"));
    assert_eq!(mac.device_name.as_deref(), Some("accuhive's MacBook Air"));
    let ipad = &devices[1];
    assert_eq!(ipad.device_id, "4820db3b-dec7-40b2-9c8f-eb771ac1a250");
    assert_eq!(ipad.user_id, None, "\"user\": \"\" means unassigned");
    assert_eq!(ipad.display_name.as_deref(), Some("iPad"));
    // A short first page is the whole listing: one request.
    page.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn every_unassigned_user_shape_falls_back_to_the_device_name() {
    let server = MockServer::start_async().await;
    device_page(&server, 0, &[], fixture("devices_user_shapes.json")).await;
    let unexpected = catch_all(&server).await;

    let devices = provider(&server).all_devices().await.unwrap();

    let got: Vec<(Option<&str>, Option<&str>)> = devices
        .iter()
        .map(|d| (d.user_id.as_deref(), d.display_name.as_deref()))
        .collect();
    assert_eq!(
        got,
        [
            (
                Some("9b1f4c8e-aaaa-4c1e-8f00-00000000000a"),
                Some("Ada Lovelace")
            ),
            (None, Some("Loaner iPad")),    // "user": ""
            (None, Some("Lobby Apple TV")), // "user": null
            (None, Some("Build Mac mini")), // no user field
            (
                Some("9b1f4c8e-aaaa-4c1e-8f00-00000000000b"),
                Some("Grace Hopper")
            ), // "user": "", assigned_user object
            (
                Some("9b1f4c8e-aaaa-4c1e-8f00-00000000000c"),
                Some("Shared Mac")
            ), // a user without a name
            (Some("42"), Some("Old Record")), // a numeric user id
            (None, Some("Unnamed serial")),
        ]
    );
    assert_eq!(
        devices[7].serial_number, None,
        "a blank serial is no serial"
    );
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_empty_tenant_takes_one_request() {
    let server = MockServer::start_async().await;
    let page = device_page(&server, 0, &[], "[]".to_owned()).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    assert!(iru.all_devices().await.unwrap().is_empty());

    page.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn exactly_one_full_page_ends_at_the_following_empty_page() {
    let server = MockServer::start_async().await;
    let first = device_page(&server, 0, &[], rows_body(0, 300)).await;
    let empty = device_page(&server, 300, &[], "[]".to_owned()).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let devices = iru.all_devices().await.unwrap();

    assert_eq!(devices.len(), 300);
    first.assert_calls_async(1).await;
    empty.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn several_pages_end_at_the_short_last_page() {
    let server = MockServer::start_async().await;
    let pages = [
        device_page(&server, 0, &[], rows_body(0, 300)).await,
        device_page(&server, 300, &[], rows_body(300, 300)).await,
        device_page(&server, 600, &[], rows_body(600, 17)).await,
    ];
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let devices = iru.all_devices().await.unwrap();

    assert_eq!(devices.len(), 617);
    let ids: Vec<String> = devices.iter().map(|d| d.device_id.clone()).collect();
    let want: Vec<String> = (0..617).map(device_id).collect();
    assert_eq!(ids, want, "every row once, in order");
    assert_eq!(devices[2].display_name.as_deref(), Some("User 2"));
    assert_eq!(devices[3].display_name.as_deref(), Some("Mac 3"));
    for page in &pages {
        page.assert_calls_async(1).await;
    }
    // floor(617 / 300) + 1 requests.
    assert_eq!(iru.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_multiple_of_the_page_size_takes_one_extra_empty_page() {
    let server = MockServer::start_async().await;
    device_page(&server, 0, &[], rows_body(0, 300)).await;
    device_page(&server, 300, &[], rows_body(300, 300)).await;
    device_page(&server, 600, &[], "[]".to_owned()).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    assert_eq!(iru.all_devices().await.unwrap().len(), 600);
    assert_eq!(iru.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn pages_larger_than_the_api_serves_are_refused_without_a_request() {
    let server = MockServer::start_async().await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    assert_eq!(iru.device_paging(), PagingStyle::Offset { limit: 300 });
    for request in [
        PageRequest::Offset {
            offset: 0,
            limit: 301,
        },
        PageRequest::Offset {
            offset: 0,
            limit: 0,
        },
        PageRequest::Cursor {
            after: None,
            limit: 100,
        },
    ] {
        let err = iru.list_devices_page(&request).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{request:?}");
        assert_eq!(err.operation(), Some("list_devices"));
    }
    assert_eq!(iru.request_count(), 0);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_caller_chosen_smaller_page_is_sent_as_asked() {
    let server = MockServer::start_async().await;
    let page = server
        .mock_async(|when, then| {
            get_exactly(
                when,
                "/api/v1/devices",
                &[
                    ("limit", "50"),
                    ("offset", "100"),
                    ("ordering", "device_id"),
                ],
            );
            then.status(200).body(rows_body(100, 50));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let got = provider(&server)
        .list_devices_page(&PageRequest::Offset {
            offset: 100,
            limit: 50,
        })
        .await
        .unwrap();

    assert_eq!(got.items.len(), 50);
    assert_eq!(got.items[0].device_id, device_id(100));
    assert_eq!(got.info, Default::default(), "Iru sends no total");
    page.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_row_without_device_id_fails_the_listing() {
    let server = MockServer::start_async().await;
    device_page(
        &server,
        0,
        &[],
        fixture("devices_row_without_device_id.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("list_devices"));
    assert!(err.to_string().contains("no device_id"), "{err}");
    assert!(err.to_string().contains("C02DDDDDDDD1"), "{err}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_malformed_page_names_the_row() {
    let server = MockServer::start_async().await;
    device_page(
        &server,
        0,
        &[],
        r#"[{"device_id":"a","tags":[]},{"device_id":"b","tags":"x"}]"#.to_owned(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("device row 1"), "{err}");
    assert_eq!(err.status(), Some(200));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn serial_lookup_keeps_only_the_exact_match_and_ignores_case() {
    let server = MockServer::start_async().await;
    let lookup = device_page(
        &server,
        0,
        &[("serial_number", "C02ZC2QYLVDL")],
        fixture("devices_serial_substring_matches.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    // Lower-case input is normalised before it is sent.
    let serial = SerialNumber::parse("c02zc2qylvdl").unwrap();
    let found = iru.devices_by_serial(&serial).await.unwrap();

    // The API matched substrings (…X, X…); only the device whose serial is C02ZC2QYLVDL (reported in
    // lower case) is kept.
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].device_id, "5d2b7c1a-2222-4c3d-8e9f-000000000002");
    assert_eq!(found[0].serial_number.as_ref(), Some(&serial));
    assert_eq!(found[0].display_name.as_deref(), Some("Charles Babbage"));
    lookup.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn serial_lookup_with_only_substring_matches_finds_nothing() {
    let server = MockServer::start_async().await;
    let lookup = device_page(
        &server,
        0,
        &[("serial_number", "C02ZC2QYLVD")],
        fixture("devices_serial_substring_matches.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let serial = SerialNumber::parse("C02ZC2QYLVD").unwrap();
    assert_eq!(
        provider(&server).device_by_serial(&serial).await.unwrap(),
        None
    );
    lookup.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn serial_lookup_accepts_a_bare_object() {
    let server = MockServer::start_async().await;
    device_page(
        &server,
        0,
        &[("serial_number", "C02ZC2QYLVDL")],
        fixture("device_serial_bare_object.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
    let device = provider(&server)
        .device_by_serial(&serial)
        .await
        .unwrap()
        .unwrap();

    assert_eq!(device.device_id, "5d2b7c1a-2222-4c3d-8e9f-000000000002");
    assert_eq!(device.user_id, None);
    assert_eq!(
        device.display_name.as_deref(),
        Some("Charles's MacBook Air")
    );
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn serial_lookup_without_results_is_none() {
    let server = MockServer::start_async().await;
    device_page(
        &server,
        0,
        &[("serial_number", "C02ZC2QYLVDL")],
        "[]".to_owned(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
    assert_eq!(
        provider(&server).device_by_serial(&serial).await.unwrap(),
        None
    );
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn duplicate_serials_are_all_returned_and_never_silently_picked() {
    let server = MockServer::start_async().await;
    device_page(
        &server,
        0,
        &[("serial_number", "C02ZC2QYLVDL")],
        fixture("devices_serial_duplicates.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);
    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();

    let all = iru.devices_by_serial(&serial).await.unwrap();
    assert_eq!(all.len(), 2);
    let err = iru.device_by_serial(&serial).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string()
            .contains("5d2b7c1a-2222-4c3d-8e9f-00000000000a"),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("5d2b7c1a-2222-4c3d-8e9f-00000000000b"),
        "{err}"
    );
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn serial_lookup_pages_past_a_full_page_of_substring_matches() {
    let server = MockServer::start_async().await;
    // 300 superstrings of the serial fill the first page; the exact match is on the second.
    let superstrings: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            serde_json::json!({"device_id": device_id(i), "device_name": "Other",
                               "serial_number": format!("ABC{i:03}"), "user": ""})
        })
        .collect();
    let exact = serde_json::json!([{"device_id": device_id(999), "device_name": "Target",
                                     "serial_number": "ABC", "user": ""}]);
    device_page(
        &server,
        0,
        &[("serial_number", "ABC")],
        serde_json::Value::Array(superstrings).to_string(),
    )
    .await;
    device_page(&server, 300, &[("serial_number", "ABC")], exact.to_string()).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let device = iru
        .device_by_serial(&SerialNumber::parse("abc").unwrap())
        .await
        .unwrap()
        .unwrap();

    assert_eq!(device.device_id, device_id(999));
    assert_eq!(iru.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn serial_values_are_percent_encoded() {
    let server = MockServer::start_async().await;
    // A serial with characters that must be escaped in a query (VMware serials are normalised without
    // spaces; '+' and '&' must not split or change the value).
    let lookup = device_page(
        &server,
        0,
        &[("serial_number", "VM+A&B=C")],
        r#"[{"device_id":"vm-1","serial_number":"vm+a&b=c","user":""}]"#.to_owned(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let serial = SerialNumber::parse("vm+a&b=c").unwrap();
    let found = provider(&server).devices_by_serial(&serial).await.unwrap();

    assert_eq!(found.len(), 1);
    lookup.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}
