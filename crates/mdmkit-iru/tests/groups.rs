//! Groups (R11: tags) with members from one bulk device pass.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{ErrorKind, MdmGroup, MdmProvider};

const TAG_1: &str = "e1c0f4a2-3333-4d5e-9f00-000000000001";
const TAG_2: &str = "e1c0f4a2-3333-4d5e-9f00-000000000002";
const TAG_3: &str = "e1c0f4a2-3333-4d5e-9f00-000000000003";
const MAC: &str = "03f81208-2b6a-4a77-81f5-cf1633bcfb95";
const IPAD: &str = "4820db3b-dec7-40b2-9c8f-eb771ac1a250";

#[tokio::test]
async fn tags_follow_next_and_members_come_from_one_device_pass() {
    let server = MockServer::start_async().await;
    let tags_1 = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200)
                .body(fixture_on(&server, "tags_page_1.json"));
        })
        .await;
    let tags_2 = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[("page", "2")]);
            then.status(200)
                .body(fixture_on(&server, "tags_page_2.json"));
        })
        .await;
    let devices = device_page(&server, 0, &[], fixture("devices_tagged.json")).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let groups = iru.groups().await.unwrap();

    assert_eq!(
        groups,
        [
            MdmGroup::new(TAG_1, "accuhive_01", [MAC.to_owned()]),
            MdmGroup::new(TAG_2, "accuhive_02", [MAC.to_owned(), IPAD.to_owned()]),
            MdmGroup::new(TAG_3, "unused", []),
        ]
    );
    tags_1.assert_calls_async(1).await;
    tags_2.assert_calls_async(1).await;
    devices.assert_calls_async(1).await;
    // Two tag pages and one device page: no per-device or per-tag calls.
    assert_eq!(iru.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_device_pass_is_paged_like_the_bulk_listing() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200).body(
                r#"{"count":1,"next":null,"previous":null,"results":[{"id":"t-odd","name":"odd"}]}"#,
            );
        })
        .await;
    let tagged = |start: usize, count: usize| {
        let rows: Vec<serde_json::Value> = device_rows(start, count)
            .into_iter()
            .enumerate()
            .map(|(n, mut row)| {
                if (start + n) % 2 == 1 {
                    row["tags"] = serde_json::json!(["odd"]);
                }
                row
            })
            .collect();
        serde_json::Value::Array(rows).to_string()
    };
    device_page(&server, 0, &[], tagged(0, 300)).await;
    device_page(&server, 300, &[], tagged(300, 5)).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let groups = iru.groups().await.unwrap();

    assert_eq!(groups.len(), 1);
    let want: Vec<String> = (0..305).filter(|i| i % 2 == 1).map(device_id).collect();
    assert_eq!(groups[0].member_device_ids, want);
    // One tag page + floor(305 / 300) + 1 device pages.
    assert_eq!(iru.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_tenant_without_tags_needs_no_device_pass() {
    let server = MockServer::start_async().await;
    let tags = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200).body(fixture("tags_empty.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    assert!(iru.groups().await.unwrap().is_empty());

    tags.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn tags_sharing_a_name_are_read_by_tag_id() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200).body(fixture("tags_shared_name.json"));
        })
        .await;
    device_page(&server, 0, &[], fixture("devices_tagged_shared_name.json")).await;
    let by_id_a = device_page(
        &server,
        0,
        &[("tag_id", "e1c0f4a2-3333-4d5e-9f00-00000000000a")],
        fixture("devices_tag_id_a.json"),
    )
    .await;
    let by_id_b = device_page(
        &server,
        0,
        &[("tag_id", "e1c0f4a2-3333-4d5e-9f00-00000000000b")],
        fixture("devices_tag_id_b.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let groups = iru.groups().await.unwrap();

    let members: Vec<(&str, &str, Vec<&str>)> = groups
        .iter()
        .map(|g| {
            (
                g.id.as_str(),
                g.name.as_str(),
                g.member_device_ids.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        members,
        [
            (
                "e1c0f4a2-3333-4d5e-9f00-00000000000a",
                "laptops",
                vec!["d0000000-0000-4000-8000-000000000001"]
            ),
            (
                "e1c0f4a2-3333-4d5e-9f00-00000000000b",
                "laptops",
                vec!["d0000000-0000-4000-8000-000000000002"]
            ),
            (
                "e1c0f4a2-3333-4d5e-9f00-00000000000c",
                "desks",
                vec![
                    "d0000000-0000-4000-8000-000000000001",
                    "d0000000-0000-4000-8000-000000000003"
                ]
            ),
        ]
    );
    by_id_a.assert_calls_async(1).await;
    by_id_b.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 4);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused_and_gets_no_token() {
    let server = MockServer::start_async().await;
    let elsewhere = MockServer::start_async().await;
    let page_1 = format!(
        r#"{{"count":2,"next":"{}/api/v1/tags?page=2","previous":null,"results":[{{"id":"t1","name":"a"}}]}}"#,
        elsewhere.base_url()
    );
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200).body(page_1);
        })
        .await;
    let unexpected = catch_all(&server).await;
    let stolen = catch_all(&elsewhere).await;

    let err = provider(&server).groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.operation(), Some("groups"));
    assert!(err.to_string().contains("another host"), "{err}");
    stolen.assert_calls_async(0).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_repeated_next_link_stops_instead_of_looping() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200)
                .body(fixture_on(&server, "tags_page_1.json"));
        })
        .await;
    let loop_page = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[("page", "2")]);
            // The server points at the same page again.
            then.status(200)
                .body(fixture_on(&server, "tags_page_1.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("repeated"), "{err}");
    loop_page.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_relative_next_link_is_followed_on_the_same_host() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200).body(
                r#"{"count":2,"next":"/api/v1/tags?cursor=b2Zmc2V0","previous":null,"results":[{"id":"t1","name":"a"}]}"#,
            );
        })
        .await;
    let second = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[("cursor", "b2Zmc2V0")]);
            then.status(200).body(
                r#"{"count":2,"next":null,"previous":null,"results":[{"id":"t2","name":"b"}]}"#,
            );
        })
        .await;
    device_page(&server, 0, &[], "[]".to_owned()).await;
    let unexpected = catch_all(&server).await;

    let groups = provider(&server).groups().await.unwrap();

    let names: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    second.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_failing_device_pass_fails_the_sync_rather_than_empty_the_groups() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(200)
                .body(fixture_on(&server, "tags_page_2.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &device_page_query("0", &[]));
            then.status(403)
                .body(fixture("error_403_no_permission.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.operation(), Some("groups"));
    unexpected.assert_calls_async(0).await;
}
