//! The Go SDK's topic presets.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::options::{Compression, Persistence, TopicOptions};

const MIB: u64 = 1024 * 1024;
const DAY: Duration = Duration::from_secs(24 * 3600);

/// Named starting points for [`TopicOptions`], with the Go SDK's values.
///
/// Sizes are binary (1 MB = 1024 x 1024 bytes), as in the Go SDK.
///
/// | Preset | persistence | retention | max bytes | max messages | replicas | partitions | compression |
/// |---|---|---|---|---|---|---|---|
/// | `Default` | auto | 24 h | 100 MB | 10,000 | 1 | 1 | broker default |
/// | `HighThroughput` | persistent | 7 d | 1 GB | 1,000,000 | 3 | 10 | snappy |
/// | `MediumThroughput` | persistent | 3 d | 500 MB | 100,000 | 3 | 5 | snappy |
/// | `LowThroughput` | persistent | 1 d | 100 MB | 10,000 | 3 | 3 | snappy |
///
/// The Go SDK also sets a compression level of 6 on its three snappy
/// presets; snappy has no levels (the SDK's own builder says it ignores
/// the value), so evbus has no level to carry.
///
/// Three replicas need a three-node cluster; on a single broker override
/// them with `.replicas(1)`. JetStream only knows S2 compression, so on
/// NATS use the three throughput presets with
/// `.compression(Compression::S2)` or `.compression(None)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Preset {
    /// The Go SDK's `DefaultTopicOptions`.
    Default,
    /// For more than 1,000 msg/s.
    HighThroughput,
    /// For 100 to 1,000 msg/s.
    MediumThroughput,
    /// For fewer than 100 msg/s.
    LowThroughput,
}

impl Preset {
    /// Every preset, in declaration order.
    pub const ALL: [Preset; 4] = [
        Preset::Default,
        Preset::HighThroughput,
        Preset::MediumThroughput,
        Preset::LowThroughput,
    ];

    /// The preset's values.
    pub fn options(self) -> TopicOptions {
        let base = TopicOptions::new().persistence(Persistence::Persistent);
        match self {
            Preset::Default => TopicOptions::new()
                .persistence(Persistence::Auto)
                .retention(DAY)
                .max_bytes(100 * MIB)
                .max_messages(10_000)
                .replicas(1)
                .partitions(1),
            Preset::HighThroughput => base
                .retention(7 * DAY)
                .max_bytes(1024 * MIB)
                .max_messages(1_000_000)
                .replicas(3)
                .partitions(10)
                .compression(Compression::Snappy),
            Preset::MediumThroughput => base
                .retention(3 * DAY)
                .max_bytes(500 * MIB)
                .max_messages(100_000)
                .replicas(3)
                .partitions(5)
                .compression(Compression::Snappy),
            Preset::LowThroughput => base
                .retention(DAY)
                .max_bytes(100 * MIB)
                .max_messages(10_000)
                .replicas(3)
                .partitions(3)
                .compression(Compression::Snappy),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_carry_the_go_sdk_values() {
        let high = Preset::HighThroughput.options();
        assert_eq!(high.retention, Some(7 * DAY));
        assert_eq!(high.max_bytes, Some(1 << 30));
        assert_eq!(high.max_messages, Some(1_000_000));
        assert_eq!(
            (high.replicas, high.partitions, high.compression),
            (Some(3), Some(10), Some(Compression::Snappy))
        );

        let default = Preset::Default.options();
        assert_eq!(default.persistence, Persistence::Auto);
        assert_eq!(default.max_bytes, Some(100 * MIB));
        assert_eq!((default.replicas, default.partitions), (Some(1), Some(1)));

        let medium = Preset::MediumThroughput.options();
        assert_eq!(
            (medium.retention, medium.max_bytes, medium.partitions),
            (Some(3 * DAY), Some(500 * MIB), Some(5))
        );
        let low = Preset::LowThroughput.options();
        assert_eq!(
            (low.retention, low.max_messages, low.partitions),
            (Some(DAY), Some(10_000), Some(3))
        );
        // The Go SDK sets snappy on every throughput preset.
        for preset in [medium, low] {
            assert_eq!(preset.compression, Some(Compression::Snappy));
        }
    }
}
