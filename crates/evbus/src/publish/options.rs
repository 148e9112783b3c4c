//! Per-call publish options: a time limit for the whole call and retries of
//! retryable failures. Every attempt sends the same event id as dedup id,
//! so a retry after a lost acknowledgement is recognised by the broker's
//! dedup (JetStream `Nats-Msg-Id`, the memory dedup window) instead of
//! stored twice; on Kafka the consumer's idempotence covers it.

use std::time::Duration;

use evbus_envelope::Envelope;
use evbus_keyed_pool::RetryPolicy;
use evbus_transport::{ErrorKind, Receipt};

use crate::{
    bus::EventBus,
    error::{BusError, BusErrorKind, Result},
};

/// Options of one [`EventBus::publish_envelope_with`] call.
///
/// ```
/// use std::time::Duration;
/// use evbus::{PublishOptions, RetryPolicy};
///
/// let options = PublishOptions::new()
///     .timeout(Duration::from_secs(5))
///     .retry(RetryPolicy::attempts(3));
/// assert_eq!(options.retry.max_attempts, 3);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct PublishOptions {
    /// The time limit of the whole call, retries and their waits included.
    /// When it passes during an attempt the call fails with
    /// [`OutcomeUnknown`](evbus_transport::ErrorKind::OutcomeUnknown): the
    /// broker may have stored the event. Default: none (each attempt is
    /// bounded by the transport's own publish timeout).
    pub timeout: Option<Duration>,
    /// Attempts and waits for failures that are
    /// [retryable](BusError::is_retryable); others fail at once. Default:
    /// one attempt.
    pub retry: RetryPolicy,
}

impl PublishOptions {
    /// The defaults: no time limit, one attempt.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the time limit of the whole call.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sets the retry policy.
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

impl EventBus {
    /// Publishes an envelope like [`publish_envelope`](Self::publish_envelope),
    /// with a time limit and retries of retryable failures. Every attempt
    /// carries the envelope's event id as dedup id, so a broker with dedup
    /// stores it once even when an earlier attempt's acknowledgement was
    /// lost (the receipt then says
    /// [`duplicate`](evbus_transport::Receipt::duplicate)).
    pub async fn publish_envelope_with(
        &self,
        topic: &str,
        envelope: &Envelope,
        options: &PublishOptions,
    ) -> Result<Receipt> {
        let attempts = async {
            let mut retry = 0;
            loop {
                match self.publish_envelope(topic, envelope).await {
                    Ok(receipt) => return Ok(receipt),
                    Err(error)
                        if error.is_retryable() && retry + 1 < options.retry.max_attempts =>
                    {
                        retry += 1;
                        tracing::debug!(%error, retry, event_id = envelope.event_id(), "publish retried");
                        tokio::time::sleep(options.retry.backoff(retry)).await;
                    }
                    Err(error) => return Err(error),
                }
            }
        };
        let Some(limit) = options.timeout else {
            return attempts.await;
        };
        tokio::time::timeout(limit, attempts)
            .await
            .unwrap_or_else(|_| {
                Err(BusError::new(
                    BusErrorKind::Transport(ErrorKind::OutcomeUnknown),
                    format!(
                        "publish of event `{}` to `{topic}` did not finish within {limit:?}; \
                         the broker may have stored it",
                        envelope.event_id()
                    ),
                )
                .with_retryable(true))
            })
    }
}
