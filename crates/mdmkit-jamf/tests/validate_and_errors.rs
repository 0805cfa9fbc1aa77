//! Validation (R8) and how Jamf's error answers reach the caller.

mod common;

use common::*;
use httpmock::{Method, MockServer};
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};
use serde_json::json;

#[tokio::test]
async fn validate_uses_inventory_v3_on_a_server_before_11_30() {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let version = version_mock(&server, "jamf_pro_version_11_29_plain.json").await;
    let v3 = one_row_mock(
        &server,
        "v3",
        &fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    // No v4 request at all: the catch-all would answer it.
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    jamf.validate().await.unwrap();

    token.assert_calls_async(1).await;
    version.assert_calls_async(1).await;
    v3.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_finds_the_inventory_version_by_404_when_the_version_is_unreadable() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let version = server
        .mock_async(|when, then| {
            when.path("/api/v1/jamf-pro-version");
            then.status(200).body(r#"{"version":"production"}"#);
        })
        .await;
    let v4 = not_found(&server, "/api/v4/computers-inventory").await;
    let v3 = one_row_mock(
        &server,
        "v3",
        &fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let page = inventory_page_mock(
        &server,
        "v3",
        0,
        2000,
        fixture("computers_inventory_v4_assigned_and_unassigned.json"),
    )
    .await;
    let _users = user_directory(&server, vec![]).await;
    let unexpected = catch_all(&server).await;

    let jamf = provider(&server);
    jamf.validate().await.unwrap();
    // The version that answered is kept: the listing goes straight to v3.
    assert_eq!(jamf.all_devices().await.unwrap().len(), 2);

    version.assert_calls_async(1).await;
    v4.assert_calls_async(1).await;
    v3.assert_calls_async(1).await;
    page.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_without_read_computers_is_forbidden() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let inventory = error_mock(
        &server,
        Method::GET,
        "/api/v4/computers-inventory",
        403,
        "api_error_invalid_privilege.json",
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(err.status(), Some(403));
    assert_eq!(err.operation(), Some("validate"));
    assert_eq!(
        err.to_string(),
        "Jamf validate: HTTP 403 Forbidden: INVALID_PRIVILEGE: Forbidden"
    );
    // Not retried, not re-tried at an older version (only 404 moves on).
    inventory.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn validate_against_a_host_that_is_not_jamf_is_not_found() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let version = error_mock(
        &server,
        Method::GET,
        "/api/v1/jamf-pro-version",
        404,
        "classic_status_page_not_found.html",
    )
    .await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.category(), Category::NotFound);
    assert!(
        err.to_string()
            .contains("Not Found: The server has not found anything matching the request URI"),
        "{err}"
    );
    version.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}

/// A listing whose inventory read answers `status` with `body`.
async fn listing_error(
    status: u16,
    fixture_name: &str,
) -> (mdmkit_core::Error, usize, usize, usize) {
    let server = MockServer::start_async().await;
    let token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let inventory = error_mock(
        &server,
        Method::GET,
        "/api/v4/computers-inventory",
        status,
        fixture_name,
    )
    .await;
    // The first user page is read alongside the first computers.
    empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;
    let err = provider(&server).all_devices().await.unwrap_err();
    (
        err,
        token.calls_async().await,
        inventory.calls_async().await,
        unexpected.calls_async().await,
    )
}

#[tokio::test]
async fn api_errors_keep_their_kind_category_and_vendor_detail() {
    let cases = [
        (
            401,
            "api_error_invalid_token.json",
            ErrorKind::Unauthorized,
            Category::Unauthorized,
            "INVALID_TOKEN: Unauthorized",
            2, // the token is renewed once, then the 401 stands
            2,
        ),
        (
            403,
            "api_error_invalid_privilege.json",
            ErrorKind::Forbidden,
            Category::Forbidden,
            "INVALID_PRIVILEGE: Forbidden",
            1,
            1,
        ),
        (
            429,
            "api_error_too_many_requests.json",
            ErrorKind::RateLimited,
            Category::Server,
            "TOO_MANY_REQUESTS: Too many requests, slow down",
            1,
            5, // retried up to the attempt limit
        ),
        (
            500,
            "api_error_server.json",
            ErrorKind::Server,
            Category::Server,
            "UNEXPECTED_ERROR: An unexpected error occurred while processing the request",
            1,
            5,
        ),
    ];
    for (status, body, kind, category, detail, tokens, attempts) in cases {
        let (err, token_calls, inventory_calls, unexpected) = listing_error(status, body).await;
        assert_eq!(err.kind(), kind, "HTTP {status}: {err}");
        assert_eq!(err.category(), category, "HTTP {status}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.operation(), Some("list_devices"));
        let text = err.to_string();
        assert!(text.starts_with("Jamf list_devices: HTTP "), "{text}");
        assert!(text.contains(detail), "HTTP {status}: {text}");
        assert!(!err.is_retryable(), "retries already ran: {text}");
        assert_eq!(token_calls, tokens, "token requests for HTTP {status}");
        assert_eq!(inventory_calls, attempts, "attempts for HTTP {status}");
        assert_eq!(unexpected, 0);
    }
}

#[tokio::test]
async fn an_inventory_missing_at_every_version_is_not_found_and_names_what_was_tried() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let mut missing = Vec::new();
    for v in ["v4", "v3", "v1"] {
        missing.push(not_found(&server, &format!("/api/{v}/computers-inventory")).await);
    }
    empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.category(), Category::NotFound);
    let text = err.to_string();
    assert!(text.contains("INVALID_ID: Resource not found"), "{text}");
    assert!(
        text.contains(
            "/api/v4/computers-inventory, /api/v3/computers-inventory, /api/v1/computers-inventory"
        ),
        "{text}"
    );
    for m in &missing {
        m.assert_calls_async(1).await;
    }
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_invalid_response() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    let _version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let _inventory = server
        .mock_async(|when, then| {
            when.path("/api/v4/computers-inventory");
            then.status(200)
                .header("content-type", "text/html")
                .body("<html><head><title>Jamf Pro Login</title></head><body></body></html>");
        })
        .await;
    empty_user_directory(&server).await;
    let unexpected = catch_all(&server).await;

    let err = provider(&server).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("Jamf Pro Login"), "{err}");
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_upgraded_server_is_followed_to_its_new_inventory_version() {
    let server = MockServer::start_async().await;
    let _token = token_mock(&server).await;
    // First probe: 11.29 (v3). After the upgrade, v3 is gone and the server says 11.30.
    let old_version = server
        .mock_async(|when, then| {
            when.path("/api/v1/jamf-pro-version");
            then.status(200)
                .body(fixture("jamf_pro_version_11_29_plain.json"));
        })
        .await;
    let v3_page = inventory_page_mock(
        &server,
        "v3",
        0,
        2000,
        json!({"totalCount": 0, "results": []}).to_string(),
    )
    .await;
    let _users = empty_user_directory(&server).await;
    let jamf = provider(&server);
    assert!(jamf.all_devices().await.unwrap().is_empty());
    old_version.assert_calls_async(1).await;

    // The upgrade: v3 answers 404 from now on and the version is 11.30.
    old_version.delete_async().await;
    v3_page.delete_async().await;
    let new_version = version_mock(&server, "jamf_pro_version_with_build_suffix.json").await;
    let v3_gone = not_found(&server, "/api/v3/computers-inventory").await;
    let v4_page = inventory_page_mock(
        &server,
        "v4",
        0,
        2000,
        json!({"totalCount": 0, "results": []}).to_string(),
    )
    .await;
    let unexpected = catch_all(&server).await;

    assert!(jamf.all_devices().await.unwrap().is_empty());
    v3_gone.assert_calls_async(1).await;
    new_version.assert_calls_async(1).await;
    v4_page.assert_calls_async(1).await;
    unexpected.assert_calls_async(0).await;
}
