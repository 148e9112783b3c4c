//! Settling deliveries once their job is answered: ack what was handled or
//! dead-lettered, nack the rest. Never an ack before one of the first two.

use std::{sync::Arc, time::Duration};

use evbus_keyed_pool::{Completion, TaskErrorKind};
use evbus_transport::AckHandle;
use futures::{StreamExt, stream::FuturesUnordered};
use tokio::sync::mpsc;

use super::job::Verdict;
use crate::{
    bus::BusInner,
    error::BusError,
    handler::{DeliveryMeta, HandlerError},
    telemetry::Outcome,
};

/// A delivery the settler must settle.
pub(crate) enum Pending {
    /// Its job is in the pool.
    Pooled {
        completion: Completion<Verdict, HandlerError>,
        meta: DeliveryMeta,
        ack: AckHandle,
    },
    /// Fetched, but the subscription stopped before the pool took it.
    GivenUp { meta: DeliveryMeta, ack: AckHandle },
}

/// Settles every pending delivery of one subscription, concurrently, until
/// the channel closes and all of them are settled. Deliveries given up at
/// close are nacked last, one by one in broker order, so the broker hands
/// them to the next member in that order (JetStream redelivers nacked
/// messages in the order of the nacks).
pub(crate) async fn run(bus: Arc<BusInner>, mut pending: mpsc::UnboundedReceiver<Pending>) {
    let mut settling = FuturesUnordered::new();
    let mut given_up = Vec::new();
    let mut open = true;
    while open || !settling.is_empty() {
        tokio::select! {
            next = pending.recv(), if open => match next {
                Some(Pending::GivenUp { meta, ack }) => given_up.push((meta, ack)),
                Some(Pending::Pooled { completion, meta, ack }) => {
                    settling.push(settle(bus.clone(), completion, meta, ack));
                }
                None => open = false,
            },
            Some(abandoned) = settling.next(), if !settling.is_empty() => {
                given_up.extend(abandoned);
            }
        }
    }
    given_up.sort_by_key(|(meta, _): &(DeliveryMeta, AckHandle)| meta.position);
    for (meta, ack) in given_up {
        bus.ops.metrics.settled(Outcome::Abandoned);
        report_failed_settlement(&bus, &meta, ack.nack(Duration::ZERO).await);
    }
}

/// Settles one delivery, or hands it back when it was given up at close.
async fn settle(
    bus: Arc<BusInner>,
    completion: Completion<Verdict, HandlerError>,
    meta: DeliveryMeta,
    ack: AckHandle,
) -> Option<(DeliveryMeta, AckHandle)> {
    let redelivery_delay = bus.config.dead_letter.redelivery_delay;
    let settled = match completion.await {
        Ok(Verdict::Handled) => {
            bus.ops.metrics.settled(Outcome::Handled);
            ack.ack().await
        }
        Ok(Verdict::DeadLettered) => {
            bus.ops.metrics.settled(Outcome::DeadLettered);
            ack.ack().await
        }
        Ok(Verdict::Fenced) => {
            // Dropped unsettled: the transport treats it as given up, and
            // the partition's new owner receives it.
            drop(ack);
            return None;
        }
        Ok(Verdict::Unhandled) => {
            bus.ops.metrics.settled(Outcome::Redelivered);
            ack.nack(redelivery_delay).await
        }
        Err(failure) => match failure.into_kind() {
            // Given up at close, as was every later queued message of its
            // aggregate: nacked in broker order once all are known.
            TaskErrorKind::Abandoned => return Some((meta, ack)),
            other => {
                // Jobs answer their own last failure; reaching here means
                // the pool gave up on its own (e.g. its safety net caught a
                // panic outside the handler). Redeliver rather than lose it.
                bus.report(BusError::new(
                    crate::error::BusErrorKind::Internal,
                    format!(
                        "{}@{}: {other:?}; it will be redelivered",
                        meta.topic, meta.position
                    ),
                ));
                bus.ops.metrics.settled(Outcome::Redelivered);
                ack.nack(redelivery_delay).await
            }
        },
    };
    report_failed_settlement(&bus, &meta, settled);
    None
}

/// A failed settlement is reported; the broker redelivers an unsettled
/// message, so nothing is lost.
fn report_failed_settlement(
    bus: &BusInner,
    meta: &DeliveryMeta,
    settled: evbus_transport::Result<()>,
) {
    if let Err(error) = settled {
        bus.report(BusError::from(error).context(format!(
            "settling {}@{} failed; the broker will redeliver it",
            meta.topic, meta.position
        )));
    }
}
