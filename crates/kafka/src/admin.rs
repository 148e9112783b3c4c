//! [`KafkaTopicAdmin`]: topics through the Kafka admin API, for the
//! configuration strategies of `evbus-topics`.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use evbus_topics::{
    AdminLimits, Compression, Persistence, TopicAdmin, TopicField, TopicFields, TopicOptions,
    TopicsError, UNLIMITED, UNLIMITED_RETENTION,
};
use parking_lot::RwLock;
use rdkafka::{
    admin::{
        AdminClient, AdminOptions, AlterConfig, ConfigSource, NewPartitions, NewTopic,
        ResourceSpecifier, TopicReplication,
    },
    client::DefaultClientContext,
    error::KafkaError,
    types::RDKafkaErrorCode,
};

const BACKEND: &str = "Kafka";

/// Topic-level configs the transport reads and writes.
const RETENTION_MS: &str = "retention.ms";
const RETENTION_BYTES: &str = "retention.bytes";
const COMPRESSION: &str = "compression.type";

type Client = AdminClient<DefaultClientContext>;

/// The Kafka [`TopicAdmin`].
///
/// Field mapping: `retention` is `retention.ms`, `max_bytes` is
/// `retention.bytes` (which Kafka applies per partition), `compression` is
/// `compression.type`, `partitions` and `replicas` are the partition count
/// and replication factor. `max_messages` and `description` have no Kafka
/// counterpart and are ignored; Kafka topics are always persistent.
///
/// `update` changes configs by read-modify-write of the topic's full set of
/// explicit configs with `AlterConfigs` (rdkafka 0.39 has no
/// `IncrementalAlterConfigs`, and the legacy call resets every config it is
/// not given), and grows partitions with `CreatePartitions`.
///
/// Every broker request is counted ([`requests`](Self::requests)), so a test
/// can show that publishing never asks the broker about topics.
#[derive(Clone)]
pub struct KafkaTopicAdmin {
    inner: Arc<Inner>,
}

struct Inner {
    client: RwLock<Option<Arc<Client>>>,
    timeout: Duration,
    brokers: Option<u32>,
    default_partitions: Option<u32>,
    requests: AtomicU64,
}

impl std::fmt::Debug for KafkaTopicAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaTopicAdmin")
            .field("requests", &self.requests())
            .finish_non_exhaustive()
    }
}

impl KafkaTopicAdmin {
    pub(crate) fn new(
        client: Client,
        timeout: Duration,
        brokers: Option<u32>,
        default_partitions: Option<u32>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                client: RwLock::new(Some(Arc::new(client))),
                timeout,
                brokers,
                default_partitions,
                requests: AtomicU64::new(0),
            }),
        }
    }

    /// Admin requests sent to the broker so far (metadata, describe, create,
    /// alter, create-partitions).
    pub fn requests(&self) -> u64 {
        self.inner.requests.load(Ordering::Relaxed)
    }

    /// Releases the admin client (its polling thread ends); later calls fail
    /// as unavailable.
    pub(crate) async fn close(&self) {
        let client = self.inner.client.write().take();
        if let Some(client) = client {
            // Dropping joins the client's polling thread.
            let _ = tokio::task::spawn_blocking(move || drop(client)).await;
        }
    }

    fn client(&self, topic: &str) -> Result<Arc<Client>, TopicsError> {
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        self.inner
            .client
            .read()
            .clone()
            .ok_or_else(|| TopicsError::unavailable(topic, "the Kafka transport is closed"))
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(self.inner.timeout))
            .operation_timeout(Some(self.inner.timeout))
    }

    /// Partition count and replication factor, `None` for a missing topic.
    async fn layout(&self, topic: &str) -> Result<Option<(u32, u32)>, TopicsError> {
        let client = self.client(topic)?;
        let name = topic.to_owned();
        let timeout = self.inner.timeout;
        let metadata = tokio::task::spawn_blocking(move || {
            client.inner().fetch_metadata(Some(&name), timeout)
        })
        .await
        .map_err(|e| TopicsError::unavailable(topic, e))?
        .map_err(|e| failure(topic, e))?;
        let Some(found) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Ok(None);
        };
        match found.error() {
            None => {}
            Some(code)
                if RDKafkaErrorCode::from(code) == RDKafkaErrorCode::UnknownTopicOrPartition =>
            {
                return Ok(None);
            }
            Some(code) => {
                return Err(failure(
                    topic,
                    KafkaError::MetadataFetch(RDKafkaErrorCode::from(code)),
                ));
            }
        }
        let partitions = u32::try_from(found.partitions().len()).unwrap_or(u32::MAX);
        let replicas = found
            .partitions()
            .first()
            .map_or(0, |p| u32::try_from(p.replicas().len()).unwrap_or(u32::MAX));
        Ok(Some((partitions, replicas)))
    }

    /// Waits until the brokers' metadata shows `topic` (with `partitions`
    /// partitions, when given). The controller answers CreateTopics and
    /// CreatePartitions before every broker's metadata has caught up; a
    /// describe straight after would not see the change.
    async fn wait_visible(&self, topic: &str, partitions: Option<u32>) -> Result<(), TopicsError> {
        let deadline = tokio::time::Instant::now() + self.inner.timeout;
        loop {
            let layout = self.layout(topic).await?;
            let visible = layout.is_some_and(|(count, _)| partitions.is_none_or(|p| count >= p));
            if visible {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(TopicsError::unavailable(
                    topic,
                    format!(
                        "the broker accepted the change but its metadata did not show it \
                         within {:?}",
                        self.inner.timeout
                    ),
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The topic's configs as the broker reports them; with `explicit_only`
    /// just those set on the topic itself (the set `AlterConfigs` replaces).
    async fn configs(
        &self,
        topic: &str,
        explicit_only: bool,
    ) -> Result<BTreeMap<String, String>, TopicsError> {
        let client = self.client(topic)?;
        let results = client
            .describe_configs(&[ResourceSpecifier::Topic(topic)], &self.options())
            .await
            .map_err(|e| failure(topic, e))?;
        let mut configs = BTreeMap::new();
        for result in results {
            let resource = result.map_err(|code| failure(topic, KafkaError::AdminOp(code)))?;
            for entry in resource.entries {
                let explicit = matches!(entry.source, ConfigSource::DynamicTopic)
                    || (matches!(entry.source, ConfigSource::Unknown) && !entry.is_default);
                if explicit_only && (!explicit || entry.is_read_only) {
                    continue;
                }
                if let Some(value) = entry.value {
                    configs.insert(entry.name, value);
                }
            }
        }
        Ok(configs)
    }
}

/// Maps a client error: unreachable or slow brokers are retryable.
fn failure(topic: &str, error: KafkaError) -> TopicsError {
    use RDKafkaErrorCode as C;
    match code_of(&error) {
        Some(
            C::BrokerTransportFailure
            | C::AllBrokersDown
            | C::Resolve
            | C::OperationTimedOut
            | C::RequestTimedOut
            | C::TimedOutQueue
            | C::MessageTimedOut,
        ) => TopicsError::unavailable(topic, error),
        _ => TopicsError::broker(topic, error),
    }
}

/// The error code, admin operations' included (rdkafka leaves those out).
fn code_of(error: &KafkaError) -> Option<RDKafkaErrorCode> {
    match error {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

/// Maps the error of a whole request; a broker without the API gives
/// [`TopicsError::Unsupported`] naming the call.
fn refused(topic: &str, call: &str, error: KafkaError) -> TopicsError {
    match code_of(&error) {
        Some(code) if is_unsupported(code) => {
            TopicsError::unsupported(topic, "this Kafka broker", format!("{call} ({code})"))
        }
        _ => failure(topic, error),
    }
}

/// Whether the broker lacks the API or the operation.
fn is_unsupported(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::UnsupportedVersion | RDKafkaErrorCode::UnsupportedFeature
    )
}

fn compression_name(topic: &str, compression: Compression) -> Result<&'static str, TopicsError> {
    Ok(match compression {
        Compression::None => "uncompressed",
        Compression::Gzip => "gzip",
        Compression::Snappy => "snappy",
        Compression::Lz4 => "lz4",
        Compression::Zstd => "zstd",
        other => {
            return Err(TopicsError::unsupported(
                topic,
                BACKEND,
                format!(
                    "{} compression (use none, gzip, snappy, lz4 or zstd)",
                    other.as_str()
                ),
            ));
        }
    })
}

fn parse_compression(value: &str) -> Option<Compression> {
    match value {
        "uncompressed" | "none" => Some(Compression::None),
        "gzip" => Some(Compression::Gzip),
        "snappy" => Some(Compression::Snappy),
        "lz4" => Some(Compression::Lz4),
        "zstd" => Some(Compression::Zstd),
        // "producer" keeps what each producer sends: no topic-level value.
        _ => None,
    }
}

/// The configs `options` sets, as Kafka names and values them.
fn wanted_configs(
    topic: &str,
    options: &TopicOptions,
) -> Result<BTreeMap<&'static str, String>, TopicsError> {
    let mut configs = BTreeMap::new();
    if let Some(retention) = options.retention {
        let value = if retention == UNLIMITED_RETENTION {
            "-1".to_owned()
        } else {
            retention.as_millis().min(i64::MAX as u128).to_string()
        };
        configs.insert(RETENTION_MS, value);
    }
    if let Some(bytes) = options.max_bytes {
        let value = if bytes == UNLIMITED {
            "-1".to_owned()
        } else {
            bytes.min(i64::MAX as u64).to_string()
        };
        configs.insert(RETENTION_BYTES, value);
    }
    if let Some(compression) = options.compression {
        configs.insert(
            COMPRESSION,
            compression_name(topic, compression)?.to_owned(),
        );
    }
    Ok(configs)
}

fn refuse_ephemeral(topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
    if options.persistence == Persistence::Ephemeral {
        return Err(TopicsError::unsupported(
            topic,
            BACKEND,
            "an ephemeral topic (Kafka topics are always stored; use a short retention)",
        ));
    }
    Ok(())
}

#[async_trait]
impl TopicAdmin for KafkaTopicAdmin {
    async fn describe(&self, topic: &str) -> Result<Option<TopicOptions>, TopicsError> {
        let Some((partitions, replicas)) = self.layout(topic).await? else {
            return Ok(None);
        };
        let configs = self.configs(topic, false).await?;
        let mut options = TopicOptions::new()
            .persistence(Persistence::Persistent)
            .partitions(partitions)
            .replicas((replicas > 0).then_some(replicas));
        if let Some(ms) = configs
            .get(RETENTION_MS)
            .and_then(|v| v.parse::<i64>().ok())
        {
            options.retention = Some(match u64::try_from(ms) {
                Ok(ms) => Duration::from_millis(ms),
                Err(_) => UNLIMITED_RETENTION,
            });
        }
        if let Some(bytes) = configs
            .get(RETENTION_BYTES)
            .and_then(|v| v.parse::<i64>().ok())
        {
            options.max_bytes = Some(u64::try_from(bytes).unwrap_or(UNLIMITED));
        }
        options.compression = configs.get(COMPRESSION).and_then(|v| parse_compression(v));
        Ok(Some(options))
    }

    async fn create(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        options.validate(topic)?;
        refuse_ephemeral(topic, options)?;
        let configs = wanted_configs(topic, options)?;
        let partitions = options
            .partitions
            .or(self.inner.default_partitions)
            .map_or(-1, |p| i32::try_from(p).unwrap_or(i32::MAX));
        let replication = options
            .replicas
            .map_or(-1, |r| i32::try_from(r).unwrap_or(i32::MAX));
        let mut new_topic = NewTopic::new(topic, partitions, TopicReplication::Fixed(replication));
        for (name, value) in &configs {
            new_topic = new_topic.set(name, value);
        }
        let client = self.client(topic)?;
        let results = client
            .create_topics(&[new_topic], &self.options())
            .await
            .map_err(|e| failure(topic, e))?;
        for result in results {
            match result {
                Ok(_) => {}
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {
                    return Err(TopicsError::already_exists(topic));
                }
                Err((_, code)) => return Err(failure(topic, KafkaError::AdminOp(code))),
            }
        }
        let partitions = u32::try_from(partitions).ok();
        self.wait_visible(topic, partitions).await
    }

    async fn update(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        options.validate(topic)?;
        refuse_ephemeral(topic, options)?;
        for (field, set) in [
            (TopicField::Replicas, options.replicas.is_some()),
            (TopicField::MaxMessages, options.max_messages.is_some()),
            (TopicField::Description, options.description.is_some()),
        ] {
            if set {
                return Err(TopicsError::unsupported(
                    topic,
                    BACKEND,
                    format!("changing `{}` of an existing topic", field.name()),
                ));
            }
        }
        let wanted = wanted_configs(topic, options)?;
        if !wanted.is_empty() {
            // The legacy AlterConfigs replaces the topic's whole set of
            // explicit configs: send the current set with the changes.
            let mut configs = self.configs(topic, true).await?;
            for (name, value) in wanted {
                configs.insert(name.to_owned(), value);
            }
            let mut alter = AlterConfig::new(ResourceSpecifier::Topic(topic));
            for (name, value) in &configs {
                alter = alter.set(name, value);
            }
            let client = self.client(topic)?;
            let results = client
                .alter_configs(&[alter], &self.options())
                .await
                .map_err(|e| refused(topic, "AlterConfigs", e))?;
            for result in results {
                match result {
                    Ok(_) => {}
                    Err((_, code)) if is_unsupported(code) => {
                        return Err(TopicsError::unsupported(
                            topic,
                            "this Kafka broker",
                            format!("AlterConfigs ({code})"),
                        ));
                    }
                    Err((_, code)) => return Err(failure(topic, KafkaError::AdminOp(code))),
                }
            }
        }
        if let Some(partitions) = options.partitions {
            let count = usize::try_from(partitions).unwrap_or(usize::MAX);
            let client = self.client(topic)?;
            let results = client
                .create_partitions(&[NewPartitions::new(topic, count)], &self.options())
                .await
                .map_err(|e| refused(topic, "CreatePartitions", e))?;
            for result in results {
                match result {
                    Ok(_) => {}
                    Err((_, code)) if is_unsupported(code) => {
                        return Err(TopicsError::unsupported(
                            topic,
                            "this Kafka broker",
                            format!("CreatePartitions ({code})"),
                        ));
                    }
                    Err((_, code)) => return Err(failure(topic, KafkaError::AdminOp(code))),
                }
            }
            self.wait_visible(topic, Some(partitions)).await?;
        }
        tracing::debug!(topic, ?options, "topic updated");
        Ok(())
    }

    fn limits(&self) -> AdminLimits {
        AdminLimits::new()
            .max_replicas(self.inner.brokers)
            .updatable(
                TopicFields::NONE
                    .with(TopicField::Retention)
                    .with(TopicField::MaxBytes)
                    .with(TopicField::Compression)
                    .with(TopicField::Partitions),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_map_to_kafka_configs() {
        let options = TopicOptions::new()
            .retention(Duration::from_secs(60))
            .max_bytes(UNLIMITED)
            .compression(Compression::None);
        let configs = wanted_configs("t", &options).unwrap();
        assert_eq!(configs[RETENTION_MS], "60000");
        assert_eq!(configs[RETENTION_BYTES], "-1");
        assert_eq!(configs[COMPRESSION], "uncompressed");
        let s2 = TopicOptions::new().compression(Compression::S2);
        let err = wanted_configs("t", &s2).unwrap_err();
        assert!(err.to_string().contains("s2 compression"), "{err}");
        assert_eq!(parse_compression("producer"), None);
        assert_eq!(parse_compression("zstd"), Some(Compression::Zstd));
    }
}
