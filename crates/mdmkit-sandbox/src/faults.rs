//! Fault injection: a per-provider plan applied to every request before it reaches the simulated API.
//!
//! Rates are fractions of requests and are applied deterministically (a rate of 0.25 faults exactly every
//! fourth request), so tests that count requests are repeatable.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
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
    /// The `Retry-After` sent with a 429 (whole seconds).
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    RateLimited,
    ServerError,
    HtmlError,
    Malformed,
    Truncated,
}

/// A fault plan with its deterministic accumulators.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan {
    pub(crate) faults: Faults,
    credit: [f64; 5],
}

impl FaultPlan {
    pub(crate) fn new(faults: Faults) -> Self {
        FaultPlan {
            faults,
            credit: [0.0; 5],
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
}

/// The middleware every provider's router runs: counts the request, waits, and maybe injects a fault.
pub(crate) async fn inject(State(ctx): State<Ctx>, request: Request, next: Next) -> Response {
    let provider = ctx.provider();
    provider.count_request();
    let (latency, fault, retry_after, drip) = {
        let mut plan = provider.faults.lock().unwrap();
        (
            plan.faults.latency,
            plan.decide(),
            plan.faults.retry_after,
            plan.faults.drip,
        )
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = answer(&ctx, fault, retry_after, request, next).await;
    match drip {
        Some(every) => drip_feed(response, every).await,
        None => response,
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
            let secs = retry_after.as_secs().max(1).to_string();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_str(&secs).unwrap());
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
