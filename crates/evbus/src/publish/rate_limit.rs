//! The bus-wide publish rate limit: a token bucket (`governor`'s GCRA) of
//! messages per second with a burst. Publishing calls wait for tokens; none
//! fails or drops because of the limit.

use std::{
    num::NonZeroU32,
    time::{Duration, Instant},
};

use crate::{
    error::{BusError, Result},
    rate_limit::RateLimit,
};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The limiter of one bus.
pub(crate) struct PublishLimiter {
    limiter: DefaultDirectRateLimiter,
    burst: NonZeroU32,
}

impl PublishLimiter {
    pub(crate) fn new(limit: &RateLimit) -> Result<Self> {
        let invalid =
            || BusError::config("publish.rate_limit: per_second and burst must be at least 1");
        let per_second = NonZeroU32::new(limit.per_second).ok_or_else(invalid)?;
        let burst = NonZeroU32::new(limit.burst.unwrap_or(limit.per_second)).ok_or_else(invalid)?;
        Ok(Self {
            limiter: RateLimiter::direct(Quota::per_second(per_second).allow_burst(burst)),
            burst,
        })
    }

    /// Waits until `messages` tokens were taken: a batch larger than the
    /// burst takes them a burst at a time. Returns how long it waited for
    /// tokens, zero when they were ready at once (the metric
    /// `evbus_publish_rate_wait_seconds` counts only publishes held back).
    pub(crate) async fn acquire(&self, messages: usize) -> Duration {
        let started = Instant::now();
        let mut held_back = false;
        let mut left = u32::try_from(messages).unwrap_or(u32::MAX);
        while let Some(now) = NonZeroU32::new(left.min(self.burst.get())) {
            if !matches!(self.limiter.check_n(now), Ok(Ok(()))) {
                // Cannot fail: `now` never exceeds the burst.
                let _ = self.limiter.until_n_ready(now).await;
                held_back = true;
            }
            left -= now.get();
        }
        if held_back {
            started.elapsed()
        } else {
            Duration::ZERO
        }
    }
}
