//! A 200 of the wrong shape on the organisations (validate), systems (validate, listing, lookup), users,
//! system groups or group membership is an invalid response (a Server error to users), never "no
//! systems", "no users" or "no groups".

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::{MdmProvider, PageRequest, SerialNumber};
use mdmkit_testkit::shapes::{assert_invalid_response, mount_json, wrong_shapes};

const GROUP: &str = "5e0f1c2b3a4d5e0012340001";

/// The record of the primary user of the system in `system_by_serial_primary_user.json`.
fn anna_path() -> String {
    let anna: serde_json::Value = serde_json::from_str(&fixture("systemuser_anna.json")).unwrap();
    format!("/api/systemusers/{}", anna["_id"].as_str().unwrap())
}

/// `path` answers `body`; the other endpoints answer with valid fixtures. (The first group of
/// `systemgroups.json` is `GROUP`; the groups' memberships are read in list order.)
async fn server_with(path: &str, body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let routes = [
        (path.to_owned(), body.to_owned()),
        (
            "/api/organizations".to_owned(),
            fixture("organizations_single.json"),
        ),
        (
            "/api/systems".to_owned(),
            fixture("system_by_serial_primary_user.json"),
        ),
        (anna_path(), fixture("systemuser_anna.json")),
        (
            "/api/systemusers".to_owned(),
            fixture("systemusers_directory.json"),
        ),
        (
            "/api/v2/systemgroups".to_owned(),
            fixture("systemgroups.json"),
        ),
        (
            format!("/api/v2/systemgroups/{GROUP}/membership"),
            fixture("systemgroup_membership_nested.json"),
        ),
    ];
    mount_json(&server, routes).await;
    server
}

fn serial() -> SerialNumber {
    SerialNumber::parse("C02XK0AAJG5J").unwrap()
}

#[tokio::test]
async fn organisation_lists_of_another_shape_fail_validate() {
    let valid = fixture("organizations_single.json");
    for (what, body) in wrong_shapes("", r#"{"results":{"_id":"o1"},"totalCount":1}"#, &valid) {
        let server = server_with("/api/organizations", &body).await;
        assert_invalid_response(
            provider(&server, None).validate().await,
            &format!("organisations, {what}"),
        );
    }
}

#[tokio::test]
async fn system_lists_of_another_shape_fail_validate_listing_and_lookup() {
    let valid = fixture("system_by_serial_primary_user.json");
    let page = PageRequest::Offset {
        offset: 0,
        limit: 100,
    };
    for (what, body) in wrong_shapes("", r#"{"results":{"_id":"s1"},"totalCount":1}"#, &valid) {
        let server = server_with("/api/systems", &body).await;
        let jumpcloud = provider(&server, None);
        assert_invalid_response(jumpcloud.validate().await, &format!("validate, {what}"));
        assert_invalid_response(
            jumpcloud.list_devices_page(&page).await,
            &format!("listing, {what}"),
        );
        assert_invalid_response(
            jumpcloud.devices_by_serial(&serial()).await,
            &format!("lookup, {what}"),
        );
    }
}

#[tokio::test]
async fn users_of_another_shape_fail_the_listing_and_the_lookup() {
    let page = PageRequest::Offset {
        offset: 0,
        limit: 100,
    };
    let valid = fixture("systemusers_directory.json");
    for (what, body) in wrong_shapes("", r#"{"results":{"_id":"u1"},"totalCount":1}"#, &valid) {
        let server = server_with("/api/systemusers", &body).await;
        assert_invalid_response(
            provider(&server, None).list_devices_page(&page).await,
            &format!("directory, {what}"),
        );
    }
    let user_path = anna_path();
    let valid = fixture("systemuser_anna.json");
    for (what, body) in wrong_shapes("", r#"[{"_id":"u1"}]"#, &valid) {
        let server = server_with(&user_path, &body).await;
        assert_invalid_response(
            provider(&server, None).devices_by_serial(&serial()).await,
            &format!("user, {what}"),
        );
    }
}

#[tokio::test]
async fn groups_and_memberships_of_another_shape_fail_the_groups() {
    let list_as_object = r#"{"results":{"id":"g1"},"totalCount":1}"#;
    let valid = fixture("systemgroups.json");
    for (what, body) in wrong_shapes("[]", list_as_object, &valid) {
        let server = server_with("/api/v2/systemgroups", &body).await;
        assert_invalid_response(
            provider(&server, None).groups().await,
            &format!("groups, {what}"),
        );
    }
    let valid = fixture("systemgroup_membership_nested.json");
    let membership = format!("/api/v2/systemgroups/{GROUP}/membership");
    for (what, body) in wrong_shapes("[]", list_as_object, &valid) {
        let server = server_with(&membership, &body).await;
        assert_invalid_response(
            provider(&server, None).groups().await,
            &format!("membership, {what}"),
        );
    }
}
