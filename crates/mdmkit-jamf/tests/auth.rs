//! OAuth client credentials: the token request, the legacy URL, refused tokens, renewal mid-listing.

mod common;

use std::sync::Arc;

use common::*;
use httpmock::{HttpMockRequest, Method, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};
use serde_json::json;

#[tokio::test]
async fn validate_gets_a_token_with_form_fields_then_probes_version_and_one_row() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let one_row = one_row_mock(
        &server,
        "v4",
        &fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    jamf.validate().await.unwrap();

    token.assert_calls_async(1).await;
    version.assert_calls_async(1).await;
    one_row.assert_calls_async(1).await;
    assert_eq!(jamf.request_count(), 3);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_legacy_token_url_is_used_when_the_versioned_one_is_404() {
    let server = MockServer::start_async().await;
    let v1 = error_mock(
        &server,
        Method::POST,
        "/api/v1/oauth/token",
        404,
        "classic_status_page_not_found.html",
    )
    .await;
    let legacy = server
        .mock_async(|when, then| {
            when.method(Method::POST)
                .path("/api/oauth/token")
                .header_missing("authorization")
                .form_urlencoded_tuple("grant_type", "client_credentials")
                .form_urlencoded_tuple("client_id", CLIENT_ID)
                .form_urlencoded_tuple("client_secret", CLIENT_SECRET);
            then.status(200)
                .header("content-type", "application/json")
                .body(fixture("oauth_token.json"));
        })
        .await;
    let version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let one_row = one_row_mock(
        &server,
        "v4",
        &fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    jamf.validate().await.unwrap();

    v1.assert_calls_async(1).await;
    legacy.assert_calls_async(1).await;
    version.assert_calls_async(1).await;
    one_row.assert_calls_async(1).await;
    assert_eq!(jamf.request_count(), 4);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_refused_token_request_is_unauthorized_with_400_or_401() {
    for status in [400u16, 401] {
        let server = MockServer::start_async().await;
        let token = error_mock(
            &server,
            Method::POST,
            "/api/v1/oauth/token",
            status,
            "oauth_error_invalid_client.json",
        )
        .await;
        let unexpected = catch_all(&server).await;

        let jamf = provider(&server);
        let err = jamf.validate().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unauthorized, "HTTP {status}");
        assert_eq!(err.category(), Category::Unauthorized);
        assert_eq!(err.operation(), Some("token"));
        assert_eq!(err.status(), Some(status));
        let text = err.to_string();
        assert!(text.starts_with("Jamf token: "), "{text}");
        assert!(text.contains("invalid_client"), "{text}");
        assert!(text.contains("unknown client or wrong secret"), "{text}");
        assert!(!text.contains(CLIENT_SECRET));
        assert!(!format!("{err:?}").contains(CLIENT_SECRET));
        // No retry of a refused token, no legacy URL (only a 404 moves on), no API call.
        token.assert_calls_async(1).await;
        unexpected.assert_calls_async(0).await;
    }
}

#[tokio::test]
async fn an_invalid_scope_is_forbidden() {
    let server = MockServer::start_async().await;
    let token = server
        .mock_async(|when, then| {
            when.method(Method::POST).path("/api/v1/oauth/token");
            then.status(400)
                .header("content-type", "application/json")
                .body(r#"{"error":"invalid_scope","error_description":"api-role:9 is not assigned to this client"}"#);
        })
        .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.to_string().contains("api-role:9 is not assigned"),
        "{err}"
    );
    token.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

/// The inventory collection serving `rows` three to a page, where page 1 answers slowly, and only to the
/// token `tok-{token_for_page[page]}`.
async fn inventory_expecting_tokens<'a>(
    server: &'a MockServer,
    rows: Vec<serde_json::Value>,
    page: u64,
    token: &str,
    delay_ms: u64,
) -> httpmock::Mock<'a> {
    let rows = Arc::new(rows);
    let token = format!("Bearer {token}");
    server
        .mock_async(move |when, then| {
            when.method(Method::GET)
                .path("/api/v4/computers-inventory")
                .query_param("page", page.to_string())
                .header("authorization", token);
            then.delay(std::time::Duration::from_millis(delay_ms))
                .respond_with(move |req: &HttpMockRequest| page_of(&rows, req, 3));
        })
        .await
}

#[tokio::test]
async fn a_listing_survives_the_token_expiring_mid_way() {
    let server = MockServer::start_async().await;
    // Tokens live 1 s, so the cache renews them after 0.8 s.
    let tokens = counting_token_mock(&server, 1).await;
    let version = server
        .mock_async(|when, then| {
            when.path("/api/v1/jamf-pro-version")
                .header("authorization", "Bearer tok-1");
            then.status(200)
                .body(fixture("jamf_pro_version_with_build_suffix.json"));
        })
        .await;
    let rows = computers(1, 8, None);
    // The server caps pages at 3 rows: pages 0, 1 and 2 hold 3, 3 and 2 rows.
    let page0 = inventory_expecting_tokens(&server, rows.clone(), 0, "tok-1", 0).await;
    // Page 1 takes 1.2 s, so the token has to be renewed before page 2.
    let page1 = inventory_expecting_tokens(&server, rows.clone(), 1, "tok-1", 1200).await;
    let page2 = inventory_expecting_tokens(&server, rows.clone(), 2, "tok-2", 0).await;
    let users = empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let devices = jamf.all_devices().await.unwrap();

    assert_eq!(
        ids(&devices),
        (1..=8).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    users.assert_calls_async(1).await;
    tokens.assert_calls_async(2).await;
    version.assert_calls_async(1).await;
    page0.assert_calls_async(1).await;
    page1.assert_calls_async(1).await;
    page2.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_listing_survives_one_invalid_token_401_mid_way() {
    let server = MockServer::start_async().await;
    let tokens = counting_token_mock(&server, 600).await;
    let version = server
        .mock_async(|when, then| {
            when.path("/api/v1/jamf-pro-version")
                .header("authorization", "Bearer tok-1");
            then.status(200)
                .body(fixture("jamf_pro_version_with_build_suffix.json"));
        })
        .await;
    let rows = computers(1, 8, None);
    let page0 = inventory_expecting_tokens(&server, rows.clone(), 0, "tok-1", 0).await;
    // The server stops accepting tok-1 between pages (revoked, clock skew, node restart).
    let refused = server
        .mock_async(|when, then| {
            when.path("/api/v4/computers-inventory")
                .query_param("page", "1")
                .header("authorization", "Bearer tok-1");
            then.status(401)
                .header("content-type", "application/json")
                .body(fixture("api_error_invalid_token.json"));
        })
        .await;
    let page1 = inventory_expecting_tokens(&server, rows.clone(), 1, "tok-2", 0).await;
    let page2 = inventory_expecting_tokens(&server, rows.clone(), 2, "tok-2", 0).await;
    let users = empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    let devices = jamf.all_devices().await.unwrap();

    assert_eq!(
        ids(&devices),
        (1..=8).map(|i| i.to_string()).collect::<Vec<_>>(),
        "no row lost or read twice"
    );
    users.assert_calls_async(1).await;
    tokens.assert_calls_async(2).await;
    refused.assert_calls_async(1).await;
    version.assert_calls_async(1).await;
    page0.assert_calls_async(1).await;
    page1.assert_calls_async(1).await;
    page2.assert_calls_async(1).await;
    // token, version, page 0 and the first user page, refused page 1, token, page 1, page 2.
    assert_eq!(jamf.request_count(), 8);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_token_refused_twice_is_unauthorized_with_the_api_error() {
    let server = MockServer::start_async().await;
    let tokens = counting_token_mock(&server, 600).await;
    let version = error_mock(
        &server,
        Method::GET,
        "/api/v1/jamf-pro-version",
        401,
        "api_error_invalid_token.json",
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.category(), Category::Unauthorized);
    assert_eq!(err.operation(), Some("validate"));
    assert!(
        err.to_string().contains("INVALID_TOKEN: Unauthorized"),
        "{err}"
    );
    // One fresh token after the first 401, then the error.
    tokens.assert_calls_async(2).await;
    version.assert_calls_async(2).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn one_token_serves_many_requests_and_secrets_stay_hidden() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let one_row = one_row_mock(
        &server,
        "v4",
        &fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let page = inventory_page_mock(
        &server,
        "v4",
        0,
        2000,
        json!({"totalCount": 0, "results": []}).to_string(),
    )
    .await;
    let users = empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    jamf.validate().await.unwrap();
    assert!(jamf.all_devices().await.unwrap().is_empty());
    assert!(jamf.all_devices().await.unwrap().is_empty());

    token.assert_calls_async(1).await;
    version.assert_calls_async(1).await;
    one_row.assert_calls_async(1).await;
    page.assert_calls_async(2).await;
    users.assert_calls_async(2).await;
    let debug = format!("{jamf:?}");
    assert!(!debug.contains(CLIENT_SECRET), "{debug}");
    assert!(!debug.contains(TOKEN), "{debug}");
    unexpected.assert_calls_async(0).await;
}
