//! The sampler: on an interval, asks the transport for each subscription's
//! backlog and reads connection state, publishes in flight and the detached
//! queue; sets the gauges, keeps the values for the snapshot and calls the
//! backlog callbacks when a subscription changes level. Nothing of this
//! runs on the message path.

use std::{
    sync::{Arc, Weak},
    time::Duration,
};

use evbus_transport::{Backlog, ConnectionState, ErrorKind, Transport};
use tokio_util::sync::CancellationToken;

use super::{Level, Ops, SubscriptionStats};
use crate::bus::BusInner;

/// A backlog callback.
pub(crate) type BacklogCallback = Arc<dyn Fn(&BacklogAlert) + Send + Sync>;

/// A subscription's backlog crossed a threshold, up or down.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BacklogAlert {
    /// The subscription's topic.
    pub topic: String,
    /// The subscription's group.
    pub group: String,
    /// The level now; [`Level::Ok`] when the backlog fell below every
    /// threshold.
    pub level: Level,
    /// The level before.
    pub previous: Level,
    /// The sampled backlog.
    pub backlog: Backlog,
}

/// Samples until the bus closes or is dropped. Holds the bus weakly, so a
/// bus dropped without `close` does not live on for its sampler.
pub(crate) async fn run(bus: Weak<BusInner>, every: Duration, stop: CancellationToken) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_state = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticks.tick() => {}
        }
        let Some(bus) = bus.upgrade() else { return };
        let (ops, transport) = (&bus.ops, bus.transport.as_ref());
        let state = transport.connection_state();
        if state == ConnectionState::Connected
            && last_state.is_some_and(|s| s != ConnectionState::Connected)
        {
            ops.metrics.reconnects.increment(1);
        }
        last_state = Some(state);
        ops.metrics.connection(state);
        ops.metrics
            .publish_in_flight
            .set(transport.publish_in_flight() as f64);
        ops.metrics.detached_queued.set(bus.detached.depth() as f64);
        for subscription in ops.subscriptions() {
            sample(ops, transport, &subscription).await;
        }
    }
}

async fn sample(ops: &Ops, transport: &dyn Transport, subscription: &SubscriptionStats) {
    let backlog = match transport
        .backlog(&subscription.topic, &subscription.group)
        .await
    {
        Ok(backlog) => backlog,
        // Nothing to sample on this transport or topic.
        Err(error) if error.kind() == ErrorKind::Unsupported => return,
        Err(error) => {
            tracing::debug!(topic = %subscription.topic, group = %subscription.group, %error,
                "backlog sample failed");
            return;
        }
    };
    let metrics = &subscription.metrics;
    metrics.pending.set(backlog.pending as f64);
    metrics.ack_pending.set(backlog.ack_pending as f64);
    metrics.lag.set(backlog.total() as f64);
    let thresholds = ops.config.backlog;
    let level = Level::of(
        backlog.total(),
        thresholds.warning,
        thresholds.error,
        thresholds.critical,
    );
    let previous = std::mem::replace(&mut *subscription.level.lock(), level);
    *subscription.backlog.lock() = Some(backlog.clone());
    if level != previous {
        let alert = BacklogAlert {
            topic: subscription.topic.clone(),
            group: subscription.group.clone(),
            level,
            previous,
            backlog,
        };
        tracing::warn!(topic = %alert.topic, group = %alert.group, level = level.as_str(),
            previous = previous.as_str(), backlog = alert.backlog.total(), "backlog level changed");
        let callbacks = ops.backlog_callbacks.lock().clone();
        for callback in callbacks {
            callback(&alert);
        }
    }
}
