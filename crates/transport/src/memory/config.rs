//! The in-memory transport's configuration.

use std::time::Duration;

use evbus_topics::Persistence;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, Result, TransportError};

/// Configuration of a [`MemoryBroker`](super::MemoryBroker).
///
/// Every field has a default, so `MemoryConfig::default()` and an empty
/// serde map are both valid:
///
/// ```
/// use std::time::Duration;
/// use evbus_transport::memory::MemoryConfig;
///
/// let config = MemoryConfig::default()
///     .partitions(4)
///     .ack_wait(Duration::from_secs(5));
/// assert_eq!(config.partitions, 4);
/// assert_eq!(config.max_message_bytes, 1_048_576);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MemoryConfig {
    /// Partitions of a topic whose options do not set
    /// [`partitions`](evbus_topics::TopicOptions::partitions). The members of a
    /// consumer group share a topic's work by partition, so this bounds how
    /// many members work at once. Default: `8`.
    pub partitions: u32,
    /// How long a delivery may stay unsettled before it is redelivered to the
    /// group, unless its lease is kept alive with
    /// [`Lease::keep_alive`](crate::Lease::keep_alive). Default: `30s`.
    #[serde(with = "humantime_serde")]
    pub ack_wait: Duration,
    /// The largest message (payload, key and headers, see
    /// [`OutgoingMessage::wire_size`](crate::OutgoingMessage::wire_size))
    /// accepted by `publish`. Default: `1048576` (1 MiB).
    pub max_message_bytes: usize,
    /// Persistence of a topic whose options say
    /// [`Persistence::Auto`]. A [`restart`](super::MemoryBroker::restart)
    /// keeps the messages of persistent topics and drops those of ephemeral
    /// ones. Default: `persistent`.
    pub default_persistence: Persistence,
    /// How long a publish's [`dedup_id`](crate::OutgoingMessage::dedup_id) is
    /// remembered: a message republished with the same id within the window
    /// is not stored again. Default: `2m` (JetStream's default).
    #[serde(with = "humantime_serde")]
    pub dedup_window: Duration,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            partitions: 8,
            ack_wait: Duration::from_secs(30),
            max_message_bytes: 1_048_576,
            default_persistence: Persistence::Persistent,
            dedup_window: Duration::from_secs(120),
        }
    }
}

impl MemoryConfig {
    /// Sets the default number of partitions per topic.
    pub fn partitions(mut self, partitions: u32) -> Self {
        self.partitions = partitions;
        self
    }

    /// Sets how long a delivery may stay unsettled before it is redelivered.
    pub fn ack_wait(mut self, ack_wait: Duration) -> Self {
        self.ack_wait = ack_wait;
        self
    }

    /// Sets the largest accepted message.
    pub fn max_message_bytes(mut self, max_message_bytes: usize) -> Self {
        self.max_message_bytes = max_message_bytes;
        self
    }

    /// Sets the persistence of topics whose options say `Auto`.
    pub fn default_persistence(mut self, persistence: Persistence) -> Self {
        self.default_persistence = persistence;
        self
    }

    /// Sets how long dedup ids are remembered.
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// Checks the values; the error names the setting.
    pub fn validate(&self) -> Result<()> {
        let invalid =
            |message: &str| Err(TransportError::new(ErrorKind::Config, "memory", message));
        if self.partitions == 0 {
            return invalid("memory.partitions must be at least 1");
        }
        if self.ack_wait.is_zero() {
            return invalid("memory.ack_wait must be positive");
        }
        if self.max_message_bytes == 0 {
            return invalid("memory.max_message_bytes must be positive");
        }
        if self.default_persistence == Persistence::Auto {
            return invalid("memory.default_persistence must be `persistent` or `ephemeral`");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_config_has_the_documented_defaults() {
        let config: MemoryConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config, MemoryConfig::default());
        assert_eq!(config.partitions, 8);
        assert_eq!(config.ack_wait, Duration::from_secs(30));
        assert_eq!(config.default_persistence, Persistence::Persistent);
        config.validate().unwrap();
    }

    #[test]
    fn reads_human_durations_and_names_bad_settings() {
        let config: MemoryConfig =
            serde_json::from_str(r#"{"ack_wait":"5s","partitions":2}"#).unwrap();
        assert_eq!(config.ack_wait, Duration::from_secs(5));
        let err = config.partitions(0).validate().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Config);
        assert!(err.to_string().contains("memory.partitions"), "{err}");
        assert!(serde_json::from_str::<MemoryConfig>(r#"{"acks":1}"#).is_err());
    }
}
