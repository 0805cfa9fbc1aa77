//! Error statuses with Fleet's error body: the right kind, R8 category and a readable message; retries;
//! secrets never shown.

mod common;

use common::*;
use httpmock::{Method::GET, MockServer};
use mdmkit_core::http::ClientOptions;
use mdmkit_core::{Category, ErrorKind, MdmProvider, MdmProviderExt, SerialNumber};

struct Case {
    status: u16,
    body: String,
    kind: ErrorKind,
    category: Category,
    needles: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            status: 401,
            body: fixture("error_401_authentication_required.json"),
            kind: ErrorKind::Unauthorized,
            category: Category::Unauthorized,
            needles: &["HTTP 401", "Authentication required", "API-only"],
        },
        Case {
            status: 403,
            body: fixture("error_403_forbidden.json"),
            kind: ErrorKind::Forbidden,
            category: Category::Forbidden,
            needles: &["HTTP 403", "Permission Denied: forbidden"],
        },
        Case {
            status: 404,
            body: fixture("error_404_host_not_found.json"),
            kind: ErrorKind::NotFound,
            category: Category::NotFound,
            needles: &[
                "HTTP 404",
                "Resource Not Found: Host was not found in the datastore",
            ],
        },
        Case {
            status: 404,
            body: fixture("not_found_page.html"),
            kind: ErrorKind::InvalidConfiguration,
            category: Category::NotFound,
            needles: &["HTTP 404", "404 Not Found", "not the Fleet API"],
        },
        Case {
            status: 422,
            body: fixture("error_422_invalid_per_page.json"),
            kind: ErrorKind::InvalidConfiguration,
            category: Category::NotFound,
            needles: &["HTTP 422", "Bad request: per_page: invalid per_page value"],
        },
        Case {
            status: 429,
            body: fixture("error_429_limit_exceeded.json"),
            kind: ErrorKind::RateLimited,
            category: Category::Server,
            needles: &["HTTP 429", "limit exceeded, retry after: 1s"],
        },
        Case {
            status: 500,
            body: fixture("error_500_internal.json"),
            kind: ErrorKind::Server,
            category: Category::Server,
            needles: &[
                "HTTP 500",
                "internal server error: get host by identifier: database is locked",
            ],
        },
    ]
}

#[tokio::test]
async fn validate_maps_every_error_status() {
    for case in cases() {
        let server = MockServer::start_async().await;
        let me = server
            .mock_async(|when, then| {
                when.method(GET).path("/api/v1/fleet/me");
                then.status(case.status)
                    .header("content-type", "application/json")
                    .body(&case.body);
            })
            .await;
        let unexpected = catch_all(&server).await;
        let fleet = provider(&server);

        let err = fleet.validate().await.unwrap_err();
        assert_eq!(err.kind(), case.kind, "{}: {err}", case.status);
        assert_eq!(err.category(), case.category, "{}: {err}", case.status);
        assert_eq!(err.status(), Some(case.status));
        assert_eq!(err.operation(), Some("validate"));
        let text = err.to_string();
        assert!(text.starts_with("Fleet validate: "), "{text}");
        for needle in case.needles {
            assert!(
                text.contains(needle),
                "{}: {text:?} lacks {needle:?}",
                case.status
            );
        }
        assert!(!text.contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
        me.assert_calls_async(1).await;
        unexpected.assert_calls_async(0).await;
    }
}

#[tokio::test]
async fn list_and_lookup_errors_name_their_operation() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            hosts_list(when, 0, 100);
            then.status(403).body(fixture("error_403_forbidden.json"));
        })
        .await;
    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/api/v1/fleet/hosts/identifier/C0124FXASD6G");
            then.status(401)
                .body(fixture("error_401_authentication_required.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider(&server);

    let err = fleet.all_devices().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(err.operation(), Some("list_devices"));
    assert!(err.to_string().contains("Permission Denied"), "{err}");

    let serial = SerialNumber::parse("C0124FXASD6G").unwrap();
    let err = fleet.devices_by_serial(&serial).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.operation(), Some("device_by_serial"));
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_time_fleet_asks_for() {
    let server = MockServer::start_async().await;
    let limited = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(429)
                .header("retry-after", "0")
                .body(fixture("error_429_limit_exceeded.json"));
        })
        .await;
    limited.up_to_n_times_async(1).await;
    let ok = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(200)
                .body(fixture("me_global_observer_api_only.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let fleet = provider_with(&server, &ClientOptions::for_local_testing());

    fleet.validate().await.unwrap();
    limited.assert_calls_async(1).await;
    ok.assert_calls_async(1).await;
    assert_eq!(fleet.request_count(), 2);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn server_errors_are_retried_then_reported_as_final() {
    let server = MockServer::start_async().await;
    let failing = server
        .mock_async(|when, then| {
            when.method(GET).path("/api/v1/fleet/me");
            then.status(500).body(fixture("error_500_internal.json"));
        })
        .await;
    let unexpected = catch_all(&server).await;
    let options = ClientOptions::for_local_testing();
    let attempts = options.retry.max_attempts as usize;
    let fleet = provider_with(&server, &options);

    let err = fleet.validate().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(!err.is_retryable(), "retries already ran out");
    failing.assert_calls_async(attempts).await;
    assert_eq!(fleet.request_count(), attempts as u64);
    unexpected.assert_calls_async(0).await;
}

#[tokio::test]
async fn the_token_never_shows_in_debug() {
    let server = MockServer::start_async().await;
    let fleet = provider(&server);
    let shown = format!("{fleet:?} {fleet:#?}");
    assert!(!shown.contains(TOKEN), "{shown}");
    assert!(shown.contains("127.0.0.1"), "the host is shown: {shown}");
}
