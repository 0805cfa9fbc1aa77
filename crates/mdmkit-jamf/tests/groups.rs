//! Computer groups (R11): smart members from the membership endpoint, static members from Classic or one
//! `GROUP_MEMBERSHIPS` pass, endpoint versions, deleted groups, errors.

mod common;

use common::*;
use httpmock::{Method, Mock, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmGroup, MdmProvider};
use serde_json::json;

/// An authenticated `GET path` asking for JSON, answering `body`.
async fn get_json<'a>(server: &'a MockServer, path: &str, body: String) -> Mock<'a> {
    let path = path.to_owned();
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path(path)
                .header("accept", "application/json")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// The `GROUP_MEMBERSHIPS` inventory pass (page 0 of 2000) answering `body`.
async fn bulk_mock<'a>(server: &'a MockServer, body: String) -> Mock<'a> {
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v4/computers-inventory")
                .query_param("section", "GROUP_MEMBERSHIPS")
                .query_param_missing("filter")
                .query_param("page", "0")
                .query_param("page-size", "2000")
                .query_param("sort", "id:asc")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await
}

/// Every `GET` below `prefix` answering Jamf's 404 body.
async fn not_found_under<'a>(server: &'a MockServer, prefix: &str) -> Mock<'a> {
    let prefix = prefix.to_owned();
    server
        .mock_async(move |when, then| {
            when.path_prefix(prefix);
            then.status(404)
                .header("content-type", "application/json")
                .body(fixture("api_error_not_found.json"));
        })
        .await
}

fn count(n: u64) -> String {
    json!({"totalCount": n, "results": []}).to_string()
}

fn summary(groups: &[MdmGroup]) -> Vec<(&str, &str, Vec<&str>)> {
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
async fn smart_members_from_v3_and_static_members_from_one_inventory_pass() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let list = get_json(
        &server,
        "/api/v1/computer-groups",
        fixture("computer_groups_v1_smart_and_static.json"),
    )
    .await;
    let smart1 = get_json(
        &server,
        "/api/v3/computer-groups/smart-group-membership/1",
        fixture("smart_group_membership_integer_ids.json"),
    )
    .await;
    let smart3 = get_json(
        &server,
        "/api/v3/computer-groups/smart-group-membership/3",
        r#"{"members":[]}"#.to_owned(),
    )
    .await;
    // Two static groups, 3 computers: one inventory page beats two Classic requests.
    let probe = one_row_mock(&server, "v4", &count(3)).await;
    let bulk = bulk_mock(
        &server,
        fixture("computers_inventory_group_memberships.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let groups = jamf.groups().await.unwrap();

    assert_eq!(
        summary(&groups),
        [
            ("1", "All Managed Clients", vec!["117", "118", "119"]),
            ("2", "Empty Static", vec![]),
            ("3", "Dev Machines", vec![]),
            ("4", "Prod Servers", vec!["117", "118"]),
        ]
    );
    list.assert_calls_async(1).await;
    smart1.assert_calls_async(1).await;
    smart3.assert_calls_async(1).await;
    probe.assert_calls_async(1).await;
    bulk.assert_calls_async(1).await;
    // token, version, list, 2 memberships, count, 1 inventory page.
    assert_eq!(jamf.request_count(), 7);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn static_members_from_classic_when_that_is_cheaper() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        fixture("computer_groups_v1_smart_and_static.json"),
    )
    .await;
    let _smart1 = get_json(
        &server,
        "/api/v3/computer-groups/smart-group-membership/1",
        fixture("smart_group_membership_integer_ids.json"),
    )
    .await;
    let _smart3 = get_json(
        &server,
        "/api/v3/computer-groups/smart-group-membership/3",
        r#"{"members":[4001]}"#.to_owned(),
    )
    .await;
    // 5000 computers would take 3 inventory pages; two static groups take two Classic requests.
    let probe = one_row_mock(&server, "v4", &count(5000)).await;
    let classic2 = get_json(
        &server,
        "/JSSResource/computergroups/id/2",
        fixture("classic_computer_group_single_member_object.json"),
    )
    .await;
    let classic4 = get_json(
        &server,
        "/JSSResource/computergroups/id/4",
        fixture("classic_computer_group_wrapped_list.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let groups = jamf.groups().await.unwrap();

    assert_eq!(
        summary(&groups),
        [
            ("1", "All Managed Clients", vec!["117", "118", "119"]),
            ("2", "Empty Static", vec!["117"]),
            ("3", "Dev Machines", vec!["4001"]),
            ("4", "Prod Servers", vec!["100", "101"]),
        ]
    );
    probe.assert_calls_async(1).await;
    classic2.assert_calls_async(1).await;
    classic4.assert_calls_async(1).await;
    assert_eq!(jamf.request_count(), 8);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_single_static_group_is_read_from_classic_without_counting_computers() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"7","name":"Flat","description":"","smartGroup":false}]"#.to_owned(),
    )
    .await;
    let classic = get_json(
        &server,
        "/JSSResource/computergroups/id/7",
        fixture("classic_computer_group_flat_array.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let groups = jamf.groups().await.unwrap();
    assert_eq!(summary(&groups), [("7", "Flat", vec!["106", "82"])]);
    classic.assert_calls_async(1).await;
    assert_eq!(jamf.request_count(), 4);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn servers_before_11_28_use_the_v2_membership_endpoint() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = server
        .mock_async(|when, then| {
            when.path("/api/v1/jamf-pro-version");
            then.status(200)
                .body(r#"{"version":"11.27.1-t1776000000000"}"#);
        })
        .await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"1","name":"All Managed Clients","smartGroup":true},{"id":"3","name":"Dev","smartGroup":true}]"#
            .to_owned(),
    )
    .await;
    let v2_1 = get_json(
        &server,
        "/api/v2/computer-groups/smart-group-membership/1",
        r#"{"members":[1,2]}"#.to_owned(),
    )
    .await;
    let v2_3 = get_json(
        &server,
        "/api/v2/computer-groups/smart-group-membership/3",
        r#"{"members":["2","3"]}"#.to_owned(),
    )
    .await;
    // No v3 request: the catch-all would see it.
    let unexpected = catch_all(&server).await;

    let groups = provider(&server).groups().await.unwrap();
    assert_eq!(
        summary(&groups),
        [
            ("1", "All Managed Clients", vec!["1", "2"]),
            ("3", "Dev", vec!["2", "3"])
        ]
    );
    v2_1.assert_calls_async(1).await;
    v2_3.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_missing_v3_membership_endpoint_falls_back_once_and_is_remembered() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"1","name":"A","smartGroup":true},{"id":"3","name":"B","smartGroup":true},{"id":"5","name":"C","smartGroup":true}]"#
            .to_owned(),
    )
    .await;
    let v3_missing =
        not_found_under(&server, "/api/v3/computer-groups/smart-group-membership/").await;
    let mut v2 = Vec::new();
    for id in ["1", "3", "5"] {
        v2.push(
            get_json(
                &server,
                &format!("/api/v2/computer-groups/smart-group-membership/{id}"),
                format!(r#"{{"members":[{id}0]}}"#),
            )
            .await,
        );
    }
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let groups = jamf.groups().await.unwrap();
    assert_eq!(
        summary(&groups),
        [
            ("1", "A", vec!["10"]),
            ("3", "B", vec!["30"]),
            ("5", "C", vec!["50"])
        ]
    );
    // Only the first group tried v3.
    v3_missing.assert_calls_async(1).await;
    for m in &v2 {
        m.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_membership_endpoint_gone_after_an_upgrade_is_chosen_again_in_the_same_read() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"1","name":"A","smartGroup":true},{"id":"3","name":"B","smartGroup":true}]"#
            .to_owned(),
    )
    .await;
    // Before the upgrade: v3 is missing, v2 answers and is learnt.
    let v3_missing =
        not_found_under(&server, "/api/v3/computer-groups/smart-group-membership/").await;
    let mut v2 = Vec::new();
    for id in ["1", "3"] {
        let path = format!("/api/v2/computer-groups/smart-group-membership/{id}");
        v2.push(get_json(&server, &path, format!(r#"{{"members":[{id}0]}}"#)).await);
    }
    let jamf = provider(&server);
    let before = jamf.groups().await.unwrap();
    assert_eq!(
        summary(&before),
        [("1", "A", vec!["10"]), ("3", "B", vec!["30"])]
    );

    // After it: v2 is gone, v3 answers.
    v3_missing.delete_async().await;
    for m in v2 {
        m.delete_async().await;
    }
    let v2_gone = not_found_under(&server, "/api/v2/computer-groups/smart-group-membership/").await;
    let mut v3 = Vec::new();
    for id in ["1", "3"] {
        let path = format!("/api/v3/computer-groups/smart-group-membership/{id}");
        v3.push(get_json(&server, &path, format!(r#"{{"members":[{id}1]}}"#)).await);
    }
    let unexpected = catch_all(&server).await;

    let after = jamf.groups().await.unwrap();
    assert_eq!(
        summary(&after),
        [("1", "A", vec!["11"]), ("3", "B", vec!["31"])]
    );
    // Both groups tried the learnt v2 first; then the version was read again and v3 chosen.
    v2_gone.assert_calls_async(2).await;
    version.assert_calls_async(2).await;
    for m in &v3 {
        m.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_group_deleted_while_reading_members_is_left_out() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"1","name":"Stays","smartGroup":true},{"id":"3","name":"Deleted","smartGroup":true}]"#
            .to_owned(),
    )
    .await;
    let _smart1 = get_json(
        &server,
        "/api/v3/computer-groups/smart-group-membership/1",
        r#"{"members":[1]}"#.to_owned(),
    )
    .await;
    let gone = not_found(&server, "/api/v3/computer-groups/smart-group-membership/3").await;
    let unexpected = catch_all(&server).await;

    let groups = provider(&server).groups().await.unwrap();
    assert_eq!(summary(&groups), [("1", "Stays", vec!["1"])]);
    // v3 already answered for group 1, so a 404 for group 3 means the group is gone: no older versions.
    gone.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn no_membership_endpoint_at_all_is_an_error_not_empty_groups() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"1","name":"A","smartGroup":true}]"#.to_owned(),
    )
    .await;
    let mut missing = Vec::new();
    for path in [
        "/api/v3/computer-groups/smart-group-membership/1",
        "/api/v2/computer-groups/smart-group-membership/1",
        "/JSSResource/computergroups/id/1",
    ] {
        missing.push(
            error_mock(
                &server,
                Method::GET,
                path,
                404,
                "classic_status_page_not_found.html",
            )
            .await,
        );
    }
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.operation(), Some("groups"));
    assert!(err.to_string().contains("smart-group membership"), "{err}");
    for m in &missing {
        m.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_refused_group_memberships_section_falls_back_to_classic() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"2","name":"S1","smartGroup":false},{"id":"4","name":"S2","smartGroup":false}]"#
            .to_owned(),
    )
    .await;
    let _probe = one_row_mock(&server, "v4", &count(10)).await;
    let refused = server
        .mock_async(|when, then| {
            when.path("/api/v4/computers-inventory")
                .query_param("section", "GROUP_MEMBERSHIPS");
            then.status(400)
                .header("content-type", "application/json")
                .body(fixture("api_error_invalid_section.json"));
        })
        .await;
    let classic2 = get_json(
        &server,
        "/JSSResource/computergroups/id/2",
        r#"{"computer_group":{"id":2,"name":"S1","computers":[]}}"#.to_owned(),
    )
    .await;
    let classic4 = get_json(
        &server,
        "/JSSResource/computergroups/id/4",
        fixture("classic_computer_group_wrapped_list.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let groups = provider(&server).groups().await.unwrap();
    assert_eq!(
        summary(&groups),
        [("2", "S1", vec![]), ("4", "S2", vec!["100", "101"])]
    );
    refused.assert_calls_async(1).await;
    classic2.assert_calls_async(1).await;
    classic4.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn static_groups_of_an_empty_inventory_need_no_member_requests() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"2","name":"S1","smartGroup":false},{"id":"4","name":"S2","smartGroup":false}]"#
            .to_owned(),
    )
    .await;
    let probe = one_row_mock(&server, "v4", &count(0)).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let groups = jamf.groups().await.unwrap();
    assert_eq!(summary(&groups), [("2", "S1", vec![]), ("4", "S2", vec![])]);
    probe.assert_calls_async(1).await;
    assert_eq!(jamf.request_count(), 4);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn reading_groups_without_the_group_privileges_is_forbidden() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let list = error_mock(
        &server,
        Method::GET,
        "/api/v1/computer-groups",
        403,
        "api_error_invalid_privilege.json",
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(
        err.to_string(),
        "Jamf groups: HTTP 403 Forbidden: INVALID_PRIVILEGE: Forbidden"
    );
    list.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_classic_refusal_reads_as_text_not_html() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"2","name":"S1","smartGroup":false}]"#.to_owned(),
    )
    .await;
    let classic = error_mock(
        &server,
        Method::GET,
        "/JSSResource/computergroups/id/2",
        403,
        "classic_status_page_forbidden.html",
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(
        err.to_string(),
        "Jamf groups: HTTP 403 Forbidden: Forbidden: The server understood the request, but is refusing to fulfill it"
    );
    classic.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn unusable_group_ids_never_reach_a_url() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        r#"[{"id":"../../api/v1/users","name":"Evil","smartGroup":true}]"#.to_owned(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).groups().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn membership_reads_run_concurrently_but_never_more_than_five_at_once() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let list: Vec<_> = (1..=10)
        .map(|i| json!({"id": i.to_string(), "name": format!("Smart {i}"), "smartGroup": true}))
        .collect();
    let _list = get_json(
        &server,
        "/api/v1/computer-groups",
        serde_json::Value::Array(list).to_string(),
    )
    .await;
    let members = server
        .mock_async(|when, then| {
            when.path_prefix("/api/v3/computer-groups/smart-group-membership/");
            then.delay(std::time::Duration::from_millis(300))
                .status(200)
                .header("content-type", "application/json")
                .body(r#"{"members":[1]}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let started = std::time::Instant::now();
    let groups = jamf.groups().await.unwrap();
    let took = started.elapsed();

    assert_eq!(groups.len(), 10);
    members.assert_calls_async(10).await;
    // The first read settles the endpoint version (300 ms); the other nine go five at a time, so two
    // more rounds: at least 900 ms with the limit of 5, about 600 ms without it, 3 s one by one.
    assert!(
        took >= std::time::Duration::from_millis(900),
        "more than 5 requests in flight: {took:?}"
    );
    assert!(
        took < std::time::Duration::from_millis(2500),
        "membership reads were not concurrent: {took:?}"
    );
    unexpected.assert_calls_async(0).await;
}
