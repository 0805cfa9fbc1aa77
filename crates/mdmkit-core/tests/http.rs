//! The shared HTTP machinery against real sockets on loopback.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use mdmkit_core::http::{
    BearerToken, ClientCredentials, ClientOptions, HostPolicy, HttpClient, OAuthBearer, RateLimit,
    RetryConfig, TokenCache, TokenSource,
};
use mdmkit_core::{Category, ErrorKind, ProviderKind, SecretString, Url};
use support::{Reply, Server};

fn options() -> ClientOptions {
    ClientOptions::for_local_testing()
}

fn no_retry() -> ClientOptions {
    ClientOptions {
        retry: RetryConfig::none(),
        ..options()
    }
}

fn client(server: &Server, options: &ClientOptions) -> HttpClient {
    HttpClient::new(
        ProviderKind::Fleet,
        Url::parse(&server.url()).unwrap(),
        options,
    )
    .unwrap()
}

#[tokio::test]
async fn statuses_map_to_kinds_and_categories() {
    let server = Server::start(|_, req| {
        let status: u16 = req.target.trim_start_matches('/').parse().unwrap();
        Reply::json(status, r#"{"message":"vendor says no"}"#)
    })
    .await;
    let http = client(&server, &no_retry());
    let cases = [
        (401, ErrorKind::Unauthorized, Category::Unauthorized),
        (403, ErrorKind::Forbidden, Category::Forbidden),
        (404, ErrorKind::NotFound, Category::NotFound),
        (500, ErrorKind::Server, Category::Server),
        (502, ErrorKind::Server, Category::Server),
        (503, ErrorKind::Server, Category::Server),
    ];
    for (status, kind, category) in cases {
        let err = http
            .get(&status.to_string())
            .operation("validate")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{status}");
        assert_eq!(err.category(), category, "{status}");
        assert_eq!(err.status(), Some(status));
        let text = err.to_string();
        assert!(text.starts_with("Fleet validate: HTTP "), "{text}");
        assert!(text.contains("vendor says no"), "{text}");
    }
}

#[tokio::test]
async fn connection_refused_is_connection_failed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let http = HttpClient::new(
        ProviderKind::Jamf,
        Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        &no_retry(),
    )
    .unwrap();
    let err = http.get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionFailed, "{err}");
    assert_eq!(err.category(), Category::ConnectionFailed);
    assert!(err.is_retryable() || err.kind() == ErrorKind::ConnectionFailed);
}

#[tokio::test]
async fn unresolvable_host_is_connection_failed() {
    let http = HttpClient::new(
        ProviderKind::Fleet,
        Url::parse("http://no-such-host.invalid/").unwrap(),
        &no_retry(),
    )
    .unwrap();
    let err = http.get("x").send().await.unwrap_err();
    assert_eq!(err.category(), Category::ConnectionFailed, "{err}");
}

#[tokio::test]
async fn self_signed_tls_is_ssl_error_until_its_ca_is_trusted() {
    let (acceptor, ca_pem) = support::tls_acceptor();
    let server = Server::start_tls(acceptor, |_, _| Reply::json(200, r#"{"ok":true}"#)).await;
    let url = Url::parse(&format!("https://localhost:{}/", server.port)).unwrap();

    let http = HttpClient::new(ProviderKind::Jamf, url.clone(), &no_retry()).unwrap();
    let err = http.get("ping").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Ssl, "{err}");
    assert_eq!(err.category(), Category::Ssl);
    assert!(!err.is_retryable());

    let trusted = ClientOptions {
        extra_root_ca_pem: Some(ca_pem),
        ..no_retry()
    };
    let http = HttpClient::new(ProviderKind::Jamf, url, &trusted).unwrap();
    let body: serde_json::Value = http.get("ping").json().await.unwrap();
    assert_eq!(body["ok"], true);
}

#[tokio::test]
async fn a_bad_extra_ca_is_a_configuration_error() {
    let opts = ClientOptions {
        extra_root_ca_pem: Some("not a certificate".into()),
        ..options()
    };
    let err = HttpClient::new(
        ProviderKind::Jamf,
        Url::parse("https://a.example/").unwrap(),
        &opts,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = Server::start(|_, _| Reply::Hang).await;
    let opts = ClientOptions {
        request_timeout: Duration::from_millis(300),
        ..no_retry()
    };
    let started = Instant::now();
    let err = client(&server, &opts).get("slow").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    assert_eq!(err.category(), Category::ConnectionFailed);
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn retries_503_twice_then_succeeds() {
    let server = Server::start(|i, _| match i {
        0 | 1 => Reply::json(503, r#"{"message":"busy"}"#),
        _ => Reply::json(200, r#"{"n":1}"#),
    })
    .await;
    let body: serde_json::Value = client(&server, &options()).get("x").json().await.unwrap();
    assert_eq!(body["n"], 1);
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn gives_up_after_the_attempt_limit_and_marks_the_error_final() {
    let server = Server::start(|_, _| Reply::json(500, "{}")).await;
    let opts = ClientOptions {
        retry: RetryConfig {
            max_attempts: 3,
            ..options().retry
        },
        ..options()
    };
    let err = client(&server, &opts).get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(
        !err.is_retryable(),
        "retries ran out: outer layers must not retry again"
    );
    assert_eq!(server.hits(), 3);
}

#[tokio::test]
async fn the_retry_budget_bounds_total_time() {
    let server =
        Server::start(|_, _| Reply::json(503, "{}").with_header("retry-after", "30")).await;
    let opts = ClientOptions {
        retry: RetryConfig {
            budget: Duration::from_secs(2),
            ..options().retry
        },
        ..options()
    };
    let started = Instant::now();
    let err = client(&server, &opts).get("x").send().await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.hits(), 1, "a 30 s wait does not fit a 2 s budget");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn honours_retry_after_on_429() {
    let server = Server::start(|i, _| match i {
        0 => Reply::json(429, r#"{"message":"slow down"}"#).with_header("Retry-After", "1"),
        _ => Reply::json(200, "[]"),
    })
    .await;
    let started = Instant::now();
    client(&server, &options()).get("x").send().await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn honours_x_ratelimit_reset_when_there_is_no_retry_after() {
    let server = Server::start(|i, _| match i {
        0 => Reply::json(429, "{}").with_header("X-RateLimit-Reset", "1"),
        _ => Reply::json(200, "[]"),
    })
    .await;
    let started = Instant::now();
    client(&server, &options()).get("x").send().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn a_post_is_not_retried() {
    let server = Server::start(|_, _| Reply::json(503, "{}")).await;
    let err = client(&server, &options())
        .request(reqwest::Method::POST, "things")
        .form(&[("a", "b")])
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn never_retries_401_403_404() {
    for status in [401, 403, 404] {
        let server = Server::start(move |_, _| Reply::json(status, "{}")).await;
        let http = client(&server, &options()).with_auth(Arc::new(BearerToken::new("t".into())));
        http.get("x").send().await.unwrap_err();
        assert_eq!(server.hits(), 1, "{status}");
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_refused() {
    let big = "x".repeat(4096);
    let server =
        Server::start(move |_, _| Reply::Send(200, vec![], format!("\"{big}\"").into_bytes()))
            .await;
    let opts = ClientOptions {
        max_body_bytes: 1024,
        ..no_retry()
    };
    let err = client(&server, &opts).get("big").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("1024-byte limit"), "{err}");
}

#[tokio::test]
async fn a_streamed_body_over_the_cap_is_refused() {
    // A raw chunked response without content-length.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 2048];
        let _ = s.read(&mut buf).await;
        let _ = s
            .write_all(
                b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
            )
            .await;
        for _ in 0..64 {
            let chunk = "y".repeat(512);
            let _ = s
                .write_all(format!("{:x}\r\n{chunk}\r\n", chunk.len()).as_bytes())
                .await;
        }
        let _ = s.write_all(b"0\r\n\r\n").await;
    });
    let opts = ClientOptions {
        max_body_bytes: 4096,
        ..no_retry()
    };
    let http = HttpClient::new(
        ProviderKind::Iru,
        Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap(),
        &opts,
    )
    .unwrap();
    let err = http.get("stream").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("4096-byte limit"));
}

#[tokio::test]
async fn malformed_json_and_html_pages_are_invalid_responses_naming_provider_and_operation() {
    let server = Server::start(|i, _| match i {
        0 => Reply::json(200, r#"{"results": [1, 2"#),
        _ => Reply::Send(
            200,
            vec![("content-type".into(), "text/html".into())],
            b"<!DOCTYPE html><html><head><title>Sign in to Acme SSO</title></head><body>...</body></html>".to_vec(),
        ),
    })
    .await;
    let http = client(&server, &no_retry());
    let err = http
        .get("devices")
        .operation("list_devices")
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.category(), Category::Server);
    let text = err.to_string();
    assert!(
        text.starts_with("Fleet list_devices: expected JSON"),
        "{text}"
    );

    let err = http
        .get("devices")
        .operation("list_devices")
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(text.starts_with("Fleet list_devices:"), "{text}");
    assert!(
        text.contains("HTML page") && text.contains("Sign in to Acme SSO"),
        "{text}"
    );
}

#[tokio::test]
async fn html_error_pages_give_a_clean_message() {
    let server = Server::start(|_, _| {
        Reply::Send(
            502,
            vec![],
            b"<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>".to_vec(),
        )
    })
    .await;
    let err = client(&server, &no_retry())
        .get("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(
        err.to_string().contains("HTML page (\"502 Bad Gateway\")"),
        "{err}"
    );
    assert!(!err.to_string().contains("<center>"));
}

#[tokio::test]
async fn redirects_are_reported_not_followed() {
    let server = Server::start(|_, _| {
        Reply::Send(
            301,
            vec![("location".into(), "https://elsewhere.example/".into())],
            vec![],
        )
    })
    .await;
    let err = client(&server, &no_retry())
        .get("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(server.hits(), 1);
    assert!(
        err.to_string()
            .contains("redirected to https://elsewhere.example/"),
        "{err}"
    );
}

#[tokio::test]
async fn the_host_policy_refuses_internal_targets_unless_allowed() {
    let strict = ClientOptions {
        host_policy: HostPolicy::strict(),
        ..no_retry()
    };
    for target in [
        "https://127.0.0.1/",
        "https://10.0.0.1/",
        "https://169.254.169.254/",
        "https://[::1]/",
    ] {
        let http =
            HttpClient::new(ProviderKind::Jamf, Url::parse(target).unwrap(), &strict).unwrap();
        let err = http
            .get("api/v1/jamf-pro-version")
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            err.kind(),
            ErrorKind::InvalidConfiguration,
            "{target}: {err}"
        );
        assert!(
            err.to_string().contains("refused by the host policy"),
            "{err}"
        );
        assert_eq!(http.request_count(), 0, "{target}: no request is sent");
    }
    // A name is checked by the address it resolves to.
    let server = Server::start(|_, _| Reply::json(200, "{}")).await;
    let by_name = Url::parse(&format!("https://localhost:{}/", server.port)).unwrap();
    let http = HttpClient::new(ProviderKind::Fleet, by_name, &strict).unwrap();
    let err = http.get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidConfiguration, "{err}");
    assert_eq!(server.hits(), 0);
    // Plain http is refused too.
    let http = HttpClient::new(
        ProviderKind::Fleet,
        Url::parse("http://example.com/").unwrap(),
        &strict,
    )
    .unwrap();
    assert!(http
        .get("x")
        .send()
        .await
        .unwrap_err()
        .to_string()
        .contains("http://"));
    // Allowed: the same loopback server answers.
    let allowed = client(&server, &no_retry());
    allowed.get("x").send().await.unwrap();
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn the_concurrency_limit_holds() {
    let server =
        Server::start_slow(Duration::from_millis(100), |_, _| Reply::json(200, "{}")).await;
    let opts = ClientOptions {
        max_concurrency: Some(2),
        ..options()
    };
    let http = client(&server, &opts);
    let calls = (0..8).map(|_| http.get("x").send());
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(server.hits(), 8);
    assert!(server.max_in_flight() <= 2, "{}", server.max_in_flight());
    assert_eq!(http.request_count(), 8);
}

#[tokio::test]
async fn the_rate_limit_spaces_requests() {
    let server = Server::start(|_, _| Reply::json(200, "{}")).await;
    let opts = ClientOptions {
        rate_limit: Some(RateLimit::new(2, Duration::from_secs(1))),
        ..options()
    };
    let http = client(&server, &opts);
    let started = Instant::now();
    for _ in 0..4 {
        http.get("x").send().await.unwrap();
    }
    // A burst of two, then one every 500 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn secrets_do_not_reach_debug_output_or_the_wire_log() {
    let server = Server::start(|_, _| Reply::json(401, r#"{"message":"bad token"}"#)).await;
    let secret = "tok-SECRET-123";
    let http = client(&server, &no_retry()).with_auth(Arc::new(BearerToken::new(secret.into())));
    let err = http.get("x").send().await.unwrap_err();
    let shown = format!("{http:?} {err:?} {err}");
    assert!(!shown.contains(secret), "{shown}");
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer tok-SECRET-123")
    );
}

fn token_server_reply(req: &support::Recorded, n: usize) -> Reply {
    let body = String::from_utf8_lossy(&req.body).to_string();
    if body.contains("client_secret=right") {
        Reply::json(
            200,
            &format!(r#"{{"access_token":"token-{n}","token_type":"Bearer","expires_in":600}}"#),
        )
    } else {
        Reply::json(
            400,
            r#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        )
    }
}

fn token_cache(server: &Server, secret: &str) -> Arc<TokenCache> {
    let http = client(server, &options());
    let urls = vec![Url::parse(&format!("{}oauth/token", server.url())).unwrap()];
    let cc = ClientCredentials::new(http, urls, "client", SecretString::from(secret.to_owned()));
    Arc::new(TokenCache::new(Arc::new(cc)))
}

#[tokio::test]
async fn fifty_concurrent_callers_cause_one_token_request() {
    let server = Server::start_slow(Duration::from_millis(50), |i, req| {
        token_server_reply(req, i)
    })
    .await;
    let cache = token_cache(&server, "right");
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.token().await.map(|(_, stamp)| stamp) })
        })
        .collect();
    let mut stamps = Vec::new();
    for t in tasks {
        stamps.push(t.await.unwrap().unwrap());
    }
    assert_eq!(server.hits(), 1);
    assert!(stamps.iter().all(|s| *s == stamps[0]));
    assert_eq!(cache.fetch_count(), 1);
    // The secret went in the form body, not in an Authorization header.
    let req = &server.requests()[0];
    assert_eq!(req.header("authorization"), None);
    let body = String::from_utf8_lossy(&req.body);
    assert!(
        body.contains("grant_type=client_credentials") && body.contains("client_id=client"),
        "{body}"
    );
}

#[tokio::test]
async fn a_refused_token_request_is_unauthorized() {
    let server = Server::start(|i, req| token_server_reply(req, i)).await;
    let cache = token_cache(&server, "wrong-secret");
    let err = cache.token().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized, "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("invalid_client"), "{text}");
    assert!(!text.contains("wrong-secret"), "{text}");
}

#[tokio::test]
async fn the_token_url_falls_back_on_404() {
    let server = Server::start(|i, req| {
        if req.target.starts_with("/api/v1/") {
            Reply::Send(
                404,
                vec![],
                b"<html><title>Not Found</title></html>".to_vec(),
            )
        } else {
            token_server_reply(req, i)
        }
    })
    .await;
    let http = client(&server, &options());
    let base = Url::parse(&server.url()).unwrap();
    let urls = vec![
        base.join("api/v1/oauth/token").unwrap(),
        base.join("api/oauth/token").unwrap(),
    ];
    let cc = ClientCredentials::new(http, urls, "client", SecretString::from("right".to_owned()));
    let cc = Arc::new(cc);
    cc.fetch_token().await.unwrap();
    let targets: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, ["/api/v1/oauth/token", "/api/oauth/token"]);
    // The URL that worked is remembered: a renewal costs no second 404.
    cc.fetch_token().await.unwrap();
    let targets: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets.len(), 3);
    assert_eq!(targets[2], "/api/oauth/token");
}

#[tokio::test]
async fn a_401_mid_run_refreshes_the_token_once_and_retries() {
    let token_server = Server::start(|i, req| token_server_reply(req, i)).await;
    let cache = token_cache(&token_server, "right");
    let api = Server::start(|_, req| {
        if req.header("authorization") == Some("Bearer token-0") {
            Reply::json(
                401,
                r#"{"httpStatus":401,"errors":[{"code":"INVALID_TOKEN"}]}"#,
            )
        } else {
            Reply::json(200, r#"{"ok":true}"#)
        }
    })
    .await;
    let http = client(&api, &options()).with_auth(Arc::new(OAuthBearer::new(cache.clone())));
    let body: serde_json::Value = http.get("x").json().await.unwrap();
    assert_eq!(body["ok"], true);
    assert_eq!(token_server.hits(), 2);
    assert_eq!(api.hits(), 2);

    // A 401 that persists with a fresh token is reported, after exactly one refresh.
    let always = Server::start(|_, _| Reply::json(401, "{}")).await;
    let http = client(&always, &options()).with_auth(Arc::new(OAuthBearer::new(cache.clone())));
    let err = http.get("x").send().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(always.hits(), 2);
    assert_eq!(token_server.hits(), 3);
}

#[tokio::test]
async fn an_expired_token_is_renewed_before_use() {
    let server = Server::start(|i, _| {
        Reply::json(
            200,
            &format!(r#"{{"access_token":"t{i}","token_type":"Bearer","expires_in":1}}"#),
        )
    })
    .await;
    let cache = token_cache(&server, "right");
    let (a, _) = cache.token().await.unwrap();
    let (b, _) = cache.token().await.unwrap();
    use mdmkit_core::ExposeSecret;
    assert_eq!(a.expose_secret(), b.expose_secret(), "still fresh");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (c, _) = cache.token().await.unwrap();
    assert_ne!(a.expose_secret(), c.expose_secret());
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn next_links_to_another_host_are_refused() {
    let server = Server::start(|_, _| Reply::json(200, "{}")).await;
    let http = client(&server, &no_retry());
    let err = http
        .get_absolute("https://evil.example/steal")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(server.hits(), 0);
    http.get_absolute(&format!("{}v1.0/next?$skiptoken=abc", server.url()))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn query_values_are_percent_encoded() {
    let server = Server::start(|_, _| Reply::json(200, "{}")).await;
    client(&server, &no_retry())
        .get("v1.0/deviceManagement/managedDevices")
        .query("$filter", "serialNumber eq 'O''BRIEN'")
        .query("filter", "hardware.serialNumber==\"C02\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        server.requests()[0].target,
        "/v1.0/deviceManagement/managedDevices?$filter=serialNumber%20eq%20%27O%27%27BRIEN%27&filter=hardware.serialNumber%3D%3D%22C02%22"
    );
}

#[test]
fn path_segments_cannot_add_segments_a_query_or_a_fragment() {
    use mdmkit_core::http::path_segment;
    assert_eq!(path_segment("C02X/Y?Z#1"), "C02X%2FY%3FZ%231");
    assert_eq!(path_segment("A B+%"), "A%20B%2B%25");
    assert_eq!(path_segment("ABC-1.2_3~"), "ABC-1.2_3~");
    assert_eq!(path_segment(".."), "%2E%2E");
    assert_eq!(path_segment("."), "%2E");
}
