//! One partition this member holds: its ownership, the deliveries of it
//! still being worked on, and the events of its changes.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use evbus_transport::{
    AckHandle, Acker, Delivery, Lease, Result, Settlement,
    ownership::{Fence, Ownership, OwnershipChange, OwnershipEvent},
};
use parking_lot::Mutex;
use tokio::sync::broadcast;

/// A held partition. Ended once, by whoever learns first that the member
/// may no longer own it (the member's hand-over or lost renewal, or the
/// pull loop's lease deadline).
pub(super) struct Slot {
    pub(super) partition: u32,
    ownership: Ownership,
    ended: AtomicBool,
    /// Deliveries handed out and neither settled nor abandoned.
    in_flight: AtomicUsize,
    /// When a delivery of the partition was last handed out or kept alive,
    /// in milliseconds since `since`.
    alive_ms: AtomicU64,
    since: std::time::Instant,
    topic: Arc<str>,
    group: Arc<str>,
    lease: Duration,
    events: broadcast::Sender<OwnershipEvent>,
}

impl Slot {
    /// Holds `partition` from now on and says so.
    pub(super) fn assigned(
        partition: u32,
        topic: Arc<str>,
        group: Arc<str>,
        lease: Duration,
        events: broadcast::Sender<OwnershipEvent>,
    ) -> Arc<Self> {
        let slot = Arc::new(Self {
            partition,
            ownership: Ownership::new(),
            ended: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            alive_ms: AtomicU64::new(0),
            since: std::time::Instant::now(),
            topic,
            group,
            lease,
            events,
        });
        slot.emit(OwnershipChange::Assigned, 0);
        slot
    }

    fn emit(&self, change: OwnershipChange, epoch: u64) {
        // No receiver is fine: events are advisory.
        let _ = self.events.send(OwnershipEvent {
            topic: self.topic.clone(),
            group: self.group.clone(),
            partition: self.partition,
            change,
            epoch,
            lease: Some(self.lease),
        });
    }

    /// Ends the ownership (every fence taken so far goes stale) the first
    /// time it is called; later calls change nothing.
    pub(super) fn end(&self, change: OwnershipChange) {
        if !self.ended.swap(true, Ordering::AcqRel) {
            let epoch = self.ownership.end();
            tracing::info!(
                topic = &*self.topic,
                group = &*self.group,
                partition = self.partition,
                ?change,
                "partition ownership ended"
            );
            self.emit(change, epoch);
        }
    }

    pub(super) fn is_ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn touch(&self) {
        self.alive_ms.fetch_max(self.now_ms(), Ordering::AcqRel);
    }

    /// How long no delivery of the partition was handed out or kept alive:
    /// past the consumer's AckWait, JetStream itself takes what is still in
    /// flight as abandoned.
    pub(super) fn idle(&self) -> Duration {
        Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.alive_ms.load(Ordering::Acquire)),
        )
    }

    /// The delivery, fenced by this ownership and counted in flight until
    /// it is settled or abandoned.
    pub(super) fn fenced(self: &Arc<Self>, delivery: Delivery) -> Delivery {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.touch();
        let Delivery {
            topic,
            key,
            headers,
            payload,
            delivery_count,
            mut position,
            timestamp,
            ack,
        } = delivery;
        position.partition = self.partition;
        let acker = FencedAcker {
            slot: self.clone(),
            lease: ack.lease(),
            held: Mutex::new(Some((ack, InFlight(self.clone())))),
            fence: self.ownership.fence(),
        };
        Delivery {
            topic,
            key,
            headers,
            payload,
            delivery_count,
            position,
            timestamp,
            ack: AckHandle::new(Arc::new(acker)),
        }
    }
}

/// Counts one delivery in flight until dropped.
struct InFlight(Arc<Slot>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A JetStream delivery's acker with the fence of the partition it came
/// from.
struct FencedAcker {
    slot: Arc<Slot>,
    lease: Lease,
    held: Mutex<Option<(AckHandle, InFlight)>>,
    fence: Fence,
}

#[async_trait]
impl Acker for FencedAcker {
    async fn settle(&self, settlement: Settlement) -> Result<()> {
        let Some((handle, _in_flight)) = self.held.lock().take() else {
            return Ok(());
        };
        handle.settle(settlement).await
    }

    fn keep_alive(&self) {
        if self.held.lock().is_some() {
            self.slot.touch();
        }
        self.lease.keep_alive();
    }

    fn lease_length(&self) -> Option<Duration> {
        self.lease.length()
    }

    fn fence(&self) -> Fence {
        self.fence.clone()
    }

    fn abandon(&self) {
        // Dropping the inner handle abandons it (a nak).
        drop(self.held.lock().take());
    }
}
