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
    telemetry::{self, Outcome},
};

/// A delivery whose job is in the pool.
pub(crate) struct Pending {
    pub completion: Completion<Verdict, HandlerError>,
    pub meta: DeliveryMeta,
    pub ack: AckHandle,
}

/// Settles every pending delivery of one subscription, concurrently, until
/// the channel closes and all of them are settled.
pub(crate) async fn run(bus: Arc<BusInner>, mut pending: mpsc::UnboundedReceiver<Pending>) {
    let mut settling = FuturesUnordered::new();
    let mut open = true;
    while open || !settling.is_empty() {
        tokio::select! {
            next = pending.recv(), if open => match next {
                Some(item) => settling.push(settle(bus.clone(), item)),
                None => open = false,
            },
            Some(()) = settling.next(), if !settling.is_empty() => {}
        }
    }
}

async fn settle(bus: Arc<BusInner>, pending: Pending) {
    let Pending {
        completion,
        meta,
        ack,
    } = pending;
    let redelivery_delay = bus.config.dead_letter.redelivery_delay;
    let settled = match completion.await {
        Ok(Verdict::Handled) => {
            telemetry::handled(Outcome::Handled);
            ack.ack().await
        }
        Ok(Verdict::DeadLettered) => {
            telemetry::handled(Outcome::DeadLettered);
            ack.ack().await
        }
        Ok(Verdict::Unhandled) => {
            telemetry::handled(Outcome::Redelivered);
            ack.nack(redelivery_delay).await
        }
        Err(failure) => match failure.into_kind() {
            // Given up at close: redeliver it. Every later queued message of
            // its aggregate was abandoned the same way.
            TaskErrorKind::Abandoned => {
                telemetry::handled(Outcome::Abandoned);
                ack.nack(Duration::ZERO).await
            }
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
                telemetry::handled(Outcome::Redelivered);
                ack.nack(redelivery_delay).await
            }
        },
    };
    if let Err(error) = settled {
        bus.report(BusError::from(error).context(format!(
            "settling {}@{} failed; the broker will redeliver it",
            meta.topic, meta.position
        )));
    }
}
