//! A 200 of the wrong shape on the device listing (validate, listing, lookup, the groups' device pass) or
//! the tag list is an invalid response (a Server error to users), never "no devices" or "no tags".

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{MdmProvider, PageRequest, SerialNumber};
use mdmkit_testkit::shapes::{assert_invalid_response, mount_json, wrong_shapes};

/// `path` answers `body`; the other endpoint answers with a valid fixture. (Keep the server alive while
/// the provider uses it: a dropped `MockServer` goes back to httpmock's pool.)
async fn server_with(path: &'static str, body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let routes = [
        (path, body.to_owned()),
        ("/api/v1/tags", fixture("tags_page_2.json")),
        ("/api/v1/devices", fixture("devices_tagged.json")),
    ];
    mount_json(&server, routes).await;
    server
}

#[tokio::test]
async fn device_listings_of_another_shape_fail_validate_listing_lookup_and_groups() {
    let valid = fixture("devices_documented_example.json");
    let list_as_object = r#"{"results":[{"device_id":"03f81208-2b6a-4a77-81f5-cf1633bcfb95"}]}"#;
    let serial = SerialNumber::parse("FVHHFKF7Q6L4").unwrap();
    let page = PageRequest::Offset {
        offset: 0,
        limit: 300,
    };
    let mut cases = wrong_shapes("[]", list_as_object, &valid);
    cases.push(("an error object", r#"{"detail":"Not found."}"#.to_owned()));
    for (what, body) in cases {
        let server = server_with("/api/v1/devices", &body).await;
        let iru = provider(&server);
        assert_invalid_response(iru.validate().await, &format!("validate, {what}"));
        assert_invalid_response(
            iru.list_devices_page(&page).await,
            &format!("listing, {what}"),
        );
        assert_invalid_response(
            iru.devices_by_serial(&serial).await,
            &format!("lookup, {what}"),
        );
        assert_invalid_response(iru.groups().await, &format!("groups, {what}"));
    }
}

#[tokio::test]
async fn tag_lists_of_another_shape_fail_the_groups() {
    let valid = fixture("tags_page_2.json");
    let list_as_object =
        r#"{"count":1,"next":null,"previous":null,"results":{"id":"t1","name":"a"}}"#;
    let mut cases = wrong_shapes("", list_as_object, &valid);
    cases.push((
        "a bare array of tags",
        r#"[{"id":"t1","name":"a"}]"#.to_owned(),
    ));
    cases.push((
        "results: null",
        r#"{"count":0,"next":null,"previous":null,"results":null}"#.to_owned(),
    ));
    for (what, body) in cases {
        let server = server_with("/api/v1/tags", &body).await;
        let iru = provider(&server);
        assert_invalid_response(iru.groups().await, &format!("tags, {what}"));
    }
}

#[tokio::test]
async fn the_documented_empty_answers_still_mean_nothing() {
    let server = server_with("/api/v1/devices", "[]").await;
    let iru = provider(&server);
    iru.validate().await.unwrap();
    let serial = SerialNumber::parse("FVHHFKF7Q6L4").unwrap();
    assert!(iru.devices_by_serial(&serial).await.unwrap().is_empty());
    let server = server_with("/api/v1/tags", &fixture("tags_empty.json")).await;
    let iru = provider(&server);
    assert!(iru.groups().await.unwrap().is_empty());
    // The documented slip: one device object instead of an array.
    let one = fixture("device_serial_bare_object.json");
    let server = server_with("/api/v1/devices", &one).await;
    let iru = provider(&server);
    iru.validate().await.unwrap();
}
