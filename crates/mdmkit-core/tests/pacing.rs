//! Pacing from what the server says, through the real [`HttpClient`] against a loopback server: an
//! exhausted `X-RateLimit-Remaining` holds the next request until the reset, a `429`'s `Retry-After`
//! holds every request of that server (and of no other server or tenant), a pause that does not fit the
//! retry budget ends the request unsent, and a server that sends nothing is never waited for.

mod support;

use std::time::{Duration, Instant};

use mdmkit_core::http::{ClientOptions, HttpClient, LimitRegistry, RetryConfig, ServerKey};
use mdmkit_core::{ErrorKind, ProviderKind, SecretString, Url};
use support::{Reply, Server};

fn options(retry: RetryConfig) -> ClientOptions {
    ClientOptions {
        retry,
        limit_registry: LimitRegistry::new(),
        ..ClientOptions::for_local_testing()
    }
}

/// One SimpleMDM tenant (an API key) on `server`.
fn tenant(server: &Server, key: &str, opts: &ClientOptions) -> HttpClient {
    let base = Url::parse(&server.url()).unwrap();
    let key = ServerKey::credential(
        ProviderKind::SimpleMdm,
        &base,
        &SecretString::from(key.to_owned()),
        None,
    );
    HttpClient::for_server(ProviderKind::SimpleMdm, base, key, opts).unwrap()
}

/// `X-RateLimit-Remaining: 0` with a reset one second away: the next request to that server waits for
/// the reset, then goes; the one after it (the server described no new window) goes at once.
#[tokio::test]
async fn an_exhausted_window_holds_the_next_request_until_its_reset() {
    let server = Server::start(|i, _| {
        let reply = Reply::json(200, "{}");
        if i == 0 {
            reply
                .with_header("X-RateLimit-Limit", "10")
                .with_header("X-RateLimit-Remaining", "0")
                .with_header("X-RateLimit-Reset", "1")
        } else {
            reply
        }
    })
    .await;
    let http = tenant(&server, "k", &options(RetryConfig::none()));
    http.get("x").send().await.unwrap();
    let pacing = http.server_limits().pacing();
    assert_eq!(pacing.remaining, Some(0), "{pacing:?}");
    assert_eq!(pacing.waits, 0);

    let started = Instant::now();
    http.get("x").send().await.unwrap();
    let pacing = http.server_limits().pacing();
    assert_eq!(pacing.waits, 1, "the second request waited: {pacing:?}");
    assert!(
        pacing.waited >= Duration::from_millis(900),
        "for the reset: {pacing:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(pacing.remaining, None, "the window reset");

    http.get("x").send().await.unwrap();
    assert_eq!(http.server_limits().pacing().waits, 1, "no wait after it");
    assert_eq!(server.hits(), 3);
}

/// A `429` with `Retry-After` for one tenant pauses that tenant's other requests, not another tenant's
/// on the same host; a paused tenant's request waits and then succeeds.
#[tokio::test]
async fn a_retry_after_pauses_its_own_server_key_and_no_other() {
    let server = Server::start(|_, req| match req.target.as_str() {
        "/throttled" => {
            Reply::json(429, r#"{"error":"slow down"}"#).with_header("Retry-After", "1")
        }
        _ => Reply::json(200, "{}"),
    })
    .await;
    let opts = options(RetryConfig::none());
    let a = tenant(&server, "key-a", &opts);
    let a_again = tenant(&server, "key-a", &opts);
    let b = tenant(&server, "key-b", &opts);

    let err = a.get("throttled").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let paused = a.server_limits().pacing().paused_for.expect("a is paused");
    assert!(paused <= Duration::from_secs(1), "{paused:?}");
    assert!(a_again.server_limits().pacing().paused_for.is_some());
    assert_eq!(b.server_limits().pacing().paused_for, None);

    // The other tenant goes at once.
    b.get("x").send().await.unwrap();
    assert_eq!(b.server_limits().pacing().waits, 0);
    // Another client of the paused tenant waits for the pause, then succeeds.
    a_again.get("x").send().await.unwrap();
    let pacing = a.server_limits().pacing();
    assert_eq!(pacing.waits, 1, "{pacing:?}");
    assert!(pacing.waited > Duration::from_millis(500), "{pacing:?}");
    assert_eq!(pacing.paused_for, None);
    assert_eq!(server.hits(), 3);
}

/// A pause longer than what is left of the retry budget is not waited out: the request ends at once,
/// unsent, as rate limited with the server's wait.
#[tokio::test]
async fn a_pause_beyond_the_budget_ends_requests_unsent() {
    let server = Server::start(|i, _| {
        if i == 0 {
            Reply::json(429, "{}").with_header("Retry-After", "3600")
        } else {
            Reply::json(200, "{}")
        }
    })
    .await;
    let retry = RetryConfig {
        max_attempts: 3,
        budget: Duration::from_secs(5),
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    };
    let http = tenant(&server, "k", &options(retry));
    let err = http.get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(server.hits(), 1);
    let started = Instant::now();
    let err = http.get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    let wait = err.retry_after().expect("the server's wait");
    assert!(wait > Duration::from_secs(3500), "{wait:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.hits(), 1, "not sent");
    assert_eq!(http.server_limits().pacing().refused, 1);
}

/// Many requests left: full speed, no waits, even with concurrency.
#[tokio::test]
async fn plenty_remaining_means_no_waits() {
    let server = Server::start(|i, _| {
        Reply::json(200, "{}")
            .with_header("X-RateLimit-Limit", "10000")
            .with_header("X-RateLimit-Remaining", &(9_000 - i).to_string())
            .with_header("X-RateLimit-Reset", "60")
    })
    .await;
    let http = tenant(&server, "k", &options(RetryConfig::none()));
    let calls = (0..40).map(|_| http.get("x").send());
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    let pacing = http.server_limits().pacing();
    assert_eq!(pacing.waits, 0, "{pacing:?}");
    assert!(pacing.remaining.is_some_and(|r| r < 9_000), "{pacing:?}");
}

/// Hostile rate-limit headers on every answer never panic, never hang, and never make a request wait
/// longer than its budget allows.
#[tokio::test]
async fn hostile_rate_limit_headers_never_panic_or_hang() {
    let values = [
        "-1",
        "NaN",
        "inf",
        "1e308",
        "18446744073709551615",
        "99999999999999999999999",
        "abc",
        "",
        "0.000001",
    ];
    for (n, value) in values.into_iter().enumerate() {
        let server = Server::start(move |_, _| {
            Reply::json(if n % 2 == 0 { 200 } else { 429 }, "{}")
                .with_header("X-RateLimit-Limit", value)
                .with_header("X-RateLimit-Remaining", value)
                .with_header("X-RateLimit-Reset", value)
                .with_header("Retry-After", value)
        })
        .await;
        let retry = RetryConfig {
            max_attempts: 2,
            budget: Duration::from_secs(2),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        };
        let http = tenant(&server, "k", &options(retry));
        for _ in 0..3 {
            let outcome = tokio::time::timeout(Duration::from_secs(30), http.get("x").send())
                .await
                .expect("no hang");
            if let Err(e) = outcome {
                assert_eq!(e.kind(), ErrorKind::RateLimited, "{value:?}: {e}");
            }
        }
    }
}
