//! A 200 of the wrong shape on any endpoint that carries devices, users, groups or members is an invalid
//! response (a Server error to users), never "no computers", "no groups" or "no members".

mod common;

use common::*;
use httpmock::{Method, MockServer};
use mdmkit_core::{MdmProvider, PageRequest, SerialNumber};
use mdmkit_testkit::shapes::{assert_invalid_response, mount_json, wrong_shapes};
use serde_json::json;

const SMART: &str = r#"[{"id":"1","name":"Smart","smartGroup":true}]"#;
const STATIC: &str = r#"[{"id":"2","name":"Static","smartGroup":false}]"#;

/// The endpoint under test answers `body`; everything else answers as a healthy Jamf Pro 11.30 with
/// `groups` would.
async fn server_with(path: &str, section: Option<&str>, body: &str, groups: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let (path, section, body) = (path.to_owned(), section.map(str::to_owned), body.to_owned());
    server
        .mock_async(move |when, then| {
            let when = when.method(Method::GET).path(path);
            if let Some(section) = section {
                when.query_param("section", section);
            }
            then.status(200)
                .header("content-type", "application/json")
                .body(body);
        })
        .await;
    token_mock(&server).await;
    version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let groups: serde_json::Value = serde_json::from_str(groups).unwrap();
    let healthy = [
        ("/api/v1/computer-groups", groups),
        (
            "/api/v3/computer-groups/smart-group-membership/1",
            json!({"members": [117]}),
        ),
        (
            "/api/v1/users",
            json!({"totalCount": 1, "results": [{"id": "7", "username": "ada"}]}),
        ),
        (
            "/api/v4/computers-inventory",
            json!({"totalCount": 1, "results": computers(117, 1, Some((1, 1)))}),
        ),
    ];
    mount_json(
        &server,
        healthy.map(|(path, body)| (path, body.to_string())),
    )
    .await;
    server
}

fn page() -> PageRequest {
    PageRequest::PageNumber { page: 0, size: 100 }
}

#[tokio::test]
async fn inventory_pages_of_another_shape_fail_validate_listing_and_lookup() {
    let valid = fixture("computers_inventory_v4_assigned_and_unassigned.json");
    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
    for (what, body) in wrong_shapes("", r#"{"totalCount":1,"results":{"id":"1"}}"#, &valid) {
        let server = server_with("/api/v4/computers-inventory", None, &body, SMART).await;
        let jamf = provider(&server);
        assert_invalid_response(jamf.validate().await, &format!("validate, {what}"));
        assert_invalid_response(
            jamf.list_devices_page(&page()).await,
            &format!("listing, {what}"),
        );
        assert_invalid_response(
            jamf.devices_by_serial(&serial).await,
            &format!("lookup, {what}"),
        );
    }
}

#[tokio::test]
async fn a_user_directory_of_another_shape_fails_the_listing() {
    let valid = fixture("users_search_results.json");
    for (what, body) in wrong_shapes("", r#"{"totalCount":1,"results":{"id":"7"}}"#, &valid) {
        let server = server_with("/api/v1/users", None, &body, SMART).await;
        assert_invalid_response(
            provider(&server).list_devices_page(&page()).await,
            &format!("users, {what}"),
        );
    }
}

#[tokio::test]
async fn a_group_list_of_another_shape_fails_the_groups() {
    let valid = fixture("computer_groups_v1_smart_and_static.json");
    let one_group = r#"{"id":"1","name":"Smart","smartGroup":true}"#;
    for (what, body) in wrong_shapes("[]", one_group, &valid) {
        let server = server_with("/api/v1/computer-groups", None, &body, SMART).await;
        assert_invalid_response(provider(&server).groups().await, &format!("list, {what}"));
    }
}

#[tokio::test]
async fn smart_group_members_of_another_shape_fail_the_groups() {
    let valid = fixture("smart_group_membership_integer_ids.json");
    let path = "/api/v3/computer-groups/smart-group-membership/1";
    for (what, body) in wrong_shapes("", r#"{"members":{"id":117}}"#, &valid) {
        let server = server_with(path, None, &body, SMART).await;
        assert_invalid_response(provider(&server).groups().await, &format!("smart, {what}"));
    }
}

#[tokio::test]
async fn static_group_members_of_another_shape_fail_the_groups() {
    // One static group: its members come from the Classic API.
    let valid = fixture("classic_computer_group_wrapped_list.json");
    let list_as_object = r#"{"computer_group":{"id":2,"computers":"117,118"}}"#;
    for (what, body) in wrong_shapes("", list_as_object, &valid) {
        let server = server_with("/JSSResource/computergroups/id/2", None, &body, STATIC).await;
        assert_invalid_response(
            provider(&server).groups().await,
            &format!("classic, {what}"),
        );
    }
}

#[tokio::test]
async fn a_membership_pass_of_another_shape_fails_the_groups() {
    // Two static groups and one computer: one GROUP_MEMBERSHIPS pass beats two Classic reads.
    let valid = fixture("computers_inventory_group_memberships.json");
    let mut cases = wrong_shapes("", r#"{"totalCount":1,"results":{"id":"117"}}"#, &valid);
    // A computer without the section that was asked for is not "in no group".
    cases.push((
        "a computer without groupMemberships",
        r#"{"totalCount":1,"results":[{"id":"117","groupMemberships":null}]}"#.to_owned(),
    ));
    let two_static =
        r#"[{"id":"2","name":"A","smartGroup":false},{"id":"4","name":"B","smartGroup":false}]"#;
    for (what, body) in cases {
        let server = server_with(
            "/api/v4/computers-inventory",
            Some("GROUP_MEMBERSHIPS"),
            &body,
            two_static,
        )
        .await;
        assert_invalid_response(
            provider(&server).groups().await,
            &format!("membership pass, {what}"),
        );
    }
}
