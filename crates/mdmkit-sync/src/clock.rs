//! Time, injected: every schedule (R5's 24 h, R10's 6 h and 15 min) is measured on a [`Clock`], so tests
//! move time with a [`ManualClock`] instead of sleeping.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// A source of the current time.
pub trait Clock: Debug + Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to: for tests and simulations.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock {
            now: Mutex::new(start),
        }
    }

    /// Moves the clock to `to` (backwards too, to test clock skew).
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap() = to;
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: TimeDelta) -> DateTime<Utc> {
        let mut now = self.now.lock().unwrap();
        *now += by;
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap()
    }
}

/// `at` plus a configured duration, or the latest instant a `DateTime` holds when the sum lies beyond it.
/// Configuration may say anything up to `Duration::MAX` ("never"), and the arithmetic of a schedule must not
/// panic on it; every `instant + configured duration` of this crate goes through here.
pub(crate) fn later(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `at` minus a configured duration, or the earliest instant a `DateTime` holds (see [`later`]).
pub(crate) fn earlier(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_sub_signed(by))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_arithmetic_saturates_instead_of_panicking() {
        let now = DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let hour = Duration::from_secs(3600);
        assert_eq!(later(now, hour), now + TimeDelta::hours(1));
        assert_eq!(earlier(now, hour), now - TimeDelta::hours(1));
        for huge in [
            Duration::MAX,
            Duration::from_secs(u64::MAX / 2),
            Duration::from_secs(i64::MAX as u64 / 1000 + 1),
            Duration::from_secs(400_000 * 365 * 86_400),
        ] {
            assert_eq!(later(now, huge), DateTime::<Utc>::MAX_UTC, "{huge:?}");
            assert_eq!(earlier(now, huge), DateTime::<Utc>::MIN_UTC, "{huge:?}");
        }
        assert_eq!(
            later(DateTime::<Utc>::MAX_UTC, Duration::from_secs(1)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(later(now, Duration::ZERO), now);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let c = ManualClock::new(start);
        assert_eq!(c.now(), start);
        assert_eq!(c.advance(TimeDelta::hours(6)), start + TimeDelta::hours(6));
        c.set(start);
        assert_eq!(c.now(), start);
    }
}
