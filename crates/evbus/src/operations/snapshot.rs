//! [`EventBus::health`]: what an HTTP health endpoint serves, built from
//! what the message path and the sampler recorded (no broker call).

use std::sync::Arc;

use evbus_transport::{Backlog, ConnectionState};
use serde::Serialize;

use super::{Level, health::SourceHealth, sampler::BacklogCallback};
use crate::EventBus;

/// The state of a bus at one moment, serializable to JSON.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HealthSnapshot {
    /// The service name.
    pub service: String,
    /// The transport's name.
    pub transport: &'static str,
    /// `connected`, `reconnecting` or `closed`.
    pub connection: &'static str,
    /// When a publish was last answered by the broker, in milliseconds
    /// since the Unix epoch; `null` if never.
    pub last_publish_unix_ms: Option<u64>,
    /// Publishes awaiting the broker's answer.
    pub publish_in_flight: usize,
    /// Detached publishes queued and not yet sent.
    pub detached_queued: usize,
    /// The publisher's backlog level at the last sample, against
    /// `operations.publisher_backlog`.
    pub publisher_level: Level,
    /// Messages this bus dead-lettered since it started.
    pub dead_letters: u64,
    /// The keyed pool's use.
    pub pool: PoolUse,
    /// Every running subscription.
    pub subscriptions: Vec<SubscriptionHealth>,
    /// Every service whose health beats this bus's monitors heard.
    pub monitored: Vec<SourceHealth>,
}

/// How full the keyed pool is.
#[derive(Debug, Clone, Copy, Serialize)]
#[non_exhaustive]
pub struct PoolUse {
    /// Messages held: queued, running or in retry backoff.
    pub held: usize,
    /// The most it holds.
    pub capacity: usize,
}

/// One subscription's activity and backlog.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SubscriptionHealth {
    /// The topic.
    pub topic: String,
    /// The group.
    pub group: String,
    /// Deliveries fetched since it started.
    pub delivered: u64,
    /// When a delivery was last fetched, in milliseconds since the Unix
    /// epoch; `null` if never.
    pub last_delivery_unix_ms: Option<u64>,
    /// The last sampled backlog; `null` before the first sample or when
    /// the transport cannot tell.
    pub backlog: Option<Backlog>,
    /// The backlog's level against the configured thresholds.
    pub backlog_level: Level,
}

fn state_name(state: ConnectionState) -> &'static str {
    match state {
        ConnectionState::Connected => "connected",
        ConnectionState::Reconnecting => "reconnecting",
        ConnectionState::Closed => "closed",
    }
}

impl EventBus {
    /// A snapshot of the bus's health: connection, last publish and last
    /// delivery per subscription, backlog (as last sampled), dead letters,
    /// pool use and the services its health monitors watch. Reads only
    /// what was recorded: no broker call, cheap enough for every probe.
    pub fn health(&self) -> HealthSnapshot {
        let inner = &self.inner;
        let ops = &inner.ops;
        let nonzero = |ms: u64| (ms > 0).then_some(ms);
        let subscriptions = ops
            .subscriptions()
            .iter()
            .map(|s| SubscriptionHealth {
                topic: s.topic.clone(),
                group: s.group.clone(),
                delivered: s.delivered_total(),
                last_delivery_unix_ms: nonzero(s.last_delivery_ms()),
                backlog: s.backlog.lock().clone(),
                backlog_level: *s.level.lock(),
            })
            .collect();
        HealthSnapshot {
            service: inner.config.service_name.clone(),
            transport: inner.transport.name(),
            connection: state_name(inner.transport.connection_state()),
            last_publish_unix_ms: nonzero(ops.metrics.last_publish_ms()),
            publish_in_flight: inner.transport.publish_in_flight(),
            detached_queued: inner.detached.depth(),
            publisher_level: *ops.publisher_level.lock(),
            dead_letters: ops.metrics.dead_letters(),
            pool: PoolUse {
                held: inner.pool.len(),
                capacity: inner.pool.capacity(),
            },
            subscriptions,
            monitored: ops.monitored(),
        }
    }

    /// Calls `callback` whenever a sampled backlog crosses a threshold, up
    /// or down (back to [`Level::Ok`]): a subscription's against
    /// [`OperationsConfig::backlog`](super::OperationsConfig), the
    /// publisher's against `OperationsConfig::publisher_backlog`. Callbacks run on the sampler's
    /// task: keep them short.
    pub fn on_backlog(&self, callback: impl Fn(&super::BacklogAlert) + Send + Sync + 'static) {
        let callback: BacklogCallback = Arc::new(callback);
        self.inner.ops.backlog_callbacks.lock().push(callback);
    }
}
