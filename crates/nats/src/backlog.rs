//! A consumer group's backlog on a JetStream topic: the durable consumer's
//! `num_pending` (stored, not yet delivered) and `num_ack_pending`
//! (delivered, not yet acknowledged), read from `CONSUMER.INFO`.

use evbus_transport::{Backlog, ErrorKind, Result};

use crate::{error, mapping, topics::Mode, transport::Inner};

impl Inner {
    pub(crate) async fn backlog(&self, topic: &str, group: &str) -> Result<Backlog> {
        self.ensure_open()?;
        if self.topics.mode(topic) == Mode::Core {
            return Err(error::on_topic(
                ErrorKind::Unsupported,
                topic,
                "a core NATS topic keeps no backlog: nothing is stored for absent members",
            ));
        }
        if let Some(partitions) = crate::subscriber::partitioned_mode(self, topic)? {
            return crate::partitioned::backlog(self, topic, group, partitions).await;
        }
        let unavailable = |error: async_nats::Error| {
            error::on_topic(
                ErrorKind::Disconnected,
                topic,
                "JetStream did not answer a consumer info request",
            )
            .with_source(error)
        };
        let stream = self
            .jetstream
            .stream_by_subject(topic)
            .await
            .map_err(|e| unavailable(e.into()))?;
        // The consumer is named the way the subscriber names it.
        let consumer = if stream == mapping::stream_name(&self.config.stream_prefix, topic) {
            mapping::durable_name(group)
        } else {
            mapping::durable_name_on_shared_stream(group, topic)
        };
        let info = self
            .jetstream
            .get_stream_no_info(&stream)
            .await
            .map_err(|e| unavailable(e.into()))?
            .consumer_info(&consumer)
            .await
            .map_err(|e| unavailable(e.into()))?;
        Ok(Backlog::counts(
            info.num_pending,
            info.num_ack_pending as u64,
        ))
    }
}
