//! `groups()`: system groups (R11) with all member systems from `/membership`, paged by
//! `limit`/`skip` with `x-total-count`.

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::{Category, ErrorKind, MdmProvider};
use serde_json::json;

const G1: &str = "5e0f1c2b3a4d5e0012340001";
const G2: &str = "5e0f1c2b3a4d5e0012340002";
const G3: &str = "5e0f1c2b3a4d5e0012340003";

fn member(n: usize) -> serde_json::Value {
    let id = system(n, None)["_id"].clone();
    json!({"id": id, "type": "system", "compiledAttributes": {},
           "paths": [[{"to": {"id": id, "type": "system"}, "attributes": null}]]})
}

#[tokio::test]
async fn groups_with_nested_paged_and_empty_membership() {
    let server = MockServer::start_async().await;
    let list = server
        .mock_async(|when, then| {
            authed(when, Some(ORG))
                .path("/api/v2/systemgroups")
                .query_param("limit", "100")
                .query_param("skip", "0");
            then.status(200)
                .header("x-total-count", "3")
                .body(fixture("systemgroups.json"));
        })
        .await;
    let m1 = server
        .mock_async(|when, then| {
            authed(when, Some(ORG))
                .path(format!("/api/v2/systemgroups/{G1}/membership"))
                .query_param("limit", "100")
                .query_param("skip", "0");
            then.status(200)
                .header("x-total-count", "2")
                .body(fixture("systemgroup_membership_nested.json"));
        })
        .await;
    // 150 members: two pages.
    let first: Vec<_> = (0..100).map(member).collect();
    let m2a = server
        .mock_async(|when, then| {
            authed(when, Some(ORG))
                .path(format!("/api/v2/systemgroups/{G2}/membership"))
                .query_param("skip", "0");
            then.status(200)
                .header("x-total-count", "150")
                .json_body(json!(first));
        })
        .await;
    let second: Vec<_> = (100..150).map(member).collect();
    let m2b = server
        .mock_async(|when, then| {
            authed(when, Some(ORG))
                .path(format!("/api/v2/systemgroups/{G2}/membership"))
                .query_param("skip", "100");
            then.status(200)
                .header("x-total-count", "150")
                .json_body(json!(second));
        })
        .await;
    let m3 = server
        .mock_async(|when, then| {
            authed(when, Some(ORG)).path(format!("/api/v2/systemgroups/{G3}/membership"));
            then.status(200).header("x-total-count", "0").body("[]");
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, Some(ORG));
    let groups = provider.groups().await.unwrap();
    let names: Vec<_> = groups
        .iter()
        .map(|g| (g.id.as_str(), g.name.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            (G1, "All Macs"),
            (G2, "Engineering laptops"),
            (G3, "Empty group")
        ]
    );
    assert_eq!(
        groups[0].member_device_ids,
        ["63923eb5664f0d6d7ec10005", "63923eb5664f0d6d7ec123e2"],
        "the member reached through a nested group counts"
    );
    assert_eq!(groups[1].member_device_ids.len(), 150);
    assert!(groups[2].member_device_ids.is_empty());

    list.assert_calls_async(1).await;
    for m in [&m1, &m2a, &m2b, &m3] {
        m.assert_calls_async(1).await;
    }
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 5);
}

#[tokio::test]
async fn the_group_list_itself_is_paged_and_repeated_rows_are_merged() {
    let server = MockServer::start_async().await;
    let group = |n: usize| json!({"id": oid(0x5e0f_1c2b, n), "name": format!("Group {n}"), "type": "system_group"});
    let first: Vec<_> = (0..100).map(group).collect();
    let p1 = server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/v2/systemgroups")
                .query_param("skip", "0");
            then.status(200)
                .header("x-total-count", "102")
                .json_body(json!(first));
        })
        .await;
    // The last page repeats group 99 (the listing shifted) and adds group 100.
    let p2 = server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/v2/systemgroups")
                .query_param("skip", "100");
            then.status(200)
                .header("x-total-count", "102")
                .json_body(json!([group(99), group(100)]));
        })
        .await;
    let members = server
        .mock_async(|when, then| {
            authed(when, None).path_matches("^/api/v2/systemgroups/[0-9a-f]{24}/membership$");
            then.status(200)
                .header("x-total-count", "1")
                .json_body(json!([member(7)]));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let groups = provider.groups().await.unwrap();
    assert_eq!(groups.len(), 101);
    assert!(groups
        .iter()
        .all(|g| g.member_device_ids == [oid(0x6392_3eb5, 7)]));
    p1.assert_calls_async(1).await;
    p2.assert_calls_async(1).await;
    members.assert_calls_async(101).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn no_groups_is_one_request() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/v2/systemgroups");
            then.status(200).header("x-total-count", "0").body("[]");
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    assert!(provider.groups().await.unwrap().is_empty());
    assert_eq!(provider.request_count(), 1);
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn without_x_total_count_a_short_membership_page_ends() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/v2/systemgroups");
            then.status(200)
                .json_body(json!([{"id": G1, "name": "All Macs", "type": "system_group"}]));
        })
        .await;
    let m = server
        .mock_async(|when, then| {
            authed(when, None).path(format!("/api/v2/systemgroups/{G1}/membership"));
            then.status(200).json_body(json!([member(1), member(2)]));
        })
        .await;
    let stray = catch_all(&server).await;

    let groups = provider(&server, None).groups().await.unwrap();
    assert_eq!(groups[0].member_device_ids.len(), 2);
    m.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_failing_membership_read_fails_the_sync_with_the_groups_operation() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/v2/systemgroups");
            then.status(200)
                .header("x-total-count", "3")
                .body(fixture("systemgroups.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path_matches("^/api/v2/systemgroups/[0-9a-f]{24}/membership$");
            then.status(403).body(fixture("error_403_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, None).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(err.operation(), Some("groups"));
    assert!(err.to_string().contains("PERMISSION_DENIED"));
    // The other groups' memberships were read concurrently and may still be on their way: let them
    // land on this server, not on the pooled server the next test gets (whose catch-all would count
    // them).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    stray.assert_calls_async(0).await;
}
