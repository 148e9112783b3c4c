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

/// Whose backlog an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BacklogOf {
    /// A subscription: what its group has not finished.
    Subscription {
        /// The topic.
        topic: String,
        /// The group.
        group: String,
    },
    /// The bus's publisher: `pending` is the detached queue, `ack_pending`
    /// the publishes awaiting the broker's answer.
    Publisher,
}

/// A backlog crossed a threshold, up or down.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BacklogAlert {
    /// Whose backlog.
    pub of: BacklogOf,
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
        let in_flight = transport.publish_in_flight();
        let queued = bus.detached.depth();
        ops.metrics.publish_in_flight.set(in_flight as f64);
        ops.metrics.detached_queued.set(queued as f64);
        let publisher = Backlog::counts(queued as u64, in_flight as u64);
        let thresholds = ops.config.publisher_backlog;
        let level = thresholds.level(publisher.total());
        let previous = std::mem::replace(&mut *ops.publisher_level.lock(), level);
        alert(ops, BacklogOf::Publisher, level, previous, publisher);
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
    let level = ops.config.backlog.level(backlog.total());
    let previous = std::mem::replace(&mut *subscription.level.lock(), level);
    *subscription.backlog.lock() = Some(backlog.clone());
    let of = BacklogOf::Subscription {
        topic: subscription.topic.clone(),
        group: subscription.group.clone(),
    };
    alert(ops, of, level, previous, backlog);
}

/// Tells the callbacks of a level change.
fn alert(ops: &Ops, of: BacklogOf, level: Level, previous: Level, backlog: Backlog) {
    if level == previous {
        return;
    }
    let alert = BacklogAlert {
        of,
        level,
        previous,
        backlog,
    };
    tracing::warn!(of = ?alert.of, level = level.as_str(), previous = previous.as_str(),
        backlog = alert.backlog.total(), "backlog level changed");
    let callbacks = ops.backlog_callbacks.lock().clone();
    for callback in callbacks {
        callback(&alert);
    }
}
