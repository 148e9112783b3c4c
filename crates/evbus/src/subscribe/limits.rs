//! A subscription's limits in the bus's shared pool: how many of its
//! messages the pool holds at once (its share, so one subscription or one
//! wedged aggregate cannot take every worker and every slot), and how fast
//! its handlers start (a token bucket).

use std::{num::NonZeroU32, sync::Arc, time::Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{error::BusError, rate_limit::RateLimit};

/// One subscription's share of the pool and its rate limit.
pub(crate) struct Limits {
    in_flight: Arc<Semaphore>,
    rate: Option<(DefaultDirectRateLimiter, NonZeroU32)>,
}

impl Limits {
    /// At most `max_in_flight` messages held at once, started no faster
    /// than `rate` allows.
    pub(crate) fn new(max_in_flight: usize, rate: Option<RateLimit>) -> Result<Self, BusError> {
        if max_in_flight == 0 {
            return Err(BusError::config("max_in_flight must be at least 1"));
        }
        let rate = match rate {
            None => None,
            Some(limit) => {
                let per_second = NonZeroU32::new(limit.per_second)
                    .ok_or_else(|| BusError::config("rate_limit.per_second must be at least 1"))?;
                let burst = NonZeroU32::new(limit.burst.unwrap_or(limit.per_second))
                    .ok_or_else(|| BusError::config("rate_limit.burst must be at least 1"))?;
                let quota = Quota::per_second(per_second).allow_burst(burst);
                Some((RateLimiter::direct(quota), burst))
            }
        };
        Ok(Self {
            in_flight: Arc::new(Semaphore::new(max_in_flight.min(Semaphore::MAX_PERMITS))),
            rate,
        })
    }

    /// How many more messages the subscription may hand to the pool now.
    pub(crate) fn room(&self) -> usize {
        self.in_flight.available_permits()
    }

    /// Waits until the subscription may hand at least one more message to
    /// the pool.
    pub(crate) async fn wait_for_room(&self) {
        // The semaphore is never closed; the permit goes back at once.
        let _ = self.in_flight.acquire().await;
    }

    /// A slot for one message, held until its job is dropped (answered).
    pub(crate) async fn slot(&self) -> OwnedSemaphorePermit {
        self.in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("a subscription's semaphore is never closed")
    }

    /// Waits until `want` messages (at most the burst) may start, and
    /// returns how many: the fetch asks the broker for no more, so nothing
    /// fetched waits outside the pool for the rate limit while its lease
    /// runs. Returns `want` at once without a rate limit, and how long it
    /// waited.
    pub(crate) async fn pace(&self, want: usize) -> (usize, std::time::Duration) {
        let Some((limiter, burst)) = &self.rate else {
            return (want, std::time::Duration::ZERO);
        };
        let n = u32::try_from(want)
            .unwrap_or(u32::MAX)
            .clamp(1, burst.get());
        let n = NonZeroU32::new(n).expect("clamped to at least 1");
        let started = Instant::now();
        // `n` never exceeds the burst, so the wait always ends.
        let _ = limiter.until_n_ready(n).await;
        (n.get() as usize, started.elapsed())
    }
}
