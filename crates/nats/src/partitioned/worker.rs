//! The pull loop of one held partition: pulls from the partition's durable
//! consumer and hands fenced deliveries to the subscription, until the
//! member stops it or the partition's lease runs out.

use std::sync::Arc;

use evbus_transport::{Subscription, ownership::OwnershipChange};
use tokio::{
    sync::{mpsc, watch},
    time::Instant,
};

use super::slot::Slot;
use crate::pull::PullSubscription;

/// Pauses after a failed pull before the next one.
const PULL_RETRY: std::time::Duration = std::time::Duration::from_millis(200);

/// What the loop watches besides its consumer.
pub(super) struct Controls {
    /// `true`: stop pulling (the member hands the partition over).
    pub(super) stop: watch::Receiver<bool>,
    /// Until when the member may assume it owns the partition; moved on
    /// by every renewal of the lease.
    pub(super) deadline: watch::Receiver<Instant>,
}

pub(super) async fn run(
    slot: Arc<Slot>,
    mut pull: PullSubscription,
    mut controls: Controls,
    out: mpsc::Sender<evbus_transport::Delivery>,
    batch: usize,
) {
    'pulling: loop {
        let pulled = tokio::select! {
            biased;
            () = stopped(&mut controls.stop) => break,
            () = expired(&mut controls.deadline) => {
                slot.end(OwnershipChange::Lost);
                break;
            }
            pulled = pull.next_batch(batch) => pulled,
        };
        let deliveries = match pulled {
            // A pull subscription returns nothing only once it has ended
            // (its transport closed): pulling again would spin.
            Ok(deliveries) if deliveries.is_empty() => break,
            Ok(deliveries) => deliveries,
            Err(error) => {
                tracing::warn!(%error, partition = slot.partition, "pulling a partition failed");
                tokio::select! {
                    () = stopped(&mut controls.stop) => break,
                    () = tokio::time::sleep(PULL_RETRY) => continue,
                }
            }
        };
        for delivery in deliveries {
            // Undelivered messages of an ended ownership are dropped here
            // (a nak): the next owner receives them again.
            if slot.is_ended() {
                break 'pulling;
            }
            let delivery = slot.fenced(delivery);
            tokio::select! {
                biased;
                () = stopped(&mut controls.stop) => break 'pulling,
                () = expired(&mut controls.deadline) => {
                    slot.end(OwnershipChange::Lost);
                    break 'pulling;
                }
                sent = out.send(delivery) => if sent.is_err() { break 'pulling },
            }
        }
    }
    // Gives back what the last pull request still brings.
    if let Err(error) = Box::new(pull).close().await {
        tracing::debug!(%error, partition = slot.partition, "closing a partition's pull loop");
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // A dropped sender is a stop too.
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Resolves once the current deadline has passed.
pub(super) async fn expired(deadline: &mut watch::Receiver<Instant>) {
    loop {
        let at = *deadline.borrow_and_update();
        tokio::select! {
            () = tokio::time::sleep_until(at) => {
                if *deadline.borrow() <= Instant::now() {
                    return;
                }
            }
            changed = deadline.changed() => {
                if changed.is_err() {
                    // The member forgot the partition: it stops the loop.
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}
