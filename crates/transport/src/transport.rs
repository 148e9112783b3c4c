//! The contract every transport keeps. Each `# Behavior` bullet names the
//! conformance scenario (`evbus_transport::testkit`) that checks it.

use std::sync::Arc;

use async_trait::async_trait;
use evbus_topics::{TopicAdmin, TopicOptions};

use crate::{
    backlog::Backlog,
    capabilities::Capabilities,
    connection::ConnectionEvent,
    delivery::Delivery,
    error::Result,
    message::{OutgoingMessage, Receipt},
    topic::TopicUse,
};

/// Where a consumer group with no stored progress starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StartFrom {
    /// The earliest retained message: nothing is skipped silently (default).
    #[default]
    Earliest,
    /// Only messages published after the subscription was opened.
    Latest,
}

/// Options of one subscription.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct SubscribeOptions {
    /// Where a new group starts. Default: [`StartFrom::Earliest`].
    pub start_from: StartFrom,
}

impl SubscribeOptions {
    /// Sets where a new group starts.
    pub fn start_from(mut self, start_from: StartFrom) -> Self {
        self.start_from = start_from;
        self
    }
}

/// The state of a transport's connection to its broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Connected and working.
    Connected,
    /// The connection was lost; the client is reconnecting.
    Reconnecting,
    /// Closed by [`Transport::close`].
    Closed,
}

/// A broker connection that publishes and subscribes. Transports move bytes
/// and headers only: decoding, retries and dead-lettering are the bus's.
#[async_trait]
pub trait Transport: Send + Sync + 'static {
    /// A short name for logs and errors: `memory`, `nats`, `kafka`.
    fn name(&self) -> &'static str;

    /// What the transport offers on `topic` (its mode may depend on the
    /// topic's registered options, e.g. an ephemeral core-NATS topic).
    fn capabilities(&self, topic: &str) -> Capabilities;

    /// Checks a topic name against the shared rules and the transport's own.
    /// For [`TopicUse::Publish`] the answer must depend on the name alone:
    /// the bus checks a detached publisher's topic once and trusts the
    /// answer while that publisher keeps to the same topic.
    ///
    /// # Behavior
    /// - A name that breaks a rule fails with
    ///   [`InvalidTopic`](crate::ErrorKind::InvalidTopic) naming the rule
    ///   (scenario `invalid_input`).
    fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()>;

    /// The transport's topic administration, for the configuration strategies
    /// of `evbus-topics`.
    fn topic_admin(&self) -> Arc<dyn TopicAdmin>;

    /// Records the options a topic was configured with, so the transport uses
    /// the right mode for it. Never calls the broker.
    fn register_topic(&self, topic: &str, options: &TopicOptions);

    /// How far `group` is behind on `topic`, asked of the broker. Meant
    /// for sampling on an interval, never per message.
    ///
    /// # Behavior
    /// - A transport that cannot tell returns `Unsupported` (the default).
    async fn backlog(&self, topic: &str, group: &str) -> Result<Backlog> {
        let _ = group;
        Err(crate::TransportError::new(
            crate::ErrorKind::Unsupported,
            self.name(),
            format!("backlog of `{topic}` is not supported by {}", self.name()),
        ))
    }

    /// Publishes sent and not yet confirmed by the broker. `0` when the
    /// transport does not count them (the default).
    fn publish_in_flight(&self) -> usize {
        0
    }

    /// The connection state.
    fn connection_state(&self) -> ConnectionState {
        ConnectionState::Connected
    }

    /// The connection's events: the receiver holds the latest one and wakes
    /// on every change. A reader that falls behind sees the newest event;
    /// its [`reconnects`](ConnectionEvent::reconnects) count tells how many
    /// reconnections it missed.
    ///
    /// The default reports the current [`connection_state`](Self::connection_state)
    /// once and never changes: a transport with its own event source
    /// overrides it.
    ///
    /// # Behavior
    /// - Reports [`Connected`](ConnectionState::Connected) once connected
    ///   and [`Closed`](ConnectionState::Closed) after
    ///   [`close`](Self::close) (scenario `connection_events`).
    fn connection_events(&self) -> tokio::sync::watch::Receiver<ConnectionEvent> {
        tokio::sync::watch::channel(ConnectionEvent::from_state(self.connection_state())).1
    }

    /// Publishes one message.
    ///
    /// # Behavior
    /// - Resolves to a [`Receipt`] once the broker stored the message; every
    ///   group then receives it with payload, key and headers intact
    ///   (scenario `publish_subscribe`).
    /// - Messages of one key published one after another (each awaited) are
    ///   delivered in publish order (scenario `per_key_order`).
    /// - Publishes from many tasks at once are all stored (scenario
    ///   `concurrent_publish_subscribe`).
    /// - An invalid topic name fails with
    ///   [`InvalidTopic`](crate::ErrorKind::InvalidTopic) and a message over
    ///   [`Capabilities::max_message_bytes`] with
    ///   [`TooLarge`](crate::ErrorKind::TooLarge), before anything is sent
    ///   (scenario `invalid_input`).
    /// - After [`close`](Self::close) it fails with
    ///   [`Closed`](crate::ErrorKind::Closed) (scenario `closed_transport`).
    ///
    /// # Errors
    /// A publish that timed out after it may have reached the broker fails
    /// with [`OutcomeUnknown`](crate::ErrorKind::OutcomeUnknown): retrying it
    /// with the same dedup id is safe. A lost connection gives
    /// [`Disconnected`](crate::ErrorKind::Disconnected). Both are retryable.
    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt>;

    /// Publishes several messages and waits for every outcome.
    ///
    /// # Behavior
    /// - Resolves to one result per message, in input order; the messages
    ///   that succeeded are stored even when others failed (scenario
    ///   `invalid_input`).
    /// - Messages of one key in a batch are delivered in batch order
    ///   (scenario `per_key_order`).
    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>>;

    /// Opens a subscription of consumer group `group` on `topic`.
    ///
    /// # Behavior
    /// - Different groups are independent: each receives every message
    ///   (scenario `consumer_groups`).
    /// - The members of one group share the work: together they receive
    ///   every message, and no message is first-delivered to two members
    ///   (scenario `consumer_groups`).
    /// - A new group starts at the earliest retained message by default, so
    ///   it receives messages published before it existed, where the topic is
    ///   persistent (scenario `new_group_replays`).
    /// - A group resumes where it left off: a new subscription of a group
    ///   receives every message the group has not acked or rejected, and none
    ///   it has acked (scenario `continue_after_subscription_close`).
    /// - A subscription never receives another topic's messages (scenario
    ///   `many_topics_no_crosstalk`).
    /// - Subscribing and closing from many tasks at once is safe; a later
    ///   subscription still receives everything (scenario `concurrent_close`).
    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>>;

    /// Waits until every publish issued before the call has resolved.
    ///
    /// # Behavior
    /// - Every publish that resolved `Ok` is delivered, also when the
    ///   transport is closed right after (scenario `publisher_close`).
    async fn flush(&self) -> Result<()>;

    /// Flushes, stops every subscription and releases the connection.
    ///
    /// # Behavior
    /// - Outstanding publishes are flushed first (scenario `publisher_close`).
    /// - Afterwards every operation fails with
    ///   [`Closed`](crate::ErrorKind::Closed) and open subscriptions end
    ///   (scenario `closed_transport`).
    /// - A broker restart is not a close: publishers and subscriptions
    ///   survive it, publishes during the outage fail with a retryable error,
    ///   and every message published `Ok` is delivered afterwards (scenario
    ///   `broker_restart`).
    async fn close(&self) -> Result<()>;
}

/// One consumer group member's stream of deliveries.
#[async_trait]
pub trait Subscription: Send + 'static {
    /// The topic.
    fn topic(&self) -> &str;

    /// The consumer group.
    fn group(&self) -> &str;

    /// Waits for at least one delivery and returns at most `max` of them.
    ///
    /// # Behavior
    /// - Deliveries of one key come in publish order, across batches
    ///   (scenario `per_key_order`).
    /// - Returns an empty batch once the subscription or the transport is
    ///   closed, and keeps doing so (scenarios `subscription_cancel`,
    ///   `closed_transport`).
    /// - Cancel-safe: dropping the future before it resolves loses no
    ///   message; anything it had taken is redelivered (scenario
    ///   `subscription_cancel`).
    /// - Settling a delivery: `ack` and `reject` end it for the group; `nack`
    ///   redelivers it after the delay with a higher
    ///   [`delivery_count`](Delivery::delivery_count) (scenarios
    ///   `nack_redelivers`, `reject_not_redelivered`).
    /// - A delivery whose handle is dropped unsettled, or still unsettled when
    ///   its member goes away, is redelivered to the group (scenarios
    ///   `dropped_handle_redelivers`, `continue_after_errors`).
    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>>;

    /// The subscription's ownership changes (see [`crate::ownership`]):
    /// `None` where the transport does not hand out shares of a topic (the
    /// default). Each call returns a new receiver that sees the events from
    /// then on.
    ///
    /// # Behavior
    /// - A transport that reports ownership reports `Assigned` before it
    ///   returns the first delivery of a share, and ends the share's
    ///   ownership (stale [`Fence`](crate::ownership::Fence)s) before
    ///   another member can receive its deliveries, and no later than it
    ///   reports `Revoked` or `Lost`; the new owner receives what the old
    ///   one held unsettled (`ownership_fences_a_moved_share`; a transport
    ///   that hands out no shares returns `None` and the scenario only
    ///   checks that).
    fn ownership_events(&self) -> Option<crate::ownership::OwnershipEvents> {
        None
    }

    /// Stops taking messages. Deliveries already returned can still be
    /// settled; unsettled ones are redelivered to the group.
    ///
    /// # Behavior
    /// - After close the group's other and later members receive everything
    ///   this member did not settle (scenario
    ///   `continue_after_subscription_close`).
    async fn close(self: Box<Self>) -> Result<()>;
}
