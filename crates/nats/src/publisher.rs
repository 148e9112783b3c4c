//! Publishing: JetStream async publish bounded by async-nats's in-flight
//! window, core NATS publish for ephemeral topics.

use std::sync::atomic::Ordering;

use async_nats::{HeaderMap, jetstream::context::PublishAckFuture};
use bytes::Bytes;
use evbus_transport::{
    ConnectionState, ErrorKind, OutgoingMessage, Position, Receipt, Result, TopicUse,
    TransportError,
};

use crate::{error, mapping, topics::Mode, transport::Inner};

/// A message checked and encoded for the wire.
struct Prepared {
    headers: Option<HeaderMap>,
    payload: Bytes,
    /// The partition and its subject (the topic itself when unpartitioned).
    partition: u32,
    subject: String,
}

/// A JetStream publish that was sent and awaits its ack.
struct PendingAck<'a> {
    topic: &'a str,
    partition: u32,
    future: PublishAckFuture,
    counted: Counted<'a>,
}

impl PendingAck<'_> {
    async fn resolve(self) -> Result<Receipt> {
        let PendingAck {
            topic,
            partition,
            future,
            counted,
        } = self;
        let result = future.await;
        let inner = counted.0;
        drop(counted);
        match result {
            Ok(ack) => Ok(Receipt {
                position: Position {
                    partition,
                    offset: ack.sequence,
                },
                duplicate: ack.duplicate,
            }),
            Err(err) => Err(inner.publish_failure(err, topic)),
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
        let send_all = async move {
            for message in messages {
                let sent = match self
                    .ensure_open()
                    .and_then(|()| self.prepare(topic, message))
                {
                    Ok(prepared) => self.send(topic, prepared).await,
                    Err(error) => Err(error),
                };
                if sent_tx.send(sent).is_err() {
                    break;
                }
            }
        };
        let await_acks = async {
            let mut results = Vec::with_capacity(count);
            while let Some(sent) = sent_rx.recv().await {
                results.push(match sent {
                    Ok(pending) => pending.resolve().await,
                    Err(error) => Err(error),
                });
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

    fn prepare(&self, topic: &str, message: OutgoingMessage) -> Result<Prepared> {
        self.validate_topic(topic, TopicUse::Publish)?;
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
        let headers = mapping::encode_headers(&message)?;
        let on_wire = mapping::nats_size(headers.as_ref(), message.payload.len());
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
        let (partition, subject) = self.topics.route(topic, message.key.as_deref());
        Ok(Prepared {
            headers,
            payload: message.payload,
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
        let mut publish =
            async_nats::jetstream::message::PublishMessage::build().payload(prepared.payload);
        if let Some(headers) = prepared.headers {
            publish = publish.headers(headers);
        }
        // Waits here, without sending, while the ack window is full.
        let future = self
            .jetstream
            .send_publish(prepared.subject, publish)
            .await
            .map_err(|error| self.publish_failure(error, topic))?;
        Ok(PendingAck {
            topic,
            partition: prepared.partition,
            future,
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

    fn publish_failure(
        &self,
        error: async_nats::jetstream::context::PublishError,
        topic: &str,
    ) -> TransportError {
        match self.ensure_open() {
            Err(closed) => closed,
            Ok(()) => error::publish(error, topic),
        }
    }
}
