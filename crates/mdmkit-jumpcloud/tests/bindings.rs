//! Who is bound to systems without a primary user: the user-to-systems index when the directory is
//! smaller than the graph reads it saves, deferred listings and `resolve_device_users`, and the
//! listing of systems changed since a time.

mod common;

use std::sync::Arc;

use common::*;
use httpmock::prelude::*;
use httpmock::HttpMockRequest;
use mdmkit_core::{
    ChangeTracking, Coverage, MdmProvider, MdmProviderExt, PageRequest, Resolution, Unresolved,
};
use serde_json::{json, Value};

fn system_id(n: usize) -> String {
    system(n, None)["_id"].as_str().unwrap().to_owned()
}

async fn directory(server: &MockServer, users: usize) -> httpmock::Mock<'_> {
    let body = v1_list((0..users).map(user).collect(), Some(users as u64)).to_string();
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systemusers")
                .query_param("skip", "0");
            then.status(200).body(body);
        })
        .await
}

/// A graph row of type `kind` reached through `hops` (1: direct; 2: through a group).
fn graph_row(id: &str, kind: &str, hops: usize) -> Value {
    let mut path: Vec<Value> = (1..hops)
        .map(|_| json!({"to": {"id": "6500000000000000000000a1", "type": "user_group"}, "attributes": null}))
        .collect();
    path.push(json!({"to": {"id": id, "type": kind}, "attributes": null}));
    json!({"id": id, "type": kind, "compiledAttributes": {}, "paths": [path]})
}

/// `GET /api/v2/users/{user}/systems`, paged by `limit`/`skip` with `x-total-count`.
async fn user_systems<'a>(
    server: &'a MockServer,
    user: usize,
    rows: Vec<Value>,
) -> httpmock::Mock<'a> {
    let rows = Arc::new(rows);
    server
        .mock_async(move |when, then| {
            authed(when, None).path(format!("/api/v2/users/{}/systems", user_id(user)));
            then.respond_with(move |req: &HttpMockRequest| {
                let param = |k: &str| {
                    req.query_params()
                        .into_iter()
                        .find(|(key, _)| key == k)
                        .and_then(|(_, v)| v.parse::<usize>().ok())
                };
                let skip = param("skip").unwrap_or(0);
                let limit = param("limit").unwrap_or(10).min(100);
                let page: Vec<Value> = rows.iter().skip(skip).take(limit).cloned().collect();
                httpmock::HttpMockResponse::builder()
                    .status(200)
                    .header("x-total-count", rows.len().to_string())
                    .body(Value::Array(page).to_string())
                    .build()
            });
        })
        .await
}

#[tokio::test]
async fn few_users_are_read_once_each_instead_of_every_system() {
    let server = MockServer::start_async().await;
    let pages = [
        systems_page(&server, 0, 100, Some(150), |_| None).await,
        systems_page(&server, 100, 50, Some(150), |_| None).await,
    ];
    let dir = directory(&server, 3).await;
    // user 0: systems 0..50 directly; user 1: 50..100 directly; user 2: every system through a group.
    let reads = [
        user_systems(
            &server,
            0,
            (0..50)
                .map(|n| graph_row(&system_id(n), "system", 1))
                .collect(),
        )
        .await,
        user_systems(
            &server,
            1,
            (50..100)
                .map(|n| graph_row(&system_id(n), "system", 1))
                .collect(),
        )
        .await,
        user_systems(
            &server,
            2,
            (0..150)
                .map(|n| graph_row(&system_id(n), "system", 2))
                .collect(),
        )
        .await,
    ];
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let devices = provider.all_devices().await.unwrap();
    assert_eq!(devices.len(), 150);
    let who = |n: usize| devices[n].user_id.clone();
    assert_eq!(
        who(7),
        Some(user_id(0)),
        "the one direct binding wins over a group"
    );
    assert_eq!(who(60), Some(user_id(1)));
    assert_eq!(who(120), Some(user_id(2)), "a single binding, however made");
    assert_eq!(devices[7].display_name.as_deref(), Some("User 0"));
    for page in &pages {
        page.assert_calls_async(1).await;
    }
    dir.assert_calls_async(1).await;
    reads[0].assert_calls_async(1).await;
    reads[1].assert_calls_async(1).await;
    reads[2].assert_calls_async(2).await; // 150 systems: two pages
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 2 + 1 + 4);
}

#[tokio::test]
async fn the_documented_user_to_systems_rows_invert_with_their_hop_counts() {
    let server = MockServer::start_async().await;
    let rows: Vec<Value> =
        serde_json::from_str(&fixture("graph_user_systems_direct_and_via_group.json")).unwrap();
    let ids: Vec<String> = rows
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    // 101 systems (the three of the fixture first), none with a primary user, and a one-user directory.
    let mut systems: Vec<Value> = ids
        .iter()
        .map(|id| json!({"_id": id, "displayName": id}))
        .collect();
    systems.extend((3..101).map(|n| system(n, None)));
    let first = v1_list(systems[..100].to_vec(), Some(101)).to_string();
    let second = v1_list(systems[100..].to_vec(), Some(101)).to_string();
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("skip", "0");
            then.status(200).body(first);
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("skip", "100");
            then.status(200).body(second);
        })
        .await;
    directory(&server, 1).await;
    let read = user_systems(&server, 0, rows).await;
    let stray = catch_all(&server).await;
    let devices = provider(&server, None).all_devices().await.unwrap();
    for d in &devices[..3] {
        assert_eq!(d.user_id, Some(user_id(0)), "{}", d.device_id);
    }
    assert!(devices[3..].iter().all(|d| d.user_id.is_none()));
    read.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_deferred_listing_reads_no_graph_and_resolution_reads_only_what_is_asked() {
    let server = MockServer::start_async().await;
    systems_page(&server, 0, 3, Some(3), |_| None).await;
    let graphs = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/v2/systems/{}/users", system_id(1)));
            then.status(200)
                .header("x-total-count", "1")
                .body(json!([graph_row(&user_id(4), "user", 1)]).to_string());
        })
        .await;
    let gone = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/v2/systems/{}/users", system_id(2)));
            then.status(404).body(fixture("error_404_v2.json"));
        })
        .await;
    let name = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/systemusers/{}", user_id(4)));
            then.status(200).body(user(4).to_string());
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let page = provider
        .list_devices_page_with(
            &PageRequest::Offset {
                offset: 0,
                limit: 100,
            },
            Resolution::Deferred,
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page
        .items
        .iter()
        .all(|d| d.unresolved == Some(Unresolved::User) && d.user_id.is_none()));
    graphs.assert_calls_async(0).await;

    let resolved = provider
        .resolve_device_users(&[system_id(1), system_id(2)])
        .await
        .unwrap();
    assert_eq!(
        resolved.len(),
        1,
        "the device JumpCloud no longer has is left out"
    );
    assert_eq!(resolved[0].device_id, system_id(1));
    assert_eq!(resolved[0].user_id, Some(user_id(4)));
    assert_eq!(resolved[0].user_name.as_deref(), Some("User 4"));
    graphs.assert_calls_async(1).await;
    gone.assert_calls_async(1).await;
    name.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

async fn changed_mock<'a>(server: &'a MockServer, body: String) -> httpmock::Mock<'a> {
    server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("filter", "lastContact:$gte:2026-11-02T00:00:00.000Z")
                .query_param("limit", "100")
                .query_param("skip", "0")
                .query_param("sort", "_id");
            then.status(200).body(body);
        })
        .await
}

#[tokio::test]
async fn changes_are_filtered_by_last_contact_and_checked_row_by_row() {
    let since = "2026-11-02T00:00:00Z".parse().unwrap();
    let server = MockServer::start_async().await;
    let page = changed_mock(&server, fixture("systems_changed_since.json")).await;
    // The kiosk has no primary user: one graph read; Anna's primary user is read by id.
    let graph = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/v2/systems/63923eb5664f0d6d7ec123e9/users");
            then.status(200).header("x-total-count", "0").body("[]");
        })
        .await;
    let anna = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systemusers/64a1b2c3d4e5f60012345678");
            then.status(200).body(fixture("systemuser_anna.json"));
        })
        .await;
    let stray = catch_all(&server).await;
    let provider = provider(&server, None);
    assert!(matches!(
        provider.change_tracking(),
        ChangeTracking::Supported {
            field: "lastContact",
            ..
        }
    ));
    let changed = provider.changed_devices(since).await.unwrap();
    assert_eq!(changed.coverage, Coverage::Changed);
    assert_eq!(changed.devices.len(), 2);
    assert_eq!(
        changed.devices[0].display_name.as_deref(),
        Some("Anna Chao")
    );
    page.assert_calls_async(1).await;
    graph.assert_calls_async(1).await;
    anna.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_system_older_than_asked_means_the_filter_was_ignored() {
    let since = "2026-11-02T00:00:00Z".parse().unwrap();
    let server = MockServer::start_async().await;
    let mut body: Value = serde_json::from_str(&fixture("systems_changed_since.json")).unwrap();
    body["results"][1]["lastContact"] = json!("2026-10-01T12:00:00.000Z");
    body["results"][1]["primarySystemUser"] = json!({"id": "64a1b2c3d4e5f60012345678"});
    changed_mock(&server, body.to_string()).await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systemusers/64a1b2c3d4e5f60012345678");
            then.status(200).body(fixture("systemuser_anna.json"));
        })
        .await;
    let stray = catch_all(&server).await;
    let changed = provider(&server, None)
        .changed_devices(since)
        .await
        .unwrap();
    assert_eq!(changed.coverage, Coverage::Everything);
    assert_eq!(
        changed.devices.len(),
        2,
        "the old system is kept: this is a full listing"
    );
    stray.assert_calls_async(0).await;
}
