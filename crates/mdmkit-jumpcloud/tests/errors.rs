//! Every status with JumpCloud's error bodies: the right kind, the R8 category, and a readable message
//! that carries the vendor's words.

mod common;

use common::*;
use httpmock::prelude::*;
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt};

/// Lists devices against a server answering `/api/systems` with `status` and `body`; returns the error
/// and how many times the server was asked.
async fn list_error(status: u16, body: String) -> (mdmkit_core::Error, usize) {
    let server = MockServer::start_async().await;
    let systems = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(status).body(body);
        })
        .await;
    let stray = catch_all(&server).await;
    let err = provider(&server, None).all_devices().await.unwrap_err();
    stray.assert_calls_async(0).await;
    (err, systems.calls_async().await)
}

#[tokio::test]
async fn status_401_is_unauthorized_with_the_vendor_message_and_advice() {
    let (err, calls) = list_error(401, fixture("error_401_v2.json")).await;
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.category(), Category::Unauthorized);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.operation(), Some("list_devices"));
    assert!(!err.is_retryable());
    assert_eq!(calls, 1);
    let text = err.to_string();
    assert!(
        text.starts_with("JumpCloud list_devices: HTTP 401 Unauthorized: Unauthorized: invalid API key (UNAUTHENTICATED)"),
        "{text}"
    );
    assert!(text.contains("check the API key"), "{text}");
}

#[tokio::test]
async fn status_401_no_organization_selected_asks_for_the_org_id() {
    let (err, _) = list_error(401, fixture("error_401_no_organization_selected.json")).await;
    assert_eq!(err.category(), Category::Unauthorized);
    let text = err.to_string();
    assert!(
        text.contains("Unauthorized: no organization selected"),
        "{text}"
    );
    assert!(text.contains("multi-tenant administrator"), "{text}");
}

#[tokio::test]
async fn status_403_is_forbidden() {
    let (err, calls) = list_error(403, fixture("error_403_v2.json")).await;
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(calls, 1);
    let text = err.to_string();
    assert!(
        text.contains("administrator role does not allow reading systems"),
        "{text}"
    );
    assert!(text.contains("PERMISSION_DENIED"), "{text}");
}

#[tokio::test]
async fn status_403_for_an_org_id_on_an_unsupported_route() {
    let (err, _) = list_error(403, fixture("error_403_org_id_unsupported_route.json")).await;
    assert_eq!(err.category(), Category::Forbidden);
    let text = err.to_string();
    assert!(text.contains("ID included on unsupported route"), "{text}");
    assert!(text.contains("refuses an organisation ID"), "{text}");
}

#[tokio::test]
async fn status_403_for_a_blocked_ip() {
    let (err, _) = list_error(403, fixture("error_403_ip_blocked.json")).await;
    assert_eq!(err.category(), Category::Forbidden);
    let text = err.to_string();
    assert!(
        text.contains("Your IP has been blocked due to suspected abuse"),
        "{text}"
    );
    assert!(text.contains("contact JumpCloud support"), "{text}");
}

#[tokio::test]
async fn status_404_is_not_found() {
    let (err, calls) = list_error(404, fixture("error_404_v2.json")).await;
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.category(), Category::NotFound);
    assert_eq!(calls, 1);
    assert!(
        err.to_string()
            .contains("Not Found: no such route (NOT_FOUND)"),
        "{err}"
    );
}

#[tokio::test]
async fn status_400_mismatched_org_id_is_a_configuration_error() {
    let (err, _) = list_error(400, fixture("error_400_org_id_mismatch.json")).await;
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert_eq!(err.category(), Category::NotFound);
    assert!(err
        .to_string()
        .contains("x-org-id and Organization path ID do not match"));
}

#[tokio::test]
async fn status_400_details_are_shown() {
    let (err, _) = list_error(400, fixture("error_400_v2_details.json")).await;
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert!(
        err.to_string()
            .contains("Bad Request (INVALID_ARGUMENT): filter: unsupported operator"),
        "{err}"
    );
}

#[tokio::test]
async fn status_429_is_retried_then_rate_limited() {
    let (err, calls) = list_error(429, fixture("error_429_v2.json")).await;
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.category(), Category::Server);
    assert_eq!(calls, 5, "the shared client retries 429");
    assert!(!err.is_retryable(), "retries are spent");
    assert!(
        err.to_string().contains("Too many requests, slow down"),
        "{err}"
    );
}

#[tokio::test]
async fn status_500_is_retried_then_server_error() {
    let (err, calls) = list_error(500, fixture("error_500_v2.json")).await;
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.category(), Category::Server);
    assert_eq!(calls, 5);
    // The `INTERNAL` label adds nothing to a message that already says so.
    assert!(
        err.to_string()
            .ends_with("HTTP 500 Internal Server Error: Internal error while listing systems"),
        "{err}"
    );
}

#[tokio::test]
async fn an_html_gateway_page_is_a_server_error_described_as_html() {
    let (err, _) = list_error(
        502,
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body></body></html>"
            .into(),
    )
    .await;
    assert_eq!(err.category(), Category::Server);
    assert!(err.to_string().contains("HTML page"), "{err}");
}

#[tokio::test]
async fn a_429_with_retry_after_is_honoured_and_then_succeeds() {
    let server = MockServer::start_async().await;
    let throttled = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(429)
                .header("retry-after", "0")
                .body(fixture("error_429_v2.json"))
                .up_to_n_times(1);
        })
        .await;
    let ok = server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200).body(fixture("systems_empty.json"));
        })
        .await;
    let stray = catch_all(&server).await;

    let provider = provider(&server, None);
    assert!(provider.all_devices().await.unwrap().is_empty());
    throttled.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
    stray.assert_calls_async(0).await;
    assert_eq!(provider.request_count(), 2);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_an_invalid_response() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, None).path("/api/systems");
            then.status(200).body("{\"totalCount\": 3, \"results\": [");
        })
        .await;
    let stray = catch_all(&server).await;
    let err = provider(&server, None).all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.category(), Category::Server);
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn secrets_never_show_in_debug_or_errors() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            authed(when, Some(ORG)).path("/api/systems");
            then.status(401).body(fixture("error_401_v2.json"));
        })
        .await;
    let stray = catch_all(&server).await;
    let provider = provider(&server, Some(ORG));
    let debug = format!("{provider:?}");
    assert!(!debug.contains(KEY), "{debug}");
    let err = provider.all_devices().await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains(KEY));
    stray.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_org_id_that_cannot_be_a_header_is_refused_up_front() {
    let mut config = mdmkit_core::JumpCloudConfig::new(KEY).unwrap();
    config.org_id = Some("5f0c\n0f1e".into());
    let err = mdmkit_jumpcloud::JumpCloudProvider::new(
        config,
        &mdmkit_core::http::ClientOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
    assert!(err.to_string().contains("organisation ID"), "{err}");
}
