//! One subscription's fetch loop: take from the broker no more than the pool
//! has room for, decode, and hand each delivery to the keyed pool.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use evbus_envelope::{aggregate_id_of, decode_any};
use evbus_keyed_pool::SubmitError;
use evbus_transport::{AckHandle, Delivery, ErrorKind, Subscription, dead_letter::Reason};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{
    DeadLetterSink, Limits,
    job::{Handler, Job, PoolKey, Source},
    ownership,
    settle::{self, Pending},
};
use crate::{
    bus::BusInner,
    error::BusError,
    handler::{ContextHandler, DeliveryMeta, EnvelopeHandler, RawHandler},
    operations::SubscriptionStats,
};

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// What a subscription's deliveries are handed to.
#[derive(Clone)]
pub(crate) enum Target {
    Raw(RawHandler),
    Envelope(EnvelopeHandler),
    /// An envelope handler given the whole delivery context.
    Context(ContextHandler),
}

/// One subscription's consumer.
pub(crate) struct Consumer {
    pub bus: Arc<BusInner>,
    pub id: u64,
    pub topic: Arc<str>,
    pub group: Arc<str>,
    pub stats: Arc<SubscriptionStats>,
    pub target: Target,
    pub stop: CancellationToken,
    /// The subscription's retry, timeout, failure and dead-letter choices.
    pub sink: Arc<DeadLetterSink>,
    /// The subscription's share of the pool and its rate limit.
    pub limits: Arc<Limits>,
}

impl Consumer {
    /// Runs until stopped or the subscription ends, then settles everything
    /// it handed out and closes the subscription.
    pub(crate) async fn run(self, mut subscription: Box<dyn Subscription>) {
        let (pending, settled) = mpsc::unbounded_channel();
        // Aborting this task (a close past its deadline) aborts the settler
        // with it, dropping what it holds unsettled.
        let mut settler = AbortOnDrop(tokio::spawn(settle::run(self.bus.clone(), settled)));
        let _ownership = subscription
            .ownership_events()
            .map(|events| AbortOnDrop(tokio::spawn(ownership::report(events, self.stats.clone()))));
        self.fetch_loop(subscription.as_mut(), &pending).await;
        // Everything handed to the pool is settled before the subscription
        // closes, so acks and commits still reach the broker.
        drop(pending);
        if let Err(error) = (&mut settler.0).await {
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
            // Nor more than this subscription's share of the pool.
            if self.limits.room() == 0 {
                tokio::select! {
                    biased;
                    () = self.stop.cancelled() => return,
                    () = self.limits.wait_for_room() => {}
                }
            }
            let room = self.bus.pool.free_capacity().min(self.limits.room());
            let (max, waited) = tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                paced = self.limits.pace(room.clamp(1, fetch_max)) => paced,
            };
            self.stats.rate_limited(waited);
            let batch = tokio::select! {
                biased;
                () = self.stop.cancelled() => return,
                batch = subscription.next_batch(max) => batch,
            };
            match batch {
                Ok(batch) if batch.is_empty() => {
                    self.ended_by_transport("the subscription ended");
                    return;
                }
                Ok(batch) => {
                    failures = 0;
                    let mut batch = batch.into_iter();
                    while let Some(delivery) = batch.next() {
                        if let Err(unsubmitted) = self.dispatch(delivery, pending).await {
                            // Stopping: what was fetched but not handed to
                            // the pool is given up with the rest, so it is
                            // nacked in broker order with them.
                            let rest = batch.map(|d| (self.meta_of(&d), d.ack));
                            for (meta, ack) in std::iter::once(unsubmitted).chain(rest) {
                                let _ = pending.send(Pending::GivenUp { meta, ack });
                            }
                            return;
                        }
                    }
                }
                Err(error) if error.kind() == ErrorKind::Closed => {
                    self.ended_by_transport(&error.to_string());
                    return;
                }
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

    /// A subscription the bus did not stop has ended: the user must hear of
    /// it, since nothing is consumed from here on.
    fn ended_by_transport(&self, why: &str) {
        if !self.stop.is_cancelled() {
            self.bus.report(BusError::new(
                crate::error::BusErrorKind::Transport(ErrorKind::Closed),
                format!(
                    "the subscription to `{}` for group `{}` stopped consuming: {why}",
                    self.topic, self.group
                ),
            ));
        }
    }

    /// The delivery metadata handlers see.
    fn meta_of(&self, delivery: &Delivery) -> DeliveryMeta {
        DeliveryMeta {
            topic: self.topic.clone(),
            group: self.group.clone(),
            delivery_count: delivery.delivery_count,
            position: delivery.position,
            timestamp: delivery.timestamp,
        }
    }

    /// Hands one delivery to the pool as a job: its handler, or, for bytes
    /// that do not decode and messages delivered too often, the dead-letter
    /// step alone. Hands the delivery's handle back when the consumer must stop
    /// before the pool took it.
    async fn dispatch(
        &self,
        delivery: Delivery,
        pending: &mpsc::UnboundedSender<Pending>,
    ) -> Result<(), (DeliveryMeta, AckHandle)> {
        self.stats.delivered(delivery.delivery_count);
        let meta = self.meta_of(&delivery);
        let Delivery {
            key,
            headers,
            payload,
            delivery_count,
            ack,
            ..
        } = delivery;
        let limit = self.bus.config.dead_letter.max_deliveries;
        let handler = if limit > 0 && delivery_count > limit {
            let error = format!("delivered {delivery_count} times, more than the limit of {limit}");
            Handler::GiveUp(Reason::DeliveryLimit, error)
        } else {
            let decode = || match &self.bus.custom_codec {
                Some(codec) => codec.decode(&headers, payload.clone()),
                None => decode_any(&headers, payload.clone(), &self.bus.codec_config),
            };
            let decoded = match &self.target {
                Target::Raw(handler) => Ok(Handler::Raw(handler.clone())),
                Target::Envelope(handler) => {
                    decode().map(|envelope| Handler::Envelope(handler.clone(), envelope))
                }
                Target::Context(handler) => {
                    decode().map(|envelope| Handler::Context(handler.clone(), envelope))
                }
            };
            match decoded {
                Ok(handler) => handler,
                Err(error) => Handler::GiveUp(
                    Reason::Undecodable,
                    format!("cannot decode the envelope: {error}"),
                ),
            }
        };
        // An envelope's own aggregate id; else the aggregate as the headers
        // or the record key name it. Taken after decoding, so that it is
        // allocated once.
        let aggregate: Option<Arc<str>> = match &handler {
            Handler::Envelope(_, envelope) | Handler::Context(_, envelope) => {
                Some(envelope.aggregate_id().into())
            }
            _ => aggregate_id_of(None, &headers, key.as_deref(), None).map(Arc::from),
        };
        let slot = tokio::select! {
            biased;
            () = self.stop.cancelled() => return Err((meta, ack)),
            slot = self.limits.slot() => slot,
        };
        let source = Source {
            key,
            headers,
            payload,
            meta: meta.clone(),
            fetched: Instant::now(),
            stats: self.stats.clone(),
            slot,
        };
        let key: Option<PoolKey> = aggregate.map(|aggregate| (self.id, aggregate));
        let lease = ack.lease();
        if let Some(length) = lease.length() {
            // Kept alive three times per lease, so one late or lost
            // extension does not let it run out.
            self.bus.pool.shorten_keepalive_interval(length / 3);
        }
        let job = Arc::new(Job::new(
            handler,
            source,
            lease,
            ack.fence(),
            self.sink.clone(),
        ));
        loop {
            let submitted = tokio::select! {
                biased;
                () = self.stop.cancelled() => return Err((meta, ack)),
                submitted = self.bus.pool.submit(key.clone(), job.clone()) => submitted,
            };
            match submitted {
                Ok(completion) => {
                    // The settler outlives this loop, so the send cannot fail.
                    let _ = pending.send(Pending::Pooled {
                        completion,
                        meta,
                        ack,
                    });
                    return Ok(());
                }
                // Another subscription took the room first. A full pool
                // only makes the fetch loop wait: never a nack, never a
                // drop; the lease is kept alive meanwhile.
                Err(SubmitError::Full(_)) => job.keep_alive(),
                Err(_) => return Err((meta, ack)),
            }
        }
    }
}
