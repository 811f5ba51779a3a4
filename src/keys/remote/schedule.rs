//! When a [`RemoteJwks`](super::RemoteJwks) may fetch: pure rules over an injected `now`.
//!
//! * [`FetchBudget`]: fetches asked for by tokens (an unknown `kid`, or a signature that fails
//!   under a known one) draw from a token bucket.
//! * [`load_backoff`]: while no usable key set is at hand, load attempts are spaced by a
//!   back-off that grows with each failure.

use std::time::{Duration, Instant};

/// The longest refill interval a [`FetchBudget`] keeps; longer ones are cut to it.
const MAX_INTERVAL: Duration = Duration::from_secs(u32::MAX as u64);

/// A token bucket of fetches: it holds up to `burst`, and gains one per `interval`. Over any
/// span of time `t` it grants at most `burst + t / interval` fetches, whatever is asked.
///
/// Kept as the generic cell rate algorithm: one instant, the theoretical arrival time of the
/// next fetch, instead of a count and a refill time.
#[derive(Debug, Clone)]
pub(super) struct FetchBudget {
    burst: u32,
    interval: Duration,
    /// The instant `tat` counts from, set by the first call.
    origin: Option<Instant>,
    /// Theoretical arrival time, since `origin`: the bucket is full whenever `now` has passed
    /// it, and each grant pushes it one `interval` on.
    tat: Duration,
}

impl FetchBudget {
    /// A full bucket of `burst` fetches (at least one), refilled at one per `interval`.
    pub(super) fn new(burst: u32, interval: Duration) -> Self {
        FetchBudget {
            burst: burst.max(1),
            // Over a century, and small enough that `burst` intervals never saturate.
            interval: interval.min(MAX_INTERVAL),
            origin: None,
            tat: Duration::ZERO,
        }
    }

    /// Takes one fetch at `now`, or says how long until one is available.
    pub(super) fn try_take(&mut self, now: Instant) -> Result<(), Duration> {
        let at = self.since_origin(now);
        let wait = self.wait_at(at);
        if !wait.is_zero() {
            return Err(wait);
        }
        self.tat = self.tat.max(at).saturating_add(self.interval);
        Ok(())
    }

    /// How long from `now` until a fetch is available; zero when one is.
    pub(super) fn wait(&self, now: Instant) -> Duration {
        let at = self.origin.map_or(Duration::ZERO, |origin| {
            now.saturating_duration_since(origin)
        });
        self.wait_at(at)
    }

    fn since_origin(&mut self, now: Instant) -> Duration {
        let origin = *self.origin.get_or_insert(now);
        now.saturating_duration_since(origin)
    }

    fn wait_at(&self, at: Duration) -> Duration {
        // A grant at `at` is allowed while the theoretical arrival time is no more than
        // `burst - 1` intervals ahead of it.
        let tolerance = self.interval.saturating_mul(self.burst - 1);
        self.tat.saturating_sub(at).saturating_sub(tolerance)
    }
}

/// How long to wait after `failures` consecutive failed load attempts before the next one,
/// while no usable key set is at hand: nothing before the first failure, then `initial`,
/// doubling with each further failure, never more than `cap`.
pub(super) fn load_backoff(failures: u32, initial: Duration, cap: Duration) -> Duration {
    match failures.checked_sub(1) {
        None => Duration::ZERO,
        Some(doublings) => {
            let factor = 1u32.checked_shl(doublings.min(31)).unwrap_or(u32::MAX);
            initial.saturating_mul(factor).min(cap)
        }
    }
}

/// `wait` in whole seconds for a `Retry-After` header: rounded up, at least 1.
pub(super) fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn ms(millis: u64) -> Duration {
        Duration::from_millis(millis)
    }

    #[test]
    fn budget_grants_a_burst_then_one_per_interval() {
        let start = Instant::now();
        let at = |millis| start + ms(millis);
        let mut budget = FetchBudget::new(3, ms(300));
        assert_eq!(budget.wait(start), Duration::ZERO, "full before any use");
        for _ in 0..3 {
            assert_eq!(budget.try_take(at(0)), Ok(()));
        }
        assert_eq!(budget.try_take(at(0)), Err(ms(300)), "burst spent");
        assert_eq!(budget.try_take(at(100)), Err(ms(200)));
        assert_eq!(budget.wait(at(100)), ms(200));
        assert_eq!(budget.try_take(at(300)), Ok(()), "one more per interval");
        assert_eq!(budget.try_take(at(300)), Err(ms(300)));
        // Idle time refills it, up to the burst and no more.
        for _ in 0..3 {
            assert_eq!(budget.try_take(at(10_000)), Ok(()));
        }
        assert_eq!(budget.try_take(at(10_000)), Err(ms(300)));
    }

    #[test]
    fn a_flood_gets_at_most_the_burst_plus_one_fetch_per_interval() {
        let start = Instant::now();
        let interval = ms(300);
        for burst in [1, 3, 10] {
            let mut budget = FetchBudget::new(burst, interval);
            let mut granted = 0u64;
            // A request every 7 ms for 10 s.
            for step in 0..=10_000 / 7 {
                let elapsed = ms(step * 7);
                if budget.try_take(start + elapsed).is_ok() {
                    granted += 1;
                }
                let bound = u64::from(burst) + elapsed.as_millis() as u64 / 300;
                assert!(granted <= bound, "burst {burst}: {granted} > {bound}");
            }
            assert!(granted >= u64::from(burst) + 30, "burst {burst}: {granted}");
        }
    }

    #[test]
    fn budget_without_interval_never_refuses_and_zero_burst_means_one() {
        let now = Instant::now();
        let mut open = FetchBudget::new(3, Duration::ZERO);
        for _ in 0..100 {
            assert_eq!(open.try_take(now), Ok(()));
        }
        let mut single = FetchBudget::new(0, ms(300));
        assert_eq!(single.try_take(now), Ok(()));
        assert_eq!(single.try_take(now), Err(ms(300)));
    }

    #[test]
    fn budget_survives_huge_intervals_and_instants_before_its_origin() {
        let now = Instant::now();
        let mut budget = FetchBudget::new(2, Duration::MAX);
        assert_eq!(budget.try_take(now + ms(5)), Ok(()));
        assert_eq!(
            budget.try_take(now),
            Ok(()),
            "an earlier instant counts as the origin"
        );
        assert!(budget.try_take(now + ms(10)).is_err());
        assert!(!budget.wait(now).is_zero());
    }

    #[test]
    fn load_backoff_doubles_from_the_initial_wait_up_to_the_cap() {
        let cases = [
            ("no failure yet", 0, 0),
            ("first failure", 1, 1_000),
            ("second", 2, 2_000),
            ("third", 3, 4_000),
            ("fourth", 4, 8_000),
            ("fifth", 5, 16_000),
            ("capped", 6, 30_000),
            ("stays capped", 7, 30_000),
            ("no overflow", u32::MAX, 30_000),
        ];
        for (name, failures, expected) in cases {
            assert_eq!(
                load_backoff(failures, ms(1_000), ms(30_000)),
                ms(expected),
                "{name}"
            );
        }
        assert_eq!(
            load_backoff(1, ms(5_000), ms(300)),
            ms(300),
            "initial over cap"
        );
        assert_eq!(load_backoff(3, ms(1_000), Duration::ZERO), Duration::ZERO);
        assert_eq!(
            load_backoff(40, Duration::MAX, Duration::MAX),
            Duration::MAX,
            "saturates"
        );
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds_of_at_least_one() {
        for (wait, secs) in [
            (Duration::ZERO, 1),
            (ms(1), 1),
            (ms(1_000), 1),
            (ms(1_001), 2),
            (ms(29_500), 30),
        ] {
            assert_eq!(retry_after_secs(wait), secs, "{wait:?}");
        }
    }
}
