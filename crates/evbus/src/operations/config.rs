//! Settings of the bus's operations side: sampling, backlog thresholds and
//! health checks. Every default is stated on its field and in
//! docs/configuration.md.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Sampling, backlog alerts and health checks (`BusConfig::operations`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct OperationsConfig {
    /// How often the sampler asks the broker for each subscription's
    /// backlog and reads connection state, publishes in flight and the
    /// detached queue. Nothing is measured on the message path for these.
    /// Default: 5 s.
    #[serde(with = "humantime_serde")]
    pub sample_interval: Duration,
    /// Levels of each subscription's backlog (pending plus ack-pending)
    /// that raise an alert. Default: none set.
    pub backlog: BacklogThresholds,
    /// Levels of the publisher's backlog (detached queue plus publishes
    /// awaiting the broker) that raise an alert. Default: none set.
    pub publisher_backlog: BacklogThresholds,
    /// Health-check beats and their monitor.
    pub health: HealthConfig,
}

impl Default for OperationsConfig {
    fn default() -> Self {
        Self {
            sample_interval: Duration::from_secs(5),
            backlog: BacklogThresholds::default(),
            publisher_backlog: BacklogThresholds::default(),
            health: HealthConfig::default(),
        }
    }
}

/// The backlog (pending plus ack-pending) of one subscription at which it
/// is in warning, error or critical state; `None` never raises that level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BacklogThresholds {
    /// Default: none.
    pub warning: Option<u64>,
    /// Default: none.
    pub error: Option<u64>,
    /// Default: none.
    pub critical: Option<u64>,
}

impl BacklogThresholds {
    /// The level a backlog of `value` is at.
    pub(crate) fn level(&self, value: u64) -> super::Level {
        super::Level::of(value, self.warning, self.error, self.critical)
    }

    /// Sets the three levels.
    pub fn new(warning: u64, error: u64, critical: u64) -> Self {
        Self {
            warning: Some(warning),
            error: Some(error),
            critical: Some(critical),
        }
    }
}

/// Health-check beats (the Go SDK's health-check publisher and subscriber).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct HealthConfig {
    /// The topic beats go to. Default: the Go SDK's topic for the backend,
    /// `jxt-core-<backend>-health-check` (`nats`, `kafka`, `memory`), so a
    /// mixed Go and Rust fleet shares it.
    pub topic: Option<String>,
    /// How often a beat is published, and the unit misses are counted in.
    /// Default: 2 min (the Go SDK's).
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Whole intervals without a beat before a warning. Default: 3.
    pub warning_after: u32,
    /// Whole intervals without a beat before an error. Default: 5.
    pub error_after: u32,
    /// Whole intervals without a beat before critical. Default: 10.
    pub critical_after: u32,
    /// The monitor's consumer group. Default: `<service_name>-health-monitor`.
    pub monitor_group: Option<String>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            topic: None,
            interval: Duration::from_secs(120),
            warning_after: 3,
            error_after: 5,
            critical_after: 10,
            monitor_group: None,
        }
    }
}

impl HealthConfig {
    /// The beat topic for a transport named `transport`.
    pub fn topic_for(&self, transport: &str) -> String {
        self.topic
            .clone()
            .unwrap_or_else(|| format!("jxt-core-{transport}-health-check"))
    }
}
