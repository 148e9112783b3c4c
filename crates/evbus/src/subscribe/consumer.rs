//! One subscription's fetch loop: take from the broker no more than the pool
//! has room for, decode, and hand each delivery to the keyed pool.

use std::{sync::Arc, time::Duration};

use evbus_envelope::{aggregate_id_of, decode_any};
use evbus_keyed_pool::SubmitError;
use evbus_transport::{Delivery, ErrorKind, Subscription, dead_letter::Reason};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    job::{Handler, Job, PoolKey, Source},
    settle::{self, Pending},
};
use crate::{
    bus::BusInner,
    error::BusError,
    handler::{DeliveryMeta, EnvelopeHandler, RawHandler},
};

/// What a subscription's deliveries are handed to.
#[derive(Clone)]
pub(crate) enum Target {
    Raw(RawHandler),
    Envelope(EnvelopeHandler),
}

/// One subscription's consumer.
pub(crate) struct Consumer {
    pub bus: Arc<BusInner>,
    pub id: u64,
    pub topic: Arc<str>,
    pub group: Arc<str>,
    pub target: Target,
    pub stop: CancellationToken,
}

impl Consumer {
    /// Runs until stopped or the subscription ends, then settles everything
    /// it handed out and closes the subscription.
    pub(crate) async fn run(self, mut subscription: Box<dyn Subscription>) {
        let (pending, settled) = mpsc::unbounded_channel();
        let settler = tokio::spawn(settle::run(self.bus.clone(), settled));
        self.fetch_loop(subscription.as_mut(), &pending).await;
        // Everything handed to the pool is settled before the subscription
        // closes, so acks and commits still reach the broker.
        drop(pending);
        if let Err(error) = settler.await {
            tracing::error!(topic = %self.topic, %error, "settler task failed");
        }
        if let Err(error) = subscription.close().await {
            self.bus.report(
                BusError::from(error)
                    .context(format!("closing the subscription to `{}`", self.topic)),
            );
        }
    }

    async fn fetch_loop(
        &self,
        subscription: &mut dyn Subscription,
        pending: &mpsc::UnboundedSender<Pending>,
    ) {
        let fetch_max = self.bus.config.subscribe.fetch_max.max(1);
        let mut failures = 0u32;
        loop {
            // Never take more than fits: what is fetched must not sit outside
            // the pool while its broker lease runs out. A full pool makes the
            // loop wait here, taking nothing.
            if self.bus.pool.free_capacity() == 0 {
                tokio::select! {
                    biased;
                    () = self.stop.cancelled() => return,
                    () = self.bus.pool.wait_for_capacity() => {}
                }
            }
            let max = self.bus.pool.free_capacity().clamp(1, fetch_max);
            let batch = tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                batch = subscription.next_batch(max) => batch,
            };
            match batch {
                Ok(batch) if batch.is_empty() => return,
                Ok(batch) => {
                    failures = 0;
                    for delivery in batch {
                        if !self.dispatch(delivery, pending).await {
                            return;
                        }
                    }
                }
                Err(error) if error.kind() == ErrorKind::Closed => return,
                Err(error) => {
                    let retryable = error.is_retryable();
                    self.bus.report(BusError::from(error).context(format!(
                        "fetching from `{}` for group `{}`",
                        self.topic, self.group
                    )));
                    failures = failures.saturating_add(1);
                    // Back off while the broker is unreachable; a permanent
                    // error backs off longer but never ends the subscription
                    // silently.
                    let base = if retryable { 100 } else { 1_000 };
                    let delay = Duration::from_millis(base << failures.min(5));
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// Hands one delivery to the pool (or straight to the dead-letter path).
    /// Returns `false` when the consumer must stop; an unsubmitted delivery
    /// is then dropped unsettled, so the broker redelivers it.
    async fn dispatch(&self, delivery: Delivery, pending: &mpsc::UnboundedSender<Pending>) -> bool {
        let Delivery {
            topic: _,
            key,
            headers,
            payload,
            delivery_count,
            position,
            ack,
        } = delivery;
        let meta = DeliveryMeta {
            topic: self.topic.clone(),
            group: self.group.clone(),
            delivery_count,
            position,
        };
        let source = Source {
            key,
            headers,
            payload,
            meta,
        };
        let limit = self.bus.config.dead_letter.max_deliveries;
        if limit > 0 && delivery_count > limit {
            let error = format!("delivered {delivery_count} times, more than the limit of {limit}");
            return self.give_up(source, Reason::DeliveryLimit, error, ack, pending);
        }
        let (handler, aggregate) = match &self.target {
            Target::Raw(handler) => {
                let aggregate = aggregate_id_of(None, &source.headers, source.key.as_deref(), None);
                (Handler::Raw(handler.clone()), aggregate)
            }
            Target::Envelope(handler) => {
                match decode_any(
                    &source.headers,
                    source.payload.clone(),
                    &self.bus.codec_config,
                ) {
                    Ok(envelope) => {
                        let aggregate = envelope.aggregate_id().to_owned();
                        (
                            Handler::Envelope(handler.clone(), envelope),
                            Some(aggregate),
                        )
                    }
                    Err(error) => {
                        let error = format!("cannot decode the envelope: {error}");
                        return self.give_up(source, Reason::Undecodable, error, ack, pending);
                    }
                }
            }
        };
        let key: Option<PoolKey> = aggregate.map(|aggregate| (self.id, aggregate));
        let job = Arc::new(Job::new(handler, source, ack.lease()));
        loop {
            let submitted = tokio::select! {
                biased;
                () = self.stop.cancelled() => return false,
                submitted = self.bus.pool.submit(key.clone(), job.clone()) => submitted,
            };
            match submitted {
                Ok(completion) => {
                    return pending
                        .send(Pending::Pooled {
                            completion,
                            job,
                            ack,
                        })
                        .is_ok();
                }
                // A full pool only makes the fetch loop wait: never a nack,
                // never a drop.
                Err(SubmitError::Full(_)) => {}
                Err(_) => return false,
            }
        }
    }

    fn give_up(
        &self,
        source: Source,
        reason: Reason,
        error: String,
        ack: evbus_transport::AckHandle,
        pending: &mpsc::UnboundedSender<Pending>,
    ) -> bool {
        pending
            .send(Pending::GiveUp {
                source,
                reason,
                error,
                ack,
            })
            .is_ok()
    }
}
