//! Which topics live on JetStream and which on core NATS.

use std::sync::atomic::{AtomicU32, Ordering};

use ahash::AHashMap;
use async_nats::Subject;
use evbus_topics::{Persistence, TopicOptions, key_partition};
use parking_lot::{Mutex, RwLock};

use crate::mapping;

/// Where a topic's messages go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A JetStream stream: stored, at-least-once.
    JetStream,
    /// Core NATS: not stored, at-most-once.
    Core,
}

/// The modes of registered topics; unregistered topics follow the default.
/// Read on every publish, so it is a local map and never a broker call.
#[derive(Debug)]
pub(crate) struct TopicModes {
    default: Persistence,
    modes: RwLock<AHashMap<String, Mode>>,
    /// Partition counts of registered partitioned topics (more than one).
    partitions: RwLock<AHashMap<String, u32>>,
    /// Spreads keyless messages over the partitions of a partitioned topic.
    keyless: AtomicU32,
    /// The subject of the last publish to an unpartitioned topic: publishes
    /// mostly go to one, and a shared `Subject` reaches the client without
    /// being copied.
    last_subject: Mutex<Option<Subject>>,
}

impl TopicModes {
    pub(crate) fn new(default: Persistence) -> Self {
        Self {
            default,
            modes: RwLock::new(AHashMap::new()),
            partitions: RwLock::new(AHashMap::new()),
            keyless: AtomicU32::new(0),
            last_subject: Mutex::new(None),
        }
    }

    pub(crate) fn register(&self, topic: &str, options: &TopicOptions) {
        let mode = self.resolve(options.persistence);
        self.modes.write().insert(topic.to_owned(), mode);
        let mut partitions = self.partitions.write();
        match options.partitions.filter(|p| *p > 1) {
            Some(count) => partitions.insert(topic.to_owned(), count),
            None => partitions.remove(topic),
        };
    }

    /// The partition count of `topic`: 1 unless it was registered with more.
    pub(crate) fn partitions(&self, topic: &str) -> u32 {
        self.partitions.read().get(topic).copied().unwrap_or(1)
    }

    /// The partition and subject a message of `key` is published on: the
    /// key's partition ([`key_partition`], as on Kafka), keyless messages
    /// round-robin.
    pub(crate) fn route(&self, topic: &str, key: Option<&str>) -> (u32, Subject) {
        let partitions = self.partitions(topic);
        if partitions == 1 {
            return (0, self.topic_subject(topic));
        }
        let partition = match key {
            Some(key) => key_partition(key.as_bytes(), partitions),
            None => self.keyless.fetch_add(1, Ordering::Relaxed) % partitions,
        };
        let subject = mapping::partition_subject(topic, partitions, partition);
        (partition, subject.into())
    }

    /// The subject of an unpartitioned topic: the topic itself.
    fn topic_subject(&self, topic: &str) -> Subject {
        let mut last = self.last_subject.lock();
        match &*last {
            Some(subject) if subject.as_str() == topic => subject.clone(),
            _ => last.insert(Subject::from(topic)).clone(),
        }
    }

    pub(crate) fn mode(&self, topic: &str) -> Mode {
        self.modes
            .read()
            .get(topic)
            .copied()
            .unwrap_or_else(|| self.resolve(Persistence::Auto))
    }

    /// The mode of `persistence`, with `Auto` following the default.
    pub(crate) fn resolve(&self, persistence: Persistence) -> Mode {
        match persistence.resolve(self.default) {
            Persistence::Ephemeral => Mode::Core,
            // An `Auto` default is read as persistent: nothing is lost by
            // storing a message.
            _ => Mode::JetStream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_modes_win_and_auto_follows_the_default() {
        let modes = TopicModes::new(Persistence::Persistent);
        assert_eq!(modes.mode("orders"), Mode::JetStream);
        modes.register(
            "clicks",
            &TopicOptions::new().persistence(Persistence::Ephemeral),
        );
        modes.register("orders", &TopicOptions::new());
        assert_eq!(modes.mode("clicks"), Mode::Core);
        assert_eq!(modes.mode("orders"), Mode::JetStream);

        let ephemeral_default = TopicModes::new(Persistence::Ephemeral);
        assert_eq!(ephemeral_default.mode("x"), Mode::Core);
        assert_eq!(
            ephemeral_default.resolve(Persistence::Persistent),
            Mode::JetStream
        );
    }

    #[test]
    fn keys_route_to_their_kafka_partition_subject() {
        let modes = TopicModes::new(Persistence::Persistent);
        assert_eq!(modes.route("orders", Some("kafka")), (0, "orders".into()));
        modes.register("orders", &TopicOptions::new().partitions(12));
        // librdkafka's fnv1a("kafka") = 0x0d33c4e1, and 0x0d33c4e1 % 12 = 5.
        assert_eq!(
            modes.route("orders", Some("kafka")),
            (5, "orders.p.5".into())
        );
        let keyless: Vec<u32> = (0..3).map(|_| modes.route("orders", None).0).collect();
        assert_eq!(keyless, [0, 1, 2]);
    }
}
