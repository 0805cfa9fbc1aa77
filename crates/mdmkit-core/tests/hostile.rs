//! Hostile numbers and token bodies from a real loopback server through the real [`HttpClient`]: every
//! server-chosen number ends in a categorised error or a sane result, never a panic, never a hang, and a
//! successful token response is never quoted.

mod support;

use std::sync::Arc;
use std::time::Duration;

use mdmkit_core::http::{
    ClientCredentials, ClientOptions, HttpClient, RetryConfig, TokenCache, MAX_SERVER_WAIT,
};
use mdmkit_core::{Category, ErrorKind, ExposeSecret, ProviderKind, SecretString, Url};
use support::{Reply, Server};

/// Hang guard only: every case here ends in milliseconds unless it sleeps on a server's number.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Retries on, with a budget that no hostile wait fits in (any wait the client does take is short).
fn options() -> ClientOptions {
    ClientOptions {
        retry: RetryConfig {
            max_attempts: 3,
            budget: Duration::from_secs(5),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(5),
        },
        ..ClientOptions::for_local_testing()
    }
}

fn client(server: &Server) -> HttpClient {
    HttpClient::new(
        ProviderKind::SimpleMdm,
        Url::parse(&server.url()).unwrap(),
        &options(),
    )
    .unwrap()
}

async fn guarded<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, f)
        .await
        .expect("no hang on a hostile number")
}

/// The exact input of the issue: `Retry-After: u64::MAX` on a 429 that arrives a second or more after
/// the request started (the old code added the wait to the elapsed time and overflowed).
#[tokio::test]
async fn retry_after_u64_max_after_a_second_ends_the_request_at_once() {
    let server = Server::start_slow(Duration::from_millis(1100), |_, _| {
        Reply::json(429, r#"{"message":"slow down"}"#)
            .with_header("Retry-After", "18446744073709551615")
    })
    .await;
    let err = guarded(client(&server).get("x").send()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.retry_after(), Some(MAX_SERVER_WAIT));
    assert!(!err.is_retryable(), "the wait does not fit: final");
    assert_eq!(server.hits(), 1, "neither slept nor retried");
}

/// The exact inputs of the issue: `X-RateLimit-Reset: 100000000000000000000` and `1e20` on an error
/// status (the old code built a `Duration` from the float and panicked).
#[tokio::test]
async fn rate_limit_resets_beyond_any_clock_end_the_request_at_once() {
    for (status, reset, kind) in [
        (503, "100000000000000000000", ErrorKind::Server),
        (503, "1e20", ErrorKind::Server),
        (429, "1e20", ErrorKind::RateLimited),
        (500, "1.7976931348623157e308", ErrorKind::Server),
    ] {
        let server = Server::start(move |_, _| {
            Reply::json(status, "{}").with_header("X-RateLimit-Reset", reset)
        })
        .await;
        let err = guarded(client(&server).get("x").send()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{reset}: {err}");
        assert_eq!(err.retry_after(), Some(MAX_SERVER_WAIT), "{reset}");
        assert_eq!(server.hits(), 1, "{reset}");
    }
}

// Every other hostile wait header, on a 429 and a 503 from every endpoint of every provider, is the
// conformance check `hostile_wait_headers_end_in_the_status_category` (mdmkit-testkit).

fn token_reply(expires_in: &'static str) -> impl Fn(usize, &support::Recorded) -> Reply {
    move |i, _| {
        Reply::json(
            200,
            &format!(
                r#"{{"access_token":"token-{i}","token_type":"Bearer","expires_in":{expires_in}}}"#
            ),
        )
    }
}

fn token_cache(server: &Server) -> TokenCache {
    let http = client(server);
    let urls = vec![Url::parse(&format!("{}oauth/token", server.url())).unwrap()];
    let cc = ClientCredentials::new(http, urls, "client", SecretString::from("s".to_owned()));
    TokenCache::new(Arc::new(cc))
}

/// The exact input of the issue: `expires_in: 18446744073709551615` (the old code added it to an
/// `Instant` and panicked). The token is used, and cached rather than fetched per request.
#[tokio::test]
async fn a_token_living_u64_max_seconds_is_used_and_cached() {
    let server = Server::start(token_reply("18446744073709551615")).await;
    let cache = token_cache(&server);
    let (first, _) = guarded(cache.token()).await.unwrap();
    let (second, _) = guarded(cache.token()).await.unwrap();
    assert_eq!(first.expose_secret(), "token-0");
    assert_eq!(second.expose_secret(), "token-0");
    assert_eq!(server.hits(), 1);
}

/// `expires_in` of zero, missing, negative, fractional or text: a token that is used, or an
/// invalid-response error (a Server error to users); never a panic.
#[tokio::test]
async fn other_hostile_token_lifetimes_are_used_or_refused_cleanly() {
    for (expires_in, usable) in [
        ("0", true),
        ("1", true),
        ("null", true),
        ("-1", false),
        ("-18446744073709551615", false),
        ("1e20", false),
        ("\"3600\"", false),
        ("100000000000000000000", false),
    ] {
        let server = Server::start(token_reply(expires_in)).await;
        let cache = token_cache(&server);
        match guarded(cache.token()).await {
            Ok((token, _)) => {
                assert!(usable, "{expires_in}");
                assert_eq!(token.expose_secret(), "token-0");
            }
            Err(err) => {
                assert!(!usable, "{expires_in}: {err}");
                assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{expires_in}");
                assert_eq!(err.category(), Category::Server);
                assert!(err.message().contains("expires_in"), "{err}");
                assert!(!err.to_string().contains("token-0"), "{err}");
            }
        }
    }
    // Missing altogether: the default lifetime.
    let server = Server::start(|_, _| {
        Reply::json(200, r#"{"access_token":"token-0","token_type":"Bearer"}"#)
    })
    .await;
    let cache = token_cache(&server);
    cache.token().await.unwrap();
    cache.token().await.unwrap();
    assert_eq!(server.hits(), 1);
}

/// Defect 6: a 2xx token response that is not a usable token response is described, never quoted; it
/// may be the token itself.
#[tokio::test]
async fn a_successful_token_response_is_never_quoted() {
    const SECRET: &str = "eyJhbGciOiJIUzI1NiJ9.SECRET-TOKEN-BODY";
    let bodies: Vec<(u16, &'static str, String)> = vec![
        (200, "text/plain", SECRET.to_owned()),
        (200, "application/json", SECRET.to_owned()),
        (200, "application/json", format!("\"{SECRET}\"")),
        (
            200,
            "application/json",
            format!(r#"{{"message":"{SECRET}"}}"#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"error":"{SECRET}"}}"#),
        ),
        (
            200,
            "application/json",
            format!(
                r#"{{"access_token":"{SECRET}","token_type":"Bearer","expires_in":"{SECRET}"}}"#
            ),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"access_token":"{SECRET}""#),
        ),
        (
            200,
            "application/json",
            format!(r#"{{"access_token":["{SECRET}"],"token_type":"Bearer"}}"#),
        ),
        (200, "", format!("<html><title>{SECRET}</title></html>")),
        (
            201,
            "application/json",
            format!(r#"{{"access_token":"{SECRET}","token_type":"Bearer"}}"#),
        ),
        (201, "", SECRET.to_owned()),
    ];
    for (status, content_type, body) in bodies {
        let server = Server::start(move |_, _| {
            let headers = match content_type {
                "" => vec![],
                ct => vec![("content-type".to_owned(), ct.to_owned())],
            };
            Reply::Send(status, headers, body.clone().into_bytes())
        })
        .await;
        let cache = token_cache(&server);
        let err = guarded(cache.token()).await.unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("SECRET-TOKEN-BODY"), "{status}: {shown}");
        assert_eq!(err.category(), Category::Server, "{status}: {shown}");
    }
}
