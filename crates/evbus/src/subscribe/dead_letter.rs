//! The dead-letter step, run inside a pool job so the aggregate's key stays
//! held until the message was stored on the dead-letter topic.

use std::{sync::Arc, time::Duration, time::SystemTime};

use evbus_transport::{
    ErrorKind, OutgoingMessage, Transport,
    dead_letter::{DeadLetter, Reason, TRUNCATED, is_broker_directive},
};

use evbus_envelope::aggregate_id_of;
use evbus_keyed_pool::RetryPolicy;

use super::{
    job::{Source, Verdict},
    options::{DeadLetterTarget, FailureHook, SubscriptionOptions},
};
use crate::{
    error::BusError,
    operations::{DeadLetterCallbacks, DeadLettered},
    report::Reporter,
};

/// The first wait before a failed dead-letter publish is tried again.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between dead-letter publish attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What jobs need to finish a failed message: the retry policy, the
/// failure hook, the handler timeout, and where and how to dead-letter.
/// The bus holds one with its defaults; each subscription derives its own
/// ([`for_subscription`](Self::for_subscription)).
#[derive(Clone)]
pub(crate) struct DeadLetterSink {
    transport: Arc<dyn Transport>,
    reporter: Arc<Reporter>,
    suffix: Option<String>,
    /// A subscription's own dead-letter topic, overriding the suffix.
    fixed_topic: Option<String>,
    retry: RetryPolicy,
    on_failure: Option<FailureHook>,
    handler_timeout: Option<Duration>,
    /// The pool's retry counter: retries run inside jobs, not the pool.
    retries: metrics::Counter,
    callbacks: Arc<DeadLetterCallbacks>,
}

impl DeadLetterSink {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        reporter: Arc<Reporter>,
        suffix: Option<String>,
        retry: RetryPolicy,
        handler_timeout: Option<Duration>,
        pool_name: &str,
        callbacks: Arc<DeadLetterCallbacks>,
    ) -> Self {
        let pool = pool_name.to_owned();
        Self {
            transport,
            reporter,
            suffix,
            fixed_topic: None,
            retry,
            on_failure: None,
            handler_timeout,
            retries: metrics::counter!(evbus_keyed_pool::metric_names::RETRIES, "pool" => pool),
            callbacks,
        }
    }

    /// Counts a retry about to start.
    pub(crate) fn retried(&self) {
        self.retries.increment(1);
    }

    /// This sink with a subscription's overrides applied.
    pub(crate) fn for_subscription(&self, options: &SubscriptionOptions) -> Self {
        let mut sink = self.clone();
        if let Some(timeout) = options.handler_timeout {
            sink.handler_timeout = timeout;
        }
        if let Some(retry) = &options.retry {
            sink.retry = retry.clone();
        }
        match &options.dead_letter {
            None | Some(DeadLetterTarget::BusDefault) => {}
            Some(DeadLetterTarget::Topic(topic)) => sink.fixed_topic = Some(topic.clone()),
            Some(DeadLetterTarget::Disabled) => sink.suffix = None,
        }
        sink.on_failure = options.on_failure.clone();
        sink
    }

    pub(crate) fn max_attempts(&self) -> u32 {
        self.retry.max_attempts.max(1)
    }

    pub(crate) fn retry(&self) -> &RetryPolicy {
        &self.retry
    }

    pub(crate) fn on_failure(&self) -> Option<&FailureHook> {
        self.on_failure.as_ref()
    }

    pub(crate) fn handler_timeout(&self) -> Option<Duration> {
        self.handler_timeout
    }

    /// The dead-letter topic of `topic`, when dead-lettering is on.
    pub(crate) fn topic_for(&self, topic: &str) -> Option<String> {
        if let Some(fixed) = &self.fixed_topic {
            return Some(fixed.clone());
        }
        self.suffix
            .as_ref()
            .map(|suffix| format!("{topic}{suffix}"))
    }

    /// Stores a copy of the message, with the dead-letter headers, on the
    /// dead-letter topic.
    ///
    /// The copy leaves out headers that direct the broker's publish (they
    /// were meant for the original topic), and carries only a prefix of the
    /// payload, marked with the [`TRUNCATED`] header, when the whole would
    /// exceed the size limit. A publish that fails for a passing reason
    /// (the broker is unreachable) is retried in place with backoff (the
    /// aggregate waits; the lease is kept alive by the pool) and each
    /// failure is reported; only a close deadline ends those attempts. A
    /// publish that can never succeed is reported and the message parked:
    /// nacked, so the broker redelivers it after the redelivery delay while
    /// its aggregate moves on.
    pub(crate) async fn dead_letter(
        &self,
        source: &Source,
        reason: Reason,
        error: &str,
        attempts: u32,
        first_failure: SystemTime,
    ) -> Verdict {
        let meta = &source.meta;
        let Some(topic) = self.topic_for(&meta.topic) else {
            tracing::warn!(topic = %meta.topic, position = %meta.position, %error,
                "giving up on a message with no dead-letter topic configured: it will be redelivered");
            return Verdict::Unhandled;
        };
        let dead = DeadLetter {
            original_topic: meta.topic.to_string(),
            group: meta.group.to_string(),
            position: meta.position,
            reason,
            error: error.to_owned(),
            attempts,
            first_failure,
        };
        let mut headers: Vec<(String, String)> = source
            .headers
            .iter()
            .filter(|(name, _)| !is_broker_directive(name))
            .cloned()
            .collect();
        headers.extend(dead.to_headers());
        let mut message = OutgoingMessage {
            key: source.key.clone(),
            headers,
            payload: source.payload.clone(),
            // A dead letter stored twice (a retried publish whose first try
            // landed) is dropped by brokers that deduplicate.
            dedup_id: Some(format!(
                "dlq:{}:{}:{}",
                meta.group, meta.topic, meta.position
            )),
        };
        let limit = self.transport.capabilities(&topic).max_message_bytes;
        if message.wire_size() > limit {
            let fits = limit.saturating_sub(non_payload_size(&message) + FRAMING_SLACK);
            truncate(&mut message, fits);
        }
        let mut backoff = FIRST_BACKOFF;
        loop {
            let publish_error = match self.transport.publish(&topic, message.clone()).await {
                Ok(_) => {
                    tracing::warn!(topic = %meta.topic, position = %meta.position,
                        dead_letter_topic = %topic, reason = reason.as_str(), %error, attempts,
                        "message dead-lettered");
                    self.reporter.metrics().dead_lettered(reason);
                    self.callbacks.notify(|| DeadLettered {
                        topic: meta.topic.to_string(),
                        group: meta.group.to_string(),
                        dead_letter_topic: topic.clone(),
                        aggregate_id: aggregate_id_of(
                            None,
                            &source.headers,
                            source.key.as_deref(),
                            None,
                        ),
                        position: meta.position,
                        reason,
                        error: error.to_owned(),
                        attempts,
                    });
                    return Verdict::DeadLettered;
                }
                Err(publish_error) => publish_error,
            };
            if publish_error.kind() == ErrorKind::TooLarge && !message.payload.is_empty() {
                // The broker counts more than the transport's declared limit
                // (record framing): cut further until it fits.
                let half = message.payload.len() / 2;
                truncate(&mut message, half);
                continue;
            }
            let retryable = publish_error.is_retryable();
            let what = format!(
                "dead-lettering {}@{} to `{topic}` failed",
                meta.topic, meta.position
            );
            if !retryable {
                self.reporter
                    .report(BusError::from(publish_error).context(format!(
                        "{what} for good; the message is nacked and redelivered after the \
                         redelivery delay, and its aggregate goes on meanwhile"
                    )));
                return Verdict::Unhandled;
            }
            self.reporter
                .report(BusError::from(publish_error).context(format!(
                    "{what}; retrying in {backoff:?} while its aggregate waits"
                )));
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }
}

/// Room left for a broker's own framing of a record (Kafka's record and
/// batch headers, NATS's header block) when a dead letter is cut to fit.
const FRAMING_SLACK: usize = 1_024;

/// The size of a message without its payload, counting the [`TRUNCATED`]
/// header it may get.
fn non_payload_size(message: &OutgoingMessage) -> usize {
    message.wire_size() - message.payload.len() + TRUNCATED.len() + 20
}

/// Keeps at most `keep` bytes of the payload and records the original
/// length in the [`TRUNCATED`] header (set once: later cuts keep it).
fn truncate(message: &mut OutgoingMessage, keep: usize) {
    if !message.headers.iter().any(|(name, _)| name == TRUNCATED) {
        message
            .headers
            .push((TRUNCATED.to_owned(), message.payload.len().to_string()));
    }
    message.payload = message.payload.slice(..keep.min(message.payload.len()));
}
