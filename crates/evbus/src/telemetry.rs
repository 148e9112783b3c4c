//! The bus's metrics, recorded through the `metrics` crate. Every metric is
//! listed in [`CATALOGUE`] (and in docs/operations.md, which a test keeps
//! equal to it). Handles are registered once, per bus or per subscription,
//! so the message path never builds a metric key; labels are bounded
//! (mode, outcome, reason, kind, topic, group, pool, source, change) and
//! never name an aggregate.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use crate::operations::now_ms;
use evbus_keyed_pool::metric_names as pool;
use evbus_transport::{ConnectionState, dead_letter::Reason};
use metrics::{Counter, Gauge, Histogram, counter, gauge, histogram};

/// Counter: messages published successfully, label `mode` (`awaited`,
/// `detached`).
pub const PUBLISHED: &str = "evbus_published_total";
/// Counter: publishes that failed, label `mode`.
pub const PUBLISH_FAILURES: &str = "evbus_publish_failures_total";
/// Histogram: seconds from handing a publish to the transport to the
/// broker's answer, label `mode` (a detached batch counts once).
pub const PUBLISH_SECONDS: &str = "evbus_publish_duration_seconds";
/// Histogram: seconds a publish waited for the bus's rate limit before it
/// was sent or queued (recorded only with a limit, only for a wait), label
/// `mode` (a batch counts once).
pub const PUBLISH_RATE_WAIT_SECONDS: &str = "evbus_publish_rate_wait_seconds";
/// Counter: deliveries settled, label `outcome` (`handled`, `dead_lettered`,
/// `redelivered`, `abandoned`).
pub const SETTLED: &str = "evbus_deliveries_total";
/// Counter: messages dead-lettered, label `reason` (`handler-failed`,
/// `undecodable`, `delivery-limit`).
pub const DEAD_LETTERED: &str = "evbus_dead_lettered_total";
/// Counter: errors reported to the error callback, label `kind`.
pub const ERRORS: &str = "evbus_errors_total";
/// Gauge: the broker connection, `2` connected, `1` reconnecting, `0`
/// closed; sampled.
pub const CONNECTION_STATE: &str = "evbus_connection_state";
/// Counter: reconnections the sampler saw (a drop shorter than the
/// sampling interval is not seen).
pub const RECONNECTS: &str = "evbus_reconnects_total";
/// Gauge: publishes sent and not yet confirmed by the broker; sampled.
pub const PUBLISH_IN_FLIGHT: &str = "evbus_publish_in_flight";
/// Gauge: detached publishes queued and not yet sent; sampled.
pub const DETACHED_QUEUED: &str = "evbus_detached_queue_depth";
/// Counter: deliveries the broker made more than once, labels `topic`,
/// `group`.
pub const REDELIVERIES: &str = "evbus_redeliveries_total";
/// Counter: deliveries dropped unhandled and unsettled because the
/// subscription lost the partition they came from (the new owner receives
/// them), labels `topic`, `group`.
pub const FENCED: &str = "evbus_consume_fenced_total";
/// Counter: partitions assigned to, revoked from or lost by a subscription,
/// labels `topic`, `group`, `change` (`assigned`, `revoked`, `lost`).
pub const OWNERSHIP_CHANGES: &str = "evbus_ownership_changes_total";
/// Histogram: seconds each handler attempt ran, labels `topic`, `group`.
pub const HANDLER_SECONDS: &str = "evbus_handler_duration_seconds";
/// Histogram: seconds from the broker's timestamp of a delivery (its
/// fetch, where the broker keeps none) to its handler's first start,
/// labels `topic`, `group`.
pub const QUEUE_SECONDS: &str = "evbus_queue_duration_seconds";
/// Histogram: seconds a subscription's fetch waited for its rate limit
/// (recorded only for subscriptions with one), labels `topic`, `group`.
pub const SUBSCRIBE_RATE_WAIT_SECONDS: &str = "evbus_subscribe_rate_wait_seconds";
/// Gauge: messages stored for the group and not yet delivered, labels
/// `topic`, `group`; sampled from the broker.
pub const CONSUMER_PENDING: &str = "evbus_consumer_pending";
/// Gauge: messages delivered and not yet acknowledged (NATS), labels
/// `topic`, `group`; sampled from the broker.
pub const CONSUMER_ACK_PENDING: &str = "evbus_consumer_ack_pending";
/// Gauge: pending plus ack-pending (Kafka: the sum over partitions of high
/// watermark minus committed offset), labels `topic`, `group`; sampled.
pub const CONSUMER_LAG: &str = "evbus_consumer_lag";
/// Counter: health beats this service published, label `outcome` (`ok`,
/// `failed`).
pub const HEALTH_BEATS_PUBLISHED: &str = "evbus_health_beats_published_total";
/// Counter: health beats the monitor received, label `source` (the
/// publishing service).
pub const HEALTH_BEATS_RECEIVED: &str = "evbus_health_beats_received_total";
/// Gauge: whole beat intervals since a monitored service's last beat,
/// label `source`.
pub const HEALTH_MISSED: &str = "evbus_health_missed_beats";
/// Gauge: a monitored service's alert level, `0` ok, `1` warning, `2`
/// error, `3` critical, label `source`.
pub const HEALTH_SEVERITY: &str = "evbus_health_severity";

/// What a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of observations.
    Histogram,
}

/// One metric of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct MetricInfo {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// Its label names.
    pub labels: &'static [&'static str],
    /// What it measures.
    pub help: &'static str,
}

const fn info(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> MetricInfo {
    MetricInfo {
        name,
        kind,
        labels,
        help,
    }
}

use MetricKind::{Counter as C, Gauge as G, Histogram as H};
const SUB: &[&str] = &["topic", "group"];

/// Every metric evbus records, the keyed pool's included.
pub const CATALOGUE: &[MetricInfo] = &[
    info(PUBLISHED, C, &["mode"], "messages published successfully"),
    info(PUBLISH_FAILURES, C, &["mode"], "publishes that failed"),
    info(
        PUBLISH_SECONDS,
        H,
        &["mode"],
        "publish latency, call to broker answer",
    ),
    info(
        PUBLISH_RATE_WAIT_SECONDS,
        H,
        &["mode"],
        "waits for the bus's publish rate limit",
    ),
    info(SETTLED, C, &["outcome"], "deliveries settled, by outcome"),
    info(
        DEAD_LETTERED,
        C,
        &["reason"],
        "messages dead-lettered, by reason",
    ),
    info(ERRORS, C, &["kind"], "background errors reported"),
    info(
        CONNECTION_STATE,
        G,
        &[],
        "2 connected, 1 reconnecting, 0 closed",
    ),
    info(RECONNECTS, C, &[], "reconnections seen by the sampler"),
    info(PUBLISH_IN_FLIGHT, G, &[], "publishes awaiting the broker"),
    info(
        DETACHED_QUEUED,
        G,
        &[],
        "detached publishes waiting to be sent",
    ),
    info(REDELIVERIES, C, SUB, "deliveries made more than once"),
    info(FENCED, C, SUB, "deliveries dropped: partition lost"),
    info(
        OWNERSHIP_CHANGES,
        C,
        &["topic", "group", "change"],
        "partitions assigned, revoked or lost",
    ),
    info(HANDLER_SECONDS, H, SUB, "duration of each handler attempt"),
    info(
        QUEUE_SECONDS,
        H,
        SUB,
        "broker timestamp to first handler start",
    ),
    info(
        SUBSCRIBE_RATE_WAIT_SECONDS,
        H,
        SUB,
        "waits for the subscription's rate limit",
    ),
    info(CONSUMER_PENDING, G, SUB, "stored, not yet delivered"),
    info(
        CONSUMER_ACK_PENDING,
        G,
        SUB,
        "delivered, not yet acknowledged",
    ),
    info(CONSUMER_LAG, G, SUB, "pending plus ack-pending"),
    info(
        HEALTH_BEATS_PUBLISHED,
        C,
        &["outcome"],
        "health beats published",
    ),
    info(
        HEALTH_BEATS_RECEIVED,
        C,
        &["source"],
        "health beats received",
    ),
    info(
        HEALTH_MISSED,
        G,
        &["source"],
        "beat intervals missed in a row",
    ),
    info(
        HEALTH_SEVERITY,
        G,
        &["source"],
        "0 ok, 1 warning, 2 error, 3 critical",
    ),
    info(
        pool::QUEUED,
        G,
        &["pool"],
        "pool items waiting for a worker",
    ),
    info(
        pool::RUNNING,
        G,
        &["pool"],
        "pool items running or in backoff",
    ),
    info(
        pool::COMPLETED,
        C,
        &["pool"],
        "pool items whose handler succeeded",
    ),
    info(
        pool::FAILED,
        C,
        &["pool", "reason"],
        "pool items failed for good",
    ),
    info(
        pool::ABANDONED,
        C,
        &["pool"],
        "pool items abandoned at close",
    ),
    info(pool::RETRIES, C, &["pool"], "handler retries started"),
    info(
        pool::HANDLER_SECONDS,
        H,
        &["pool"],
        "duration of each pool attempt",
    ),
];

/// How a delivery ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Handled,
    DeadLettered,
    Redelivered,
    Abandoned,
}

/// How a publish was made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    Awaited,
    Detached,
}

/// One label value's handles of a counter pair.
struct PublishHandles {
    ok: Counter,
    failed: Counter,
    seconds: Histogram,
    rate_wait: Histogram,
}

impl PublishHandles {
    fn new(mode: &'static str) -> Self {
        Self {
            ok: counter!(PUBLISHED, "mode" => mode),
            failed: counter!(PUBLISH_FAILURES, "mode" => mode),
            seconds: histogram!(PUBLISH_SECONDS, "mode" => mode),
            rate_wait: histogram!(PUBLISH_RATE_WAIT_SECONDS, "mode" => mode),
        }
    }
}

/// The bus-wide handles, registered when the bus is built.
pub(crate) struct Metrics {
    awaited: PublishHandles,
    detached: PublishHandles,
    settled: [Counter; 4],
    dead_lettered: [Counter; 3],
    dead_letter_count: AtomicU64,
    last_publish_ms: AtomicU64,
    errors: [Counter; 6],
    pub(crate) connection_state: Gauge,
    pub(crate) reconnects: Counter,
    pub(crate) publish_in_flight: Gauge,
    pub(crate) detached_queued: Gauge,
}

const ERROR_KINDS: [&str; 6] = [
    "transport",
    "envelope",
    "topic",
    "config",
    "closed",
    "internal",
];

impl Metrics {
    pub(crate) fn new() -> Self {
        for metric in CATALOGUE {
            match metric.kind {
                MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
                MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
                MetricKind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
            }
        }
        let settled = |o: &'static str| counter!(SETTLED, "outcome" => o);
        let dead = |r: Reason| counter!(DEAD_LETTERED, "reason" => r.as_str());
        Self {
            awaited: PublishHandles::new("awaited"),
            detached: PublishHandles::new("detached"),
            settled: [
                settled("handled"),
                settled("dead_lettered"),
                settled("redelivered"),
                settled("abandoned"),
            ],
            dead_lettered: [
                dead(Reason::HandlerFailed),
                dead(Reason::Undecodable),
                dead(Reason::DeliveryLimit),
            ],
            dead_letter_count: AtomicU64::new(0),
            last_publish_ms: AtomicU64::new(0),
            errors: ERROR_KINDS.map(|kind| counter!(ERRORS, "kind" => kind)),
            connection_state: gauge!(CONNECTION_STATE),
            reconnects: counter!(RECONNECTS),
            publish_in_flight: gauge!(PUBLISH_IN_FLIGHT),
            detached_queued: gauge!(DETACHED_QUEUED),
        }
    }

    pub(crate) fn settled(&self, outcome: Outcome) {
        self.settled[outcome as usize].increment(1);
    }

    pub(crate) fn dead_lettered(&self, reason: Reason) {
        let index = match reason {
            Reason::HandlerFailed => 0,
            Reason::Undecodable => 1,
            Reason::DeliveryLimit => 2,
        };
        self.dead_lettered[index].increment(1);
        self.dead_letter_count.fetch_add(1, Ordering::Relaxed);
    }

    /// When a publish last succeeded, in milliseconds since the Unix epoch;
    /// `0` if never.
    pub(crate) fn last_publish_ms(&self) -> u64 {
        self.last_publish_ms.load(Ordering::Relaxed)
    }

    /// Messages dead-lettered since the bus started.
    pub(crate) fn dead_letters(&self) -> u64 {
        self.dead_letter_count.load(Ordering::Relaxed)
    }

    fn handles(&self, mode: Mode) -> &PublishHandles {
        match mode {
            Mode::Awaited => &self.awaited,
            Mode::Detached => &self.detached,
        }
    }

    /// Records a wait for the publish rate limit; a publish that found
    /// tokens ready records nothing, as on the subscription side.
    pub(crate) fn publish_rate_limited(&self, mode: Mode, waited: Duration) {
        if !waited.is_zero() {
            self.handles(mode).rate_wait.record(waited);
        }
    }

    pub(crate) fn published(&self, mode: Mode, ok: u64, failed: u64, took: Duration) {
        let handles = self.handles(mode);
        if ok > 0 {
            self.last_publish_ms.store(now_ms(), Ordering::Relaxed);
        }
        handles.ok.increment(ok);
        handles.failed.increment(failed);
        handles.seconds.record(took);
    }

    /// `kind` is one of [`ERROR_KINDS`].
    pub(crate) fn error(&self, kind: &'static str) {
        if let Some(index) = ERROR_KINDS.iter().position(|k| *k == kind) {
            self.errors[index].increment(1);
        }
    }

    pub(crate) fn connection(&self, state: ConnectionState) {
        self.connection_state.set(match state {
            ConnectionState::Connected => 2.0,
            ConnectionState::Reconnecting => 1.0,
            ConnectionState::Closed => 0.0,
        });
    }
}

/// One subscription's handles, registered when it starts.
pub(crate) struct SubscriptionMetrics {
    pub(crate) redeliveries: Counter,
    pub(crate) fenced: Counter,
    /// Assigned, revoked, lost.
    pub(crate) ownership: [Counter; 3],
    pub(crate) handler_seconds: Histogram,
    pub(crate) queue_seconds: Histogram,
    pub(crate) rate_wait_seconds: Histogram,
    pub(crate) pending: Gauge,
    pub(crate) ack_pending: Gauge,
    pub(crate) lag: Gauge,
}

impl SubscriptionMetrics {
    pub(crate) fn new(topic: &str, group: &str) -> Self {
        let labels = [("topic", topic.to_owned()), ("group", group.to_owned())];
        Self {
            redeliveries: counter!(REDELIVERIES, &labels),
            fenced: counter!(FENCED, &labels),
            ownership: ["assigned", "revoked", "lost"].map(|change| {
                counter!(
                    OWNERSHIP_CHANGES,
                    "topic" => topic.to_owned(),
                    "group" => group.to_owned(),
                    "change" => change
                )
            }),
            handler_seconds: histogram!(HANDLER_SECONDS, &labels),
            queue_seconds: histogram!(QUEUE_SECONDS, &labels),
            rate_wait_seconds: histogram!(SUBSCRIBE_RATE_WAIT_SECONDS, &labels),
            pending: gauge!(CONSUMER_PENDING, &labels),
            ack_pending: gauge!(CONSUMER_ACK_PENDING, &labels),
            lag: gauge!(CONSUMER_LAG, &labels),
        }
    }
}
