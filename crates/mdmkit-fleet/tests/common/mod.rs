//! Shared test helpers: a provider pointed at an httpmock server, fixtures, and a catch-all mock that
//! records any request the connector was not expected to make.
//!
//! httpmock 0.9 serves a request with the *first-created* mock that matches (mocks live in a map ordered
//! by creation id). So each test creates its specific mocks first and the catch-all last, and asserts at
//! the end that the catch-all saw nothing.
#![allow(dead_code)]

use httpmock::{Method::GET, Mock, MockServer, When};
use mdmkit_core::http::{ClientOptions, RetryConfig};
use mdmkit_core::FleetConfig;
use mdmkit_fleet::FleetProvider;
use serde_json::{json, Value};

/// The API token every test provider uses; it must never show up in errors or `Debug`.
pub(crate) const TOKEN: &str = "fleet-tok-3f9c-SECRET-do-not-print";

/// A fixture from `fixtures/fleet/`.
pub(crate) fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::Fleet, name)
}

/// A fixture parsed as JSON.
pub(crate) fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// Local-testing options without retries, so an error status costs exactly one request.
pub(crate) fn no_retries() -> ClientOptions {
    ClientOptions {
        retry: RetryConfig::none(),
        ..ClientOptions::for_local_testing()
    }
}

/// A provider for `server` with `options`.
pub(crate) fn provider_with(server: &MockServer, options: &ClientOptions) -> FleetProvider {
    let config = FleetConfig::new(&server.base_url(), TOKEN).unwrap();
    FleetProvider::new(config, options).unwrap()
}

/// A provider for `server` without retries.
pub(crate) fn provider(server: &MockServer) -> FleetProvider {
    provider_with(server, &no_retries())
}

/// The mock that answers any request no other mock took. Create it last; assert it got no hits.
pub(crate) async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(418)
                .header("content-type", "application/json")
                .body(r#"{"message": "unexpected request in test"}"#);
        })
        .await
}

/// A GET of `path` with the token, requiring the paging parameters of every Fleet list request.
pub(crate) fn paged(when: When, path: &str, page: u64, per_page: u32) -> When {
    when.method(GET)
        .path(path.to_owned())
        .header("authorization", format!("Bearer {TOKEN}"))
        .query_param("page", page.to_string())
        .query_param("per_page", per_page.to_string())
        .query_param("order_key", "id")
        // Neither the old nor the new team filter is ever sent (so never both).
        .query_param_missing("team_id")
        .query_param_missing("fleet_id")
}

/// A GET of the host list page, as the device listing sends it.
pub(crate) fn hosts_list(when: When, page: u64, per_page: u32) -> When {
    paged(when, "/api/v1/fleet/hosts", page, per_page)
        .query_param("device_mapping", "true")
        .query_param("disable_failing_policies", "true")
        .query_param_missing("query")
}

/// A host in the documented list shape.
pub(crate) fn host(id: u64) -> Value {
    json!({
        "id": id,
        "uuid": format!("392547dc-0000-0000-a87a-{id:012}"),
        "hostname": format!("mac-{id}.local"),
        "display_name": format!("Mac {id}"),
        "computer_name": format!("Mac {id}"),
        "hardware_serial": format!("SER{id:07}"),
        "platform": "darwin",
        "team_id": null,
        "fleet_id": null,
        "device_mapping": null
    })
}

/// `{"hosts": [...]}` for ids `from..to`.
pub(crate) fn hosts_body(from: u64, to: u64) -> String {
    let hosts: Vec<Value> = (from..to).map(host).collect();
    json!({ "hosts": hosts }).to_string()
}

/// `{"hosts": [...], "meta": {...}}` for ids `from..to`.
pub(crate) fn hosts_body_with_meta(from: u64, to: u64, has_next: bool) -> String {
    let hosts: Vec<Value> = (from..to).map(host).collect();
    json!({
        "hosts": hosts,
        "meta": {"has_next_results": has_next, "has_previous_results": from > 1}
    })
    .to_string()
}
