//! [`NatsTopicAdmin`]: JetStream streams for the topic configuration
//! strategies of `evbus-topics`.

use std::{sync::Arc, time::Duration};

use async_nats::jetstream::{
    self,
    context::{CreateStreamErrorKind, GetStreamByNameErrorKind, GetStreamErrorKind},
    stream::{self, DiscardPolicy, RetentionPolicy, StorageType},
};
use async_trait::async_trait;
use evbus_topics::{
    AdminLimits, Compression, Persistence, TopicAdmin, TopicField, TopicFields, TopicOptions,
    TopicsError, UNLIMITED, UNLIMITED_RETENTION,
};

use crate::{
    error,
    mapping::{self, stream_name},
    topics::{Mode, TopicModes},
    transport::Inner,
};

const BACKEND: &str = "NATS JetStream";

/// Creates, describes and updates the JetStream stream of each persistent
/// topic (see the crate docs for the mapping). An ephemeral topic is a core
/// NATS subject: there is nothing to create, and it describes as ephemeral.
///
/// The storage type cannot change after creation (reported as drift);
/// replicas above 1 need a clustered server; JetStream only compresses
/// with S2.
#[derive(Clone)]
pub struct NatsTopicAdmin {
    jetstream: jetstream::Context,
    topics: Arc<TopicModes>,
    stream_prefix: String,
    duplicate_window: Duration,
    clustered: bool,
}

impl std::fmt::Debug for NatsTopicAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTopicAdmin")
            .field("stream_prefix", &self.stream_prefix)
            .finish_non_exhaustive()
    }
}

impl NatsTopicAdmin {
    pub(crate) fn new(inner: &Inner) -> Self {
        Self {
            jetstream: inner.jetstream.clone(),
            topics: inner.topics.clone(),
            stream_prefix: inner.config.stream_prefix.clone(),
            duplicate_window: inner.config.duplicate_window,
            clustered: inner.client.server_info().cluster.is_some(),
        }
    }

    /// The name of the stream that stores `topic`: the one whose subjects
    /// include it (created by this transport or by an operator).
    async fn find_stream(&self, topic: &str) -> Result<Option<stream::Stream>, TopicsError> {
        let lookup = |subject: String| async move {
            match self.jetstream.stream_by_subject(subject).await {
                Ok(name) => Ok(Some(name)),
                Err(err) if err.kind() == GetStreamByNameErrorKind::NotFound => Ok(None),
                Err(err) => {
                    let unavailable = err.kind() == GetStreamByNameErrorKind::Request;
                    Err(error::admin(topic, unavailable, err))
                }
            }
        };
        // A partitioned topic's stream lists its partition subjects only.
        let name = match lookup(topic.to_owned()).await? {
            Some(name) => name,
            None => match lookup(format!("{topic}.p.*")).await? {
                Some(name) => name,
                None => return Ok(None),
            },
        };
        match self.jetstream.get_stream(&name).await {
            Ok(stream) => Ok(Some(stream)),
            Err(err) => match err.kind() {
                GetStreamErrorKind::JetStream(api) if error::is_not_found(&api) => Ok(None),
                kind => Err(error::admin(
                    topic,
                    kind == GetStreamErrorKind::Request,
                    err,
                )),
            },
        }
    }
}

#[async_trait]
impl TopicAdmin for NatsTopicAdmin {
    async fn describe(&self, topic: &str) -> Result<Option<TopicOptions>, TopicsError> {
        if self.topics.mode(topic) == Mode::Core {
            return Ok(Some(
                TopicOptions::new().persistence(Persistence::Ephemeral),
            ));
        }
        Ok(self.find_stream(topic).await?.map(|stream| {
            let config = &stream.cached_info().config;
            describe(config).partitions(mapping::partitions_of(topic, &config.subjects))
        }))
    }

    async fn create(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        if self.topics.resolve(options.persistence) == Mode::Core {
            // A core NATS subject exists as soon as it is used.
            return Ok(());
        }
        if let Some(wanted) = options.replicas.filter(|r| *r > 1 && !self.clustered) {
            return Err(TopicsError::ReplicasUnavailable {
                topic: topic.to_owned(),
                wanted,
                max: 1,
            });
        }
        let mut config = stream::Config {
            name: stream_name(&self.stream_prefix, topic),
            subjects: match options.partitions.filter(|p| *p > 1) {
                Some(count) => (0..count)
                    .map(|p| mapping::partition_subject(topic, count, p))
                    .collect(),
                None => vec![topic.to_owned()],
            },
            storage: StorageType::File,
            retention: RetentionPolicy::Limits,
            discard: DiscardPolicy::Old,
            duplicate_window: self.duplicate_window,
            ..Default::default()
        };
        apply(topic, options, &mut config)?;
        match self.jetstream.create_stream(config).await {
            Ok(_) => Ok(()),
            Err(err) => Err(match err.kind() {
                CreateStreamErrorKind::JetStream(api)
                    if api.error_code() == jetstream::ErrorCode::STREAM_NAME_EXIST =>
                {
                    TopicsError::already_exists(topic)
                }
                CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable => {
                    error::admin(topic, true, err)
                }
                _ => error::admin(topic, false, err),
            }),
        }
    }

    async fn update(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError> {
        if self.topics.resolve(options.persistence) == Mode::Core {
            return Ok(());
        }
        let Some(stream) = self.find_stream(topic).await? else {
            return Err(TopicsError::Missing {
                topic: topic.to_owned(),
            });
        };
        let mut config = stream.cached_info().config.clone();
        let partitions = mapping::partitions_of(topic, &config.subjects).unwrap_or(1);
        if options
            .partitions
            .is_some_and(|wanted| wanted.max(1) != partitions)
        {
            return Err(TopicsError::unsupported(
                topic,
                BACKEND,
                "changing the partition count of an existing stream (it would move aggregates \
                 to other partitions)",
            ));
        }
        if options.persistence != Persistence::Auto
            && Some(options.persistence) != Some(persistence_of(config.storage))
        {
            return Err(TopicsError::unsupported(
                topic,
                BACKEND,
                "changing the storage type of an existing stream",
            ));
        }
        if let Some(wanted) = options.replicas.filter(|r| *r > 1 && !self.clustered) {
            return Err(TopicsError::ReplicasUnavailable {
                topic: topic.to_owned(),
                wanted,
                max: 1,
            });
        }
        apply(topic, options, &mut config)?;
        self.jetstream
            .update_stream(config)
            .await
            .map(|_| ())
            .map_err(|err| {
                let unavailable = matches!(
                    err.kind(),
                    CreateStreamErrorKind::TimedOut | CreateStreamErrorKind::JetStreamUnavailable
                );
                error::admin(topic, unavailable, err)
            })
    }

    fn limits(&self) -> AdminLimits {
        AdminLimits::new()
            .max_replicas(if self.clustered { None } else { Some(1) })
            .updatable(
                TopicFields::ALL
                    .without(TopicField::Persistence)
                    .without(TopicField::Partitions),
            )
    }
}

fn persistence_of(storage: StorageType) -> Persistence {
    match storage {
        StorageType::File => Persistence::Persistent,
        StorageType::Memory => Persistence::Ephemeral,
    }
}

/// What a stream's configuration says in `TopicOptions` terms.
fn describe(config: &stream::Config) -> TopicOptions {
    let limit = |value: i64| {
        u64::try_from(value)
            .ok()
            .filter(|v| *v > 0)
            .unwrap_or(UNLIMITED)
    };
    let mut options = TopicOptions::new()
        .persistence(persistence_of(config.storage))
        .retention(if config.max_age.is_zero() {
            UNLIMITED_RETENTION
        } else {
            config.max_age
        })
        .max_bytes(limit(config.max_bytes))
        .max_messages(limit(config.max_messages))
        .replicas(u32::try_from(config.num_replicas.max(1)).unwrap_or(u32::MAX))
        .compression(match config.compression {
            Some(stream::Compression::S2) => Compression::S2,
            _ => Compression::None,
        });
    options.description.clone_from(&config.description);
    options
}

/// Applies the fields set in `options` to a stream configuration.
fn apply(
    topic: &str,
    options: &TopicOptions,
    config: &mut stream::Config,
) -> Result<(), TopicsError> {
    let limit = |name: &str, value: u64| -> Result<i64, TopicsError> {
        if value == UNLIMITED {
            return Ok(-1);
        }
        i64::try_from(value).map_err(|_| TopicsError::InvalidOptions {
            topic: topic.to_owned(),
            reason: format!("{name} {value} is above JetStream's limit of {}", i64::MAX),
        })
    };
    if let Some(retention) = options.retention {
        config.max_age = if retention == UNLIMITED_RETENTION {
            Duration::ZERO
        } else if retention.as_nanos() > i64::MAX as u128 {
            return Err(TopicsError::InvalidOptions {
                topic: topic.to_owned(),
                reason: "retention is above JetStream's limit of 292 years".into(),
            });
        } else {
            retention
        };
    }
    if let Some(max_bytes) = options.max_bytes {
        config.max_bytes = limit("max_bytes", max_bytes)?;
    }
    if let Some(max_messages) = options.max_messages {
        config.max_messages = limit("max_messages", max_messages)?;
    }
    if let Some(replicas) = options.replicas {
        config.num_replicas = replicas as usize;
    }
    match options.compression {
        None => {}
        Some(Compression::S2) => config.compression = Some(stream::Compression::S2),
        Some(Compression::None) => config.compression = Some(stream::Compression::None),
        Some(other) => {
            return Err(TopicsError::unsupported(
                topic,
                BACKEND,
                format!(
                    "{} compression (JetStream only has s2; use Compression::S2 or none)",
                    other.as_str()
                ),
            ));
        }
    }
    if let Some(description) = &options.description {
        config.description = Some(description.clone());
    }
    // JetStream refuses a duplicate window longer than the retention.
    if !config.max_age.is_zero() && config.duplicate_window > config.max_age {
        config.duplicate_window = config.max_age;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_values_map_both_ways() {
        let options = TopicOptions::new()
            .retention(UNLIMITED_RETENTION)
            .max_bytes(UNLIMITED)
            .max_messages(5);
        let mut config = stream::Config::default();
        apply("t", &options, &mut config).unwrap();
        assert_eq!(config.max_age, Duration::ZERO);
        assert_eq!(config.max_bytes, -1);
        assert_eq!(config.max_messages, 5);
        let back = describe(&config);
        assert_eq!(back.retention, Some(UNLIMITED_RETENTION));
        assert_eq!(back.max_bytes, Some(UNLIMITED));
        assert_eq!(back.max_messages, Some(5));
    }

    #[test]
    fn only_s2_and_none_compression_exist() {
        let mut config = stream::Config::default();
        apply(
            "t",
            &TopicOptions::new().compression(Compression::S2),
            &mut config,
        )
        .unwrap();
        assert_eq!(config.compression, Some(stream::Compression::S2));
        for codec in [
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let err = apply("t", &TopicOptions::new().compression(codec), &mut config).unwrap_err();
            assert_eq!(err.kind(), evbus_topics::TopicsErrorKind::Unsupported);
            assert!(err.to_string().contains(codec.as_str()), "{err}");
            assert!(err.to_string().contains("s2"), "{err}");
        }
    }

    #[test]
    fn duplicate_window_never_exceeds_retention() {
        let mut config = stream::Config {
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        };
        apply(
            "t",
            &TopicOptions::new().retention(Duration::from_secs(60)),
            &mut config,
        )
        .unwrap();
        assert_eq!(config.duplicate_window, Duration::from_secs(60));
    }

    #[test]
    fn limits_above_i64_are_refused() {
        let mut config = stream::Config::default();
        let err = apply(
            "t",
            &TopicOptions::new().max_bytes(u64::MAX - 1),
            &mut config,
        )
        .unwrap_err();
        assert_eq!(err.kind(), evbus_topics::TopicsErrorKind::InvalidOptions);
    }
}
