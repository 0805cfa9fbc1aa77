//! Retry policy: which failures are retried, how long to wait, and when to give up.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

/// How requests are retried. Only idempotent requests are retried, only for transient failures (429,
/// 5xx other than 501/505, connection failures and timeouts), never for 401, 403, 404 or TLS errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 turns retries off).
    pub max_attempts: u32,
    /// Total time a request may take across attempts and waits; a wait that would pass it is not made.
    pub budget: Duration,
    /// The first backoff (before jitter); doubled after each attempt.
    pub initial_backoff: Duration,
    /// The largest backoff (before jitter).
    pub max_backoff: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 5,
            budget: Duration::from_secs(180),
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        }
    }

    /// The jittered exponential backoff before attempt `attempt + 1` (`attempt` counts from 1): a random
    /// duration between half and all of `initial * 2^(attempt-1)`, capped at `max_backoff`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = 2u32.saturating_pow(attempt.saturating_sub(1).min(20));
        let ceiling = self
            .initial_backoff
            .saturating_mul(exp)
            .min(self.max_backoff);
        let half = ceiling / 2;
        let jitter_nanos =
            rand::rng().random_range(0..=half.as_nanos().min(u64::MAX as u128) as u64);
        half + Duration::from_nanos(jitter_nanos)
    }
}

/// The longest wait mdmkit takes from a server's number. A larger `Retry-After` or `X-RateLimit-Reset`
/// is clamped to this; either way it is longer than any retry budget, so the request ends at once with
/// its category and the error carries this wait for the caller's own scheduling.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Epoch seconds above this (2001-09-09) in `X-RateLimit-Reset` are a timestamp; smaller numbers are a
/// delay in seconds.
const EPOCH_THRESHOLD: f64 = 1_000_000_000.0;

/// Reads how long the server asked us to wait: `Retry-After` (seconds or an HTTP date), else
/// `X-RateLimit-Reset` (an epoch timestamp, or seconds when the number is small) unless
/// `X-RateLimit-Remaining` says requests are left. Values that are not a number or a date are ignored;
/// every result is at most [`MAX_SERVER_WAIT`].
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_at(headers, SystemTime::now())
}

/// [`retry_after`] as seen at `now` (for tests and replays).
pub fn retry_after_at(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(wait) = text(RETRY_AFTER.as_str()).and_then(|v| parse_retry_after(v, now)) {
        return Some(wait);
    }
    let requests_left = text("x-ratelimit-remaining")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .is_some_and(|left| left >= 1.0);
    if requests_left {
        return None;
    }
    text("x-ratelimit-reset").and_then(|v| parse_rate_limit_reset(v, now))
}

/// A `Retry-After` value (RFC 7231 §7.1.3): delay-seconds, or an HTTP date in any of its three forms
/// (IMF-fixdate, RFC 850, asctime). A date in the past is no wait; a number too large for any clock is
/// [`MAX_SERVER_WAIT`]; anything else (negative, empty, text) is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: a delay, however many of them (an overflowing one means "very long").
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(clamp(Duration::from_secs(secs)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(clamp(at.duration_since(now).unwrap_or(Duration::ZERO)))
}

/// An `X-RateLimit-Reset` value: epoch seconds when above 10^9, else a delay in seconds; fractions
/// allowed. Negative, non-finite and non-numeric values are `None`; a reset in the past is no wait.
pub fn parse_rate_limit_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let reset = value.trim().parse::<f64>().ok()?;
    if !reset.is_finite() || reset < 0.0 {
        return None;
    }
    let delay = if reset > EPOCH_THRESHOLD {
        let now = now
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        (reset - now).max(0.0)
    } else {
        reset
    };
    // Clamped as a float first: `Duration::from_secs_f64` panics on values it cannot hold.
    Some(Duration::from_secs_f64(
        delay.min(MAX_SERVER_WAIT.as_secs_f64()),
    ))
}

fn clamp(wait: Duration) -> Duration {
    wait.min(MAX_SERVER_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn retry_after_seconds_and_http_date() {
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7".into())])),
            Some(Duration::from_secs(7))
        );
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(10));
        let wait = retry_after(&headers(&[("retry-after", date)])).unwrap();
        assert!(
            wait > Duration::from_secs(8) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        let past = "Sun, 06 Nov 1994 08:49:37 GMT".to_owned();
        assert_eq!(
            retry_after(&headers(&[("retry-after", past)])),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn x_ratelimit_reset_epoch_or_delta() {
        let epoch = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 5)
        .to_string();
        let wait = retry_after(&headers(&[("x-ratelimit-reset", epoch)])).unwrap();
        assert!(
            wait <= Duration::from_secs(5) && wait >= Duration::from_secs(3),
            "{wait:?}"
        );
        assert_eq!(
            retry_after(&headers(&[("x-ratelimit-reset", "3".into())])),
            Some(Duration::from_secs(3))
        );
        // Retry-After wins.
        assert_eq!(
            retry_after(&headers(&[
                ("retry-after", "1".into()),
                ("x-ratelimit-reset", "30".into())
            ])),
            Some(Duration::from_secs(1))
        );
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        let cfg = RetryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..RetryConfig::default()
        };
        for _ in 0..50 {
            let first = cfg.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = cfg.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            assert!(cfg.backoff(30) <= Duration::from_millis(1000));
        }
    }

    fn at(epoch_secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(epoch_secs)
    }

    #[test]
    fn retry_after_reads_all_three_http_date_forms() {
        // 1994-11-06 08:49:37 UTC, the RFC's own example, in its three forms.
        let now = at(784_111_777 - 30);
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(
                parse_retry_after(date, now),
                Some(Duration::from_secs(30)),
                "{date}"
            );
        }
    }

    #[test]
    fn hostile_retry_after_values_are_clamped_or_ignored() {
        let now = SystemTime::now();
        for (value, expected) in [
            ("18446744073709551615", Some(MAX_SERVER_WAIT)),
            ("100000000000000000000", Some(MAX_SERVER_WAIT)),
            ("86401", Some(MAX_SERVER_WAIT)),
            ("0", Some(Duration::ZERO)),
            (" 12 ", Some(Duration::from_secs(12))),
            ("-1", None),
            ("-18446744073709551615", None),
            ("", None),
            ("   ", None),
            ("soon", None),
            ("1e20", None),
            ("NaN", None),
            ("1.5", None),
            // Far past: no wait. Far future: clamped.
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(Duration::ZERO)),
            ("Mon, 01 Jan 0001 00:00:00 GMT", None),
            ("Fri, 31 Dec 9999 23:59:59 GMT", Some(MAX_SERVER_WAIT)),
            ("Friday, 31-Dec-99 23:59:59 GMT", Some(Duration::ZERO)),
            ("Fri Dec 31 23:59:59 9999", Some(MAX_SERVER_WAIT)),
        ] {
            assert_eq!(parse_retry_after(value, now), expected, "{value:?}");
        }
    }

    #[test]
    fn hostile_rate_limit_resets_are_clamped_or_ignored() {
        let now = at(1_700_000_000);
        for (value, expected) in [
            ("1e20", Some(MAX_SERVER_WAIT)),
            ("100000000000000000000", Some(MAX_SERVER_WAIT)),
            ("18446744073709551615", Some(MAX_SERVER_WAIT)),
            ("1.7976931348623157e308", Some(MAX_SERVER_WAIT)),
            ("-1", None),
            ("-1e20", None),
            ("NaN", None),
            ("inf", None),
            ("-inf", None),
            ("infinity", None),
            ("", None),
            ("reset", None),
            // A delay, an epoch in the past, an epoch ahead.
            ("2.5", Some(Duration::from_millis(2500))),
            (
                "1000000000",
                Some(Duration::from_secs(1_000_000_000).min(MAX_SERVER_WAIT)),
            ),
            ("1600000000", Some(Duration::ZERO)),
            ("1700000042", Some(Duration::from_secs(42))),
        ] {
            assert_eq!(parse_rate_limit_reset(value, now), expected, "{value:?}");
        }
    }

    #[test]
    fn a_reset_is_no_wait_while_requests_are_left() {
        let now = at(1_700_000_000);
        let h = headers(&[
            ("x-ratelimit-remaining", "12".into()),
            ("x-ratelimit-reset", "1700000030".into()),
        ]);
        assert_eq!(retry_after_at(&h, now), None);
        let h = headers(&[
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", "1700000030".into()),
        ]);
        assert_eq!(retry_after_at(&h, now), Some(Duration::from_secs(30)));
        // A bad Retry-After falls through to the reset.
        let h = headers(&[
            ("retry-after", "-5".into()),
            ("x-ratelimit-reset", "7".into()),
        ]);
        assert_eq!(retry_after_at(&h, now), Some(Duration::from_secs(7)));
    }
}
