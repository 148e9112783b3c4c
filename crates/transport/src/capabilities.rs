//! What a transport can promise for a topic.

/// The delivery guarantee of a topic on a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryGuarantee {
    /// A message may be lost (for example when no subscriber is connected or a
    /// subscriber crashes): core NATS. The bus's no-loss promise excludes it.
    AtMostOnce,
    /// Every message published successfully is delivered until it is acked or
    /// rejected; a delivery may repeat.
    AtLeastOnce,
}

/// What a transport offers on a topic. The conformance suite runs a scenario
/// only where the capability it needs is declared, and reports each skip with
/// the capability that excluded it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// At-most-once or at-least-once.
    pub delivery: DeliveryGuarantee,
    /// Messages are stored: a subscription opened after publishing receives
    /// them (new groups start from the earliest retained message).
    pub persistent: bool,
    /// `nack` redelivers the message and an unacked delivery is redelivered
    /// after the ack timeout.
    pub redelivery: bool,
    /// Deliveries of one key on one subscription come in publish order.
    pub per_key_order: bool,
    /// Different consumer groups each receive every message, and the members
    /// of one group together receive every message once (first deliveries).
    pub consumer_groups: bool,
    /// Headers arrive as they were sent (names, values and order).
    pub headers: bool,
    /// The broker drops a republished message with the same dedup id.
    pub publish_dedup: bool,
    /// The largest message (payload, key and headers) the transport accepts.
    pub max_message_bytes: usize,
}

impl Capabilities {
    /// Everything a persistent broker topic offers: the bar memory, JetStream
    /// and Kafka topics meet.
    pub fn full(max_message_bytes: usize) -> Self {
        Self {
            delivery: DeliveryGuarantee::AtLeastOnce,
            persistent: true,
            redelivery: true,
            per_key_order: true,
            consumer_groups: true,
            headers: true,
            publish_dedup: true,
            max_message_bytes,
        }
    }

    /// Sets whether the broker deduplicates publishes by id.
    pub fn with_publish_dedup(mut self, dedup: bool) -> Self {
        self.publish_dedup = dedup;
        self
    }

    /// An at-most-once, non-persistent topic (core NATS): no replay, no
    /// redelivery; order and headers still hold.
    pub fn at_most_once(max_message_bytes: usize) -> Self {
        Self {
            delivery: DeliveryGuarantee::AtMostOnce,
            persistent: false,
            redelivery: false,
            per_key_order: true,
            consumer_groups: true,
            headers: true,
            publish_dedup: false,
            max_message_bytes,
        }
    }
}
