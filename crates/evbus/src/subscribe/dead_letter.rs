//! The dead-letter step, run inside a pool job so the aggregate's key stays
//! held until the message was stored on the dead-letter topic.

use std::{sync::Arc, time::Duration, time::SystemTime};

use evbus_transport::{
    OutgoingMessage, Transport,
    dead_letter::{DeadLetter, Reason},
};

use super::job::{Source, Verdict};
use crate::{error::BusError, report::Reporter};

/// The first wait before a failed dead-letter publish is tried again.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between dead-letter publish attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What jobs need to finish a failed message: the retry limit, the handler
/// timeout, and where and how to dead-letter.
pub(crate) struct DeadLetterSink {
    transport: Arc<dyn Transport>,
    reporter: Arc<Reporter>,
    suffix: Option<String>,
    max_attempts: u32,
    handler_timeout: Option<Duration>,
}

impl DeadLetterSink {
    pub(crate) fn new(
        transport: Arc<dyn Transport>,
        reporter: Arc<Reporter>,
        suffix: Option<String>,
        max_attempts: u32,
        handler_timeout: Option<Duration>,
    ) -> Self {
        Self {
            transport,
            reporter,
            suffix,
            max_attempts: max_attempts.max(1),
            handler_timeout,
        }
    }

    pub(crate) fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    pub(crate) fn handler_timeout(&self) -> Option<Duration> {
        self.handler_timeout
    }

    /// The dead-letter topic of `topic`, when dead-lettering is on.
    pub(crate) fn topic_for(&self, topic: &str) -> Option<String> {
        self.suffix
            .as_ref()
            .map(|suffix| format!("{topic}{suffix}"))
    }

    /// Stores a copy of the message, with the dead-letter headers, on the
    /// dead-letter topic. A failed publish is retried in place with backoff
    /// (the aggregate waits; the lease is kept alive by the pool) and each
    /// failure is reported; only a close deadline ends the attempts, and the
    /// message is then nacked.
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
        let mut headers = source.headers.clone();
        headers.extend(dead.to_headers());
        let message = OutgoingMessage {
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
        let mut backoff = FIRST_BACKOFF;
        loop {
            match self.transport.publish(&topic, message.clone()).await {
                Ok(_) => {
                    tracing::warn!(topic = %meta.topic, position = %meta.position,
                        dead_letter_topic = %topic, reason = reason.as_str(), %error, attempts,
                        "message dead-lettered");
                    self.reporter.metrics().dead_lettered(reason);
                    return Verdict::DeadLettered;
                }
                Err(publish_error) => {
                    self.reporter
                        .report(BusError::from(publish_error).context(format!(
                            "dead-lettering {}@{} to `{topic}` failed; retrying in {backoff:?} \
                         while its aggregate waits",
                            meta.topic, meta.position
                        )));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
