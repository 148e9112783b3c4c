//! What the message path and the sampler record for the snapshot: atomics
//! and handles registered once, so recording costs a clock read and a few
//! atomic operations per message.

use std::{
    sync::{
        Arc, Weak,
        atomic::{AtomicU64, Ordering},
    },
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use evbus_transport::Backlog;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::{Level, OperationsConfig, health::Sources, sampler::BacklogCallback};
use crate::telemetry::{Metrics, SubscriptionMetrics};

/// Milliseconds since the Unix epoch; `0` stands for "never".
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The operations state of one bus.
pub(crate) struct Ops {
    pub(crate) config: OperationsConfig,
    pub(crate) metrics: Arc<Metrics>,
    /// Subscriptions still running; a finished one's stats are dropped with
    /// its consumer, which prunes it here.
    subscriptions: Mutex<Vec<Weak<SubscriptionStats>>>,
    pub(crate) backlog_callbacks: Mutex<Vec<BacklogCallback>>,
    /// Told of every message dead-lettered.
    pub(crate) dead_letter_callbacks: Arc<super::DeadLetterCallbacks>,
    /// The publisher's backlog level at the last sample.
    pub(crate) publisher_level: Mutex<Level>,
    /// The services the bus's health monitors track.
    pub(crate) sources: Sources,
    /// Ends the sampler and every health task when the bus closes.
    pub(crate) stop: CancellationToken,
}

impl Ops {
    pub(crate) fn new(config: OperationsConfig, metrics: Arc<Metrics>) -> Self {
        Self {
            config,
            metrics,
            subscriptions: Mutex::new(Vec::new()),
            backlog_callbacks: Mutex::new(Vec::new()),
            dead_letter_callbacks: Arc::default(),
            publisher_level: Mutex::new(Level::Ok),
            sources: Sources::default(),
            stop: CancellationToken::new(),
        }
    }

    /// Registers a new subscription's stats and handles.
    pub(crate) fn subscription(
        &self,
        system: &'static str,
        topic: &str,
        group: &str,
    ) -> Arc<SubscriptionStats> {
        let stats = Arc::new(SubscriptionStats {
            system,
            topic: topic.to_owned(),
            group: group.to_owned(),
            metrics: SubscriptionMetrics::new(topic, group),
            last_delivery_ms: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            backlog: Mutex::new(None),
            level: Mutex::new(Level::Ok),
        });
        let mut subscriptions = self.subscriptions.lock();
        subscriptions.retain(|s| s.strong_count() > 0);
        subscriptions.push(Arc::downgrade(&stats));
        stats
    }

    /// The subscriptions still running.
    pub(crate) fn subscriptions(&self) -> Vec<Arc<SubscriptionStats>> {
        self.subscriptions
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect()
    }
}

/// One subscription's activity and last sampled backlog.
pub(crate) struct SubscriptionStats {
    /// The transport's name, for spans.
    pub(crate) system: &'static str,
    pub(crate) topic: String,
    pub(crate) group: String,
    pub(crate) metrics: SubscriptionMetrics,
    last_delivery_ms: AtomicU64,
    delivered: AtomicU64,
    pub(crate) backlog: Mutex<Option<Backlog>>,
    pub(crate) level: Mutex<Level>,
}

impl SubscriptionStats {
    /// Records a delivery fetched from the broker.
    pub(crate) fn delivered(&self, delivery_count: u32) {
        self.last_delivery_ms.store(now_ms(), Ordering::Relaxed);
        self.delivered.fetch_add(1, Ordering::Relaxed);
        if delivery_count > 1 {
            self.metrics.redeliveries.increment(1);
        }
    }

    /// Records a wait for the subscription's rate limit (none without one).
    pub(crate) fn rate_limited(&self, waited: std::time::Duration) {
        if !waited.is_zero() {
            self.metrics.rate_wait_seconds.record(waited);
        }
    }

    /// Records a handler attempt: how long its delivery waited since the
    /// broker stored it (since it was fetched, where the broker keeps no
    /// timestamp), first attempt only, and how long the attempt ran.
    pub(crate) fn attempted(
        &self,
        fetched: Instant,
        stored: Option<SystemTime>,
        started: Instant,
        first: bool,
    ) {
        if first {
            let queued = match stored {
                // The start, on the wall clock the broker's timestamp uses.
                Some(stored) => (SystemTime::now() - started.elapsed())
                    .duration_since(stored)
                    .unwrap_or_default(),
                None => started.saturating_duration_since(fetched),
            };
            self.metrics.queue_seconds.record(queued);
        }
        self.metrics.handler_seconds.record(started.elapsed());
    }

    pub(crate) fn last_delivery_ms(&self) -> u64 {
        self.last_delivery_ms.load(Ordering::Relaxed)
    }

    pub(crate) fn delivered_total(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
}
