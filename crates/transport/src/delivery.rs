//! A received message and the handle that settles it exactly once.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use async_trait::async_trait;
use bytes::Bytes;

use crate::{
    error::Result,
    message::{Headers, Position},
    ownership::Fence,
};

/// How a delivery is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Handled: never deliver it again to this group.
    Ack,
    /// Not handled: deliver it again after at least this delay.
    Nack(Duration),
    /// Never deliver it again, although it was not handled (it was
    /// dead-lettered, or the caller gives up on it knowingly).
    Reject,
}

/// The backend side of a delivery's settlement. Transports implement it; users
/// hold an [`AckHandle`].
#[async_trait]
pub trait Acker: Send + Sync + 'static {
    /// Settles the delivery. Called at most once per delivery.
    async fn settle(&self, settlement: Settlement) -> Result<()>;

    /// Extends the delivery's lease so that the broker does not redeliver it
    /// while it is still being worked on (JetStream in-progress ack). Must not
    /// block; a transport without leases does nothing.
    fn keep_alive(&self) {}

    /// How long the broker waits, once the delivery was handed out or its
    /// lease last kept alive, before it redelivers the delivery to the
    /// group; `None` where the transport has no such lease (ownership
    /// decides instead, as with Kafka partitions). A caller holding the
    /// delivery keeps it alive at least three times per lease.
    ///
    /// # Behavior
    /// - A transport with leases reports the lease it really applies: a
    ///   delivery kept alive three times per reported length is not
    ///   redelivered, to any member, past that length, and its ack counts
    ///   (`lease_keep_alive`).
    fn lease_length(&self) -> Option<Duration> {
        None
    }

    /// The ownership the delivery came from (see [`crate::ownership`]). A
    /// stale fence means another member may be consuming the delivery's
    /// share: the holder must not handle it any more and leaves it for
    /// redelivery. Default: [`Fence::always`], for transports whose
    /// deliveries are not tied to a share.
    fn fence(&self) -> Fence {
        Fence::always()
    }

    /// The handle was dropped without being settled: the transport must treat
    /// the delivery as nacked with no delay, so it is redelivered. Must not
    /// block.
    fn abandon(&self);
}

/// Settles one delivery exactly once: [`ack`](Self::ack),
/// [`nack`](Self::nack) or [`reject`](Self::reject) consume it.
///
/// Dropping a handle unsettled redelivers the message (it is never lost).
pub struct AckHandle {
    acker: Option<Arc<dyn Acker>>,
}

impl std::fmt::Debug for AckHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AckHandle")
            .field("settled", &self.acker.is_none())
            .finish()
    }
}

impl AckHandle {
    /// Wraps a transport's acker.
    pub fn new(acker: Arc<dyn Acker>) -> Self {
        Self { acker: Some(acker) }
    }

    /// The message was handled: never deliver it again to this group.
    pub async fn ack(self) -> Result<()> {
        self.settle(Settlement::Ack).await
    }

    /// The message was not handled: redeliver it after `delay`.
    pub async fn nack(self, delay: Duration) -> Result<()> {
        self.settle(Settlement::Nack(delay)).await
    }

    /// Do not redeliver the message (it was dead-lettered).
    pub async fn reject(self) -> Result<()> {
        self.settle(Settlement::Reject).await
    }

    /// Settles the delivery as given.
    pub async fn settle(mut self, settlement: Settlement) -> Result<()> {
        let acker = self
            .acker
            .take()
            .expect("an AckHandle holds its acker until it is settled");
        acker.settle(settlement).await
    }

    /// Whether this member still owns the share the delivery came from:
    /// see [`Acker::fence`]. A settled handle has no fence and answers
    /// with [`Fence::always`].
    pub fn fence(&self) -> Fence {
        self.acker
            .as_ref()
            .map_or_else(Fence::always, |acker| acker.fence())
    }

    /// A cloneable handle that extends this delivery's lease.
    pub fn lease(&self) -> Lease {
        Lease {
            acker: self.acker.clone(),
        }
    }
}

impl Drop for AckHandle {
    fn drop(&mut self) {
        if let Some(acker) = self.acker.take() {
            acker.abandon();
        }
    }
}

/// Extends a delivery's lease while it waits or runs (see
/// [`Acker::keep_alive`]). Cheap to clone; harmless after settlement.
#[derive(Clone)]
pub struct Lease {
    acker: Option<Arc<dyn Acker>>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lease")
    }
}

impl Lease {
    /// Tells the broker the delivery is still being worked on.
    pub fn keep_alive(&self) {
        if let Some(acker) = &self.acker {
            acker.keep_alive();
        }
    }

    /// How long the lease runs without [`keep_alive`](Self::keep_alive):
    /// see [`Acker::lease_length`].
    pub fn length(&self) -> Option<Duration> {
        self.acker.as_ref().and_then(|acker| acker.lease_length())
    }
}

/// A message received on a subscription.
#[derive(Debug)]
pub struct Delivery {
    /// The topic it was published to.
    pub topic: Arc<str>,
    /// Its ordering key, when it had one.
    pub key: Option<String>,
    /// Its headers, as sent.
    pub headers: Headers,
    /// Its payload.
    pub payload: Bytes,
    /// How often the broker has delivered it to this group, this time
    /// included: 1 on the first delivery.
    pub delivery_count: u32,
    /// Where it is stored on the broker.
    pub position: Position,
    /// When the broker stored it: JetStream's `published` time, the Kafka
    /// record timestamp (the producer's create time, or the broker's append
    /// time on topics with `message.timestamp.type=LogAppendTime`), the
    /// memory broker's append time. `None` where the broker keeps none
    /// (core NATS).
    ///
    /// # Behavior
    /// - A persistent transport's deliveries carry a timestamp within the
    ///   publish window: not before the publish call started (less the
    ///   broker's clock skew) and not after it returned (scenario
    ///   `broker_timestamp`).
    pub timestamp: Option<SystemTime>,
    /// Settles it.
    pub ack: AckHandle,
}

impl Delivery {
    /// Acks the delivery: see [`AckHandle::ack`].
    pub async fn ack(self) -> Result<()> {
        self.ack.ack().await
    }

    /// Nacks the delivery: see [`AckHandle::nack`].
    pub async fn nack(self, delay: Duration) -> Result<()> {
        self.ack.nack(delay).await
    }

    /// Rejects the delivery: see [`AckHandle::reject`].
    pub async fn reject(self) -> Result<()> {
        self.ack.reject().await
    }
}
