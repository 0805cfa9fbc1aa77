//! Shared test helpers: fixtures, a provider on a mock server, strict request matchers and the
//! catch-all mock.
#![allow(dead_code)]

use httpmock::{HttpMockRequest, Method, Mock, MockServer, When};
use mdmkit_core::http::ClientOptions;
use mdmkit_iru::{IruConfig, IruProvider};
use serde_json::{json, Value};

/// The API token the tests configure (checked on every request, never expected in any output).
pub(crate) const TOKEN: &str = "4d7c0a3e-test-token-do-not-print";

/// A fixture from `fixtures/iru/`.
pub(crate) fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::Iru, name)
}

/// A fixture with `{{BASE}}` replaced by the server's base URL (ending in `/`).
pub(crate) fn fixture_on(server: &MockServer, name: &str) -> String {
    fixture(name).replace("{{BASE}}", &format!("{}/", server.base_url()))
}

/// A provider talking to `server`.
pub(crate) fn provider(server: &MockServer) -> IruProvider {
    let config = IruConfig::with_base_url(&server.base_url(), TOKEN).unwrap();
    IruProvider::new(config, &ClientOptions::for_local_testing()).unwrap()
}

/// Makes `when` match exactly a `GET` of `path` with exactly the query pairs `query` (in any order, no
/// others) and the bearer token.
pub(crate) fn get_exactly(when: When, path: &str, query: &[(&str, &str)]) -> When {
    let mut expected: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    expected.sort();
    when.method(Method::GET)
        .path(path.to_owned())
        .header("authorization", format!("Bearer {TOKEN}"))
        .is_true(move |req: &HttpMockRequest| {
            let mut got = req.query_params();
            got.sort();
            got == expected
        })
}

/// The query of a device page: `limit=300&offset=N&ordering=device_id` plus `extra`.
pub(crate) fn device_page_query<'a>(
    offset: &'a str,
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut q = vec![
        ("limit", "300"),
        ("offset", offset),
        ("ordering", "device_id"),
    ];
    q.extend_from_slice(extra);
    q
}

/// Mocks one device page at `offset` (with optional extra filters) answering `body`.
pub(crate) async fn device_page<'a>(
    server: &'a MockServer,
    offset: u64,
    extra: &[(&str, &str)],
    body: String,
) -> Mock<'a> {
    let offset = offset.to_string();
    let query: Vec<(String, String)> = device_page_query(&offset, extra)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    server
        .mock_async(move |when, then| {
            let pairs: Vec<(&str, &str)> = query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            get_exactly(when, "/api/v1/devices", &pairs);
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// The catch-all: answers any request no earlier mock matched with 418. httpmock 0.9 tries mocks in the
/// order they were created and serves the first match, so this must be created after every other mock;
/// each test ends by asserting it was never called.
pub(crate) async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(418).body("unexpected request");
        })
        .await
}

/// `count` device rows starting at number `start`, in the documented row shape (sorted by device_id as
/// the server would with `ordering=device_id`); every other row has `"user": ""`.
pub(crate) fn device_rows(start: usize, count: usize) -> Vec<Value> {
    (start..start + count)
        .map(|i| {
            let user = if i % 2 == 0 {
                json!({"email": format!("user{i}@example.com"), "name": format!("User {i}"),
                       "id": format!("u-{i:06}"), "is_archived": false})
            } else {
                json!("")
            };
            json!({
                "device_id": device_id(i),
                "device_name": format!("Mac {i}"),
                "model": "MacBook Air (M2, 2022)",
                "serial_number": format!("SN{i:010}"),
                "platform": "Mac",
                "os_version": "15.1",
                "user": user,
                "blueprint_id": "ab102b9d-8e9c-420d-a498-f2a1123091c7",
                "blueprint_name": "main hive",
                "tags": []
            })
        })
        .collect()
}

/// The device id of generated row `i`.
pub(crate) fn device_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

/// A JSON array body of generated rows.
pub(crate) fn rows_body(start: usize, count: usize) -> String {
    Value::Array(device_rows(start, count)).to_string()
}
