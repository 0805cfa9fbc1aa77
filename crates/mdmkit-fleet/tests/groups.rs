//! `groups`: Fleet labels (R11) with their member host ids, paged.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{ErrorKind, MdmGroup, MdmProvider};
use serde_json::{json, Value};

const LABELS: &str = "/api/v1/fleet/labels";

fn labels_page(from: usize, to: usize) -> String {
    let all = fixture_json("labels_page.json");
    let labels: Vec<Value> = all["labels"].as_array().unwrap()[from..to].to_vec();
    json!({ "labels": labels }).to_string()
}

fn members(
    path_id: u64,
    page: u64,
    per_page: u32,
) -> impl FnOnce(httpmock::When) -> httpmock::When {
    move |when| {
        paged(when, &format!("{LABELS}/{path_id}/hosts"), page, per_page)
            .query_param("disable_failing_policies", "true")
    }
}

fn hosts_with_ids(ids: &[u64]) -> String {
    let hosts: Vec<Value> = ids.iter().map(|&id| host(id)).collect();
    json!({ "hosts": hosts }).to_string()
}

fn names(groups: &[MdmGroup]) -> Vec<(&str, &str, Vec<&str>)> {
    groups
        .iter()
        .map(|g| {
            (
                g.id.as_str(),
                g.name.as_str(),
                g.member_device_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect()
}

#[tokio::test]
async fn regular_labels_with_paged_members_and_builtins_left_out() {
    let server = MockServer::start_async().await;
    // Labels two a page: [All Hosts, macOS], [Engineering Macs, Has Homebrew], [].
    for (page, from, to) in [(0, 0, 2), (1, 2, 4), (2, 4, 4)] {
        let body = labels_page(from, to);
        server
            .mock_async(|when, then| {
                paged(when, LABELS, page, 2).query_param("include_host_counts", "false");
                then.status(200).body(&body);
            })
            .await;
    }
    server
        .mock_async(|when, then| {
            members(12, 0, 2)(when);
            then.status(200).body(hosts_with_ids(&[44, 42]));
        })
        .await;
    server
        .mock_async(|when, then| {
            members(12, 1, 2)(when);
            then.status(200).body(hosts_with_ids(&[43]));
        })
        .await;
    server
        .mock_async(|when, then| {
            members(15, 0, 2)(when);
            then.status(200).body(r#"{"hosts": null}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server).with_page_size(2);

    let groups = fleet.groups().await.unwrap();
    assert_eq!(
        names(&groups),
        [
            ("12", "Engineering Macs", vec!["42", "43", "44"]),
            ("15", "Has Homebrew", vec![]),
        ]
    );
    assert_eq!(fleet.request_count(), 3 + 2 + 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn builtin_labels_on_request_and_a_label_deleted_mid_sync_is_left_out() {
    let server = MockServer::start_async().await;
    let body = fixture("labels_page.json");
    server
        .mock_async(|when, then| {
            paged(when, LABELS, 0, 100);
            then.status(200).body(&body);
        })
        .await;
    for (label, ids) in [
        (6u64, vec![42u64, 43, 44]),
        (7, vec![42, 43]),
        (15, vec![44]),
    ] {
        let body = hosts_with_ids(&ids);
        server
            .mock_async(|when, then| {
                members(label, 0, 100)(when);
                then.status(200).body(&body);
            })
            .await;
    }
    server
        .mock_async(|when, then| {
            members(12, 0, 100)(when);
            then.status(404)
                .body(fixture("error_404_label_not_found.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server).with_builtin_labels(true);

    let groups = fleet.groups().await.unwrap();
    assert_eq!(
        names(&groups),
        [
            ("6", "All Hosts", vec!["42", "43", "44"]),
            ("7", "macOS", vec!["42", "43"]),
            ("15", "Has Homebrew", vec!["44"]),
        ]
    );
    assert_eq!(fleet.request_count(), 5);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn no_labels() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            paged(when, LABELS, 0, 100);
            then.status(200).body(r#"{"labels": null}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    assert!(fleet.groups().await.unwrap().is_empty());
    assert_eq!(fleet.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_label_list_without_labels_is_an_invalid_response() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            paged(when, LABELS, 0, 100);
            then.status(200).body(fixture("not_fleet_json.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("groups"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_failing_member_list_fails_the_sync() {
    let server = MockServer::start_async().await;
    let body = fixture("labels_page.json");
    server
        .mock_async(|when, then| {
            paged(when, LABELS, 0, 100);
            then.status(200).body(&body);
        })
        .await;
    server
        .mock_async(|when, then| {
            members(12, 0, 100)(when);
            then.status(403).body(fixture("error_403_forbidden.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            members(15, 0, 100)(when);
            then.status(200).body(hosts_with_ids(&[1]));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.operation(), Some("groups"));
    assert!(err.to_string().contains("Permission Denied"), "{err}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_label_repeated_across_pages_is_read_once() {
    let server = MockServer::start_async().await;
    let label = |id: u64| json!({"id": id, "name": format!("L{id}"), "label_type": "regular"});
    let page0 = json!({"labels": [label(1), label(2)]}).to_string();
    // A label created during the listing shifted label 2 onto the next page.
    let page1 = json!({"labels": [label(2)]}).to_string();
    for (page, body) in [(0, page0), (1, page1)] {
        server
            .mock_async(|when, then| {
                paged(when, LABELS, page, 2);
                then.status(200).body(&body);
            })
            .await;
    }
    let mut member_mocks = Vec::new();
    for id in [1u64, 2] {
        member_mocks.push(
            server
                .mock_async(|when, then| {
                    members(id, 0, 2)(when);
                    then.status(200).body(hosts_with_ids(&[id * 10]));
                })
                .await,
        );
    }
    let unexpected = catch_all(&server).await;

    let groups = provider(&server).with_page_size(2).groups().await.unwrap();
    assert_eq!(
        names(&groups),
        [("1", "L1", vec!["10"]), ("2", "L2", vec!["20"])]
    );
    for m in &member_mocks {
        m.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}
