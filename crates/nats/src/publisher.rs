//! Publishing: JetStream async publish bounded by async-nats's in-flight
//! window, core NATS publish for ephemeral topics.
//!
//! Every JetStream publish ends within `publish_timeout` of the moment it
//! started: waiting for a slot in the ack window, for room in the client's
//! queue and for the ack all count against one deadline. async-nats's own
//! ack timeout starts only when its future is first polled, so a batch that
//! awaited its acks one after the other (each with a fresh timeout) could
//! hang for a timeout per message after a leader failover or a stalled link
//! (issue 17).

use std::sync::atomic::Ordering;

use async_nats::{
    HeaderMap, Subject,
    jetstream::context::{PublishAckFuture, PublishErrorKind},
};
use bytes::Bytes;
use evbus_transport::{
    ConnectionState, ErrorKind, OutgoingMessage, Position, Receipt, Result, TopicUse,
    TransportError,
};
use tokio::{sync::watch, time::Instant};

use crate::{error, mapping, topics::Mode, transport::Inner};

/// A message checked and encoded for the wire.
struct Prepared {
    headers: Option<HeaderMap>,
    payload: Bytes,
    /// The partition and its subject (the topic itself when unpartitioned).
    partition: u32,
    subject: Subject,
}

/// A JetStream publish that was sent and awaits its ack.
struct PendingAck<'a> {
    topic: &'a str,
    partition: u32,
    future: PublishAckFuture,
    /// When the publish started plus `publish_timeout`.
    deadline: Instant,
    counted: Counted<'a>,
}

impl PendingAck<'_> {
    async fn resolve(self) -> Result<Receipt> {
        let PendingAck {
            topic,
            partition,
            future,
            deadline,
            counted,
        } = self;
        let result = tokio::time::timeout_at(deadline, future).await;
        let inner = counted.0;
        drop(counted);
        match result {
            Ok(Ok(ack)) => Ok(Receipt {
                position: Position {
                    partition,
                    offset: ack.sequence,
                },
                duplicate: ack.duplicate,
            }),
            Ok(Err(err)) => Err(inner.publish_failure(err, topic, partition).await),
            Err(_elapsed) => Err(inner.ensure_open().err().unwrap_or_else(|| {
                error::on_topic(
                    ErrorKind::OutcomeUnknown,
                    topic,
                    "no ack from JetStream within publish_timeout: the message may be stored; \
                     republish it with the same dedup id",
                )
            })),
        }
    }
}

/// Counts a sent publish in [`Inner::pending_acks`] until it resolves or is
/// dropped (a cancelled publish), like async-nats's own window permit.
struct Counted<'a>(&'a Inner);

impl<'a> Counted<'a> {
    fn new(inner: &'a Inner) -> Self {
        inner.pending_acks.fetch_add(1, Ordering::Relaxed);
        Self(inner)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.pending_acks.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Inner {
    pub(crate) async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        self.ensure_open()?;
        self.validate_topic(topic, TopicUse::Publish)?;
        let prepared = self.prepare(topic, message)?;
        let _gate = self.publish_gate.read().await;
        self.ensure_open()?;
        match self.topics.mode(topic) {
            Mode::Core => self.publish_core(topic, prepared).await,
            Mode::JetStream => self.send(topic, prepared).await?.resolve().await,
        }
    }

    /// Sends every message, in order, while awaiting the acks in order, so a
    /// batch larger than the ack window flows through it instead of
    /// deadlocking on its own unresolved acks.
    ///
    /// Once a publish fails with a retryable error (the connection dropped,
    /// an ack or a window slot did not come in time), the messages not sent
    /// yet are not sent: each gets a retryable error of its own, so the
    /// call ends within `publish_timeout` of that failure instead of
    /// spending a timeout on every remaining message.
    pub(crate) async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>> {
        if self.ensure_open().is_err() {
            return messages
                .iter()
                .map(|_| Err(TransportError::closed(crate::NAME, "the transport")))
                .collect();
        }
        // Checked once for the whole batch: every message has the same topic.
        if self.validate_topic(topic, TopicUse::Publish).is_err() {
            return messages
                .iter()
                .filter_map(|_| self.validate_topic(topic, TopicUse::Publish).err())
                .map(Err)
                .collect();
        }
        let _gate = self.publish_gate.read().await;
        if self.topics.mode(topic) == Mode::Core {
            let mut results = Vec::with_capacity(messages.len());
            for message in messages {
                let result = match self.prepare(topic, message) {
                    Ok(prepared) => self.publish_core(topic, prepared).await,
                    Err(error) => Err(error),
                };
                results.push(result);
            }
            return results;
        }
        let count = messages.len();
        // Unbounded, yet it never holds more than the ack window plus one:
        // each entry is a sent publish holding one of async-nats's permits.
        let (sent_tx, mut sent_rx) = tokio::sync::mpsc::unbounded_channel();
        // The kind of the batch's first retryable failure.
        let (failed_tx, failed_rx) = watch::channel(None::<ErrorKind>);
        let failed = |error: Option<&TransportError>| {
            if let Some(error) = error
                && error.is_retryable()
            {
                failed_tx.send_if_modified(|first| first.replace(error.kind()).is_none());
            }
        };
        let send_all = async {
            let mut failed_rx = failed_rx.clone();
            for message in messages {
                let first = *failed_rx.borrow();
                let sent = match first {
                    Some(first) => Err(not_sent(topic, first)),
                    None => match self
                        .ensure_open()
                        .and_then(|()| self.prepare(topic, message))
                    {
                        Ok(prepared) => tokio::select! {
                            sent = self.send(topic, prepared) => sent,
                            first = failed_rx.wait_for(Option::is_some) => {
                                let first = first.ok().and_then(|first| *first);
                                Err(not_sent(topic, first.unwrap_or(ErrorKind::Timeout)))
                            }
                        },
                        Err(error) => Err(error),
                    },
                };
                failed(sent.as_ref().err());
                if sent_tx.send(sent).is_err() {
                    break;
                }
            }
            drop(sent_tx);
        };
        let await_acks = async {
            let mut results = Vec::with_capacity(count);
            while let Some(sent) = sent_rx.recv().await {
                let result = match sent {
                    Ok(pending) => pending.resolve().await,
                    Err(error) => Err(error),
                };
                failed(result.as_ref().err());
                results.push(result);
            }
            results
        };
        let ((), results) = tokio::join!(send_all, await_acks);
        results
    }

    /// Waits for every publish issued before the call, then for the
    /// connection to write out what it buffered (core NATS publishes, acks).
    pub(crate) async fn flush_publishes(&self) -> Result<()> {
        drop(self.publish_gate.write().await);
        match tokio::time::timeout(self.config.publish_timeout, self.client.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(TransportError::new(
                ErrorKind::Disconnected,
                crate::NAME,
                "flushing the connection failed",
            )
            .with_source(error)),
            Err(_) => Err(TransportError::new(
                ErrorKind::Timeout,
                crate::NAME,
                "the connection did not flush within publish_timeout",
            )),
        }
    }

    /// Checks the size and encodes the headers of a message to a topic the
    /// caller validated.
    fn prepare(&self, topic: &str, message: OutgoingMessage) -> Result<Prepared> {
        let max = self.max_message_bytes();
        let size = message.wire_size();
        if size > max {
            return Err(error::on_topic(
                ErrorKind::TooLarge,
                topic,
                format!(
                    "{size} bytes exceed the limit of {max} (the server's max_payload of {} \
                     less 1 KiB kept for evbus's headers)",
                    self.client.max_payload()
                ),
            ));
        }
        let (partition, subject) = self.topics.route(topic, message.key.as_deref());
        let OutgoingMessage {
            key,
            headers,
            payload,
            dedup_id,
        } = message;
        let headers = mapping::encode_headers(headers, key, dedup_id)?;
        let on_wire = mapping::nats_size(headers.as_ref(), payload.len());
        if on_wire > self.client.max_payload() {
            return Err(error::on_topic(
                ErrorKind::TooLarge,
                topic,
                format!(
                    "{on_wire} bytes with NATS header framing exceed the server's max_payload \
                     of {}",
                    self.client.max_payload()
                ),
            ));
        }
        Ok(Prepared {
            headers,
            payload,
            partition,
            subject,
        })
    }

    /// Fails at once while the connection is down instead of queueing the
    /// message in the client until the publish timeout.
    fn ensure_connected(&self, topic: &str) -> Result<()> {
        match *self.state.borrow() {
            ConnectionState::Connected => Ok(()),
            _ => Err(error::on_topic(
                ErrorKind::Disconnected,
                topic,
                "the connection to NATS is down and the client is reconnecting; nothing was sent",
            )),
        }
    }

    async fn send<'a>(&'a self, topic: &'a str, prepared: Prepared) -> Result<PendingAck<'a>> {
        self.ensure_connected(topic)?;
        let deadline = Instant::now() + self.config.publish_timeout;
        let mut publish =
            async_nats::jetstream::message::PublishMessage::build().payload(prepared.payload);
        if let Some(headers) = prepared.headers {
            publish = publish.headers(headers);
        }
        // Waits here, without sending, while the ack window is full (the
        // wait async-nats does not bound) or the client's queue is.
        let sent = tokio::time::timeout_at(
            deadline,
            self.jetstream.send_publish(prepared.subject, publish),
        )
        .await
        .map_err(|_elapsed| {
            error::on_topic(
                ErrorKind::Timeout,
                topic,
                "no room in the ack window or the client's queue within \
                         publish_timeout; nothing was sent",
            )
        })?;
        let future = match sent {
            Ok(future) => future,
            Err(error) => {
                return Err(self.publish_failure(error, topic, prepared.partition).await);
            }
        };
        Ok(PendingAck {
            topic,
            partition: prepared.partition,
            future,
            deadline,
            counted: Counted::new(self),
        })
    }

    async fn publish_core(&self, topic: &str, prepared: Prepared) -> Result<Receipt> {
        self.ensure_connected(topic)?;
        let subject = topic.to_owned();
        let sent = match prepared.headers {
            Some(headers) => {
                self.client
                    .publish_with_headers(subject, headers, prepared.payload)
                    .await
            }
            None => self.client.publish(subject, prepared.payload).await,
        };
        sent.map_err(|error| {
            self.ensure_open().err().unwrap_or_else(|| {
                error::on_topic(
                    ErrorKind::Disconnected,
                    topic,
                    "the client could not send the message",
                )
                .with_source(error)
            })
        })?;
        // Core NATS stores nothing: there is no position to report.
        Ok(Receipt {
            position: Position::default(),
            duplicate: false,
        })
    }

    /// The error of a failed publish to `topic`'s `partition`.
    async fn publish_failure(
        &self,
        error: async_nats::jetstream::context::PublishError,
        topic: &str,
        partition: u32,
    ) -> TransportError {
        if let Err(closed) = self.ensure_open() {
            return closed;
        }
        let verdict = if error.kind() == PublishErrorKind::StreamNotFound {
            let partitions = self.topics.partitions(topic);
            let subject = mapping::partition_subject(topic, partitions, partition);
            Some(
                self.stream_probe
                    .why_unanswered(&self.jetstream, &subject)
                    .await,
            )
        } else {
            None
        };
        error::publish(error, topic, verdict)
    }
}

/// The error of a batch's message left unsent after an earlier retryable
/// failure of `first`'s kind: as retryable, and nothing was sent.
fn not_sent(topic: &str, first: ErrorKind) -> TransportError {
    let kind = if first == ErrorKind::Disconnected {
        ErrorKind::Disconnected
    } else {
        ErrorKind::Timeout
    };
    error::on_topic(
        kind,
        topic,
        format!("not sent: an earlier publish of this batch failed ({first}); send it again"),
    )
}
