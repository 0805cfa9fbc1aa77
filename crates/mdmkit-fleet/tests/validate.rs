//! `validate`: the test call made before credentials are saved (R8).

mod common;

use common::*;
use httpmock::{Method::GET, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider};

#[tokio::test]
async fn validate_calls_me_with_the_bearer_token() {
    let server = MockServer::start_async().await;
    let me = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/fleet/me")
                .header("authorization", format!("Bearer {TOKEN}"));
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("me_global_observer_api_only.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    fleet.validate().await.unwrap();

    me.assert_calls_async(1).await;
    assert_eq!(fleet.request_count(), 1);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_team_user_on_an_older_server_is_accepted() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(200)
                .body(fixture("me_team_observer_legacy_teams_only.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    provider(&server).validate().await.unwrap();
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_user_with_no_role_and_no_team_is_forbidden() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(200).body(fixture("me_no_role_no_teams.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(err.operation(), Some("validate"));
    let text = err.to_string();
    assert!(text.starts_with("Fleet validate: "), "{text}");
    assert!(text.contains("orphan@acme.com"), "{text}");
    assert!(text.contains("no global role"), "{text}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_json_answer_that_is_not_fleet_is_an_invalid_response() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(200).body(fixture("not_fleet_json.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("Fleet API"), "{err}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_html_page_with_200_is_an_invalid_response() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(200).header("content-type", "text/html").body(
                "<!DOCTYPE html><html><head><title>Sign in</title></head><body></body></html>",
            );
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("Sign in"), "{err}");
    unexpected.assert_calls_async(0).await;
}
