//! Pacing from what the server says, per server.
//!
//! Most vendors state no request rate (SimpleMDM, Fleet, JumpCloud), so a fixed rate would be a guess:
//! too low and a listing of 10,000 devices takes minutes against a server that never throttles, too high
//! and it protects nothing. Instead every response is read for the server's own words, and they hold for
//! every client of that server ([`super::ServerKey`]), never for another one:
//! - `429` with `Retry-After` (or an exhausted `X-RateLimit-Reset`): no request to this server leaves
//!   before the wait is over, not only the one that was refused;
//! - `X-RateLimit-Remaining` with `X-RateLimit-Reset` on any response: full speed while many requests
//!   are left; as Remaining nears zero, the last requests of the window are spread evenly until its
//!   reset; at zero, nothing leaves before the reset. After the reset the window is forgotten until the
//!   server describes the next one.
//!
//! Every number is untrusted: waits come clamped from [`super::retry`] (at most
//! [`super::MAX_SERVER_WAIT`]), counts are clamped before conversion, and instants are added with checked
//! arithmetic. A wait longer than the request's retry budget is not taken: the request ends at once as
//! rate limited, carrying the wait for the caller's own scheduling.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use super::retry::{parse_rate_limit_reset, retry_after_at};

/// Counts above this are treated as this (no real window is larger; it keeps conversions exact).
const MAX_COUNT: f64 = 1e12;

/// The window's last requests are spread out once Remaining is at most this share of the Limit.
const SPREAD_SHARE: u64 = 10;

/// ... or at most this many, when the server sends no Limit or a small one.
const SPREAD_MIN: u64 = 8;

/// What pacing has done for one server so far, and what it knows now: for tests, benchmarks and
/// operators who want to see whether a server throttles.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Requests that waited because of what the server said.
    pub waits: u64,
    /// Their waits, added up.
    pub waited: Duration,
    /// Requests refused at once because the server's wait did not fit their retry budget.
    pub refused: u64,
    /// How long requests are paused from now (a `Retry-After`, or an exhausted window).
    pub paused_for: Option<Duration>,
    /// Requests the server's current window still allows, as far as this client knows.
    pub remaining: Option<u64>,
}

/// The server's current rate window as it described it.
#[derive(Debug, Clone, Copy)]
struct Window {
    limit: Option<u64>,
    remaining: u64,
    reset_at: Instant,
}

impl Window {
    fn spreading(&self) -> bool {
        let share = self.limit.map_or(0, |l| l / SPREAD_SHARE);
        self.remaining <= share.max(SPREAD_MIN)
    }
}

/// The state behind the pacing decisions. Pure: every method takes `now`, so it is tested without
/// clocks.
#[derive(Debug, Default)]
pub(crate) struct PaceState {
    /// No request leaves before this.
    paused_until: Option<Instant>,
    window: Option<Window>,
    /// While spreading a window's last requests: when the next one may leave.
    next_slot: Option<Instant>,
}

impl PaceState {
    /// Forgets what no longer holds at `now`: a pause that is over, a window that has reset.
    fn expire(&mut self, now: Instant) {
        if self.paused_until.is_some_and(|until| until <= now) {
            self.paused_until = None;
        }
        if self.window.is_some_and(|w| w.reset_at <= now) {
            self.window = None;
            self.next_slot = None;
        }
    }

    /// The wait before one more request may leave at `now`, that request counted against the window.
    pub(crate) fn reserve(&mut self, now: Instant) -> Duration {
        self.expire(now);
        let mut earliest = self.paused_until.unwrap_or(now).max(now);
        if let Some(window) = self.window.as_mut() {
            if window.reset_at <= earliest {
                // The pause outlasts the window: the next window starts fresh.
                self.window = None;
                self.next_slot = None;
            } else if window.remaining == 0 {
                // Nothing left: wait for the reset; after it the server describes the next window.
                earliest = window.reset_at;
                self.window = None;
                self.next_slot = None;
            } else {
                if window.spreading() {
                    let slot = self.next_slot.unwrap_or(earliest).max(earliest);
                    let left = window.reset_at.saturating_duration_since(slot);
                    let spacing = left / u32::try_from(window.remaining).unwrap_or(u32::MAX);
                    self.next_slot = slot.checked_add(spacing);
                    earliest = slot;
                }
                window.remaining -= 1;
            }
        }
        earliest.saturating_duration_since(now)
    }

    /// How long requests are paused from `now`, if they are (a pause for a request that may not leave
    /// yet, not the spreading of a window's last requests).
    pub(crate) fn paused_for(&self, now: Instant) -> Option<Duration> {
        self.paused_until
            .filter(|until| *until > now)
            .map(|until| until.saturating_duration_since(now))
    }

    /// Learns from one response received at `now` (`wall` on the system clock). `others_in_flight`
    /// requests to this server were sent but not yet answered: the server has not counted them in its
    /// Remaining yet, so they are taken off it.
    pub(crate) fn observe(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        now: Instant,
        wall: SystemTime,
        others_in_flight: u64,
    ) {
        if status == StatusCode::TOO_MANY_REQUESTS {
            if let Some(until) = retry_after_at(headers, wall).and_then(|w| now.checked_add(w)) {
                self.paused_until = Some(self.paused_until.map_or(until, |p| p.max(until)));
            }
        }
        let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let count = |name| {
            text(name)
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
                .map(|n| n.min(MAX_COUNT) as u64)
        };
        let Some(remaining) = count("x-ratelimit-remaining") else {
            return;
        };
        let Some(reset_at) = text("x-ratelimit-reset")
            .and_then(|v| parse_rate_limit_reset(v, wall))
            .and_then(|w| now.checked_add(w))
        else {
            // A count without a reset cannot be spread over time; a 429 still pauses.
            return;
        };
        let remaining = remaining.saturating_sub(others_in_flight);
        let limit = count("x-ratelimit-limit");
        self.window = Some(match self.window {
            // The same window (a reset within a second of the known one): answers arrive out of order,
            // so the lowest count is the truest.
            Some(known)
                if reset_at.max(known.reset_at) - reset_at.min(known.reset_at)
                    <= Duration::from_secs(1) =>
            {
                Window {
                    limit: limit.or(known.limit),
                    remaining: remaining.min(known.remaining),
                    reset_at: known.reset_at.max(reset_at),
                }
            }
            _ => Window {
                limit,
                remaining,
                reset_at,
            },
        });
    }
}

/// The pacing of one server: its state, and counters of what it did.
#[derive(Debug, Default)]
pub(crate) struct Pacer {
    state: Mutex<PaceState>,
    waits: AtomicU64,
    waited_nanos: AtomicU64,
    refused: AtomicU64,
}

impl Pacer {
    fn state(&self) -> std::sync::MutexGuard<'_, PaceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until the server allows one more request. `Err(wait)` when the wait exceeds `budget`: the
    /// request is not sent.
    pub(crate) async fn pace(&self, budget: Duration) -> Result<(), Duration> {
        let mut wait = self.state().reserve(Instant::now());
        loop {
            if wait.is_zero() {
                return Ok(());
            }
            if wait > budget {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return Err(wait);
            }
            self.waits.fetch_add(1, Ordering::Relaxed);
            let nanos = u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX);
            self.waited_nanos.fetch_add(nanos, Ordering::Relaxed);
            tracing::debug!(?wait, "pacing: waiting as the server asked");
            tokio::time::sleep(wait).await;
            // A 429 may have arrived meanwhile for another request to this server.
            wait = self
                .state()
                .paused_for(Instant::now())
                .unwrap_or(Duration::ZERO);
        }
    }

    /// Learns from a response.
    pub(crate) fn observe(&self, status: StatusCode, headers: &HeaderMap, others_in_flight: u64) {
        self.state().observe(
            status,
            headers,
            Instant::now(),
            SystemTime::now(),
            others_in_flight,
        );
    }

    /// What pacing did and knows now.
    pub(crate) fn snapshot(&self) -> Pacing {
        let now = Instant::now();
        let mut state = self.state();
        state.expire(now);
        Pacing {
            waits: self.waits.load(Ordering::Relaxed),
            waited: Duration::from_nanos(self.waited_nanos.load(Ordering::Relaxed)),
            refused: self.refused.load(Ordering::Relaxed),
            paused_for: state.paused_for(now),
            remaining: state.window.map(|w| w.remaining),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::time::UNIX_EPOCH;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn wall() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    const OK: StatusCode = StatusCode::OK;

    #[test]
    fn no_headers_no_waits() {
        let mut s = PaceState::default();
        let now = Instant::now();
        for _ in 0..1000 {
            s.observe(OK, &HeaderMap::new(), now, wall(), 0);
            assert_eq!(s.reserve(now), Duration::ZERO);
        }
    }

    #[test]
    fn a_429_pauses_every_request_until_its_retry_after() {
        let mut s = PaceState::default();
        let now = Instant::now();
        s.observe(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "3")]),
            now,
            wall(),
            0,
        );
        assert_eq!(s.reserve(now), Duration::from_secs(3));
        assert_eq!(
            s.reserve(now + Duration::from_secs(1)),
            Duration::from_secs(2)
        );
        assert_eq!(s.reserve(now + Duration::from_secs(3)), Duration::ZERO);
        // A shorter pause never shortens a longer one.
        s.observe(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "10")]),
            now,
            wall(),
            0,
        );
        s.observe(
            StatusCode::TOO_MANY_REQUESTS,
            &headers(&[("retry-after", "1")]),
            now,
            wall(),
            0,
        );
        assert_eq!(s.reserve(now), Duration::from_secs(10));
    }

    #[test]
    fn full_speed_while_many_are_left_then_spread_then_wait_for_the_reset() {
        let mut s = PaceState::default();
        let now = Instant::now();
        s.observe(
            OK,
            &headers(&[
                ("x-ratelimit-limit", "100"),
                ("x-ratelimit-remaining", "20"),
                ("x-ratelimit-reset", "1700000010"),
            ]),
            now,
            wall(),
            0,
        );
        // 20 left, spreading from 10 (a tenth of 100): ten at once.
        for _ in 0..10 {
            assert_eq!(s.reserve(now), Duration::ZERO);
        }
        // Then the last ten spread over the 10 s left: one a second.
        let waits: Vec<Duration> = (0..10).map(|_| s.reserve(now)).collect();
        assert_eq!(waits[0], Duration::ZERO);
        assert_eq!(waits[1], Duration::from_secs(1));
        assert_eq!(waits[9], Duration::from_secs(9));
        // None left: the next waits for the reset, and the window is then forgotten.
        assert_eq!(s.reserve(now), Duration::from_secs(10));
        assert_eq!(s.reserve(now + Duration::from_secs(10)), Duration::ZERO);
    }

    #[test]
    fn remaining_zero_waits_for_the_reset_and_in_flight_requests_count() {
        let mut s = PaceState::default();
        let now = Instant::now();
        s.observe(
            OK,
            &headers(&[("x-ratelimit-remaining", "2"), ("x-ratelimit-reset", "5")]),
            now,
            wall(),
            2,
        );
        assert_eq!(s.reserve(now), Duration::from_secs(5));
    }

    #[test]
    fn out_of_order_answers_keep_the_lowest_count_of_a_window() {
        let mut s = PaceState::default();
        let now = Instant::now();
        let answer = |remaining: &str| {
            headers(&[
                ("x-ratelimit-remaining", remaining),
                ("x-ratelimit-reset", "1700000030"),
            ])
        };
        s.observe(OK, &answer("3"), now, wall(), 0);
        s.observe(OK, &answer("50"), now, wall(), 0);
        assert_eq!(s.window.unwrap().remaining, 3);
    }

    #[test]
    fn hostile_numbers_never_panic_and_stay_bounded() {
        let now = Instant::now();
        let values = [
            "",
            " ",
            "-1",
            "-1e300",
            "NaN",
            "inf",
            "-inf",
            "1e308",
            "1.7976931348623157e308",
            "18446744073709551615",
            "99999999999999999999999",
            "0",
            "0.5",
            "abc",
            "1e-300",
        ];
        for limit in values {
            for remaining in values {
                for reset in values {
                    let mut s = PaceState::default();
                    let h = headers(&[
                        ("x-ratelimit-limit", limit),
                        ("x-ratelimit-remaining", remaining),
                        ("x-ratelimit-reset", reset),
                        ("retry-after", reset),
                    ]);
                    s.observe(StatusCode::TOO_MANY_REQUESTS, &h, now, wall(), u64::MAX);
                    s.observe(OK, &h, now, wall(), 3);
                    for _ in 0..3 {
                        let wait = s.reserve(now);
                        assert!(
                            wait <= super::super::MAX_SERVER_WAIT,
                            "{limit:?} {remaining:?} {reset:?}: {wait:?}"
                        );
                    }
                }
            }
        }
    }
}
