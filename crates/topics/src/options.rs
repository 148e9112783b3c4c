//! What a topic should look like on the broker.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::TopicsError;
use crate::preset::Preset;

/// Retention that never expires messages ("unlimited" in configuration).
///
/// Brokers spell this differently (`max_age = 0` on JetStream,
/// `retention.ms = -1` on Kafka); transports map it both ways so that
/// comparisons and the shrink rule work on one scale.
pub const UNLIMITED_RETENTION: Duration = Duration::MAX;

/// A size or count limit that is not enforced ("unlimited" in configuration).
pub const UNLIMITED: u64 = u64::MAX;

/// Where a topic keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Persistence {
    /// Messages survive a broker restart (JetStream file storage, Kafka).
    Persistent,
    /// Messages live in memory only (JetStream memory storage, memory transport).
    Ephemeral,
    /// Follow the bus default; see [`Persistence::resolve`].
    #[default]
    Auto,
}

impl Persistence {
    /// Replaces `Auto` with the bus default; explicit modes stay as they are.
    ///
    /// The bus does not call it before [`configure`](crate::configure):
    /// options reach the engine as given. An `Auto` there is never drift,
    /// and an admin creating a topic with `Auto` resolves it with its own
    /// configured default (this function, with the transport's default).
    pub fn resolve(self, bus_default: Persistence) -> Persistence {
        match self {
            Persistence::Auto => bus_default,
            explicit => explicit,
        }
    }
}

/// Compression of stored messages.
///
/// Each backend supports a subset: JetStream only `S2`, Kafka `Gzip`,
/// `Snappy`, `Lz4` and `Zstd`. An admin answers a codec it cannot apply
/// with [`TopicsErrorKind::Unsupported`](crate::TopicsErrorKind::Unsupported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Compression {
    /// Store messages uncompressed.
    None,
    /// gzip (Kafka).
    Gzip,
    /// Snappy (Kafka).
    Snappy,
    /// LZ4 (Kafka).
    Lz4,
    /// Zstandard (Kafka).
    Zstd,
    /// S2 (NATS JetStream).
    S2,
}

impl Compression {
    /// The lowercase name used in configuration and by Kafka's `compression.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Snappy => "snappy",
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
            Compression::S2 => "s2",
        }
    }
}

/// The wanted configuration of one topic.
///
/// Every field is optional: `None` means "broker default / don't care". The
/// engine neither compares nor changes a field that is `None` here, and an
/// admin reports as `None` what its broker does not tell. Note that
/// `TopicOptions::default()` sets nothing at all, while
/// [`Preset::Default`] carries the Go SDK's default values.
///
/// ```
/// use std::time::Duration;
/// use evbus_topics::{Compression, Persistence, Preset, TopicOptions};
///
/// let options = TopicOptions::preset(Preset::HighThroughput)
///     .replicas(1) // a single-node broker
///     .retention(Duration::from_secs(3 * 24 * 3600))
///     .compression(Compression::Zstd);
/// assert_eq!(options.persistence, Persistence::Persistent);
/// assert_eq!(options.partitions, Some(10));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TopicOptions {
    /// Storage mode. Default: `auto` (follow the bus default).
    pub persistence: Persistence,
    /// How long messages are kept, e.g. `"24h"`, or `"unlimited"`
    /// ([`UNLIMITED_RETENTION`]). Default: `None` (broker default).
    #[serde(with = "crate::serde_limits::retention")]
    pub retention: Option<Duration>,
    /// Maximum stored bytes, or `"unlimited"` ([`UNLIMITED`]). Default:
    /// `None` (broker default). Kafka applies `retention.bytes` per partition.
    #[serde(with = "crate::serde_limits::count")]
    pub max_bytes: Option<u64>,
    /// Maximum stored messages, or `"unlimited"` ([`UNLIMITED`]). Default:
    /// `None` (broker default). Kafka has no such limit and ignores it.
    #[serde(with = "crate::serde_limits::count")]
    pub max_messages: Option<u64>,
    /// Copies of each message (JetStream replicas, Kafka replication
    /// factor). Default: `None` (broker default). More than the broker can
    /// host is an error ([`TopicsErrorKind::ReplicasUnavailable`](crate::TopicsErrorKind::ReplicasUnavailable)).
    pub replicas: Option<u32>,
    /// Kafka partitions; other backends ignore it. Default: `None` (broker
    /// default). Growing it needs [`TopicPolicy::allow_destructive`](crate::TopicPolicy::allow_destructive).
    pub partitions: Option<u32>,
    /// Compression codec. Default: `None` (broker default).
    pub compression: Option<Compression>,
    /// Free text shown by broker tools (JetStream stream description).
    /// Default: `None`.
    pub description: Option<String>,
}

impl TopicOptions {
    /// Options with nothing set: every field is left to the broker.
    pub fn new() -> Self {
        Self::default()
    }

    /// The values of one of the Go SDK's presets; see [`Preset`].
    pub fn preset(preset: Preset) -> Self {
        preset.options()
    }

    /// Sets the storage mode.
    pub fn persistence(mut self, persistence: Persistence) -> Self {
        self.persistence = persistence;
        self
    }

    /// Sets the retention time (`None` leaves it to the broker).
    pub fn retention(mut self, retention: impl Into<Option<Duration>>) -> Self {
        self.retention = retention.into();
        self
    }

    /// Sets the maximum stored bytes (`None` leaves it to the broker).
    pub fn max_bytes(mut self, max_bytes: impl Into<Option<u64>>) -> Self {
        self.max_bytes = max_bytes.into();
        self
    }

    /// Sets the maximum stored messages (`None` leaves it to the broker).
    pub fn max_messages(mut self, max_messages: impl Into<Option<u64>>) -> Self {
        self.max_messages = max_messages.into();
        self
    }

    /// Sets the number of replicas (`None` leaves it to the broker).
    pub fn replicas(mut self, replicas: impl Into<Option<u32>>) -> Self {
        self.replicas = replicas.into();
        self
    }

    /// Sets the number of Kafka partitions (`None` leaves it to the broker).
    pub fn partitions(mut self, partitions: impl Into<Option<u32>>) -> Self {
        self.partitions = partitions.into();
        self
    }

    /// Sets the compression codec (`None` leaves it to the broker).
    pub fn compression(mut self, compression: impl Into<Option<Compression>>) -> Self {
        self.compression = compression.into();
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Checks the values a broker would refuse or misread.
    ///
    /// Zero is rejected for every limit: brokers read a zero limit as
    /// "unlimited" or refuse it, so it is never what was meant; use `None`
    /// for the broker default or the `UNLIMITED*` constants.
    pub fn validate(&self, topic: &str) -> Result<(), TopicsError> {
        let invalid = |reason: &str| {
            Err(TopicsError::InvalidOptions {
                topic: topic.to_owned(),
                reason: reason.to_owned(),
            })
        };
        if self.retention == Some(Duration::ZERO) {
            return invalid("retention must be positive (use \"unlimited\" or leave it unset)");
        }
        if self.max_bytes == Some(0) {
            return invalid("max_bytes must be positive (use \"unlimited\" or leave it unset)");
        }
        if self.max_messages == Some(0) {
            return invalid("max_messages must be positive (use \"unlimited\" or leave it unset)");
        }
        if self.replicas == Some(0) {
            return invalid("replicas must be at least 1");
        }
        if self.partitions == Some(0) {
            return invalid("partitions must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_bus_default_and_explicit_modes_win() {
        assert_eq!(
            Persistence::Auto.resolve(Persistence::Ephemeral),
            Persistence::Ephemeral
        );
        assert_eq!(
            Persistence::Persistent.resolve(Persistence::Ephemeral),
            Persistence::Persistent
        );
    }

    #[test]
    fn builder_sets_and_clears_fields() {
        let options = TopicOptions::new()
            .replicas(3)
            .compression(Compression::Lz4)
            .description("orders");
        assert_eq!(options.replicas, Some(3));
        assert_eq!(options.compression, Some(Compression::Lz4));
        assert_eq!(options.description.as_deref(), Some("orders"));
        let cleared = options.replicas(None).compression(None);
        assert_eq!(cleared.replicas, None);
        assert_eq!(cleared.compression, None);
    }

    #[test]
    fn zero_limits_are_rejected_with_the_field_named() {
        let err = TopicOptions::new().max_bytes(0).validate("t").unwrap_err();
        assert!(err.to_string().contains("max_bytes"), "{err}");
        let err = TopicOptions::new().replicas(0).validate("t").unwrap_err();
        assert!(err.to_string().contains("replicas"), "{err}");
        assert!(TopicOptions::preset(Preset::Default).validate("t").is_ok());
    }

    #[test]
    fn serde_reads_human_durations_and_unlimited() {
        let json = r#"{"persistence":"persistent","retention":"7days","max_bytes":"unlimited",
                       "max_messages":1000,"compression":"snappy"}"#;
        let options: TopicOptions = serde_json::from_str(json).unwrap();
        assert_eq!(options.persistence, Persistence::Persistent);
        assert_eq!(options.retention, Some(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(options.max_bytes, Some(UNLIMITED));
        assert_eq!(options.max_messages, Some(1000));
        assert_eq!(options.compression, Some(Compression::Snappy));
        assert_eq!(options.replicas, None);
    }

    #[test]
    fn serde_round_trips_every_preset_and_unlimited_values() {
        for preset in Preset::ALL {
            let options = TopicOptions::preset(preset)
                .retention(UNLIMITED_RETENTION)
                .max_messages(UNLIMITED);
            let json = serde_json::to_string(&options).unwrap();
            assert!(json.contains(r#""retention":"unlimited""#), "{json}");
            let back: TopicOptions = serde_json::from_str(&json).unwrap();
            assert_eq!(back, options);
        }
    }

    #[test]
    fn serde_rejects_unknown_fields_and_bad_values() {
        assert!(serde_json::from_str::<TopicOptions>(r#"{"replica":3}"#).is_err());
        assert!(serde_json::from_str::<TopicOptions>(r#"{"retention":"soon"}"#).is_err());
        assert!(serde_json::from_str::<TopicOptions>(r#"{"max_bytes":"lots"}"#).is_err());
    }
}
