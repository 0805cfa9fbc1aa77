//! An Iru server that does not page as it says (defect 7), and hostile numbers in the `count` of its
//! tag pages: a categorised error or a sane result, quickly.

mod common;

use common::{catch_all, provider, rows_body};
use httpmock::{Method::GET, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};
use serde_json::json;

#[tokio::test]
async fn a_server_that_ignores_the_offset_ends_the_listing_at_the_second_page() {
    let server = MockServer::start_async().await;
    // Every request gets the same full page of 300 devices, whatever its offset.
    let body = rows_body(0, 300);
    let devices = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/devices");
            then.status(200)
                .header("content-type", "application/json")
                .body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);
    let err = iru.all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("ignores the offset"), "{err}");
    devices.assert_calls_async(2).await;
    assert_eq!(iru.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn hostile_tag_counts_end_in_a_sane_result_or_an_invalid_response() {
    for (count, must_list) in [
        // A number the wire reads must list; any other value lists or is an invalid response.
        (json!(18446744073709551615u64), true),
        (json!(0), true),
        (json!(null), true),
        (json!(1e20), false),
        (json!(-1), false),
        (json!("NaN"), false),
    ] {
        let server = MockServer::start_async().await;
        let body = json!({
            "count": count,
            "next": null,
            "previous": null,
            "results": [{"id": "0f5f2c8e-0000-4000-8000-000000000001", "name": "Lab"}]
        })
        .to_string();
        server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/tags");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(&body);
            })
            .await;
        server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/devices");
                then.status(200)
                    .header("content-type", "application/json")
                    .body("[]");
            })
            .await;
        match provider(&server).groups().await {
            Ok(groups) => assert_eq!(groups.len(), 1, "{count}"),
            Err(e) => {
                assert!(!must_list, "a valid number must list: {count}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{count}: {e}");
            }
        }
    }
}
