//! A loopback Jamf Pro for the tests: fixtures, the usual mocks, and a catch-all that must stay uncalled.
//!
//! httpmock 0.9 serves a request with the *first registered* mock that matches it (lowest id). So every
//! test registers its expected mocks first and [`catch_all`] last; the catch-all then only sees requests
//! the connector was not expected to make, and each test ends by asserting it was called zero times.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use httpmock::{HttpMockRequest, HttpMockResponse, Method, Mock, MockServer};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::JamfConfig;
use mdmkit_jamf::JamfProvider;
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "mdmkit-test-client";
pub const CLIENT_SECRET: &str = "s3cr3t-never-printed";
/// The `access_token` of `oauth_token.json`.
pub const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.fixture-token-1";
pub const DEVICE_SECTIONS: [&str; 3] = ["GENERAL", "HARDWARE", "USER_AND_LOCATION"];

pub fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::Jamf, name)
}

pub fn fixture_json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

pub fn config(server: &MockServer) -> JamfConfig {
    JamfConfig::new(&server.base_url(), CLIENT_ID, CLIENT_SECRET).unwrap()
}

pub fn provider(server: &MockServer) -> JamfProvider {
    JamfProvider::new(config(server), &ClientOptions::for_local_testing()).unwrap()
}

/// `POST /api/v1/oauth/token` as Jamf documents it: form fields only, no HTTP Basic.
pub async fn token_mock(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path("/api/v1/oauth/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header_missing("authorization")
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("client_id", CLIENT_ID)
                .form_urlencoded_tuple("client_secret", CLIENT_SECRET);
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("oauth_token.json"));
        })
        .await
}

/// A token endpoint that hands out `tok-1`, `tok-2`, … living `expires_in` seconds.
pub async fn counting_token_mock(server: &MockServer, expires_in: u64) -> Mock<'_> {
    let issued = Arc::new(AtomicUsize::new(0));
    server
        .mock_async(move |when, then| {
            when.method(Method::POST)
                .path("/api/v1/oauth/token")
                .form_urlencoded_tuple("client_secret", CLIENT_SECRET);
            then.respond_with(move |_req: &HttpMockRequest| {
                let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
                json_response(
                    200,
                    &json!({"access_token": format!("tok-{n}"), "scope": "api-role:2",
                            "token_type": "Bearer", "expires_in": expires_in}),
                )
            });
        })
        .await
}

/// `GET /api/v1/jamf-pro-version` answering the given fixture.
pub async fn version_mock<'a>(server: &'a MockServer, fixture_name: &str) -> Mock<'a> {
    let body = fixture(fixture_name);
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v1/jamf-pro-version")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// The one-row inventory read of `validate` (and of the static-group cost probe) on `/api/{version}/…`.
pub async fn one_row_mock<'a>(server: &'a MockServer, version: &str, body: &str) -> Mock<'a> {
    let path = format!("/api/{version}/computers-inventory");
    let body = body.to_owned();
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path(path)
                .query_param("section", "GENERAL")
                .query_param_missing("filter")
                .query_param("page", "0")
                .query_param("page-size", "1")
                .query_param("sort", "id:asc")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// A device-sections inventory page `page` of `size` on `/api/{version}/…` answering `body`.
pub async fn inventory_page_mock<'a>(
    server: &'a MockServer,
    version: &str,
    page: u64,
    size: u32,
    body: String,
) -> Mock<'a> {
    let path = format!("/api/{version}/computers-inventory");
    server
        .mock_async(move |when, then| {
            let mut when = when
                .method(Method::GET)
                .path(path)
                .query_param_missing("filter")
                .query_param("page", page.to_string())
                .query_param("page-size", size.to_string())
                .query_param("sort", "id:asc")
                .header("authorization", format!("Bearer {TOKEN}"));
            for section in DEVICE_SECTIONS {
                when = when.query_param("section", section);
            }
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// Any request not answered by an earlier mock: fails the test through its call count.
pub async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(418)
                .header("content-type", "text/plain")
                .body("unexpected request: no mock for it");
        })
        .await
}

pub fn json_response(status: u16, body: &Value) -> HttpMockResponse {
    HttpMockResponse::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .build()
}

fn query(req: &HttpMockRequest, key: &str) -> Option<String> {
    req.query_params()
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

/// `n` computers with ids `first..first+n`; every `assign_every`-th one is assigned `user{i % users}`.
pub fn computers(first: u64, n: u64, assign: Option<(u64, u64)>) -> Vec<Value> {
    (first..first + n)
        .map(|id| {
            let username = match assign {
                Some((every, users)) if id % every == 0 => format!("user{}", id % users),
                _ => String::new(),
            };
            json!({
                "id": id.to_string(),
                "udid": format!("UDID-{id}"),
                "general": {"name": format!("Mac-{id}"), "platform": "Mac"},
                "hardware": {"serialNumber": format!("C02{id:09}")},
                "userAndLocation": {"username": username, "realname": "", "email": ""}
            })
        })
        .collect()
}

/// `{totalCount, results}` paging over `rows` the way Jamf does: `page` counts pages of the *effective*
/// size, which is the asked size cut to `cap` without a word.
pub fn page_of(rows: &[Value], req: &HttpMockRequest, cap: usize) -> HttpMockResponse {
    let page: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let asked: usize = query(req, "page-size")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100);
    let size = asked.min(cap);
    let start = (page * size).min(rows.len());
    let end = (start + size).min(rows.len());
    json_response(
        200,
        &json!({"totalCount": rows.len(), "results": rows[start..end]}),
    )
}

/// The device-sections inventory collection on `/api/{version}/…` serving `rows` with Jamf's paging and
/// a page-size cap.
pub async fn paged_inventory<'a>(
    server: &'a MockServer,
    version: &str,
    rows: Vec<Value>,
    cap: usize,
) -> Mock<'a> {
    filtered_inventory(server, version, None, rows, cap).await
}

/// [`paged_inventory`] for requests with exactly the RSQL `filter` given (none when `None`).
pub async fn filtered_inventory<'a>(
    server: &'a MockServer,
    version: &str,
    filter: Option<&str>,
    rows: Vec<Value>,
    cap: usize,
) -> Mock<'a> {
    let path = format!("/api/{version}/computers-inventory");
    let filter = filter.map(str::to_owned);
    let rows = Arc::new(rows);
    server
        .mock_async(move |when, then| {
            let mut when = when
                .method(Method::GET)
                .path(path)
                .query_param("sort", "id:asc")
                .header("authorization", format!("Bearer {TOKEN}"));
            when = match filter {
                Some(filter) => when.query_param("filter", filter),
                None => when.query_param_missing("filter"),
            };
            for section in DEVICE_SECTIONS {
                when = when.query_param("section", section);
            }
            then.respond_with(move |req: &HttpMockRequest| page_of(&rows, req, cap));
        })
        .await
}

/// `n` Jamf user records `user0…` with ids `1000+i`.
pub fn users(n: u64) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"id": (1000 + i).to_string(), "username": format!("user{i}"),
                   "realname": format!("User Number {i}"), "email": format!("user{i}@example.com"),
                   "phone": null, "position": null, "enableCustomPhotoUrl": false,
                   "customPhotoUrl": null, "managedAppleId": null})
        })
        .collect()
}

/// `GET /api/v1/users` (no filter) paging over `rows`, honouring its declared maximum of 1000.
pub async fn user_directory<'a>(server: &'a MockServer, rows: Vec<Value>) -> Mock<'a> {
    let rows = Arc::new(rows);
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v1/users")
                .query_param_missing("filter")
                .query_param("page-size", "1000")
                .query_param("sort", "id:asc")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.respond_with(move |req: &HttpMockRequest| page_of(&rows, req, 1000));
        })
        .await
}

/// `GET /api/v1/users` answered with an empty directory, whatever the token: the user page a listing
/// reads alongside its first computers, in tests whose computers have no user.
pub async fn empty_user_directory(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.method(Method::GET).path("/api/v1/users");
            then.status(200)
                .header("content-type", "application/json")
                .body(r#"{"totalCount":0,"results":[]}"#);
        })
        .await
}

/// `GET path` answered 404 with Jamf's `INVALID_ID` body: an endpoint this server does not have.
pub async fn not_found<'a>(server: &'a MockServer, path: &str) -> Mock<'a> {
    error_mock(server, Method::GET, path, 404, "api_error_not_found.json").await
}

/// An error response with a fixture body.
pub async fn error_mock<'a>(
    server: &'a MockServer,
    method: Method,
    path: &str,
    status: u16,
    fixture_name: &str,
) -> Mock<'a> {
    let body = fixture(fixture_name);
    let content_type = if fixture_name.ends_with(".html") {
        "text/html;charset=UTF-8"
    } else {
        "application/json"
    };
    let path = path.to_owned();
    server
        .mock_async(move |when, then| {
            when.method(method).path(path);
            then.status(status)
                .header("content-type", content_type)
                .body(body);
        })
        .await
}

/// The ids of devices, in order.
pub fn ids(devices: &[mdmkit_core::MdmDevice]) -> Vec<String> {
    devices.iter().map(|d| d.device_id.clone()).collect()
}
