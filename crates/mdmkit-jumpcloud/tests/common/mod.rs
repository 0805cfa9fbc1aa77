//! Shared test helpers: a provider pointed at an httpmock server, fixtures, generated pages and the
//! catch-all mock.
#![allow(dead_code, unreachable_pub)]

use httpmock::prelude::*;
use httpmock::{Mock, When};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{JumpCloudConfig, Url};
use mdmkit_jumpcloud::JumpCloudProvider;
use serde_json::{json, Value};

/// The API key every mock insists on.
pub const KEY: &str = "jca_test_4f1b2c3d4e5f60718293a4b5c6d7e8f9";
/// An organisation id of a multi-tenant administrator.
pub const ORG: &str = "5f0c0f1e2d3b4a0012345678";

/// A fixture from `fixtures/jumpcloud/`.
pub fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::JumpCloud, name)
}

/// A provider for `server`, with `org` as its organisation id.
pub fn provider(server: &MockServer, org: Option<&str>) -> JumpCloudProvider {
    provider_at(&server.base_url(), org)
}

/// A provider whose base URL is `base` (e.g. the server's URL with a pasted `/api` suffix).
pub fn provider_at(base: &str, org: Option<&str>) -> JumpCloudProvider {
    let mut config = JumpCloudConfig::new(KEY).unwrap();
    config.base_url = Some(Url::parse(base).unwrap());
    config.org_id = org.map(str::to_owned);
    JumpCloudProvider::new(config, &ClientOptions::for_local_testing()).unwrap()
}

/// Requires the API key, and `x-org-id` exactly when `org` is set.
pub fn authed(when: When, org: Option<&str>) -> When {
    let when = when.method(GET).header("x-api-key", KEY);
    match org {
        Some(org) => when.header("x-org-id", org),
        None => when.header_missing("x-org-id"),
    }
}

/// A mock answering every request no other mock answered. httpmock 0.9 serves the *first-created*
/// matching mock, so this must be created after all the others; each test asserts it was never hit.
pub async fn catch_all(server: &MockServer) -> Mock<'_> {
    server
        .mock_async(|when, then| {
            when.any_request();
            then.status(418).body("unexpected request");
        })
        .await
}

/// A 24-hex-digit JumpCloud object id.
pub fn oid(prefix: u32, n: usize) -> String {
    format!("{prefix:08x}{n:016x}")
}

/// A system as `/api/systems` lists it, with a primary user `user` when given.
pub fn system(n: usize, user: Option<&str>) -> Value {
    let mut s = json!({
        "_id": oid(0x6392_3eb5, n),
        "displayName": format!("Mac {n}"),
        "hostname": format!("mac-{n}.local"),
        "serialNumber": format!("C02TEST{n:05}"),
        "os": "Mac OS X",
        "osFamily": "darwin",
        "active": true
    });
    if let Some(user) = user {
        s["primarySystemUser"] = json!({ "id": user });
    }
    s
}

/// A directory user named "User <n>".
pub fn user(n: usize) -> Value {
    json!({
        "_id": oid(0x64a1_b2c3, n),
        "username": format!("user{n}"),
        "email": format!("user{n}@acme.com"),
        "displayname": format!("User {n}"),
        "firstname": "User",
        "lastname": n.to_string(),
        "state": "ACTIVATED",
        "suspended": false
    })
}

/// A V1 list body.
pub fn v1_list(results: Vec<Value>, total: Option<u64>) -> Value {
    match total {
        Some(total) => json!({ "totalCount": total, "results": results }),
        None => json!({ "results": results }),
    }
}

/// Mocks page `skip` of a generated listing of `total` systems (ids 0..total), each with the primary
/// user `user_of(n)`.
pub async fn systems_page<'a>(
    server: &'a MockServer,
    skip: usize,
    rows: usize,
    total: Option<u64>,
    user_of: impl Fn(usize) -> Option<String>,
) -> httpmock::Mock<'a> {
    let results: Vec<_> = (skip..skip + rows)
        .map(|n| system(n, user_of(n).as_deref()))
        .collect();
    let body = v1_list(results, total).to_string();
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("limit", "100")
                .query_param("skip", skip.to_string())
                .query_param("sort", "_id");
            then.status(200).body(body);
        })
        .await
}

/// The `_id` of generated user `n`.
pub fn user_id(n: usize) -> String {
    user(n)["_id"].as_str().unwrap().to_owned()
}
