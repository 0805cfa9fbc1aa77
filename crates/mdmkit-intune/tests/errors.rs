//! Graph error answers (401, 403 in its three forms, 404, 429, 500), each with Graph's own body: the kind,
//! the R8 category, a readable message with Graph's detail, and the retries each gets.

mod common;

use std::time::{Duration, Instant};

use common::*;
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{Category, Error, ErrorKind, MdmProvider};

const VALIDATE_QUERY: &[(&str, &str)] = &[("$top", "1"), ("$select", "id")];

fn no_secrets(env: &Env, err: &Error) {
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains(&env.token()), "{shown}");
}

fn quick_retries(attempts: u32) -> ClientOptions {
    let mut options = Env::options();
    options.retry.max_attempts = attempts;
    options
}

#[tokio::test]
async fn a_401_renews_the_token_once_then_is_unauthorized() {
    let env = Env::start().await;
    let token = env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            401,
            "graph_error_401_invalid_authentication_token.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let err = intune.validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.category(), Category::Unauthorized);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.operation(), Some("validate"));
    assert_eq!(
        err.to_string(),
        "Microsoft Intune validate: HTTP 401 Unauthorized: InvalidAuthenticationToken: Access token is empty."
    );
    token.assert_calls_async(2).await;
    graph.assert_calls_async(2).await;
    assert_eq!(intune.request_count(), 4);
    no_secrets(&env, &err);
    sealed.verify().await;
}

#[tokio::test]
async fn a_403_with_the_json_string_message_is_forbidden_and_names_the_permission() {
    let env = Env::start().await;
    env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            403,
            "graph_error_403_forbidden_json_string.json",
        )
        .await;
    let sealed = env.seal().await;

    let err = env.provider().validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(err.status(), Some(403));
    let text = err.to_string();
    assert!(
        text.starts_with("Microsoft Intune validate: HTTP 403 Forbidden: Forbidden: Application is not authorized to perform this operation."),
        "{text}"
    );
    assert!(
        text.contains("Activity ID: 9567c8a9-0000-4000-8000-000000000403"),
        "{text}"
    );
    assert!(text.contains("the app registration needs the Microsoft Graph application permission DeviceManagementManagedDevices.Read.All, with admin consent granted"), "{text}");
    assert!(
        !text.contains("_version"),
        "the nested JSON is unwrapped: {text}"
    );
    // Forbidden is not retried.
    graph.assert_calls_async(1).await;
    no_secrets(&env, &err);
    sealed.verify().await;
}

#[tokio::test]
async fn the_unknown_error_forbidden_form_with_http_401_is_forbidden() {
    let env = Env::start().await;
    let token = env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            401,
            "graph_error_unknown_error_nested_forbidden.json",
        )
        .await;
    let sealed = env.seal().await;

    let err = env.provider().validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.category(), Category::Forbidden);
    assert_eq!(err.status(), Some(401));
    let text = err.to_string();
    assert!(
        text.contains("UnknownError/Forbidden: An error has occurred"),
        "{text}"
    );
    assert!(
        text.contains("DeviceManagementManagedDevices.Read.All"),
        "{text}"
    );
    assert!(!text.contains("fef.msuc02"), "{text}");
    // Core renews the token once after any 401 before giving up.
    token.assert_calls_async(2).await;
    graph.assert_calls_async(2).await;
    sealed.verify().await;
}

#[tokio::test]
async fn the_unknown_error_forbidden_form_with_http_403_is_forbidden() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        VALIDATE_QUERY,
        403,
        "graph_error_unknown_error_nested_forbidden.json",
    )
    .await;
    let sealed = env.seal().await;

    let err = env.provider().validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert!(
        err.to_string()
            .contains("DeviceManagementManagedDevices.Read.All"),
        "{err}"
    );
    sealed.verify().await;
}

#[tokio::test]
async fn a_404_is_not_found_with_graphs_detail() {
    let env = Env::start().await;
    env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            404,
            "graph_error_404_resource_not_found.json",
        )
        .await;
    let sealed = env.seal().await;

    let err = env.provider().validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(err.category(), Category::NotFound);
    assert_eq!(
        err.to_string(),
        "Microsoft Intune validate: HTTP 404 Not Found: ResourceNotFound: Resource not found for the segment 'deviceManagement'."
    );
    graph.assert_calls_async(1).await;
    sealed.verify().await;
}

#[tokio::test]
async fn a_429_waits_for_retry_after_then_succeeds() {
    let env = Env::start().await;
    env.token_ok().await;
    let throttled = env
        .graph_reply(
            DEVICES_PATH,
            VALIDATE_QUERY,
            Reply::new(429, env.fixture("graph_error_429_too_many_requests.json"))
                .header("retry-after", "1")
                .times(1),
        )
        .await;
    let ok = env
        .graph_get(
            DEVICES_PATH,
            VALIDATE_QUERY,
            200,
            "managed_devices_validate_top1.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider();

    let started = Instant::now();
    intune.validate().await.unwrap();

    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured"
    );
    throttled.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
    assert_eq!(intune.request_count(), 3);
    sealed.verify().await;
}

#[tokio::test]
async fn a_429_that_persists_is_rate_limited_with_graphs_detail() {
    let env = Env::start().await;
    env.token_ok().await;
    let graph = env
        .graph_reply(
            DEVICES_PATH,
            VALIDATE_QUERY,
            Reply::new(429, env.fixture("graph_error_429_too_many_requests.json"))
                .header("retry-after", "0"),
        )
        .await;
    let sealed = env.seal().await;

    let err = env
        .provider_with(&quick_retries(3))
        .validate()
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.category(), Category::Server);
    assert_eq!(err.retry_after(), Some(Duration::ZERO));
    assert!(!err.is_retryable(), "retries already ran out");
    assert!(
        err.to_string()
            .contains("HTTP 429 Too Many Requests: TooManyRequests: Too many requests"),
        "{err}"
    );
    graph.assert_calls_async(3).await;
    sealed.verify().await;
}

#[tokio::test]
async fn a_500_is_a_server_error_after_the_retries() {
    let env = Env::start().await;
    env.token_ok().await;
    let graph = env
        .graph_get(
            DEVICES_PATH,
            &[("$select", DEVICE_FIELDS)],
            500,
            "graph_error_500_internal_server_error.json",
        )
        .await;
    let sealed = env.seal().await;
    let intune = env.provider_with(&quick_retries(3));

    let err = intune
        .list_devices_page(&mdmkit_core::PageRequest::NextLink { url: None })
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.category(), Category::Server);
    assert_eq!(err.operation(), Some("list_devices"));
    assert_eq!(
        err.to_string(),
        "Microsoft Intune list_devices: HTTP 500 Internal Server Error: InternalServerError: An internal server error occurred while processing the request."
    );
    graph.assert_calls_async(3).await;
    // One token for all attempts.
    assert_eq!(intune.request_count(), 4);
    no_secrets(&env, &err);
    sealed.verify().await;
}

#[tokio::test]
async fn a_lookup_refusal_names_the_operation_and_permission() {
    let env = Env::start().await;
    env.token_ok().await;
    env.graph_get(
        DEVICES_PATH,
        &[
            ("$filter", "serialNumber eq 'C02XK0AAJG5J'"),
            ("$select", DEVICE_FIELDS),
        ],
        403,
        "graph_error_403_forbidden_json_string.json",
    )
    .await;
    let sealed = env.seal().await;

    let err = env
        .provider()
        .devices_by_serial(&mdmkit_core::SerialNumber::parse("C02XK0AAJG5J").unwrap())
        .await
        .unwrap_err();

    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.operation(), Some("device_by_serial"));
    assert!(
        err.to_string()
            .contains("DeviceManagementManagedDevices.Read.All"),
        "{err}"
    );
    sealed.verify().await;
}
