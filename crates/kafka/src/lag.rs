//! A consumer group's lag on a topic, per partition: the high watermark
//! minus the group's committed offset, asked of the brokers with one
//! non-member client per group (it never joins the group, so asking does
//! not trigger a rebalance).

use std::{collections::HashMap, sync::Arc, time::Duration};

use evbus_transport::{Backlog, ErrorKind, PartitionLag, Result, TransportError};
use parking_lot::Mutex;
use rdkafka::{
    Offset, TopicPartitionList,
    consumer::{BaseConsumer, Consumer},
};

use crate::{NAME, config::KafkaConfig, error};

/// The lag clients of one transport, one per group asked about.
#[derive(Default)]
pub(crate) struct LagProbe {
    clients: Mutex<HashMap<String, Arc<BaseConsumer>>>,
}

impl LagProbe {
    pub(crate) async fn backlog(
        &self,
        config: &KafkaConfig,
        topic: &str,
        group: &str,
    ) -> Result<Backlog> {
        let client = self.client(config, group)?;
        let timeout = config.publish_timeout;
        let topic = topic.to_owned();
        // librdkafka's queries block: keep them off the runtime's threads.
        let partitions = tokio::task::spawn_blocking(move || lag(&client, &topic, timeout))
            .await
            .map_err(|e| TransportError::new(ErrorKind::Other, NAME, e.to_string()))??;
        Ok(Backlog::from_partitions(partitions))
    }

    fn client(&self, config: &KafkaConfig, group: &str) -> Result<Arc<BaseConsumer>> {
        let mut clients = self.clients.lock();
        if let Some(client) = clients.get(group) {
            return Ok(client.clone());
        }
        let client: BaseConsumer = config
            .consumer_client_config(group)
            .create()
            .map_err(error::config_error)?;
        let client = Arc::new(client);
        clients.insert(group.to_owned(), client.clone());
        Ok(client)
    }
}

fn lag(client: &BaseConsumer, topic: &str, timeout: Duration) -> Result<Vec<PartitionLag>> {
    let unavailable = |what: &str, e: rdkafka::error::KafkaError| {
        TransportError::new(
            ErrorKind::Disconnected,
            NAME,
            format!("no broker answered {what} for `{topic}` within {timeout:?}"),
        )
        .with_source(e)
    };
    let metadata = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(|e| unavailable("a metadata request", e))?;
    let mut partitions = TopicPartitionList::new();
    for meta in metadata.topics().iter().filter(|t| t.name() == topic) {
        for partition in meta.partitions() {
            partitions.add_partition(topic, partition.id());
        }
    }
    let committed = client
        .committed_offsets(partitions, timeout)
        .map_err(|e| unavailable("an offset fetch", e))?;
    let mut lags = Vec::new();
    for element in committed.elements() {
        let (low, high) = client
            .fetch_watermarks(topic, element.partition(), timeout)
            .map_err(|e| unavailable("a watermark request", e))?;
        // A group that never committed starts at the earliest retained
        // offset, so everything retained is its lag.
        let committed = match element.offset() {
            Offset::Offset(offset) => offset,
            _ => low,
        };
        lags.push(PartitionLag::new(
            u32::try_from(element.partition()).unwrap_or_default(),
            u64::try_from(high).unwrap_or_default(),
            u64::try_from(committed).unwrap_or_default(),
        ));
    }
    lags.sort_by_key(|p| p.partition);
    Ok(lags)
}
