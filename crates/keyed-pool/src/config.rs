//! Pool configuration: sizes, timeouts and the retry policy.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::BuildError;

/// Configuration of a [`KeyedPool`](crate::KeyedPool).
///
/// Every field has a default (see each field), so a configuration file only
/// names what it changes. Durations are written like `"500ms"` or `"2s"`.
///
/// ```
/// use evbus_keyed_pool::PoolConfig;
///
/// let config: PoolConfig = serde_json::from_str(r#"{ "workers": 8, "enqueue_timeout": "2s" }"#).unwrap();
/// assert_eq!(config.workers, 8);
/// assert_eq!(config.capacity, 10_000);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Name used as the `pool` label of every metric. Default: `"default"`.
    pub name: String,
    /// Number of worker tasks, i.e. how many items run at the same time.
    /// Default: 256 (as in the Go SDK).
    pub workers: usize,
    /// Most items held at once, queued plus running (plus in retry backoff).
    /// Default: 10,000.
    pub capacity: usize,
    /// How long [`submit`](crate::KeyedPool::submit) and
    /// [`submit_blocking`](crate::KeyedPool::submit_blocking) wait for free
    /// capacity before returning [`SubmitError::Full`](crate::SubmitError::Full).
    /// Default: 500 ms.
    #[serde(with = "humantime_serde")]
    pub enqueue_timeout: Duration,
    /// Longest one attempt of the handler may run before it counts as
    /// [`TimedOut`](crate::TaskErrorKind::TimedOut). Default: `None` (no limit).
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Option<Duration>,
    /// How failed attempts are retried. Default: no retry (one attempt).
    pub retry: RetryPolicy,
    /// How often the wait hook (see
    /// [`PoolBuilder::on_wait`](crate::PoolBuilder::on_wait)) is called for
    /// each held item. Default: `None` (the hook is never called).
    #[serde(with = "humantime_serde")]
    pub keepalive_interval: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            workers: 256,
            capacity: 10_000,
            enqueue_timeout: Duration::from_millis(500),
            handler_timeout: None,
            retry: RetryPolicy::default(),
            keepalive_interval: None,
        }
    }
}

impl PoolConfig {
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        let invalid = |reason: &str| Err(BuildError::InvalidConfig(reason.to_owned()));
        if self.workers == 0 {
            return invalid("workers must be at least 1");
        }
        if self.capacity == 0 {
            return invalid("capacity must be at least 1");
        }
        if self.handler_timeout == Some(Duration::ZERO) {
            return invalid("handler_timeout must be greater than zero");
        }
        if self.keepalive_interval == Some(Duration::ZERO) {
            return invalid("keepalive_interval must be greater than zero");
        }
        self.retry.validate()
    }
}

/// Retry policy for failed attempts: exponential backoff with jitter.
///
/// Retries happen in place: while an item waits for its next attempt, the
/// later items of its key wait too, so per-key order holds across retries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts per item, the first one included; 1 means no retry.
    /// Default: 1.
    pub max_attempts: u32,
    /// Wait before the first retry. Default: 100 ms.
    #[serde(with = "humantime_serde")]
    pub initial_backoff: Duration,
    /// Upper bound of any wait between attempts. Default: 10 s.
    #[serde(with = "humantime_serde")]
    pub max_backoff: Duration,
    /// Factor by which the wait grows after each retry (at least 1.0).
    /// Default: 2.0.
    pub multiplier: f64,
    /// Random spread of each wait, as a fraction in `0.0..=1.0`: a wait `w`
    /// becomes a random value in `w * (1 - jitter) ..= w * (1 + jitter)`,
    /// still capped by `max_backoff`. Default: 0.2.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 1,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// A policy of `max_attempts` attempts with the default backoff.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..Self::default()
        }
    }

    /// The same policy with the given backoff bounds.
    pub fn with_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max;
        self
    }

    /// The same policy with the given jitter fraction.
    pub fn with_jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }

    fn validate(&self) -> Result<(), BuildError> {
        let invalid = |reason: &str| Err(BuildError::InvalidConfig(reason.to_owned()));
        if self.max_attempts == 0 {
            return invalid("retry.max_attempts must be at least 1");
        }
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return invalid("retry.multiplier must be a finite number >= 1.0");
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return invalid("retry.jitter must be within 0.0..=1.0");
        }
        if self.initial_backoff > self.max_backoff {
            return invalid("retry.initial_backoff must not exceed retry.max_backoff");
        }
        Ok(())
    }

    /// Wait before retry number `retry` (1 for the first retry), jittered
    /// and capped as configured. Public so other retry loops (per-call
    /// publish retries, per-subscription retries) follow the same policy.
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = i32::try_from(retry.saturating_sub(1)).unwrap_or(i32::MAX);
        let base = self.initial_backoff.as_secs_f64() * self.multiplier.powi(exponent);
        let spread = 1.0 + self.jitter * (2.0 * rand::random::<f64>() - 1.0);
        let max = self.max_backoff.as_secs_f64();
        let secs = base * spread;
        // A huge exponent makes `base` infinite, and infinity times a zero
        // spread is NaN: both mean "as long as allowed".
        if secs.is_nan() {
            return self.max_backoff;
        }
        Duration::from_secs_f64(secs.clamp(0.0, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_documentation() {
        let config = PoolConfig::default();
        assert_eq!(config.workers, 256);
        assert_eq!(config.capacity, 10_000);
        assert_eq!(config.enqueue_timeout, Duration::from_millis(500));
        assert_eq!(config.handler_timeout, None);
        assert_eq!(config.retry.max_attempts, 1);
        assert_eq!(config.keepalive_interval, None);
    }

    #[test]
    fn durations_deserialize_from_human_strings() {
        let config: PoolConfig = serde_json::from_str(
            r#"{"enqueue_timeout":"2s","handler_timeout":"750ms",
                "keepalive_interval":"5s","retry":{"max_attempts":3,"initial_backoff":"10ms"}}"#,
        )
        .unwrap();
        assert_eq!(config.enqueue_timeout, Duration::from_secs(2));
        assert_eq!(config.handler_timeout, Some(Duration::from_millis(750)));
        assert_eq!(config.keepalive_interval, Some(Duration::from_secs(5)));
        assert_eq!(config.retry.max_attempts, 3);
        assert_eq!(config.retry.initial_backoff, Duration::from_millis(10));
        assert_eq!(config.retry.max_backoff, Duration::from_secs(10));
        assert_eq!(config.workers, 256);
    }

    #[test]
    fn invalid_values_are_rejected_with_a_reason() {
        let reason = |config: PoolConfig| match config.validate() {
            Err(BuildError::InvalidConfig(reason)) => reason,
            other => panic!("expected InvalidConfig, got {other:?}"),
        };
        let no_workers = PoolConfig {
            workers: 0,
            ..PoolConfig::default()
        };
        assert!(reason(no_workers).contains("workers"));
        let wild_jitter = PoolConfig {
            retry: RetryPolicy::attempts(2).with_jitter(1.5),
            ..PoolConfig::default()
        };
        assert!(reason(wild_jitter).contains("jitter"));
        let no_attempts = PoolConfig {
            retry: RetryPolicy::attempts(0),
            ..PoolConfig::default()
        };
        assert!(reason(no_attempts).contains("max_attempts"));
    }

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let policy = RetryPolicy::attempts(10)
            .with_backoff(Duration::from_millis(10), Duration::from_millis(50))
            .with_jitter(0.0);
        assert_eq!(policy.backoff(1), Duration::from_millis(10));
        assert_eq!(policy.backoff(2), Duration::from_millis(20));
        assert_eq!(policy.backoff(3), Duration::from_millis(40));
        assert_eq!(policy.backoff(4), Duration::from_millis(50));
        assert_eq!(policy.backoff(u32::MAX), Duration::from_millis(50));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let policy = RetryPolicy::attempts(2)
            .with_backoff(Duration::from_millis(100), Duration::from_secs(1))
            .with_jitter(0.5);
        for _ in 0..200 {
            let wait = policy.backoff(1);
            assert!(wait >= Duration::from_millis(50) && wait <= Duration::from_millis(150));
        }
    }
}
