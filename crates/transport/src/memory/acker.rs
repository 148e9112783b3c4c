//! [`MemoryAcker`]: settles one delivery on the broker.

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;

use super::{
    broker::{BrokerInner, Topic},
    group::Taken,
    transport::{Client, NAME},
};
use crate::{
    delivery::{Acker, Settlement},
    error::{Result, TransportError},
};

pub(super) struct MemoryAcker {
    pub topic: Arc<Topic>,
    pub group: usize,
    pub taken: Taken,
    pub broker: Arc<BrokerInner>,
    pub client: Arc<Client>,
}

impl MemoryAcker {
    fn apply(&self, settlement: Settlement) {
        let Taken {
            partition,
            offset,
            token,
            ..
        } = self.taken;
        let wake = self.topic.state.lock().groups[self.group].settle(
            partition,
            offset,
            token,
            settlement,
            Instant::now(),
        );
        if wake {
            self.topic.notify.notify_waiters();
        }
    }
}

#[async_trait]
impl Acker for MemoryAcker {
    async fn settle(&self, settlement: Settlement) -> Result<()> {
        // A closed client or a restarting broker already returned the
        // delivery for redelivery: the settlement cannot count any more.
        if self.client.is_closed() {
            return Err(TransportError::closed(NAME, "the transport").with_topic(&*self.topic.name));
        }
        self.broker.check_up(&self.topic.name)?;
        self.apply(settlement);
        Ok(())
    }

    fn keep_alive(&self) {
        let deadline = Instant::now() + self.broker.config.ack_wait;
        let Taken {
            partition,
            offset,
            token,
            ..
        } = self.taken;
        self.topic.state.lock().groups[self.group].keep_alive(partition, offset, token, deadline);
    }

    fn lease_length(&self) -> Option<std::time::Duration> {
        Some(self.broker.config.ack_wait)
    }

    fn abandon(&self) {
        if !self.client.is_closed() && !self.broker.is_down() {
            self.apply(Settlement::Nack(std::time::Duration::ZERO));
        }
    }
}
