//! How far a consumer group is behind on a topic, as the broker reports it.

use serde::Serialize;

/// One consumer group's backlog on one topic.
///
/// `pending + ack_pending` is what the group still has to finish: NATS
/// reports both for a JetStream consumer; Kafka reports the lag (high
/// watermark minus committed offset) per partition, all of it `pending`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Backlog {
    /// Messages stored for the group and not yet delivered to it.
    pub pending: u64,
    /// Messages delivered and not yet acknowledged (NATS); `0` on Kafka,
    /// whose broker does not know what a member fetched.
    pub ack_pending: u64,
    /// Per-partition detail (Kafka); empty on brokers without partitions.
    pub partitions: Vec<PartitionLag>,
}

impl Backlog {
    /// A backlog from counts alone (no partitions).
    pub fn counts(pending: u64, ack_pending: u64) -> Self {
        Self {
            pending,
            ack_pending,
            partitions: Vec::new(),
        }
    }

    /// A backlog from per-partition lags; `pending` is their sum.
    pub fn from_partitions(partitions: Vec<PartitionLag>) -> Self {
        Self {
            pending: partitions.iter().map(|p| p.lag).sum(),
            ack_pending: 0,
            partitions,
        }
    }

    /// Everything the group has not finished: `pending + ack_pending`.
    pub fn total(&self) -> u64 {
        self.pending.saturating_add(self.ack_pending)
    }
}

/// One partition's lag.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PartitionLag {
    /// The partition.
    pub partition: u32,
    /// The offset the next produced message will get.
    pub high_watermark: u64,
    /// The group's committed offset (the next to consume); the low
    /// watermark when the group never committed.
    pub committed: u64,
    /// `high_watermark - committed`.
    pub lag: u64,
}

impl PartitionLag {
    /// A partition's lag from its high watermark and committed offset.
    pub fn new(partition: u32, high_watermark: u64, committed: u64) -> Self {
        Self {
            partition,
            high_watermark,
            committed,
            lag: high_watermark.saturating_sub(committed),
        }
    }
}
