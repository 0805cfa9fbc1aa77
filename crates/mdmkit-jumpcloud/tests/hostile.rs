//! A JumpCloud server that does not page as it says (defect 7), and hostile totals in `totalCount` and
//! `x-total-count`: a categorised error or a sane result, quickly.

mod common;

use common::{authed, catch_all, oid, provider, system, user, v1_list};
use httpmock::{HttpMockRequest, HttpMockResponse, Method::GET, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};
use serde_json::{json, Value};

#[tokio::test]
async fn a_server_that_ignores_skip_while_claiming_a_large_total_ends_at_the_second_page() {
    let server = MockServer::start_async().await;
    let owner = oid(0x64a1_b2c3, 0);
    let rows: Vec<Value> = (0..100).map(|n| system(n, Some(&owner))).collect();
    let body = v1_list(rows, Some(1_000_000)).to_string();
    let systems = server
        .mock_async(|when, then| {
            authed(when, None).method(GET).path("/api/systems");
            then.status(200).body(&body);
        })
        .await;
    let directory = server
        .mock_async(|when, then| {
            authed(when, None).method(GET).path("/api/systemusers");
            then.status(200)
                .body(v1_list(vec![user(0)], Some(1)).to_string());
        })
        .await;
    let unexpected = catch_all(&server).await;
    let jc = provider(&server, None);
    let err = jc.all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("ignores the offset"), "{err}");
    systems.assert_calls_async(2).await;
    assert!(directory.calls_async().await <= 1);
    assert!(jc.request_count() <= 3, "{}", jc.request_count());
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn hostile_body_totals_end_in_a_sane_result_or_an_invalid_response() {
    for (total, must_list) in [
        // A number the wire reads must list; any other value lists or is an invalid response.
        ("18446744073709551615", true),
        ("0", true),
        ("1e20", false),
        ("100000000000000000000", false),
        ("-1", false),
        ("\"NaN\"", false),
    ] {
        let server = MockServer::start_async().await;
        let rows = json!([system(1, Some(&oid(0x64a1_b2c3, 0)))]);
        let first = format!(r#"{{"totalCount":{total},"results":{rows}}}"#);
        let rest = format!(r#"{{"totalCount":{total},"results":[]}}"#);
        server
            .mock_async(|when, then| {
                authed(when, None).method(GET).path("/api/systems");
                then.respond_with(by_skip(first, rest, None));
            })
            .await;
        server
            .mock_async(|when, then| {
                authed(when, None).method(GET).path("/api/systemusers");
                then.status(200)
                    .body(v1_list(vec![user(0)], Some(1)).to_string());
            })
            .await;
        match provider(&server, None).all_devices().await {
            Ok(devices) => {
                assert_eq!(devices.len(), 1, "{total}");
            }
            Err(e) => {
                assert!(!must_list, "a valid number must list: {total}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{total}: {e}");
            }
        }
    }
}

/// A list that pages properly: `first` at skip 0, `rest` after, with `x-total-count: total` if given.
fn by_skip(
    first: String,
    rest: String,
    total: Option<&'static str>,
) -> impl Fn(&HttpMockRequest) -> HttpMockResponse {
    move |req: &HttpMockRequest| {
        let at_start = req
            .query_params()
            .iter()
            .any(|(k, v)| k == "skip" && v == "0");
        let mut reply = HttpMockResponse::builder()
            .status(200)
            .header("content-type", "application/json");
        if let Some(total) = total {
            reply = reply.header("x-total-count", total);
        }
        reply
            .body(if at_start {
                first.clone()
            } else {
                rest.clone()
            })
            .build()
    }
}

/// A V2 list of one row, properly paged, sending `x-total-count: total`.
fn v2_page(row: Value, total: &'static str) -> impl Fn(&HttpMockRequest) -> HttpMockResponse {
    by_skip(json!([row]).to_string(), "[]".to_owned(), Some(total))
}

#[tokio::test]
async fn hostile_x_total_count_headers_end_in_a_sane_group_listing() {
    for header in [
        "18446744073709551615",
        "100000000000000000000",
        "1e20",
        "-1",
        "",
        "NaN",
        "many",
        "0",
    ] {
        let server = MockServer::start_async().await;
        let group = json!({"id": "g1", "name": "Lab", "type": "system_group"});
        let member = json!({"id": oid(0x6392_3eb5, 1), "type": "system"});
        server
            .mock_async(|when, then| {
                authed(when, None).method(GET).path("/api/v2/systemgroups");
                then.respond_with(v2_page(group, header));
            })
            .await;
        server
            .mock_async(|when, then| {
                authed(when, None)
                    .method(GET)
                    .path("/api/v2/systemgroups/g1/membership");
                then.respond_with(v2_page(member, header));
            })
            .await;
        let groups = provider(&server, None)
            .groups()
            .await
            .unwrap_or_else(|e| panic!("{header:?}: {e}"));
        assert_eq!(groups.len(), 1, "{header:?}");
        assert_eq!(groups[0].member_device_ids.len(), 1, "{header:?}");
    }
}
