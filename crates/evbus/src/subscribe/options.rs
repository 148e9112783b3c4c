//! Per-subscription options: what one subscription does differently from
//! the bus defaults ([`BusConfig::subscribe`](crate::BusConfig::subscribe),
//! [`BusConfig::pool`](crate::BusConfig::pool),
//! [`BusConfig::dead_letter`](crate::BusConfig::dead_letter)).

use std::{fmt, sync::Arc, time::Duration};

use evbus_keyed_pool::RetryPolicy;
use evbus_transport::StartFrom;

use crate::{
    handler::{DeliveryMeta, HandlerError},
    rate_limit::RateLimit,
};

/// What the bus does with one failed handler attempt, as an
/// [`SubscriptionOptions::on_failure`] hook decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureAction {
    /// Run the handler again after the retry policy's backoff. The hook,
    /// not the policy's `max_attempts`, decides: it sees the attempt
    /// number.
    Retry,
    /// Run the handler again after this delay.
    RetryAfter(Duration),
    /// Store the message on the dead-letter topic (or, with dead-lettering
    /// off, nack it for redelivery) and go on with its aggregate.
    DeadLetter,
    /// Acknowledge the message without handling it: it is never delivered
    /// again. Logged at warn level.
    Skip,
}

/// One failed handler attempt, as the [`SubscriptionOptions::on_failure`]
/// hook sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Failure<'a> {
    /// What the handler returned (a timeout or a panic is a
    /// [`HandlerError`] too).
    pub error: &'a HandlerError,
    /// The attempt that failed: 1 for the first.
    pub attempt: u32,
    /// The message's delivery metadata.
    pub meta: &'a DeliveryMeta,
}

/// Decides what happens after a failed attempt.
pub type FailureHook = Arc<dyn Fn(&Failure<'_>) -> FailureAction + Send + Sync>;

/// Where a subscription's messages go when the bus gives up on them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadLetterTarget {
    /// The bus's choice: the topic plus
    /// [`DeadLetterConfig::suffix`](crate::DeadLetterConfig::suffix).
    BusDefault,
    /// This topic.
    Topic(String),
    /// No dead-lettering: a message given up on is nacked and redelivered
    /// after [`DeadLetterConfig::redelivery_delay`](crate::DeadLetterConfig::redelivery_delay).
    Disabled,
}

/// What one subscription does differently from the bus's defaults. Every
/// option left unset keeps the bus's setting.
///
/// ```
/// use std::time::Duration;
/// use evbus::{FailureAction, RetryPolicy, SubscriptionOptions, transport::StartFrom};
///
/// let options = SubscriptionOptions::new()
///     .group("audit")
///     .start_from(StartFrom::Latest)
///     .handler_timeout(Some(Duration::from_secs(5)))
///     .retry(RetryPolicy::attempts(3))
///     .max_in_flight(16)
///     .on_failure(|failure| {
///         if failure.attempt < 5 { FailureAction::RetryAfter(Duration::from_secs(1)) }
///         else { FailureAction::DeadLetter }
///     });
/// assert_eq!(options.group_name(), Some("audit"));
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct SubscriptionOptions {
    pub(crate) group: Option<String>,
    pub(crate) start_from: StartFrom,
    pub(crate) handler_timeout: Option<Option<Duration>>,
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) dead_letter: Option<DeadLetterTarget>,
    pub(crate) max_in_flight: Option<usize>,
    pub(crate) rate_limit: Option<RateLimit>,
    pub(crate) on_failure: Option<FailureHook>,
}

impl SubscriptionOptions {
    /// The bus's defaults for everything.
    pub fn new() -> Self {
        Self::default()
    }

    /// The consumer group. Default: [`SubscribeConfig::group`](crate::SubscribeConfig::group),
    /// else the service name.
    pub fn group(mut self, group: impl Into<String>) -> Self {
        self.group = Some(group.into());
        self
    }

    /// The group set with [`group`](Self::group), if any.
    pub fn group_name(&self) -> Option<&str> {
        self.group.as_deref()
    }

    /// Where a new consumer group starts. Default: [`StartFrom::Earliest`].
    /// A group that already consumed resumes where it stopped either way.
    pub fn start_from(mut self, start_from: StartFrom) -> Self {
        self.start_from = start_from;
        self
    }

    /// The longest one handler attempt may run before it counts as a
    /// retryable failure; `None` for no limit. Default:
    /// [`SubscribeConfig::handler_timeout`](crate::SubscribeConfig::handler_timeout).
    pub fn handler_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.handler_timeout = Some(timeout);
        self
    }

    /// How failed attempts are retried (in place: later messages of the
    /// aggregate wait). Default: [`BusConfig::pool`](crate::BusConfig::pool)`.retry`.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// Where messages given up on go. Default: [`DeadLetterTarget::BusDefault`].
    pub fn dead_letter(mut self, target: DeadLetterTarget) -> Self {
        self.dead_letter = Some(target);
        self
    }

    /// The most messages of this subscription held in the bus's shared pool
    /// at once (queued, running or waiting to be retried): its concurrency
    /// cap and its share of the pool. Default:
    /// [`SubscribeConfig::pool_share`](crate::SubscribeConfig::pool_share)
    /// of the pool's workers.
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.max_in_flight = Some(max);
        self
    }

    /// Limits how fast this subscription's handlers are started. Default:
    /// no limit.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Decides, after each failed attempt, whether to retry, retry after a
    /// delay, dead-letter or skip the message. Default: retry as the retry
    /// policy allows, dead-letter at once a
    /// [permanent](HandlerError::permanent) failure or the last attempt's.
    pub fn on_failure(
        mut self,
        hook: impl Fn(&Failure<'_>) -> FailureAction + Send + Sync + 'static,
    ) -> Self {
        self.on_failure = Some(Arc::new(hook));
        self
    }
}

impl fmt::Debug for SubscriptionOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionOptions")
            .field("group", &self.group)
            .field("start_from", &self.start_from)
            .field("handler_timeout", &self.handler_timeout)
            .field("retry", &self.retry)
            .field("dead_letter", &self.dead_letter)
            .field("max_in_flight", &self.max_in_flight)
            .field("rate_limit", &self.rate_limit)
            .field("on_failure", &self.on_failure.is_some())
            .finish()
    }
}
