//! Error responses in Iru's shapes give the right kind, the R8 category and a readable message.

mod common;

use common::*;
use httpmock::MockServer;
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt, SerialNumber};

struct Case {
    status: u16,
    body: String,
    content_type: &'static str,
    kind: ErrorKind,
    category: Category,
    /// Text the message must contain.
    detail: &'static str,
    /// Requests the validation takes (retries of transient failures included).
    requests: u64,
}

fn json(
    status: u16,
    file: &str,
    kind: ErrorKind,
    category: Category,
    detail: &'static str,
    requests: u64,
) -> Case {
    Case {
        status,
        body: fixture(file),
        content_type: "application/json",
        kind,
        category,
        detail,
        requests,
    }
}

/// Runs `validate` against a server that answers every probe with the case's response.
async fn validate_against(case: &Case) -> mdmkit_core::Error {
    let server = MockServer::start_async().await;
    let probe = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &[("limit", "1")]);
            then.status(case.status)
                .header("content-type", case.content_type)
                .header("retry-after", "0")
                .body(case.body.clone());
        })
        .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let err = iru.validate().await.unwrap_err();

    probe.assert_calls_async(case.requests as usize).await;
    assert_eq!(iru.request_count(), case.requests, "status {}", case.status);
    unexpected.assert_calls_async(0).await;
    err
}

#[tokio::test]
async fn each_status_gives_its_category_and_the_vendors_detail() {
    let cases = [
        json(
            401,
            "error_401_invalid_token.json",
            ErrorKind::Unauthorized,
            Category::Unauthorized,
            "Invalid token.",
            1,
        ),
        json(
            403,
            "error_403_no_permission.json",
            ErrorKind::Forbidden,
            Category::Forbidden,
            "You do not have permission to perform this action.",
            1,
        ),
        json(
            403,
            "error_403_no_credentials.json",
            ErrorKind::Unauthorized,
            Category::Unauthorized,
            "Authentication credentials were not provided.",
            1,
        ),
        Case {
            status: 404,
            body: fixture("error_404_page.html"),
            content_type: "text/html",
            kind: ErrorKind::NotFound,
            category: Category::NotFound,
            detail: "an HTML page (\"Not Found\")",
            requests: 1,
        },
        // Retried (5 attempts in all), then reported.
        json(
            429,
            "error_429_throttled.json",
            ErrorKind::RateLimited,
            Category::Server,
            "Request was throttled.",
            5,
        ),
        json(
            500,
            "error_500_detail.json",
            ErrorKind::Server,
            Category::Server,
            "A server error occurred.",
            5,
        ),
        json(
            400,
            "error_400_string_array.json",
            ErrorKind::InvalidConfiguration,
            Category::NotFound,
            "Device is not in lost mode.",
            1,
        ),
    ];
    for case in &cases {
        let err = validate_against(case).await;
        let shown = err.to_string();
        assert_eq!(err.kind(), case.kind, "{shown}");
        assert_eq!(err.category(), case.category, "{shown}");
        assert_eq!(err.status(), Some(case.status), "{shown}");
        assert_eq!(err.operation(), Some("validate"), "{shown}");
        assert_eq!(err.provider(), Some(mdmkit_core::ProviderKind::Iru));
        assert!(shown.contains(case.detail), "{shown}");
        assert!(
            shown.starts_with("Iru (formerly Kandji) validate: HTTP "),
            "{shown}"
        );
        assert!(
            !shown.contains('<') && !shown.contains('{') && !shown.contains('['),
            "{shown}"
        );
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(!format!("{err:?}").contains(TOKEN));
        assert!(!err.is_retryable(), "retries already ran: {shown}");
    }
}

#[tokio::test]
async fn forbidden_says_to_check_the_tokens_permissions() {
    let err = validate_against(&json(
        403,
        "error_403_no_permission.json",
        ErrorKind::Forbidden,
        Category::Forbidden,
        "permission",
        1,
    ))
    .await;
    assert!(err.message().contains("API Token"), "{err}");
}

#[tokio::test]
async fn a_throttled_request_is_retried_and_then_succeeds() {
    let server = MockServer::start_async().await;
    let throttled = server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &device_page_query("0", &[]));
            then.status(429)
                .header("retry-after", "0")
                .body(fixture("error_429_throttled.json"));
        })
        .await;
    // Only the first request is throttled.
    throttled.up_to_n_times_async(1).await;
    let page = device_page(&server, 0, &[], fixture("devices_documented_example.json")).await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let devices = iru.all_devices().await.unwrap();

    assert_eq!(devices.len(), 2);
    throttled.assert_calls_async(1).await;
    page.assert_calls_async(1).await;
    assert_eq!(iru.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn errors_name_the_operation_that_failed() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            get_exactly(
                when,
                "/api/v1/devices",
                &device_page_query("0", &[("serial_number", "C02ZC2QYLVDL")]),
            );
            then.status(401)
                .body(fixture("error_401_invalid_token.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/devices", &device_page_query("0", &[]));
            then.status(401)
                .body(fixture("error_401_invalid_token.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            get_exactly(when, "/api/v1/tags", &[]);
            then.status(403)
                .body(fixture("error_403_no_permission.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let iru = provider(&server);

    let serial = SerialNumber::parse("C02ZC2QYLVDL").unwrap();
    let err = iru.device_by_serial(&serial).await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::Unauthorized, Some("device_by_serial"))
    );
    let err = iru.all_devices().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::Unauthorized, Some("list_devices"))
    );
    let err = iru.groups().await.unwrap_err();
    assert_eq!(
        (err.kind(), err.operation()),
        (ErrorKind::Forbidden, Some("groups"))
    );
    assert!(
        err.to_string().contains("You do not have permission"),
        "{err}"
    );
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn an_unreachable_host_is_a_connection_failure() {
    // Bind and drop a listener so the port is closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config =
        mdmkit_iru::IruConfig::with_base_url(&format!("http://127.0.0.1:{port}"), TOKEN).unwrap();
    let mut options = mdmkit_core::http::ClientOptions::for_local_testing();
    options.retry = mdmkit_core::http::RetryConfig::none();
    let iru = mdmkit_iru::IruProvider::new(config, &options).unwrap();

    let err = iru.validate().await.unwrap_err();

    assert_eq!(err.category(), Category::ConnectionFailed, "{err}");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn the_default_policy_refuses_a_private_test_server() {
    // Production options refuse plain http and loopback: a customer-supplied base cannot reach the
    // backend's own network.
    let config = mdmkit_iru::IruConfig::with_base_url("http://127.0.0.1:9", TOKEN).unwrap();
    let iru = mdmkit_iru::IruProvider::new(config, &Default::default()).unwrap();

    let err = iru.validate().await.unwrap_err();

    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{err}");
    assert_eq!(iru.request_count(), 0);
}
