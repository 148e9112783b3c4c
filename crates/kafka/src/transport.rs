//! [`KafkaTransport`]: the evbus [`Transport`] on Kafka.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_trait::async_trait;
use evbus_topics::{TopicAdmin, TopicOptions};
use evbus_transport::{
    Backlog, Capabilities, ConnectionEvent, ConnectionState, ErrorKind, OutgoingMessage, Receipt,
    Result, SubscribeOptions, Subscription, TopicUse, Transport, TransportError, validate_topic,
};
use parking_lot::{Mutex, RwLock};
use rdkafka::admin::AdminClient;

use crate::{
    NAME,
    admin::KafkaTopicAdmin,
    config::KafkaConfig,
    consumer::{self, ConsumerHandle},
    error,
    lag::LagProbe,
    link::Link,
    producer::Producer,
};

/// The evbus transport on Kafka: one idempotent producer for every topic,
/// one group consumer (with its polling thread) per subscription, and an
/// admin client for topic configuration.
///
/// Create it with [`connect`](Self::connect); see the crate documentation
/// for guarantees and configuration.
pub struct KafkaTransport {
    config: KafkaConfig,
    producer: RwLock<Option<Arc<Producer>>>,
    max_payload: usize,
    admin: KafkaTopicAdmin,
    consumers: Mutex<Vec<Arc<ConsumerHandle>>>,
    closed: AtomicBool,
    lag: LagProbe,
    link: Arc<Link>,
}

impl std::fmt::Debug for KafkaTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTransport")
            .field("config", &self.config)
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Kafka's own topic-name rule: ASCII letters, digits, `.`, `_`, `-`.
fn kafka_topic_rule(topic: &str) -> std::result::Result<(), String> {
    if let Some(c) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "a Kafka topic name may only contain ASCII letters, digits, '.', '_' and '-' \
             (found {c:?})"
        ));
    }
    if topic == "." || topic == ".." {
        return Err("a Kafka topic name cannot be \".\" or \"..\"".into());
    }
    Ok(())
}

impl KafkaTransport {
    /// Validates `config`, creates the producer and the admin client, and
    /// checks that a broker answers (a metadata request, bounded by
    /// [`KafkaConfig::publish_timeout`]).
    ///
    /// # Errors
    /// [`Config`](ErrorKind::Config) for an invalid setting (named), and
    /// [`Disconnected`](ErrorKind::Disconnected) when no broker answers.
    pub async fn connect(config: KafkaConfig) -> Result<Self> {
        config.validate()?;
        let link = Arc::new(Link::default());
        let producer = Producer::new(&config, link.clone())?;
        let admin_client: AdminClient<_> = config.admin().create().map_err(error::config_error)?;
        let admin_client = Arc::new(admin_client);
        let timeout = config.publish_timeout;
        let probe = admin_client.clone();
        let metadata =
            tokio::task::spawn_blocking(move || probe.inner().fetch_metadata(None, timeout))
                .await
                .map_err(|e| TransportError::new(ErrorKind::Other, NAME, e.to_string()))?
                .map_err(|e| {
                    TransportError::new(
                        ErrorKind::Disconnected,
                        NAME,
                        format!(
                            "no broker of {:?} answered within {timeout:?}",
                            config.bootstrap_servers
                        ),
                    )
                    .with_source(e)
                })?;
        let brokers = u32::try_from(metadata.brokers().len())
            .ok()
            .filter(|&n| n > 0);
        let Ok(admin_client) = Arc::try_unwrap(admin_client) else {
            return Err(TransportError::new(
                ErrorKind::Other,
                NAME,
                "the admin client is still in use",
            ));
        };
        let admin = KafkaTopicAdmin::new(
            admin_client,
            config.publish_timeout,
            brokers,
            config.default_partitions,
        );
        tracing::info!(servers = ?config.bootstrap_servers, ?brokers, "kafka transport connected");
        Ok(Self {
            max_payload: producer.max_payload(),
            producer: RwLock::new(Some(Arc::new(producer))),
            config,
            admin,
            consumers: Mutex::default(),
            closed: AtomicBool::new(false),
            lag: LagProbe::default(),
            link,
        })
    }

    /// The transport's topic admin, with its request counter.
    pub fn admin(&self) -> &KafkaTopicAdmin {
        &self.admin
    }

    /// The configuration it was connected with.
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// How many times the producer's client was replaced after a fatal
    /// librdkafka error (publishing goes on; the publishes in flight at
    /// that moment failed with their error).
    pub fn producer_rebuilds(&self) -> u64 {
        self.producer.read().as_ref().map_or(0, |p| p.rebuilds())
    }

    /// Raises a fatal error in the producer's client, as librdkafka does on
    /// an idempotence failure it cannot recover from. For tests of that
    /// path (feature `testkit`).
    #[cfg(feature = "testkit")]
    #[cfg_attr(docsrs, doc(cfg(feature = "testkit")))]
    pub fn inject_fatal_producer_error(&self) {
        if let Some(producer) = self.producer.read().as_ref() {
            producer.inject_fatal_error();
        }
    }

    fn producer(&self) -> Result<Arc<Producer>> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(TransportError::closed(NAME, "the transport"));
        }
        self.producer
            .read()
            .clone()
            .ok_or_else(|| TransportError::closed(NAME, "the transport"))
    }

    fn check(&self, producer: &Producer, topic: &str, message: &OutgoingMessage) -> Result<()> {
        self.validate_topic(topic, TopicUse::Publish)?;
        producer.check_size(topic, message)
    }
}

#[async_trait]
impl Transport for KafkaTransport {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self, _topic: &str) -> Capabilities {
        // The idempotent producer drops only its own retries, not a
        // republished message: no dedup by id.
        Capabilities::full(self.max_payload).with_publish_dedup(false)
    }

    fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()> {
        validate_topic(NAME, topic, usage, Some(kafka_topic_rule))
    }

    fn topic_admin(&self) -> Arc<dyn TopicAdmin> {
        Arc::new(self.admin.clone())
    }

    fn register_topic(&self, topic: &str, options: &TopicOptions) {
        // Kafka topics have one mode; nothing to remember.
        tracing::debug!(topic, ?options, "topic registered");
    }

    async fn backlog(&self, topic: &str, group: &str) -> Result<Backlog> {
        self.lag.backlog(&self.config, topic, group).await
    }

    fn publish_in_flight(&self) -> usize {
        self.producer.read().as_ref().map_or(0, |p| p.in_flight())
    }

    fn connection_events(&self) -> tokio::sync::watch::Receiver<ConnectionEvent> {
        self.link.subscribe()
    }

    fn connection_state(&self) -> ConnectionState {
        match self.producer.read().as_ref() {
            None => ConnectionState::Closed,
            Some(_) if self.closed.load(Ordering::SeqCst) => ConnectionState::Closed,
            Some(p) if p.is_connected() => ConnectionState::Connected,
            Some(_) => ConnectionState::Reconnecting,
        }
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        let producer = self.producer()?;
        self.check(&producer, topic, &message)?;
        producer.enqueue(topic, &message).await?.receipt().await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>> {
        let Ok(producer) = self.producer() else {
            return messages
                .iter()
                .map(|_| Err(TransportError::closed(NAME, "the transport")))
                .collect();
        };
        // Enqueue all first (in order, so a key keeps its batch order), then
        // wait for every report.
        let mut in_flight = Vec::with_capacity(messages.len());
        for message in &messages {
            let queued = match self.check(&producer, topic, message) {
                Ok(()) => producer.enqueue(topic, message).await,
                Err(err) => Err(err),
            };
            in_flight.push(queued);
        }
        let mut results = Vec::with_capacity(in_flight.len());
        for queued in in_flight {
            results.push(match queued {
                Ok(flight) => flight.receipt().await,
                Err(err) => Err(err),
            });
        }
        results
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(TransportError::closed(NAME, "the transport"));
        }
        self.validate_topic(topic, TopicUse::Subscribe)?;
        if group.is_empty() {
            return Err(TransportError::new(
                ErrorKind::Config,
                NAME,
                "a consumer group name must not be empty",
            )
            .with_topic(topic));
        }
        // Creating a consumer (and, for `Latest`, reading where the topic
        // ends) may block.
        let (config, topic_name, group_name) =
            (self.config.clone(), topic.to_owned(), group.to_owned());
        let (subscription, handle) = tokio::task::spawn_blocking(move || {
            consumer::start(&config, &topic_name, &group_name, options.start_from)
        })
        .await
        .map_err(|e| TransportError::new(ErrorKind::Other, NAME, e.to_string()))??;
        let mut consumers = self.consumers.lock();
        consumers.retain(|c| !c.is_finished());
        consumers.push(handle);
        Ok(Box::new(subscription))
    }

    async fn flush(&self) -> Result<()> {
        self.producer()?.flush().await
    }

    async fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        let producer = self.producer.read().clone();
        let flushed = match &producer {
            Some(producer) => producer.close().await,
            None => Ok(()),
        };
        let producer = self.producer.write().take();
        drop_on_blocking_thread(producer).await;
        let consumers = std::mem::take(&mut *self.consumers.lock());
        futures::future::join_all(consumers.iter().map(|c| c.stop())).await;
        self.admin.close().await;
        self.link.closed();
        tracing::info!("kafka transport closed");
        flushed
    }
}

/// Drops the producer where joining its polling thread may block.
async fn drop_on_blocking_thread(producer: Option<Arc<Producer>>) {
    if let Some(producer) = producer {
        let _ = tokio::task::spawn_blocking(move || drop(producer)).await;
    }
}

impl Drop for KafkaTransport {
    fn drop(&mut self) {
        // Subscriptions end with the transport; their threads commit and
        // leave the group by themselves.
        for consumer in self.consumers.lock().iter() {
            consumer.request_stop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_names_allow_only_its_characters() {
        kafka_topic_rule("orders.v1_created-2").unwrap();
        let err = kafka_topic_rule("orders/eu").unwrap_err();
        assert!(err.contains("'/'"), "{err}");
        assert!(kafka_topic_rule("..").is_err());
        assert!(kafka_topic_rule("ordres:é").is_err());
    }

    #[test]
    fn shared_rules_run_before_kafkas_own() {
        let err =
            validate_topic(NAME, "a b", TopicUse::Publish, Some(kafka_topic_rule)).unwrap_err();
        assert!(err.to_string().contains("whitespace"), "{err}");
    }
}
