//! A Jamf Pro server that does not page as it says (defect 7), and hostile numbers in `totalCount` and
//! in the token's `expires_in`: a categorised error or a sane result, quickly.

mod common;

use common::{catch_all, computers, empty_user_directory, provider, token_mock, version_mock};
use httpmock::{HttpMockRequest, HttpMockResponse, Method::GET, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};
use serde_json::{json, Value};

const VERSION: &str = "jamf_pro_version_11_25_before_users_api.json";

/// Inventory pages at any endpoint version, answered by `page`.
async fn inventory<'a>(
    server: &'a MockServer,
    page: impl Fn(u64) -> String + Send + Sync + 'static,
) -> httpmock::Mock<'a> {
    server
        .mock_async(move |when, then| {
            when.method(GET).path_includes("computers-inventory");
            then.respond_with(move |req: &HttpMockRequest| {
                let number = req
                    .query_params()
                    .into_iter()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                HttpMockResponse::builder()
                    .status(200)
                    .header("content-type", "application/json")
                    .body(page(number))
                    .build()
            });
        })
        .await
}

/// `body` with a `totalCount` written as the raw JSON text `total` (any number, even one no Rust type
/// holds).
fn with_total(body: Value, total: &str) -> String {
    let text = body.to_string();
    format!(r#"{{"totalCount":{total},{}"#, &text[1..])
}

#[tokio::test]
async fn a_server_that_ignores_the_page_parameter_ends_the_listing_at_the_second_page() {
    let server = MockServer::start_async().await;
    token_mock(&server).await;
    version_mock(&server, VERSION).await;
    // The same 50 computers on every page, and a total that promises far more.
    let pages = inventory(&server, |_| {
        json!({"totalCount": 10_000_000, "results": computers(1, 50, None)}).to_string()
    })
    .await;
    empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;
    let jamf = provider(&server);
    let err = jamf.all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("ignores the page number"), "{err}");
    // The first page, and the pages read ahead at once on the promised total: the first of those
    // repeats, and the rest are dropped (sent or not by then). Add the token, the version and the
    // first user page for the client's count.
    let at_once = jamf.device_pages_at_once();
    let pages_read = pages.calls_async().await;
    assert!((2..=1 + at_once).contains(&pages_read), "{pages_read}");
    assert!(
        jamf.request_count() <= 4 + at_once as u64,
        "{}",
        jamf.request_count()
    );
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn hostile_total_counts_end_in_a_sane_listing_or_an_invalid_response() {
    for (total, must_list) in [
        // A number the wire reads must list; any other value lists or is an invalid response.
        ("18446744073709551615", true),
        ("0", true),
        ("null", true),
        ("1e20", false),
        ("100000000000000000000", false),
        ("-1", false),
        ("\"NaN\"", false),
    ] {
        let server = MockServer::start_async().await;
        token_mock(&server).await;
        version_mock(&server, VERSION).await;
        // A well-paged server: 50 computers on page 0, nothing after; only the total is hostile.
        inventory(&server, move |page| {
            let rows = if page == 0 {
                computers(1, 50, None)
            } else {
                Vec::new()
            };
            with_total(json!({"results": rows}), total)
        })
        .await;
        match provider(&server).all_devices().await {
            Ok(devices) => {
                assert_eq!(devices.len(), 50, "{total}");
            }
            Err(e) => {
                assert!(!must_list, "a valid number must list: {total}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{total}: {e}");
            }
        }
    }
}

#[tokio::test]
async fn hostile_token_lifetimes_are_used_or_refused_cleanly() {
    for (expires_in, usable) in [
        ("18446744073709551615", true),
        ("0", true),
        ("-1", false),
        ("1e20", false),
    ] {
        let server = MockServer::start_async().await;
        server
            .mock_async(|when, then| {
                when.method(httpmock::Method::POST).path("/api/v1/oauth/token");
                then.status(200)
                    .header("content-type", "application/json")
                    .body(format!(
                        r#"{{"access_token":"{}","token_type":"Bearer","expires_in":{expires_in}}}"#,
                        common::TOKEN
                    ));
            })
            .await;
        version_mock(&server, VERSION).await;
        common::one_row_mock(
            &server,
            "v3",
            &json!({"totalCount": 1, "results": computers(1, 1, None)}).to_string(),
        )
        .await;
        match provider(&server).validate().await {
            Ok(()) => assert!(usable, "{expires_in}"),
            Err(e) => {
                assert!(!usable, "{expires_in}: {e}");
                assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{expires_in}: {e}");
                assert!(!e.to_string().contains(common::TOKEN), "{e}");
            }
        }
    }
}
