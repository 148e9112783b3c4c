//! A NATS transport whose topics all have the same number of partitions:
//! the conformance suite creates topics with default options, and this
//! creates (and registers) them partitioned instead.

use std::sync::Arc;

use async_trait::async_trait;
use evbus_nats::NatsTransport;
use evbus_topics::{AdminLimits, TopicAdmin, TopicOptions, TopicsError};
use evbus_transport::{
    Backlog, Capabilities, ConnectionState, OutgoingMessage, Receipt, Result, SubscribeOptions,
    Subscription, TopicUse, Transport,
};

pub struct Partitioned {
    inner: NatsTransport,
    partitions: u32,
}

impl Partitioned {
    pub fn new(inner: NatsTransport, partitions: u32) -> Self {
        Self { inner, partitions }
    }

    fn options(&self, options: &TopicOptions) -> TopicOptions {
        options.clone().partitions(self.partitions)
    }

    /// Every transport of a scenario must know the topic is partitioned,
    /// also the ones that did not create it.
    fn register(&self, topic: &str) {
        self.inner
            .register_topic(topic, &self.options(&TopicOptions::new()));
    }
}

#[async_trait]
impl Transport for Partitioned {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn capabilities(&self, topic: &str) -> Capabilities {
        self.inner.capabilities(topic)
    }

    fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()> {
        self.inner.validate_topic(topic, usage)
    }

    fn topic_admin(&self) -> Arc<dyn TopicAdmin> {
        Arc::new(PartitionedAdmin {
            inner: self.inner.topic_admin(),
            partitions: self.partitions,
        })
    }

    fn register_topic(&self, topic: &str, options: &TopicOptions) {
        self.inner.register_topic(topic, &self.options(options));
    }

    async fn backlog(&self, topic: &str, group: &str) -> Result<Backlog> {
        self.register(topic);
        self.inner.backlog(topic, group).await
    }

    fn publish_in_flight(&self) -> usize {
        self.inner.publish_in_flight()
    }

    fn connection_state(&self) -> ConnectionState {
        self.inner.connection_state()
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        self.register(topic);
        self.inner.publish(topic, message).await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>> {
        self.register(topic);
        self.inner.publish_batch(topic, messages).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>> {
        self.register(topic);
        self.inner.subscribe(topic, group, options).await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.flush().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}

struct PartitionedAdmin {
    inner: Arc<dyn TopicAdmin>,
    partitions: u32,
}

#[async_trait]
impl TopicAdmin for PartitionedAdmin {
    async fn describe(&self, topic: &str) -> Result<Option<TopicOptions>, TopicsError> {
        self.inner.describe(topic).await
    }

    async fn create(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        let options = options.clone().partitions(self.partitions);
        self.inner.create(topic, &options).await
    }

    async fn update(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        self.inner.update(topic, options).await
    }

    fn limits(&self) -> AdminLimits {
        self.inner.limits()
    }
}
