//! Metric handles, registered once per pool so the hot path only touches
//! atomics (or nothing, when no recorder is installed).

use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

/// Gauge: items accepted and waiting for a worker.
pub const QUEUED: &str = "evbus_pool_items_queued";
/// Gauge: items a worker is processing (running or in retry backoff).
pub const RUNNING: &str = "evbus_pool_items_running";
/// Counter: items whose handler succeeded.
pub const COMPLETED: &str = "evbus_pool_items_completed_total";
/// Counter: items that failed for good, labelled `reason` =
/// `handler` | `panicked` | `timed_out`.
pub const FAILED: &str = "evbus_pool_items_failed_total";
/// Counter: items abandoned at shutdown.
pub const ABANDONED: &str = "evbus_pool_items_abandoned_total";
/// Counter: retry attempts started.
pub const RETRIES: &str = "evbus_pool_retries_total";
/// Histogram: duration of each handler attempt, in seconds.
pub const HANDLER_SECONDS: &str = "evbus_pool_handler_duration_seconds";

pub(crate) struct Telemetry {
    pub queued: Gauge,
    pub running: Gauge,
    pub completed: Counter,
    pub failed_handler: Counter,
    pub failed_panicked: Counter,
    pub failed_timed_out: Counter,
    pub abandoned: Counter,
    pub retries: Counter,
    pub handler_seconds: Histogram,
}

impl Telemetry {
    pub fn new(pool: &str) -> Self {
        let pool = pool.to_owned();
        Self {
            queued: gauge!(QUEUED, "pool" => pool.clone()),
            running: gauge!(RUNNING, "pool" => pool.clone()),
            completed: counter!(COMPLETED, "pool" => pool.clone()),
            failed_handler: counter!(FAILED, "pool" => pool.clone(), "reason" => "handler"),
            failed_panicked: counter!(FAILED, "pool" => pool.clone(), "reason" => "panicked"),
            failed_timed_out: counter!(FAILED, "pool" => pool.clone(), "reason" => "timed_out"),
            abandoned: counter!(ABANDONED, "pool" => pool.clone()),
            retries: counter!(RETRIES, "pool" => pool.clone()),
            handler_seconds: histogram!(HANDLER_SECONDS, "pool" => pool),
        }
    }
}
