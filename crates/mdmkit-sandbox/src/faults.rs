//! Fault injection: a per-provider plan applied to every request before it reaches the simulated API, and
//! the listening faults the servers obey (refused connections, an untrusted certificate).
//!
//! Rates are fractions of requests and are applied deterministically (a rate of 0.25 faults exactly every
//! fourth request), so tests that count requests are repeatable.
//!
//! The rate faults and `latency`, `drip` and `hang` apply to every request. The *API faults* (`status`,
//! `oversized_body`, `revoke_credentials_after`) apply to API requests only: the OAuth token endpoints
//! (Jamf's, Entra's) answer as usual, because their own refusals are simulated by the credentials
//! ([`crate::Access`]), and because a token endpoint is often another service than the API (Entra and
//! Graph), so "the API fails" is the case worth telling apart.

use std::convert::Infallible;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::common::Ctx;

/// Faults a provider injects.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Faults {
    /// Added to every response.
    pub latency: Duration,
    /// Fraction of requests answered 429 with `Retry-After`.
    pub rate_limited: f64,
    /// The `Retry-After` sent with a 429 (whole seconds, at least 1), by `rate_limited` and by a 429
    /// `status`.
    pub retry_after: Duration,
    /// Fraction of requests answered 503 with the vendor's error body.
    pub server_errors: f64,
    /// Fraction of requests answered 502 with an HTML page, as a proxy in front of the API would.
    pub html_errors: f64,
    /// Fraction of successful responses whose body is replaced by malformed JSON.
    pub malformed: f64,
    /// Fraction of successful responses whose body is cut in half.
    pub truncated: f64,
    /// Every response's body is sent one byte per this interval (status and headers at once): a server
    /// that drip-feeds, holding its client for as long as the body lasts. `None`: full speed.
    pub drip: Option<Duration>,
    /// Every API request is answered with this HTTP status, the way the vendor answers it:
    /// - 401: the credentials presented are refused by the simulated API itself, as revoked ones are (its
    ///   own 401 body and `WWW-Authenticate`); an OAuth client that fetches a new token is refused again;
    /// - 404: the request is answered as a path the server does not serve (its own "no such route"
    ///   answer: the API endpoint cannot be reached);
    /// - any other status: the vendor's error body, with `Retry-After` ([`Faults::retry_after`]) on a 429.
    pub status: Option<u16>,
    /// Successful API responses are padded with whitespace after their JSON to at least this many bytes
    /// and sent without `Content-Length`, as a chunked stream: still valid JSON, only too large.
    pub oversized_body: Option<usize>,
    /// After this many further API requests the credentials in use are revoked: the tokens the sandbox has
    /// issued so far expire (Jamf, Intune: a token fetched afterwards works), or, for static credentials
    /// (Iru, SimpleMDM, Fleet, JumpCloud), every later request is refused as with [`Faults::status`] 401.
    pub revoke_credentials_after: Option<u64>,
    /// Requests are held without an answer until the provider's faults are changed again: a server that
    /// accepts and never answers (clients end at their timeout).
    pub hang: bool,
    /// The provider's listening socket is closed and its open connections are dropped: connecting is
    /// refused until the faults are changed, when it listens on the same port again.
    pub refuse_connections: bool,
    /// In TLS mode ([`crate::SandboxConfig::tls`]), the provider presents a self-signed certificate no
    /// client trusts (open connections are dropped, so the next request meets it). No effect without TLS.
    pub untrusted_tls: bool,
    /// The API allows this many requests per window and says so: every API response carries
    /// `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (the window's end, in whole
    /// epoch seconds rounded up), and a request over the limit is answered 429 with `Retry-After` until
    /// the window resets, as a server that throttles by fixed windows does. `None`: no throttling and
    /// no such headers.
    pub rate_window: Option<RateWindow>,
}

/// A fixed request window ([`Faults::rate_window`]): `limit` API requests per `period`, the window
/// starting at the first request after the last one ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateWindow {
    /// Requests allowed per window.
    pub limit: u32,
    /// The window's length.
    pub period: Duration,
}

/// One API request counted against a [`RateWindow`].
#[derive(Debug, Clone, Copy)]
struct WindowCount {
    limit: u32,
    /// Requests left after this one (0 when it was refused).
    remaining: u32,
    /// When the window ends.
    reset_at: SystemTime,
    /// Whether this request is over the limit.
    refused: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
    HtmlError,
    Malformed,
    Truncated,
}

/// What an API request gets from [`Faults::revoke_credentials_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Revocation {
    /// Nothing (yet).
    None,
    /// Expire every token issued so far (once).
    ExpireTokens,
    /// Refuse the static credentials this request carries.
    RefuseCredentials,
}

/// A fault plan with its deterministic accumulators.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    pub(crate) faults: Faults,
    credit: [f64; 5],
    /// API requests seen since the plan was set.
    api_requests: u64,
    /// Whether the issued tokens were already expired by `revoke_credentials_after`.
    tokens_revoked: bool,
    /// The current rate window: when it started and the requests it counted.
    window: Option<(Instant, u32)>,
}

impl FaultPlan {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultPlan {
            faults,
            ..FaultPlan::default()
        }
    }

    fn decide(&mut self) -> Option<Fault> {
        let rates = [
            (Fault::RateLimited, self.faults.rate_limited),
            (Fault::ServerError, self.faults.server_errors),
            (Fault::HtmlError, self.faults.html_errors),
            (Fault::Malformed, self.faults.malformed),
            (Fault::Truncated, self.faults.truncated),
        ];
        let mut chosen = None;
        for (i, (fault, rate)) in rates.into_iter().enumerate() {
            self.credit[i] += rate.clamp(0.0, 1.0);
            if self.credit[i] >= 1.0 - 1e-9 && chosen.is_none() {
                self.credit[i] -= 1.0;
                chosen = Some(fault);
            }
        }
        chosen
    }

    /// Counts an API request against the rate window, if there is one.
    fn count_in_window(&mut self, now: Instant, wall: SystemTime) -> Option<WindowCount> {
        let RateWindow { limit, period } = self.faults.rate_window?;
        let (started, used) = match self.window {
            Some((started, used)) if now.duration_since(started) < period => (started, used),
            _ => (now, 0),
        };
        let refused = used >= limit;
        let used = if refused { used } else { used + 1 };
        self.window = Some((started, used));
        let left = period.saturating_sub(now.duration_since(started));
        Some(WindowCount {
            limit,
            remaining: limit.saturating_sub(used),
            reset_at: wall + left,
            refused,
        })
    }

    /// Counts an API request and says what revocation it meets.
    fn revocation(&mut self, issues_tokens: bool) -> Revocation {
        self.api_requests += 1;
        match self.faults.revoke_credentials_after {
            Some(after) if self.api_requests > after => {
                if !issues_tokens {
                    Revocation::RefuseCredentials
                } else if !self.tokens_revoked {
                    self.tokens_revoked = true;
                    Revocation::ExpireTokens
                } else {
                    Revocation::None
                }
            }
            _ => Revocation::None,
        }
    }
}

/// Everything one request gets from the plan, decided under its lock.
struct Decision {
    latency: Duration,
    fault: Option<Fault>,
    retry_after: Duration,
    drip: Option<Duration>,
    hang: bool,
    /// API faults; `None` for a token request.
    api: Option<ApiFaults>,
}

struct ApiFaults {
    window: Option<WindowCount>,
    status: Option<u16>,
    oversized_body: Option<usize>,
    revocation: Revocation,
}

/// The middleware every provider's router runs: counts the request (in progress until its answer is
/// built), waits, and maybe injects a fault.
pub(crate) async fn inject(State(ctx): State<Ctx>, mut request: Request, next: Next) -> Response {
    let provider = ctx.provider();
    let _in_flight = provider.count_request();
    let sim = ctx.sim();
    let is_api = !sim.is_token_endpoint(request.uri().path());
    let decision = {
        let mut plan = provider.faults.lock().unwrap();
        let api = is_api.then(|| ApiFaults {
            window: plan.count_in_window(Instant::now(), SystemTime::now()),
            status: plan.faults.status,
            oversized_body: plan.faults.oversized_body,
            revocation: plan.revocation(sim.issues_tokens()),
        });
        Decision {
            latency: plan.faults.latency,
            fault: plan.decide(),
            retry_after: plan.faults.retry_after,
            drip: plan.faults.drip,
            hang: plan.faults.hang,
            api,
        }
    };
    if decision.hang {
        provider.hold_while_hanging().await;
    }
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let mut oversized_body = None;
    let mut window = None;
    if let Some(api) = decision.api {
        window = api.window;
        if let Some(count) = window.filter(|c| c.refused) {
            let mut response = sim.error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            let wait = count
                .reset_at
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            // Whole seconds, rounded up: never an invitation to come back before the reset.
            set_retry_after(&mut response, wait + Duration::from_nanos(999_999_999));
            set_window_headers(&mut response, count);
            return response;
        }
        match api.revocation {
            Revocation::None => {}
            Revocation::ExpireTokens => provider.expire_tokens(),
            Revocation::RefuseCredentials => refuse_credentials(request.headers_mut()),
        }
        match api.status {
            None => {}
            Some(401) => refuse_credentials(request.headers_mut()),
            // Already sent where no route serves it, before routing (see `before_routing`).
            Some(404) => {}
            Some(status) => {
                let status =
                    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let reason = status.canonical_reason().unwrap_or("Error");
                let mut response = sim.error(status, reason);
                if status == StatusCode::TOO_MANY_REQUESTS {
                    set_retry_after(&mut response, decision.retry_after);
                }
                return response;
            }
        }
        oversized_body = api.oversized_body;
    }
    let mut response = answer(&ctx, decision.fault, decision.retry_after, request, next).await;
    if let Some(count) = window {
        set_window_headers(&mut response, count);
    }
    if let Some(size) = oversized_body {
        if response.status().is_success() {
            response = pad(response, size).await;
        }
    }
    match decision.drip {
        Some(every) => drip_feed(response, every).await,
        None => response,
    }
}

/// What a client presented as credentials, replaced by ones the API does not know: the simulated API then
/// refuses them with its own 401, exactly as it refuses revoked credentials.
fn refuse_credentials(headers: &mut HeaderMap) {
    use base64::Engine as _;
    const REVOKED: &str = "revoked-by-the-sandbox";
    if let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let scheme = value.split_whitespace().next().unwrap_or("Bearer");
        let revoked = if scheme.eq_ignore_ascii_case("basic") {
            let pair = base64::engine::general_purpose::STANDARD.encode(format!("{REVOKED}:"));
            format!("Basic {pair}")
        } else {
            format!("{scheme} {REVOKED}")
        };
        if let Ok(v) = HeaderValue::from_str(&revoked) {
            headers.insert(header::AUTHORIZATION, v);
        }
    }
    if headers.contains_key("x-api-key") {
        headers.insert("x-api-key", HeaderValue::from_static(REVOKED));
    }
}

/// Runs before routing (the routes' middleware runs after it): a 404 status fault sends API requests to a
/// path no route serves, so the router's own fallback answers them.
pub(crate) async fn before_routing(State(ctx): State<Ctx>, mut request: Request) -> Request {
    let unserved_api = ctx.provider().faults.lock().unwrap().faults.status == Some(404)
        && !ctx.sim().is_token_endpoint(request.uri().path());
    if unserved_api {
        *request.uri_mut() = unserved(request.uri());
    }
    request
}

/// The first path segment kept (`/api`, `/JSSResource`, `/v1.0`) with a segment no route has after it, so
/// the request meets the server's own answer for a path it does not serve.
fn unserved(uri: &Uri) -> Uri {
    const MISSING: &str = "not-served-by-this-server";
    let path = uri.path();
    let rest = path.trim_start_matches('/');
    let new_path = match rest.split_once('/') {
        Some((first, tail)) => format!("/{first}/{MISSING}/{tail}"),
        None if rest.is_empty() => format!("/{MISSING}"),
        None => format!("/{rest}/{MISSING}"),
    };
    let text = match uri.query() {
        Some(q) => format!("{new_path}?{q}"),
        None => new_path,
    };
    text.parse().unwrap_or_else(|_| uri.clone())
}

fn set_retry_after(response: &mut Response, retry_after: Duration) {
    let secs = retry_after.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
}

/// The rate window's headers: its limit, the requests left, and its end in whole epoch seconds rounded
/// up (what servers that send them commonly send).
fn set_window_headers(response: &mut Response, count: WindowCount) {
    let since_epoch = count
        .reset_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let reset = since_epoch.as_secs() + u64::from(since_epoch.subsec_nanos() > 0);
    for (name, value) in [
        ("x-ratelimit-limit", count.limit.to_string()),
        ("x-ratelimit-remaining", count.remaining.to_string()),
        ("x-ratelimit-reset", reset.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, v);
        }
    }
}

/// The response to a request, with the chosen fault applied.
async fn answer(
    ctx: &Ctx,
    fault: Option<Fault>,
    retry_after: Duration,
    request: Request,
    next: Next,
) -> Response {
    match fault {
        Some(Fault::RateLimited) => {
            let mut response = ctx.sim().error(StatusCode::TOO_MANY_REQUESTS, "Too many requests");
            set_retry_after(&mut response, retry_after);
            response
        }
        Some(Fault::ServerError) => ctx
            .sim()
            .error(StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable"),
        Some(Fault::HtmlError) => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>",
        )
            .into_response(),
        Some(Fault::Malformed) => {
            let response = next.run(request).await;
            if !response.status().is_success() {
                return response;
            }
            (
                response.status(),
                [(header::CONTENT_TYPE, "application/json")],
                "{\"results\": [{\"id\": 1,, }",
            )
                .into_response()
        }
        Some(Fault::Truncated) => {
            let response = next.run(request).await;
            if !response.status().is_success() {
                return response;
            }
            let (mut parts, body) = response.into_parts();
            let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(cut))
        }
        None => next.run(request).await,
    }
}

/// The same response with whitespace after its body up to `size` bytes, streamed in chunks without
/// `Content-Length`, so a client learns the size only by reading.
async fn pad(response: Response, size: usize) -> Response {
    const CHUNK: usize = 64 * 1024;
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    let padding = size.saturating_sub(bytes.len());
    let blank = Bytes::from(vec![b' '; CHUNK.min(padding.max(1))]);
    let chunks = std::iter::once(bytes).chain(
        (0..padding.div_ceil(CHUNK)).map(move |i| blank.slice(..CHUNK.min(padding - i * CHUNK))),
    );
    let stream = futures::stream::iter(chunks.map(Ok::<_, Infallible>));
    Response::from_parts(parts, Body::from_stream(stream))
}

/// The same response, its body sent one byte every `every`.
async fn drip_feed(response: Response, every: Duration) -> Response {
    let (parts, body) = response.into_parts();
    let bytes = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let bytes_one_by_one = futures::stream::unfold(0usize, move |at| {
        let bytes = bytes.clone();
        async move {
            if at >= bytes.len() {
                return None;
            }
            tokio::time::sleep(every).await;
            Some((Ok::<_, Infallible>(bytes.slice(at..at + 1)), at + 1))
        }
    });
    Response::from_parts(parts, Body::from_stream(bytes_one_by_one))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_dripping_body_arrives_one_byte_at_a_time_after_its_interval() {
        use futures::StreamExt;
        let every = Duration::from_millis(2);
        let response = (StatusCode::OK, "{\"ok\":1}").into_response();
        let started = std::time::Instant::now();
        let dripped = drip_feed(response, every).await;
        assert_eq!(
            dripped.status(),
            StatusCode::OK,
            "the status is not held back"
        );
        let mut frames = dripped.into_body().into_data_stream();
        let mut received = Vec::new();
        while let Some(frame) = frames.next().await {
            let frame = frame.unwrap();
            assert_eq!(frame.len(), 1, "one byte per frame");
            received.extend_from_slice(&frame);
        }
        assert_eq!(received, b"{\"ok\":1}");
        assert!(
            started.elapsed() >= every * 8,
            "each byte waited its interval"
        );
    }

    #[test]
    fn a_rate_window_counts_refuses_over_its_limit_and_resets() {
        let mut plan = FaultPlan::new(Faults {
            rate_window: Some(RateWindow {
                limit: 3,
                period: Duration::from_secs(10),
            }),
            ..Faults::default()
        });
        let start = Instant::now();
        let wall = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let seen: Vec<(u32, bool)> = (0..5)
            .map(|_| {
                let c = plan.count_in_window(start, wall).unwrap();
                assert_eq!(c.limit, 3);
                assert_eq!(c.reset_at, wall + Duration::from_secs(10));
                (c.remaining, c.refused)
            })
            .collect();
        assert_eq!(
            seen,
            [(2, false), (1, false), (0, false), (0, true), (0, true)]
        );
        let later = start + Duration::from_secs(10);
        let c = plan.count_in_window(later, wall).unwrap();
        assert_eq!((c.remaining, c.refused), (2, false), "a new window");
        assert!(FaultPlan::new(Faults::default())
            .count_in_window(start, wall)
            .is_none());
    }

    #[test]
    fn rates_are_exact_and_deterministic() {
        let mut plan = FaultPlan::new(Faults {
            rate_limited: 0.25,
            ..Faults::default()
        });
        let hits: Vec<bool> = (0..8).map(|_| plan.decide().is_some()).collect();
        assert_eq!(hits, [false, false, false, true, false, false, false, true]);
        let mut none = FaultPlan::new(Faults::default());
        assert!((0..100).all(|_| none.decide().is_none()));
        let mut always = FaultPlan::new(Faults {
            server_errors: 1.0,
            ..Faults::default()
        });
        assert!((0..10).all(|_| always.decide() == Some(Fault::ServerError)));
    }
}
