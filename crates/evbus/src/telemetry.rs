//! The bus's metrics, recorded through the `metrics` crate. Names are
//! documented in the crate README.

use evbus_transport::dead_letter::Reason;

/// Counter: messages published successfully, label `mode` (`awaited`,
/// `detached`).
pub const PUBLISHED: &str = "evbus_published_total";
/// Counter: publishes that failed, label `mode`.
pub const PUBLISH_FAILURES: &str = "evbus_publish_failures_total";
/// Counter: deliveries settled, label `outcome` (`handled`, `dead_lettered`,
/// `redelivered`, `abandoned`).
pub const SETTLED: &str = "evbus_deliveries_total";
/// Counter: messages dead-lettered, label `reason` (`handler-failed`,
/// `undecodable`, `delivery-limit`).
pub const DEAD_LETTERED: &str = "evbus_dead_lettered_total";
/// Counter: errors reported to the error callback, label `kind`.
pub const ERRORS: &str = "evbus_errors_total";

/// How a delivery ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Handled,
    DeadLettered,
    Redelivered,
    Abandoned,
}

pub(crate) fn handled(outcome: Outcome) {
    let outcome = match outcome {
        Outcome::Handled => "handled",
        Outcome::DeadLettered => "dead_lettered",
        Outcome::Redelivered => "redelivered",
        Outcome::Abandoned => "abandoned",
    };
    metrics::counter!(SETTLED, "outcome" => outcome).increment(1);
}

pub(crate) fn dead_lettered(reason: Reason) {
    metrics::counter!(DEAD_LETTERED, "reason" => reason.as_str()).increment(1);
}

pub(crate) fn published(mode: &'static str, ok: u64, failed: u64) {
    if ok > 0 {
        metrics::counter!(PUBLISHED, "mode" => mode).increment(ok);
    }
    if failed > 0 {
        metrics::counter!(PUBLISH_FAILURES, "mode" => mode).increment(failed);
    }
}

pub(crate) fn error(kind: &'static str) {
    metrics::counter!(ERRORS, "kind" => kind).increment(1);
}
