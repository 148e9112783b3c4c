//! Settling deliveries once their fate is known: ack after success, ack after
//! a successful dead-letter publish, nack otherwise. Never an ack before one
//! of the first two.

use std::{sync::Arc, time::SystemTime};

use evbus_keyed_pool::{Completion, TaskErrorKind};
use evbus_transport::{
    AckHandle, OutgoingMessage,
    dead_letter::{DeadLetter, Reason},
};
use futures::{StreamExt, stream::FuturesUnordered};
use tokio::sync::mpsc;

use super::job::{Job, Source};
use crate::{
    bus::BusInner,
    error::BusError,
    handler::HandlerError,
    telemetry::{self, Outcome},
};

/// A delivery whose fate is being decided.
pub(crate) enum Pending {
    /// Handed to the pool; settled when its completion resolves.
    Pooled {
        completion: Completion<(), HandlerError>,
        job: Arc<Job>,
        ack: AckHandle,
    },
    /// Given up on before it reached a handler (undecodable, delivered too
    /// often).
    GiveUp {
        source: Source,
        reason: Reason,
        error: String,
        ack: AckHandle,
    },
}

/// Settles every pending delivery of one subscription, concurrently, until
/// the channel closes and all of them are settled.
pub(crate) async fn run(bus: Arc<BusInner>, mut pending: mpsc::UnboundedReceiver<Pending>) {
    let mut settling = FuturesUnordered::new();
    let mut open = true;
    while open || !settling.is_empty() {
        tokio::select! {
            next = pending.recv(), if open => match next {
                Some(item) => settling.push(settle(bus.clone(), item)),
                None => open = false,
            },
            Some(()) = settling.next(), if !settling.is_empty() => {}
        }
    }
}

async fn settle(bus: Arc<BusInner>, pending: Pending) {
    match pending {
        Pending::Pooled {
            completion,
            job,
            ack,
        } => match completion.await {
            Ok(()) => {
                telemetry::handled(Outcome::Handled);
                finish(&bus, job.source(), ack.ack().await);
            }
            Err(failure) => {
                let attempts = failure.attempts();
                let first_failure = failure.first_failure();
                let error = match failure.into_kind() {
                    TaskErrorKind::Abandoned => {
                        // Given up at close: redeliver it (and, through the
                        // pool's drain order, every later queued message of
                        // its key, which is abandoned the same way).
                        telemetry::handled(Outcome::Abandoned);
                        finish(
                            &bus,
                            job.source(),
                            ack.nack(std::time::Duration::ZERO).await,
                        );
                        return;
                    }
                    TaskErrorKind::Handler(error) => error.to_string(),
                    TaskErrorKind::Panicked(message) => format!("handler panicked: {message}"),
                    TaskErrorKind::TimedOut => "handler timed out".to_owned(),
                    other => format!("{other:?}"),
                };
                dead_letter(
                    &bus,
                    job.source(),
                    Reason::HandlerFailed,
                    error,
                    attempts,
                    first_failure,
                    ack,
                )
                .await;
            }
        },
        Pending::GiveUp {
            source,
            reason,
            error,
            ack,
        } => dead_letter(&bus, &source, reason, error, 0, SystemTime::now(), ack).await,
    }
}

/// Publishes a dead-letter copy and acks the original only once it is stored.
async fn dead_letter(
    bus: &BusInner,
    source: &Source,
    reason: Reason,
    error: String,
    attempts: u32,
    first_failure: SystemTime,
    ack: AckHandle,
) {
    let meta = &source.meta;
    let Some(topic) = bus.dead_letter_topic(&meta.topic) else {
        tracing::warn!(topic = %meta.topic, position = %meta.position, %error,
            "giving up on a message with no dead-letter topic configured: redelivering it");
        telemetry::handled(Outcome::Redelivered);
        let delay = bus.config.dead_letter.redelivery_delay;
        finish(bus, source, ack.nack(delay).await);
        return;
    };
    let dead = DeadLetter {
        original_topic: meta.topic.to_string(),
        group: meta.group.to_string(),
        position: meta.position,
        reason,
        error,
        attempts,
        first_failure,
    };
    let mut headers = source.headers.clone();
    headers.extend(dead.to_headers());
    let message = OutgoingMessage {
        key: source.key.clone(),
        headers,
        payload: source.payload.clone(),
        // A retried dead-letter publish (after a failed ack) is dropped by
        // brokers that deduplicate.
        dedup_id: Some(format!(
            "dlq:{}:{}:{}",
            meta.group, meta.topic, meta.position
        )),
    };
    match bus.transport.publish(&topic, message).await {
        Ok(_) => {
            tracing::warn!(topic = %meta.topic, position = %meta.position, dead_letter_topic = %topic,
                reason = reason.as_str(), error = %dead.error, attempts, "message dead-lettered");
            telemetry::dead_lettered(reason);
            telemetry::handled(Outcome::DeadLettered);
            finish(bus, source, ack.ack().await);
        }
        Err(publish_error) => {
            bus.report(BusError::from(publish_error).context(format!(
                "dead-lettering {}@{} to `{topic}` failed; the message will be redelivered",
                meta.topic, meta.position
            )));
            telemetry::handled(Outcome::Redelivered);
            let delay = bus.config.dead_letter.redelivery_delay;
            finish(bus, source, ack.nack(delay).await);
        }
    }
}

/// Reports a failed settlement. The broker redelivers an unsettled message,
/// so nothing is lost, but the user must hear of it.
fn finish(bus: &BusInner, source: &Source, settled: evbus_transport::Result<()>) {
    if let Err(error) = settled {
        let meta = &source.meta;
        bus.report(BusError::from(error).context(format!(
            "settling {}@{} failed; the broker will redeliver it",
            meta.topic, meta.position
        )));
    }
}
