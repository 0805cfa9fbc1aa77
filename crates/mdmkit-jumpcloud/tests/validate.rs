//! `validate()`: the R8 test call, and where `x-org-id` goes.

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::{Category, ErrorKind, MdmProvider};

#[tokio::test]
async fn single_tenant_key_checks_organisations_then_one_system_without_org_header() {
    let server = MockServer::start_async().await;
    let orgs = server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/organizations")
                .query_param("limit", "1");
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("organizations_single.json"));
        })
        .await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, None)
                .path("/api/systems")
                .query_param("limit", "1")
                .query_param("skip", "0");
            then.status(200)
                .body(fixture("systems_validate_limit1.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    provider.validate().await.unwrap();

    orgs.assert_calls_async(1).await;
    systems.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 2);
}

#[tokio::test]
async fn org_header_is_sent_when_configured_but_never_on_api_organizations() {
    let server = MockServer::start_async().await;
    // `authed(.., None)` requires the header to be absent on /api/organizations.
    let orgs = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200)
                .body(fixture("organizations_multi_tenant.json"));
        })
        .await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, Some(ORG)).path("/api/systems");
            then.status(200)
                .body(fixture("systems_validate_limit1.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    provider(&server, Some(ORG)).validate().await.unwrap();

    orgs.assert_calls_async(1).await;
    systems.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_blank_org_id_counts_as_none() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200).body(fixture("organizations_single.json"));
        })
        .await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200)
                .body(fixture("systems_validate_limit1.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    provider(&server, Some("   ")).validate().await.unwrap();
    systems.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn multi_tenant_key_without_org_id_fails_at_save_time_and_says_what_to_set() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200)
                .body(fixture("organizations_multi_tenant.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(401)
                .body(fixture("error_401_mtp_id_not_included.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, None).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.category(), Category::Unauthorized);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.operation(), Some("validate"));
    let text = err.to_string();
    assert!(
        text.contains("ID not included for multi-tenant admin"),
        "{text}"
    );
    assert!(
        text.contains("set the organisation ID (x-org-id)"),
        "{text}"
    );
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_plain_401_on_systems_for_a_key_seeing_several_orgs_names_the_count() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200)
                .body(fixture("organizations_multi_tenant.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(401).body(fixture("error_401_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, None).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    let text = err.to_string();
    assert!(text.contains("Unauthorized: invalid API key"), "{text}");
    assert!(text.contains("can see 3 organisations"), "{text}");
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_refused_key_stops_before_the_systems_call() {
    let server = MockServer::start_async().await;
    let orgs = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(401).body(fixture("error_401_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    let err = provider.validate().await.unwrap_err();
    assert_eq!(err.category(), Category::Unauthorized);
    let text = err.to_string();
    assert!(text.starts_with("JumpCloud validate: HTTP 401"), "{text}");
    assert!(text.contains("Unauthorized: invalid API key"), "{text}");
    assert!(text.contains("region"), "{text}");
    assert!(!text.contains(KEY));
    orgs.assert_calls_async(1).await;
    assert_eq!(provider.request_count(), 1, "401 is not retried");
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn missing_device_access_shows_up_at_save_time() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200).body(fixture("organizations_single.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(403).body(fixture("error_403_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, None).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    let text = err.to_string();
    assert!(
        text.contains("administrator role does not allow reading systems"),
        "{text}"
    );
    assert!(text.contains("PERMISSION_DENIED"), "{text}");
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_unknown_org_id_is_not_found_and_named() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200)
                .body(fixture("organizations_multi_tenant.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, Some(ORG)).path("/api/systems");
            then.status(404)
                .body(fixture("error_404_org_not_found.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, Some(ORG)).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.category(), Category::NotFound);
    let text = err.to_string();
    assert!(text.contains("Organization ID Not Found"), "{text}");
    assert!(text.contains(ORG), "{text}");
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_malformed_org_id_is_a_configuration_error() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/organizations");
            then.status(200)
                .body(fixture("organizations_multi_tenant.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            authed(when, Some("not-an-id")).path("/api/systems");
            then.status(400)
                .body(fixture("error_400_malformed_org_id.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let err = provider(&server, Some("not-an-id"))
        .validate()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    let text = err.to_string();
    assert!(text.contains("Malformed ID"), "{text}");
    assert!(
        text.contains(r#""not-an-id" is not a valid JumpCloud organisation ID"#),
        "{text}"
    );
    stray.assert_calls_async(0).await;
}
