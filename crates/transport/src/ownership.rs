//! Which part of a topic a group member owns, and whether it still does.
//!
//! Kafka partitions and NATS partitioned groups give each member a share of
//! a topic for a while. When a share moves (a rebalance, a lost lease, a
//! member that stopped answering), another member starts consuming it, so
//! whatever this member still holds from that share (queued, running, or
//! waiting for a retry) must not be handled late: it would run beside, or
//! after, newer events handled by the new owner.
//!
//! A transport keeps one [`Ownership`] per share it holds and hands each
//! delivery a [`Fence`] taken from it (through [`Acker::fence`]); ending the
//! ownership makes every fence taken before stale at once. The facade checks
//! the fence before it runs or retries a delivery and leaves a stale one for
//! redelivery. [`OwnershipEvent`]s tell the facade (and through it the user)
//! when shares are assigned, revoked or lost; they are advisory: fencing
//! never depends on an event being seen.
//!
//! [`Acker::fence`]: crate::Acker::fence

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

/// One share of a topic a member owns for a while (a partition).
///
/// Cheap to clone; clones are the same ownership.
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    epoch: Arc<AtomicU64>,
}

impl Ownership {
    /// A new ownership, held from now on (epoch 0).
    pub fn new() -> Self {
        Self::default()
    }

    /// A fence for a delivery received under the ownership as it is now.
    pub fn fence(&self) -> Fence {
        Fence {
            taken: self.epoch.load(Ordering::Acquire),
            epoch: Some(self.epoch.clone()),
        }
    }

    /// The ownership ended (revoked or lost): every fence taken so far is
    /// stale from now on. Returns the new epoch, for events and logs.
    pub fn end(&self) -> u64 {
        self.epoch.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// How often the ownership ended so far.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }
}

/// Whether the ownership a delivery came from is still held.
///
/// Cheap to clone and to check (one atomic load).
#[derive(Debug, Clone, Default)]
pub struct Fence {
    taken: u64,
    epoch: Option<Arc<AtomicU64>>,
}

impl Fence {
    /// A fence that never goes stale: for transports whose deliveries are
    /// not tied to a share (a shared queue, the broker redelivers by lease).
    pub fn always() -> Self {
        Self::default()
    }

    /// `false` once the ownership this fence was taken from has ended.
    pub fn is_current(&self) -> bool {
        self.epoch
            .as_ref()
            .is_none_or(|epoch| epoch.load(Ordering::Acquire) == self.taken)
    }

    /// The epoch of the ownership when the fence was taken.
    pub fn epoch(&self) -> u64 {
        self.taken
    }
}

/// What happened to a share of a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OwnershipChange {
    /// The member now owns the share.
    Assigned,
    /// The member gave the share up in an orderly hand-over (a rebalance).
    Revoked,
    /// The member lost the share without a hand-over (its lease or session
    /// expired): another member may already be consuming it.
    Lost,
}

/// A change of what a member owns, reported by
/// [`Subscription::ownership_events`](crate::Subscription::ownership_events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnershipEvent {
    /// The topic.
    pub topic: Arc<str>,
    /// The consumer group.
    pub group: Arc<str>,
    /// The share: the partition number on Kafka and on NATS partitioned
    /// groups.
    pub partition: u32,
    /// What happened.
    pub change: OwnershipChange,
    /// The share's epoch after the change ([`Ownership::epoch`]).
    pub epoch: u64,
    /// How long the member keeps the share without renewing it, where the
    /// broker works with leases; `None` where the share is held until a
    /// rebalance moves it.
    pub lease: Option<Duration>,
}

/// Receives a subscription's [`OwnershipEvent`]s. A receiver that falls
/// behind misses the oldest events and is told how many it missed.
pub type OwnershipEvents = tokio::sync::broadcast::Receiver<OwnershipEvent>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ending_an_ownership_makes_earlier_fences_stale() {
        let ownership = Ownership::new();
        let before = ownership.fence();
        assert!(before.is_current());
        assert_eq!(ownership.end(), 1);
        assert!(!before.is_current());
        let after = ownership.fence();
        assert!(after.is_current());
        assert_eq!(after.epoch(), 1);
    }

    #[test]
    fn an_unowned_fence_stays_current() {
        assert!(Fence::always().is_current());
    }
}
