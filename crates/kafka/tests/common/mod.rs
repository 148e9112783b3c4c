//! Helpers shared by the broker tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::{
    collections::HashMap,
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use anyhow::{Context as _, Result};
use evbus_kafka::{KafkaTransport, testkit::KafkaBroker};
use evbus_topics::{TopicAdmin as _, TopicOptions};
use rdkafka::{
    ClientConfig, Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};
use tokio::time::Instant;

/// How long a test waits for what it expects.
pub const WITHIN: Duration = Duration::from_secs(40);

/// A name no other run uses (topics are never deleted).
pub fn unique(label: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "evbus-kt-{label}-{nanos:x}-{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub async fn connect(broker: &KafkaBroker) -> Result<KafkaTransport> {
    Ok(KafkaTransport::connect(broker.config()).await?)
}

/// Creates a topic with `partitions` partitions.
pub async fn topic(transport: &KafkaTransport, label: &str, partitions: u32) -> Result<String> {
    let name = unique(label);
    transport
        .admin()
        .create(&name, &TopicOptions::new().partitions(partitions))
        .await
        .with_context(|| format!("creating {name}"))?;
    Ok(name)
}

/// The offsets `group` committed on `topic`, per partition (absent: none).
pub async fn committed(
    broker: &KafkaBroker,
    topic: &str,
    group: &str,
    partitions: i32,
) -> Result<HashMap<i32, i64>> {
    let (bootstrap, topic, group) = (broker.bootstrap(), topic.to_owned(), group.to_owned());
    tokio::task::spawn_blocking(move || {
        // Not subscribed: it only fetches the group's offsets.
        let reader: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .set("group.id", &group)
            .create()?;
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition(&topic, p);
        }
        let offsets = reader.committed_offsets(tpl, Duration::from_secs(10))?;
        Ok(offsets
            .elements()
            .iter()
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some((e.partition(), o)),
                _ => None,
            })
            .collect())
    })
    .await?
}

/// Polls `condition` until it holds or `WITHIN` passes.
pub async fn eventually<F, Fut>(what: &str, mut condition: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + WITHIN;
    let mut tick = tokio::time::interval(Duration::from_millis(50));
    loop {
        tick.tick().await;
        if condition().await? {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "timed out waiting until {what}");
    }
}

fn admin_client(
    broker: &KafkaBroker,
) -> Result<rdkafka::admin::AdminClient<rdkafka::client::DefaultClientContext>> {
    Ok(ClientConfig::new()
        .set("bootstrap.servers", broker.bootstrap())
        .create()?)
}

/// The configs set on `topic` itself (not broker defaults).
async fn explicit_configs(broker: &KafkaBroker, topic: &str) -> Result<HashMap<String, String>> {
    use rdkafka::admin::{AdminOptions, ConfigSource, ResourceSpecifier};
    let admin = admin_client(broker)?;
    let results = admin
        .describe_configs([&ResourceSpecifier::Topic(topic)], &AdminOptions::new())
        .await?;
    let resource = results.into_iter().next().context("no describe result")??;
    Ok(resource
        .entries
        .into_iter()
        .filter(|e| e.source == ConfigSource::DynamicTopic)
        .filter_map(|e| Some((e.name, e.value?)))
        .collect())
}

/// Sets a config evbus does not manage on `topic`, keeping the others (a
/// read-modify-write, as an operator's tool would).
pub async fn set_unmanaged_config(
    broker: &KafkaBroker,
    topic: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    use rdkafka::admin::{AdminOptions, AlterConfig, ResourceSpecifier};
    let mut configs = explicit_configs(broker, topic).await?;
    configs.insert(key.to_owned(), value.to_owned());
    let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
    for (k, v) in &configs {
        alter = alter.set(k, v);
    }
    let admin = admin_client(broker)?;
    for result in admin.alter_configs([&alter], &AdminOptions::new()).await? {
        result.map_err(|(_, code)| anyhow::anyhow!("AlterConfigs on {topic}: {code}"))?;
    }
    Ok(())
}

/// The value of `key` set on `topic` itself, if any.
pub async fn topic_config(broker: &KafkaBroker, topic: &str, key: &str) -> Result<Option<String>> {
    Ok(explicit_configs(broker, topic).await?.remove(key))
}
