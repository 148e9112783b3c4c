//! A topic's partition logs and their retention limits.

use std::{
    collections::VecDeque,
    time::{Duration, Instant},
};

use bytes::Bytes;
use evbus_topics::{TopicOptions, UNLIMITED, UNLIMITED_RETENTION};

use crate::message::{Headers, OutgoingMessage, Position};

/// Seeds of the key hash: fixed, so a key maps to the same partition for the
/// broker's whole life (a random seed per topic would be as correct but makes
/// positions differ from run to run, which hinders debugging).
const KEY_SEEDS: [u64; 4] = [
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
];

/// One stored message.
#[derive(Debug)]
pub(super) struct Stored {
    pub key: Option<String>,
    pub headers: Headers,
    pub payload: Bytes,
    /// When it was appended: the delivery's broker timestamp.
    pub stored_at: std::time::SystemTime,
    /// Topic-wide publish order, to find the oldest message across partitions.
    seq: u64,
    at: Instant,
    size: u64,
}

/// The messages of one partition; offsets start at 0 and never repeat.
#[derive(Debug, Default)]
pub(super) struct PartitionLog {
    /// The offset of `entries[0]`.
    base: u64,
    entries: VecDeque<Stored>,
}

impl PartitionLog {
    /// The earliest retained offset.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The offset the next message will get.
    pub fn next_offset(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub fn get(&self, offset: u64) -> Option<&Stored> {
        let index = offset.checked_sub(self.base)?;
        self.entries.get(usize::try_from(index).ok()?)
    }

    fn pop_front(&mut self) -> Option<Stored> {
        let stored = self.entries.pop_front()?;
        self.base += 1;
        Some(stored)
    }
}

/// Retention limits of a topic; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Limits {
    max_messages: Option<u64>,
    max_bytes: Option<u64>,
    max_age: Option<Duration>,
}

impl Limits {
    pub fn from_options(options: &TopicOptions) -> Self {
        Self {
            max_messages: options.max_messages.filter(|&n| n != UNLIMITED),
            max_bytes: options.max_bytes.filter(|&n| n != UNLIMITED),
            max_age: options.retention.filter(|&d| d != UNLIMITED_RETENTION),
        }
    }
}

/// All partitions of a topic.
#[derive(Debug)]
pub(super) struct TopicLog {
    partitions: Vec<PartitionLog>,
    limits: Limits,
    hasher: ahash::RandomState,
    count: u64,
    bytes: u64,
    seq: u64,
    round_robin: u64,
}

impl TopicLog {
    pub fn new(partitions: u32, limits: Limits) -> Self {
        let [a, b, c, d] = KEY_SEEDS;
        Self {
            partitions: (0..partitions.max(1))
                .map(|_| PartitionLog::default())
                .collect(),
            limits,
            hasher: ahash::RandomState::with_seeds(a, b, c, d),
            count: 0,
            bytes: 0,
            seq: 0,
            round_robin: 0,
        }
    }

    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    pub fn partition(&self, partition: u32) -> &PartitionLog {
        &self.partitions[partition as usize]
    }

    pub fn set_limits(&mut self, limits: Limits, now: Instant) {
        self.limits = limits;
        self.trim(now);
    }

    /// Keyed messages go to the partition of their key's hash (so one key
    /// stays in order); unkeyed ones are spread round robin.
    fn partition_for(&mut self, key: Option<&str>) -> u32 {
        let n = self.partitions.len() as u64;
        let slot = match key {
            Some(key) => self.hasher.hash_one(key) % n,
            None => {
                self.round_robin = self.round_robin.wrapping_add(1);
                self.round_robin % n
            }
        };
        slot as u32
    }

    /// Stores a message and trims the topic to its limits.
    pub fn append(&mut self, message: OutgoingMessage, now: Instant) -> Position {
        let partition = self.partition_for(message.key.as_deref());
        let size = message.wire_size() as u64;
        self.seq += 1;
        let log = &mut self.partitions[partition as usize];
        let offset = log.next_offset();
        log.entries.push_back(Stored {
            key: message.key,
            headers: message.headers,
            payload: message.payload,
            stored_at: std::time::SystemTime::now(),
            seq: self.seq,
            at: now,
            size,
        });
        self.count += 1;
        self.bytes += size;
        self.trim(now);
        Position { partition, offset }
    }

    /// Drops the oldest messages beyond the count and size limits, and those
    /// older than the age limit.
    pub fn trim(&mut self, now: Instant) {
        let over = |log: &Self| {
            log.limits.max_messages.is_some_and(|max| log.count > max)
                || log.limits.max_bytes.is_some_and(|max| log.bytes > max)
        };
        while over(self) {
            // O(partitions) per trimmed message: partitions are few.
            let oldest = self
                .partitions
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.entries.front().map(|s| (s.seq, i)))
                .min();
            let Some((_, index)) = oldest else { break };
            self.drop_front(index);
        }
        if let Some(max_age) = self.limits.max_age {
            for index in 0..self.partitions.len() {
                while self.partitions[index]
                    .entries
                    .front()
                    .is_some_and(|s| now.saturating_duration_since(s.at) >= max_age)
                {
                    self.drop_front(index);
                }
            }
        }
    }

    fn drop_front(&mut self, index: usize) {
        if let Some(stored) = self.partitions[index].pop_front() {
            self.count -= 1;
            self.bytes -= stored.size;
        }
    }

    /// Drops every stored message; offsets keep counting.
    pub fn clear(&mut self) {
        for index in 0..self.partitions.len() {
            while self.partitions[index].pop_front().is_some() {}
        }
        self.count = 0;
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_log(limits: Limits) -> TopicLog {
        TopicLog::new(4, limits)
    }

    #[test]
    fn one_key_always_lands_in_one_partition_in_order() {
        let mut log = new_log(Limits::default());
        let now = Instant::now();
        let positions: Vec<_> = (0..10)
            .map(|i| log.append(OutgoingMessage::new(vec![i]).with_key("order-1"), now))
            .collect();
        assert!(
            positions
                .iter()
                .all(|p| p.partition == positions[0].partition)
        );
        let offsets: Vec<_> = positions.iter().map(|p| p.offset).collect();
        assert_eq!(offsets, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn unkeyed_messages_spread_over_partitions() {
        let mut log = new_log(Limits::default());
        let now = Instant::now();
        let used: std::collections::HashSet<_> = (0..8)
            .map(|_| log.append(OutgoingMessage::new("x"), now).partition)
            .collect();
        assert_eq!(used.len(), 4);
    }

    #[test]
    fn count_and_byte_limits_trim_the_oldest_across_partitions() {
        let options = TopicOptions::new().max_messages(3);
        let mut log = new_log(Limits::from_options(&options));
        let now = Instant::now();
        let first = log.append(OutgoingMessage::new("a"), now);
        for _ in 0..3 {
            log.append(OutgoingMessage::new("b"), now);
        }
        assert_eq!(log.count, 3);
        assert!(log.partition(first.partition).get(first.offset).is_none());

        let options = TopicOptions::new().max_bytes(10);
        let mut log = new_log(Limits::from_options(&options));
        for _ in 0..4 {
            log.append(OutgoingMessage::new("abcd"), now);
        }
        assert_eq!((log.count, log.bytes), (2, 8));
    }

    #[test]
    fn age_limit_drops_old_messages() {
        let options = TopicOptions::new().retention(Duration::from_secs(60));
        let mut log = new_log(Limits::from_options(&options));
        let start = Instant::now();
        log.append(OutgoingMessage::new("old"), start);
        let later = start + Duration::from_secs(61);
        let fresh = log.append(OutgoingMessage::new("new"), later);
        assert_eq!(log.count, 1);
        assert!(log.partition(fresh.partition).get(fresh.offset).is_some());
    }
}
