//! A 200 of the wrong shape from Graph (validate, listing, lookup, the groups, their members, the devices
//! joined to them) is an invalid response (a Server error to users), never "no devices" or "no groups".

use httpmock::prelude::*;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{IntuneConfig, MdmProvider, PageRequest, SerialNumber, Url};
use mdmkit_intune::IntuneProvider;
use mdmkit_testkit::shapes::{assert_invalid_response, mount_json, wrong_shapes};

const TOKEN_PATH: &str = "/contoso.onmicrosoft.com/oauth2/v2.0/token";
const DEVICES: &str = "/v1.0/deviceManagement/managedDevices";
const GROUP: &str = "33333333-cccc-4ccc-8ccc-333333333333";

fn fixture(name: &str) -> String {
    mdmkit_testkit::fixtures::read(mdmkit_core::ProviderKind::Intune, name)
}

fn members_path() -> String {
    format!("/v1.0/groups/{GROUP}/transitiveMembers/microsoft.graph.device")
}

/// One server for Entra and Graph: `path` answers `body`, the rest answers with valid fixtures (one
/// security group, whose one member is a managed device).
async fn server_with(path: &str, body: &str) -> MockServer {
    let server = MockServer::start_async().await;
    let graph = server.base_url();
    let one_group = format!(
        r#"{{"value":[{{"id":"{GROUP}","displayName":"Kiosks","securityEnabled":true}}]}}"#
    );
    let routes = [
        (path.to_owned(), body.to_owned()),
        (
            DEVICES.to_owned(),
            fixture("managed_devices_by_serial_exact.json"),
        ),
        ("/v1.0/groups".to_owned(), one_group),
        (members_path(), fixture("group_members_kiosks.json")),
    ]
    .map(|(p, b)| (p, b.replace("{{GRAPH}}", &graph)));
    mount_json(&server, routes).await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(TOKEN_PATH);
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("token_success.json"));
        })
        .await;
    server
}

fn provider(server: &MockServer) -> IntuneProvider {
    let mut config = IntuneConfig::new(
        "contoso.onmicrosoft.com",
        "0a1b2c3d-0000-4000-8000-00000000c11e",
        "wrong-shapes-secret",
    )
    .unwrap();
    let base = Url::parse(&server.base_url()).unwrap();
    config.graph_url = Some(base.clone());
    config.login_url = Some(base);
    IntuneProvider::new(config, &ClientOptions::for_local_testing()).unwrap()
}

fn list_as_object() -> &'static str {
    r#"{"@odata.context":"x","value":{"id":"m1"}}"#
}

#[tokio::test]
async fn managed_device_pages_of_another_shape_fail_validate_listing_lookup_and_the_join() {
    let valid = fixture("managed_devices_by_serial_exact.json");
    let page = PageRequest::NextLink { url: None };
    let serial = SerialNumber::parse("C02XK0AAJG5J").unwrap();
    let mut cases = wrong_shapes("", list_as_object(), &valid);
    cases.push(("value: null", r#"{"value":null}"#.to_owned()));
    cases.push((
        "a next link without value",
        r#"{"@odata.nextLink":"https://graph.invalid/next"}"#.to_owned(),
    ));
    for (what, body) in cases {
        let server = server_with(DEVICES, &body).await;
        let intune = provider(&server);
        assert_invalid_response(intune.validate().await, &format!("validate, {what}"));
        assert_invalid_response(
            intune.list_devices_page(&page).await,
            &format!("listing, {what}"),
        );
        assert_invalid_response(
            intune.devices_by_serial(&serial).await,
            &format!("lookup, {what}"),
        );
        assert_invalid_response(intune.groups().await, &format!("join, {what}"));
    }
}

#[tokio::test]
async fn group_lists_and_members_of_another_shape_fail_the_groups() {
    for (path, valid) in [
        (
            "/v1.0/groups".to_owned(),
            fixture("groups_security_page2.json"),
        ),
        (members_path(), fixture("group_members_kiosks.json")),
    ] {
        let mut cases = wrong_shapes("", list_as_object(), &valid);
        cases.push(("value: null", r#"{"value":null}"#.to_owned()));
        for (what, body) in cases {
            let server = server_with(&path, &body).await;
            assert_invalid_response(provider(&server).groups().await, &format!("{path}, {what}"));
        }
    }
}

#[tokio::test]
async fn group_delta_pages_of_another_shape_fail_the_delta() {
    let valid = r#"{"value":[{"id":"g1","displayName":"Kiosks","securityEnabled":true}],"@odata.deltaLink":"https://graph.invalid/delta"}"#;
    let mut cases = wrong_shapes("", list_as_object(), valid);
    cases.push((
        "value: null",
        r#"{"value":null,"@odata.deltaLink":"https://graph.invalid/delta"}"#.to_owned(),
    ));
    cases.push((
        "a delta link without value",
        r#"{"@odata.deltaLink":"https://graph.invalid/delta"}"#.to_owned(),
    ));
    for (what, body) in cases {
        let server = server_with("/v1.0/groups/delta", &body).await;
        assert_invalid_response(
            provider(&server).groups_delta(None).await,
            &format!("delta, {what}"),
        );
    }
}
