//! A Fleet server that does not page as it says (defect 7): the listing ends quickly with an
//! invalid-response error instead of running to the page ceiling.

mod common;

use common::{catch_all, hosts_body_with_meta, provider};
use httpmock::{Method::GET, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};

#[tokio::test]
async fn a_server_that_ignores_the_page_parameter_ends_the_listing_at_the_second_page() {
    let server = MockServer::start_async().await;
    // Every page holds hosts 1..=100 and Fleet says there are more.
    let body = hosts_body_with_meta(1, 101, true);
    let hosts = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/hosts");
            then.status(200).body(&body);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);
    let err = fleet.all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("repeats rows"), "{err}");
    hosts.assert_calls_async(2).await;
    assert_eq!(fleet.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}
