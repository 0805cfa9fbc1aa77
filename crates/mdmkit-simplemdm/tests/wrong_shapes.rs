//! A 200 of the wrong shape on the device list (validate, listing, lookup) or the assignment groups is an
//! invalid response (a Server error to users), never "no devices", "no groups" or "no members".

use httpmock::MockServer;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{MdmProvider, PageRequest, SerialNumber, Url};
use mdmkit_simplemdm::{SimpleMdmConfig, SimpleMdmProvider};
use mdmkit_testkit::shapes::{assert_invalid_response, mount_json, wrong_shapes};

fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::SimpleMdm, name)
}

/// `path` answers `body`; the account and the other list answer with valid fixtures.
async fn server_with(path: &'static str, body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let routes = [
        (path, body.to_owned()),
        ("/api/v1/account", fixture("account.json")),
        ("/api/v1/devices", fixture("devices_search_fuzzy.json")),
        (
            "/api/v1/assignment_groups",
            fixture("assignment_groups_page2.json"),
        ),
    ];
    mount_json(&server, routes).await;
    server
}

fn provider(server: &MockServer) -> SimpleMdmProvider {
    let mut config = SimpleMdmConfig::new("smdm-test-key").unwrap();
    config.base_url = Some(Url::parse(&server.base_url()).unwrap());
    SimpleMdmProvider::new(config, &ClientOptions::for_local_testing()).unwrap()
}

#[tokio::test]
async fn device_lists_of_another_shape_fail_validate_listing_and_lookup() {
    let valid = fixture("devices_search_fuzzy.json");
    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
    let page = PageRequest::Cursor {
        after: None,
        limit: 100,
    };
    let list_as_object = r#"{"data":{"type":"device","id":121},"has_more":false}"#;
    let mut cases = wrong_shapes("", list_as_object, &valid);
    cases.push(("data: null", r#"{"data":null,"has_more":false}"#.to_owned()));
    for (what, body) in cases {
        let server = server_with("/api/v1/devices", &body).await;
        let simplemdm = provider(&server);
        assert_invalid_response(simplemdm.validate().await, &format!("validate, {what}"));
        assert_invalid_response(
            simplemdm.list_devices_page(&page).await,
            &format!("listing, {what}"),
        );
        assert_invalid_response(
            simplemdm.devices_by_serial(&serial).await,
            &format!("lookup, {what}"),
        );
    }
}

#[tokio::test]
async fn assignment_groups_of_another_shape_fail_the_groups() {
    let valid = fixture("assignment_groups_page2.json");
    let list_as_object = r#"{"data":{"type":"assignment_group","id":7},"has_more":false}"#;
    let mut cases = wrong_shapes("", list_as_object, &valid);
    for (what, group) in [
        (
            "a group without relationships",
            r#"{"id":7,"attributes":{"name":"g"}}"#,
        ),
        (
            "a group without its devices",
            r#"{"id":7,"relationships":{"apps":{"data":[]}}}"#,
        ),
        (
            "a group whose devices are null",
            r#"{"id":7,"relationships":{"devices":{"data":null}}}"#,
        ),
    ] {
        cases.push((what, format!(r#"{{"data":[{group}],"has_more":false}}"#)));
    }
    for (what, body) in cases {
        let server = server_with("/api/v1/assignment_groups", &body).await;
        assert_invalid_response(provider(&server).groups().await, &format!("groups, {what}"));
    }
}

#[tokio::test]
async fn the_documented_empty_answers_still_mean_nothing() {
    let empty = r#"{"data":[],"has_more":false}"#;
    let server = server_with("/api/v1/devices", empty).await;
    let simplemdm = provider(&server);
    simplemdm.validate().await.unwrap();
    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
    assert!(simplemdm
        .devices_by_serial(&serial)
        .await
        .unwrap()
        .is_empty());
    let server = server_with("/api/v1/assignment_groups", empty).await;
    assert!(provider(&server).groups().await.unwrap().is_empty());
}
