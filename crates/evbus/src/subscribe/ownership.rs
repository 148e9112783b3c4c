//! Reports a subscription's ownership changes (partitions assigned, revoked,
//! lost) as a log line and a metric each. Fencing never depends on this:
//! every job checks its own fence.

use std::sync::Arc;

use evbus_transport::ownership::{OwnershipChange, OwnershipEvents};
use tokio::sync::broadcast::error::RecvError;

use crate::operations::SubscriptionStats;

/// Logs and counts the events until the subscription's transport drops its
/// sender (the subscription closed).
pub(crate) async fn report(mut events: OwnershipEvents, stats: Arc<SubscriptionStats>) {
    loop {
        match events.recv().await {
            Ok(event) => {
                let index = match event.change {
                    OwnershipChange::Assigned => 0,
                    OwnershipChange::Revoked => 1,
                    _ => 2,
                };
                stats.metrics.ownership[index].increment(1);
                tracing::info!(
                    topic = %event.topic,
                    group = %event.group,
                    partition = event.partition,
                    change = ?event.change,
                    epoch = event.epoch,
                    lease = ?event.lease,
                    "partition ownership changed"
                );
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(
                    topic = %stats.topic,
                    group = %stats.group,
                    missed,
                    "ownership events missed"
                );
            }
            Err(RecvError::Closed) => return,
        }
    }
}
