//! A 200 of the wrong shape on `/me` (validate), the host lookup, the host list, the label list or a
//! label's hosts is an invalid response (a Server error to users), never "no hosts" or "no labels".

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{MdmProvider, PageRequest, SerialNumber};
use mdmkit_testkit::shapes::{assert_invalid_response, mount_json, wrong_shapes};

/// `path` answers `body`; the other endpoints answer with valid fixtures.
async fn server_with(path: &str, body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let routes = [
        (path, body.to_owned()),
        (
            "/api/v1/fleet/me",
            fixture("me_global_observer_api_only.json"),
        ),
        ("/api/v1/fleet/labels", fixture("labels_page.json")),
        (
            "/api/v1/fleet/hosts",
            fixture("hosts_page_user_shapes.json"),
        ),
    ];
    mount_json(&server, routes).await;
    server
}

#[tokio::test]
async fn me_of_another_shape_fails_validate() {
    let valid = fixture("me_global_observer_api_only.json");
    for (what, body) in wrong_shapes("", r#"{"user":[{"id":1}]}"#, &valid) {
        let server = server_with("/api/v1/fleet/me", &body).await;
        assert_invalid_response(provider(&server).validate().await, &format!("me, {what}"));
    }
}

#[tokio::test]
async fn a_lookup_of_another_shape_is_an_error_not_no_host() {
    let valid = fixture("host_by_identifier_with_end_user.json");
    let serial = SerialNumber::parse("C0124FXASD6G").unwrap();
    let path = "/api/v1/fleet/hosts/identifier/C0124FXASD6G";
    for (what, body) in wrong_shapes("", r#"{"host":[{"id":42}]}"#, &valid) {
        let server = server_with(path, &body).await;
        assert_invalid_response(
            provider(&server).devices_by_serial(&serial).await,
            &format!("lookup, {what}"),
        );
    }
}

#[tokio::test]
async fn host_lists_of_another_shape_fail_the_listing() {
    let valid = fixture("hosts_page_user_shapes.json");
    let page = PageRequest::PageNumber { page: 0, size: 100 };
    for (what, body) in wrong_shapes("", r#"{"hosts":{"id":42}}"#, &valid) {
        let server = server_with("/api/v1/fleet/hosts", &body).await;
        assert_invalid_response(
            provider(&server).list_devices_page(&page).await,
            &format!("listing, {what}"),
        );
    }
}

#[tokio::test]
async fn label_lists_of_another_shape_fail_the_groups() {
    let valid = fixture("labels_page.json");
    for (what, body) in wrong_shapes("", r#"{"labels":{"id":6}}"#, &valid) {
        let server = server_with("/api/v1/fleet/labels", &body).await;
        assert_invalid_response(provider(&server).groups().await, &format!("labels, {what}"));
    }
}

#[tokio::test]
async fn label_members_of_another_shape_fail_the_groups() {
    let valid = fixture("hosts_page_user_shapes.json");
    let labels: serde_json::Value = serde_json::from_str(&fixture("labels_page.json")).unwrap();
    let first = labels["labels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["label_type"] != "builtin")
        .expect("a regular label in the fixture")["id"]
        .to_string();
    let path = format!("/api/v1/fleet/labels/{first}/hosts");
    for (what, body) in wrong_shapes("", r#"{"hosts":{"id":42}}"#, &valid) {
        let server = server_with(&path, &body).await;
        assert_invalid_response(
            provider(&server).groups().await,
            &format!("label hosts, {what}"),
        );
    }
}
