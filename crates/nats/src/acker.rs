//! Settling deliveries: JetStream acks, naks, terms and in-progress acks;
//! nothing to settle on core NATS.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use async_nats::{Subject, jetstream::AckKind};
use async_trait::async_trait;
use evbus_transport::{Acker, ErrorKind, Result, Settlement, TransportError};

use crate::{NAME, pull::PullShared};

/// Settles one JetStream delivery through its `$JS.ACK` reply subject.
///
/// Acks are published without waiting for the server's confirmation: a
/// lost ack only means a redelivery, which at-least-once consumers accept,
/// and a confirmed ack would cost a round trip per message.
pub(crate) struct JetStreamAcker {
    shared: Arc<PullShared>,
    reply: Subject,
    sequence: u64,
    /// When the lease was last extended, in milliseconds since the
    /// subscription's epoch (delivery time to start with).
    lease_ms: AtomicU64,
    settled: AtomicBool,
}

impl JetStreamAcker {
    pub(crate) fn new(shared: Arc<PullShared>, reply: Subject, sequence: u64) -> Self {
        let now = shared.now_ms();
        Self {
            shared,
            reply,
            sequence,
            lease_ms: AtomicU64::new(now),
            settled: AtomicBool::new(false),
        }
    }
}

/// Marks a sequence settled when dropped, on every path.
struct LeavesInFlight<'a>(&'a PullShared, u64);

impl Drop for LeavesInFlight<'_> {
    fn drop(&mut self) {
        self.0.settled(self.1);
    }
}

#[async_trait]
impl Acker for JetStreamAcker {
    async fn settle(&self, settlement: Settlement) -> Result<()> {
        if self.settled.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let kind = match settlement {
            Settlement::Ack => AckKind::Ack,
            Settlement::Nack(delay) if delay.is_zero() => AckKind::Nak(None),
            Settlement::Nack(delay) => AckKind::Nak(Some(delay)),
            Settlement::Reject => AckKind::Term,
        };
        // Leaves the in-flight set even if this future is cancelled before
        // the publish went out: the server then redelivers the message and
        // the copy must be handed out, not dropped as a duplicate.
        let _leaves_in_flight = LeavesInFlight(&self.shared, self.sequence);
        let sent = self
            .shared
            .client
            .publish(self.reply.clone(), kind.into())
            .await;
        sent.map_err(|error| {
            TransportError::new(
                ErrorKind::Closed,
                NAME,
                "the connection is closed; the delivery will be redelivered",
            )
            .with_source(error)
        })
    }

    fn keep_alive(&self) {
        if self.settled.load(Ordering::Acquire) {
            return;
        }
        let now = self.shared.now_ms();
        let last = self.lease_ms.load(Ordering::Acquire);
        let every = duration_ms(self.shared.keep_alive_every);
        // One in-progress ack per third of AckWait is enough to never let
        // it run out, whatever the caller's rhythm.
        if now.saturating_sub(last) < every
            || self
                .lease_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        if !self
            .shared
            .send_now(self.reply.clone(), AckKind::Progress.into())
        {
            // Let the next call try again.
            self.lease_ms.store(last, Ordering::Release);
        }
    }

    fn lease_length(&self) -> Option<Duration> {
        Some(self.shared.ack_wait)
    }

    fn abandon(&self) {
        if self.settled.swap(true, Ordering::AcqRel) {
            return;
        }
        // If the nak cannot be queued, AckWait redelivers the message.
        self.shared
            .send_now(self.reply.clone(), AckKind::Nak(None).into());
        self.shared.settled(self.sequence);
    }
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Core NATS deliveries: nothing to ack, and nothing can be redelivered.
pub(crate) struct CoreAcker;

#[async_trait]
impl Acker for CoreAcker {
    async fn settle(&self, settlement: Settlement) -> Result<()> {
        match settlement {
            Settlement::Ack | Settlement::Reject => Ok(()),
            Settlement::Nack(_) => Err(TransportError::new(
                ErrorKind::Unsupported,
                NAME,
                "core NATS cannot redeliver: the message is dropped (ephemeral topics are \
                 at-most-once)",
            )),
        }
    }

    fn abandon(&self) {}
}
