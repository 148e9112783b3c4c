//! The operations side of a bus: a sampler for backlog, connection and
//! publisher gauges with threshold alerts; health-check beats and their
//! monitor; and the [`HealthSnapshot`] that [`EventBus::health`](crate::EventBus::health)
//! returns. See docs/operations.md.

mod config;
mod connection;
mod dead_letters;
mod health;
mod sampler;
mod snapshot;
mod state;

pub use config::{BacklogThresholds, HealthConfig, OperationsConfig};
pub(crate) use connection::{ConnectionCallback, follow as follow_connection};
pub(crate) use dead_letters::DeadLetterCallbacks;
pub use dead_letters::DeadLettered;
pub use health::{HealthAlert, HealthMessage, HealthMonitor, HealthPublisher};
pub(crate) use sampler::run as sample;
pub use sampler::{BacklogAlert, BacklogOf};
pub use snapshot::{HealthSnapshot, PoolUse, SubscriptionHealth};
pub(crate) use state::{Ops, SubscriptionStats, now_ms};

use serde::Serialize;

/// How bad a condition is; `Ok` is the all-clear an alert reports when a
/// condition ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Nothing wrong.
    #[default]
    Ok,
    /// The first threshold was reached.
    Warning,
    /// The second threshold was reached.
    Error,
    /// The third threshold was reached.
    Critical,
}

impl Level {
    /// The level `value` reaches with these thresholds (`None` is never
    /// reached).
    pub(crate) fn of(
        value: u64,
        warning: Option<u64>,
        error: Option<u64>,
        critical: Option<u64>,
    ) -> Self {
        let reached = |t: Option<u64>| t.is_some_and(|t| value >= t);
        if reached(critical) {
            Level::Critical
        } else if reached(error) {
            Level::Error
        } else if reached(warning) {
            Level::Warning
        } else {
            Level::Ok
        }
    }

    /// Its gauge value: 0 ok to 3 critical.
    pub(crate) fn as_f64(self) -> f64 {
        f64::from(self as u8)
    }

    /// The Go SDK's severity name (`warning`, `error`, `critical`), `ok`
    /// for the all-clear.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Level;

    #[test]
    fn levels_follow_the_highest_threshold_reached() {
        let of = |v| Level::of(v, Some(3), Some(5), Some(10));
        assert_eq!(of(0), Level::Ok);
        assert_eq!(of(2), Level::Ok);
        assert_eq!(of(3), Level::Warning);
        assert_eq!(of(5), Level::Error);
        assert_eq!(of(9), Level::Error);
        assert_eq!(of(10), Level::Critical);
        assert_eq!(Level::of(100, None, Some(5), None), Level::Error);
    }
}
