//! [`MemoryAdmin`]: the memory topics' options, for `evbus-topics`.

use std::time::Instant;

use async_trait::async_trait;
use evbus_topics::{
    AdminLimits, TopicAdmin, TopicField, TopicFields, TopicOptions, TopicsError, UNLIMITED,
    UNLIMITED_RETENTION,
};

use super::MemoryBroker;

const BACKEND: &str = "the memory transport";

/// Describes, creates and updates topics of a [`MemoryBroker`].
///
/// Topics also come into existence on first publish or subscribe, with the
/// options given to [`Transport::register_topic`](crate::Transport::register_topic)
/// or the defaults. Replicas and compression mean nothing in memory: they are
/// accepted, ignored and reported as unknown. Partitions are fixed at
/// creation; persistence, retention, size and count limits and the
/// description can be updated (shrinking limits trims the oldest messages).
#[derive(Debug, Clone)]
pub struct MemoryAdmin {
    broker: MemoryBroker,
}

impl MemoryAdmin {
    /// The admin of `broker`'s topics.
    pub fn new(broker: MemoryBroker) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl TopicAdmin for MemoryAdmin {
    async fn describe(&self, topic: &str) -> Result<Option<TopicOptions>, TopicsError> {
        let Some(found) = self.broker.inner.find(topic) else {
            return Ok(None);
        };
        let mut options = found.state.lock().options.clone();
        options.retention = Some(options.retention.unwrap_or(UNLIMITED_RETENTION));
        options.max_bytes = Some(options.max_bytes.unwrap_or(UNLIMITED));
        options.max_messages = Some(options.max_messages.unwrap_or(UNLIMITED));
        Ok(Some(options))
    }

    async fn create(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        options.validate(topic)?;
        if self.broker.inner.create(topic, options) {
            Ok(())
        } else {
            Err(TopicsError::already_exists(topic))
        }
    }

    async fn update(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        options.validate(topic)?;
        let Some(found) = self.broker.inner.find(topic) else {
            return Err(TopicsError::Missing {
                topic: topic.to_owned(),
            });
        };
        let mut state = found.state.lock();
        if let Some(partitions) = options.partitions
            && Some(partitions) != state.options.partitions
        {
            return Err(TopicsError::unsupported(
                topic,
                BACKEND,
                "changing the partitions of an existing topic",
            ));
        }
        state.update(options, Instant::now());
        Ok(())
    }

    fn limits(&self) -> AdminLimits {
        AdminLimits::new().updatable(
            TopicFields::ALL
                .without(TopicField::Partitions)
                .without(TopicField::Replicas)
                .without(TopicField::Compression),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use evbus_topics::{Persistence, TopicsErrorKind};

    use super::*;
    use crate::{OutgoingMessage, SubscribeOptions, Transport};

    #[tokio::test]
    async fn create_describe_update_round_trip() {
        let broker = MemoryBroker::default();
        let admin = MemoryAdmin::new(broker.clone());
        assert_eq!(admin.describe("t").await.unwrap(), None);
        let wanted = TopicOptions::new()
            .partitions(3)
            .max_messages(5)
            .replicas(3)
            .description("orders");
        admin.create("t", &wanted).await.unwrap();
        let err = admin.create("t", &wanted).await.unwrap_err();
        assert_eq!(err.kind(), TopicsErrorKind::AlreadyExists);

        let actual = admin.describe("t").await.unwrap().unwrap();
        assert_eq!(actual.partitions, Some(3));
        assert_eq!(actual.max_messages, Some(5));
        assert_eq!(actual.max_bytes, Some(UNLIMITED));
        assert_eq!(actual.retention, Some(UNLIMITED_RETENTION));
        assert_eq!(actual.persistence, Persistence::Persistent);
        assert_eq!(actual.replicas, None);
        assert_eq!(actual.description.as_deref(), Some("orders"));

        admin
            .update("t", &TopicOptions::new().retention(Duration::from_secs(60)))
            .await
            .unwrap();
        let actual = admin.describe("t").await.unwrap().unwrap();
        assert_eq!(actual.retention, Some(Duration::from_secs(60)));
        assert_eq!(actual.max_messages, Some(5), "untouched fields stay");
        let err = admin
            .update("t", &TopicOptions::new().partitions(4))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), TopicsErrorKind::Unsupported);
    }

    #[tokio::test]
    async fn shrinking_the_count_limit_trims_the_oldest_messages() {
        let transport = MemoryBroker::default().connect();
        for i in 0..10u8 {
            transport
                .publish("t", OutgoingMessage::new(vec![i]))
                .await
                .unwrap();
        }
        let admin = transport.topic_admin();
        admin
            .update("t", &TopicOptions::new().max_messages(4))
            .await
            .unwrap();
        let mut sub = transport
            .subscribe("t", "g", SubscribeOptions::default())
            .await
            .unwrap();
        let mut payloads: Vec<u8> = sub
            .next_batch(100)
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.payload[0])
            .collect();
        payloads.sort_unstable();
        assert_eq!(payloads, vec![6, 7, 8, 9]);
    }

    #[tokio::test]
    async fn registered_options_apply_when_the_topic_is_first_used() {
        let transport = MemoryBroker::default().connect();
        transport.register_topic("t", &TopicOptions::new().partitions(2));
        transport
            .publish("t", OutgoingMessage::new("x"))
            .await
            .unwrap();
        let actual = transport
            .topic_admin()
            .describe("t")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(actual.partitions, Some(2));
    }
}
