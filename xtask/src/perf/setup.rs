//! The brokers of a perf run, started through the backend crates'
//! testkits (the binaries were installed by `brokers::ensure`, the same code
//! as `cargo xtask test`, whose paths reach the testkits through
//! `EVBUS_NATS_SERVER` / `EVBUS_KAFKA_LIBS`); plus unique topic names and topic
//! creation for the raw baselines.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use anyhow::Context;
use evbus::{
    Backend, BusConfig, TopicOptions, TopicPolicy,
    kafka::{
        KafkaTransport,
        testkit::{BrokerOptions, JvmProfile, KafkaBroker},
    },
    nats::{NatsConfig, NatsTransport, testkit::NatsServer},
    transport::Transport,
};

/// A running NATS server and a transport that creates its streams.
pub struct Nats {
    pub server: NatsServer,
    pub admin: Arc<dyn Transport>,
}

/// A running Apache Kafka broker and a transport that creates its topics.
pub struct Kafka {
    pub broker: KafkaBroker,
    pub admin: Arc<dyn Transport>,
}

impl Nats {
    pub async fn start() -> anyhow::Result<Self> {
        let server = tokio::task::spawn_blocking(NatsServer::start)
            .await?
            .context("starting nats-server")?;
        let admin: Arc<dyn Transport> =
            Arc::new(NatsTransport::connect(NatsConfig::new(server.url())).await?);
        Ok(Self { server, admin })
    }

    /// evbus's configuration for this server: the backend's defaults.
    pub fn bus_config(&self) -> BusConfig {
        let mut config = BusConfig::default();
        config.service_name = crate::perf::workload::SERVICE.into();
        config.backend = Backend::Nats;
        config.nats = NatsConfig::new(self.server.url());
        config
    }
}

impl Kafka {
    pub async fn start() -> anyhow::Result<Self> {
        // The full JIT and a larger heap: the broker is what is measured
        // against, not a test fixture.
        let mut options = BrokerOptions::default();
        options.jvm = JvmProfile::Throughput;
        let broker = tokio::task::spawn_blocking(move || KafkaBroker::start_with(&options))
            .await?
            .context("starting Apache Kafka")?;
        let admin: Arc<dyn Transport> = Arc::new(KafkaTransport::connect(broker.config()).await?);
        Ok(Self { broker, admin })
    }

    /// evbus's configuration for this broker: the testkit's (4 partitions
    /// per topic, 10 s session, 500 ms heartbeats), otherwise the defaults.
    pub fn bus_config(&self) -> BusConfig {
        let mut config = BusConfig::default();
        config.service_name = crate::perf::workload::SERVICE.into();
        config.backend = Backend::Kafka;
        config.kafka = self.broker.config();
        config
    }
}

/// The in-memory bus configuration: the defaults.
pub fn memory_bus_config() -> BusConfig {
    let mut config = BusConfig::default();
    config.service_name = crate::perf::workload::SERVICE.into();
    config
}

/// Creates topics with the default options, as `configure_topics` does for
/// evbus (its dead-letter topics aside).
pub async fn create_topics(admin: &Arc<dyn Transport>, topics: &[String]) -> anyhow::Result<()> {
    let options = TopicOptions::default();
    for topic in topics {
        evbus::topics::configure(
            admin.topic_admin().as_ref(),
            topic,
            &options,
            &TopicPolicy::default(),
        )
        .await
        .with_context(|| format!("creating topic {topic}"))?;
    }
    Ok(())
}

/// `count` topic names never used before in this process (a fresh stream or
/// topic per run, so no run reads another's messages).
pub fn fresh_topics(count: usize) -> Vec<String> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let run = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    (0..count)
        .map(|i| format!("perf-{pid}-{run}-{i}"))
        .collect()
}

/// A consumer group name never used before in this process.
pub fn fresh_group() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("perf-g{}", NEXT.fetch_add(1, Ordering::Relaxed))
}
