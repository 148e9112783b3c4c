//! [`MemorySubscription`]: one group member's stream of deliveries.

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;

use super::{
    acker::MemoryAcker,
    broker::{BrokerInner, Topic},
    group::{MemberId, Taken},
    transport::Client,
};
use crate::{
    delivery::{AckHandle, Delivery},
    error::Result,
    transport::Subscription,
};

pub(super) struct MemorySubscription {
    topic: Arc<Topic>,
    group_name: String,
    group: usize,
    member: MemberId,
    broker: Arc<BrokerInner>,
    client: Arc<Client>,
}

impl MemorySubscription {
    pub fn new(
        topic: Arc<Topic>,
        group_name: &str,
        group: usize,
        member: MemberId,
        broker: Arc<BrokerInner>,
        client: Arc<Client>,
    ) -> Self {
        Self {
            topic,
            group_name: group_name.to_owned(),
            group,
            member,
            broker,
            client,
        }
    }

    /// Takes what is there, without waiting. Returns the deliveries and when
    /// to look again if there are none.
    fn poll_once(&self, max: usize) -> (Vec<Delivery>, Option<Instant>) {
        let now = Instant::now();
        let mut guard = self.topic.state.lock();
        let state = &mut *guard;
        state.log.trim(now);
        let group = &mut state.groups[self.group];
        let moved = group.expire(now);
        let taken = group.take(
            self.member,
            max,
            now,
            self.broker.config.ack_wait,
            &state.log,
        );
        let wakeup = group.next_wakeup();
        let deliveries: Vec<Delivery> = taken
            .into_iter()
            .filter_map(|t| self.delivery(&state.log, t))
            .collect();
        drop(guard);
        if moved {
            // Another member may now own a partition that was handed over.
            self.topic.notify.notify_waiters();
        }
        (deliveries, wakeup)
    }

    fn delivery(&self, log: &super::log::TopicLog, taken: Taken) -> Option<Delivery> {
        let stored = log.partition(taken.partition).get(taken.offset)?;
        let acker = MemoryAcker {
            topic: self.topic.clone(),
            group: self.group,
            taken,
            broker: self.broker.clone(),
            client: self.client.clone(),
        };
        Some(Delivery {
            topic: self.topic.name.clone(),
            key: stored.key.clone(),
            headers: stored.headers.clone(),
            payload: stored.payload.clone(),
            delivery_count: taken.count,
            position: crate::Position {
                partition: taken.partition,
                offset: taken.offset,
            },
            timestamp: Some(stored.stored_at),
            ack: AckHandle::new(Arc::new(acker)),
        })
    }
}

#[async_trait]
impl Subscription for MemorySubscription {
    fn topic(&self) -> &str {
        &self.topic.name
    }

    fn group(&self) -> &str {
        &self.group_name
    }

    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        let max = max.max(1);
        loop {
            // Registered before looking, so a wake-up between the look and
            // the wait is not missed.
            let notified = self.topic.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.client.is_closed() {
                return Ok(Vec::new());
            }
            let mut wakeup = None;
            if !self.broker.is_down() {
                let (deliveries, next) = self.poll_once(max);
                if !deliveries.is_empty() {
                    return Ok(deliveries);
                }
                wakeup = next;
            }
            // Nothing is taken while waiting, so dropping this future here
            // loses nothing (cancel safety).
            match wakeup {
                Some(at) => {
                    tokio::select! {
                        () = notified => {}
                        () = tokio::time::sleep_until(at.into()) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    async fn close(self: Box<Self>) -> Result<()> {
        // Leaving happens in Drop, also for a subscription dropped unclosed.
        Ok(())
    }
}

impl Drop for MemorySubscription {
    fn drop(&mut self) {
        self.client.remove_member(self.member);
    }
}
