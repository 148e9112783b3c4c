//! [`KafkaAcker`]: settles a delivery by telling its polling thread.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use evbus_transport::{Acker, Result, Settlement, TransportError, ownership::Fence};

use crate::{
    NAME,
    consumer::{Command, Handoff, Record},
};

/// Settles one delivery. Never blocks: the polling thread does the Kafka
/// work (commits, redeliveries).
pub(crate) struct KafkaAcker {
    pub handoff: Arc<Handoff>,
    pub record: Record,
}

impl KafkaAcker {
    fn command(&self, settlement: Settlement) -> Command {
        match settlement {
            Settlement::Ack | Settlement::Reject => Command::Done {
                partition: self.record.partition,
                epoch: self.record.epoch,
                offset: self.record.offset,
            },
            Settlement::Nack(delay) => Command::Redeliver {
                record: Record {
                    delivery_count: self.record.delivery_count.saturating_add(1),
                    ..self.record.clone()
                },
                delay,
            },
        }
    }
}

#[async_trait]
impl Acker for KafkaAcker {
    async fn settle(&self, settlement: Settlement) -> Result<()> {
        if self.handoff.send(self.command(settlement)) {
            Ok(())
        } else {
            // Nothing is committed for it: the group delivers it again.
            Err(TransportError::closed(NAME, "the subscription").with_topic(&*self.handoff.topic))
        }
    }

    fn fence(&self) -> Fence {
        self.record.fence.clone()
    }

    fn abandon(&self) {
        self.handoff
            .send(self.command(Settlement::Nack(Duration::ZERO)));
    }
}
