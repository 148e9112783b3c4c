//! The bus configuration: one serde struct with a documented default for
//! every field, so a TOML/JSON/YAML file or a builder produce the same bus.

use std::time::Duration;

use evbus_envelope::CodecKind;
use evbus_keyed_pool::PoolConfig;
use evbus_topics::TopicPolicy;
use evbus_transport::memory::MemoryConfig;
use serde::{Deserialize, Serialize};

use crate::{operations::OperationsConfig, rate_limit::RateLimit};

/// Which broker the bus talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Backend {
    /// The embedded in-memory transport (default): no broker needed.
    #[default]
    Memory,
    /// NATS (JetStream for persistent topics); needs the `nats` feature.
    Nats,
    /// Kafka; needs the `kafka` feature.
    Kafka,
}

/// Everything an [`EventBus`](crate::EventBus) is built from.
///
/// ```
/// let config: evbus::BusConfig = serde_json::from_str(r#"{
///     "service_name": "billing",
///     "backend": "memory",
///     "pool": { "workers": 64, "retry": { "max_attempts": 3 } },
///     "dead_letter": { "suffix": ".dlq" }
/// }"#).unwrap();
/// assert_eq!(config.pool.workers, 64);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BusConfig {
    /// The publishing service's name: the default consumer group and the
    /// CloudEvents `source`. Default: `"evbus"`.
    pub service_name: String,
    /// The broker. Default: [`Backend::Memory`].
    pub backend: Backend,
    /// The in-memory transport's settings, used when `backend = "memory"`.
    pub memory: MemoryConfig,
    /// The NATS settings, used when `backend = "nats"`.
    #[cfg(feature = "nats")]
    pub nats: evbus_nats::NatsConfig,
    /// The Kafka settings, used when `backend = "kafka"`.
    #[cfg(feature = "kafka")]
    pub kafka: evbus_kafka::KafkaConfig,
    /// The codec envelopes are published with. Decoding detects the codec of
    /// each message, so a topic may carry several. Default: protobuf.
    pub codec: CodecKind,
    /// The largest encoded envelope accepted. Default: 1,000,000 bytes (the
    /// Kafka default `message.max.bytes`).
    pub max_envelope_bytes: usize,
    /// The keyed pool every subscription's handlers run in, with the retry
    /// policy and handler timeout (`pool.retry`, `pool.handler_timeout`):
    /// a failed handler is retried in place, later messages of its aggregate
    /// waiting, before the message is dead-lettered. Defaults (the pool's
    /// own, one source of truth): 256 workers, capacity 10,000, enqueue
    /// timeout 500 ms, no retries, no handler timeout (the bus's default
    /// handler timeout is [`SubscribeConfig::handler_timeout`], 30 s; a
    /// `pool.handler_timeout` that is set wins over it). Each subscription
    /// holds at most its share of the pool ([`SubscribeConfig::pool_share`]).
    /// One exception:
    /// `pool.keepalive_interval` (how often held messages' broker leases are
    /// extended, e.g. JetStream in-progress acks, while they wait or run)
    /// is 5 s when not set, since a bus needs it for every broker lease, and
    /// it is shortened, set or not, to a third of the shortest lease a
    /// transport reports for a delivery (its ack wait), so no lease runs out
    /// while its message waits or runs.
    pub pool: PoolConfig,
    /// Where messages that cannot be handled go.
    pub dead_letter: DeadLetterConfig,
    /// Subscription defaults.
    pub subscribe: SubscribeConfig,
    /// Fire-and-forget publishing.
    pub publish: PublishConfig,
    /// What [`EventBus::configure_topics`](crate::EventBus::configure_topics)
    /// does with topics on the broker. Default: create-only (missing topics
    /// are created, existing ones never altered), warn on mismatch, no
    /// destructive changes.
    pub topics: TopicPolicy,
    /// Sampling, backlog thresholds and health checks; see
    /// docs/operations.md. Defaults: sampled every 5 s, no backlog
    /// thresholds, beats every 2 min with levels at 3 / 5 / 10 missed.
    pub operations: OperationsConfig,
    /// How long [`EventBus::close`](crate::EventBus::close) may take in all.
    /// Queued and running handlers get the first 3/5 of it before the rest
    /// is given up on (nacked and redelivered), settling 1/5 (what is not
    /// settled by then is redelivered), flushing publishes and closing the
    /// connection the last 1/5. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub close_timeout: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            service_name: "evbus".into(),
            backend: Backend::default(),
            memory: MemoryConfig::default(),
            #[cfg(feature = "nats")]
            nats: Default::default(),
            #[cfg(feature = "kafka")]
            kafka: Default::default(),
            codec: CodecKind::default(),
            max_envelope_bytes: 1_000_000,
            pool: PoolConfig::default(),
            dead_letter: DeadLetterConfig::default(),
            subscribe: SubscribeConfig::default(),
            publish: PublishConfig::default(),
            topics: TopicPolicy::default(),
            operations: OperationsConfig::default(),
            close_timeout: Duration::from_secs(30),
        }
    }
}

/// Where messages go that the bus gives up on: handler retries exhausted,
/// undecodable bytes, or delivered more than `max_deliveries` times.
///
/// A message is acknowledged only after its dead-letter copy was published;
/// if that publish fails, the message is nacked and redelivered instead.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct DeadLetterConfig {
    /// The dead-letter topic of topic `t` is `t` followed by this suffix.
    /// [`EventBus::configure_topics`](crate::EventBus::configure_topics)
    /// configures it along with `t`. `None`: no dead-lettering; messages
    /// given up on are nacked and redelivered after
    /// [`redelivery_delay`](Self::redelivery_delay). Default: `".dlq"`.
    pub suffix: Option<String>,
    /// A broker delivery count above this dead-letters the message without
    /// running the handler again (it keeps crashing the process). Default:
    /// 10.
    pub max_deliveries: u32,
    /// The delay of a nack when a message cannot be dead-lettered. Default:
    /// 1 s.
    #[serde(with = "humantime_serde")]
    pub redelivery_delay: Duration,
}

impl Default for DeadLetterConfig {
    fn default() -> Self {
        Self {
            suffix: Some(".dlq".into()),
            max_deliveries: 10,
            redelivery_delay: Duration::from_secs(1),
        }
    }
}

/// Subscription defaults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct SubscribeConfig {
    /// The consumer group of subscriptions that name none. Default: the
    /// service name.
    pub group: Option<String>,
    /// The most messages taken from the broker at once; never more than the
    /// pool has room for. Default: 500.
    pub fetch_max: usize,
    /// The longest one handler attempt may run before it counts as a
    /// retryable failure (retried, then dead-lettered, as the retry policy
    /// says), so a handler that never returns cannot hold its aggregate and
    /// its share of the pool for ever. `None` (JSON `null`): no limit.
    /// `pool.handler_timeout`, when set, takes precedence. Default: 30 s.
    #[serde(with = "humantime_serde")]
    pub handler_timeout: Option<Duration>,
    /// The share of the pool's workers one subscription may hold messages
    /// in at once (queued, running or waiting to be retried), in
    /// `0.0..=1.0`: `max(1, floor(pool.workers × pool_share))`, and never
    /// more than the pool's capacity. So one subscription whose handlers
    /// hang, or one wedged aggregate, leaves the rest of the pool to the
    /// other subscriptions. A subscription may set its own cap
    /// ([`SubscriptionOptions::max_in_flight`](crate::SubscriptionOptions::max_in_flight)).
    /// Default: 0.5.
    pub pool_share: f64,
}

impl Default for SubscribeConfig {
    fn default() -> Self {
        Self {
            group: None,
            fetch_max: 500,
            handler_timeout: Some(DEFAULT_HANDLER_TIMEOUT),
            pool_share: 0.5,
        }
    }
}

/// The default of [`SubscribeConfig::handler_timeout`].
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

impl SubscribeConfig {
    /// The cap on one subscription's messages in a pool of `workers`
    /// workers and `capacity` slots.
    pub(crate) fn max_in_flight(&self, workers: usize, capacity: usize) -> usize {
        // Truncation is the intent: a share rounds down to whole workers.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let cap = (workers as f64 * self.pool_share) as usize;
        cap.clamp(1, capacity.max(1))
    }

    /// Rejects a share outside `0.0..=1.0`.
    pub(crate) fn validate(&self) -> Result<(), crate::BusError> {
        if !(0.0..=1.0).contains(&self.pool_share) {
            return Err(crate::BusError::config(format!(
                "subscribe.pool_share must be within 0.0..=1.0, not {}",
                self.pool_share
            )));
        }
        Ok(())
    }
}

/// Fire-and-forget publishing ([`EventBus::publish_detached`](crate::EventBus::publish_detached)).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PublishConfig {
    /// Messages queued for sending at most; a full queue makes
    /// `publish_detached` wait. Default: 10,000.
    pub queue_capacity: usize,
    /// The most queued messages sent as one batch. Default: 500.
    pub batch_max: usize,
    /// Whether every detached publish's outcome goes to a result stream
    /// ([`EventBus::publish_results`](crate::EventBus::publish_results),
    /// [`EventBus::register_tenant`](crate::EventBus::register_tenant)),
    /// which an outbox relay reads to mark rows published. When on, the
    /// default stream must be read. Default: `false`.
    pub results: bool,
    /// Results each stream holds unread. A full stream makes the detached
    /// sender wait (its queue fills, then `publish_detached` waits): a
    /// result is never dropped. Default: 10,000.
    pub results_capacity: usize,
    /// A token bucket every publish of the bus takes from (awaited,
    /// batched, detached; dead-letter and health publishes are exempt).
    /// An empty bucket makes the publishing call wait, never fail or drop.
    /// Default: none (unlimited).
    pub rate_limit: Option<RateLimit>,
}

impl Default for PublishConfig {
    fn default() -> Self {
        Self {
            queue_capacity: 10_000,
            batch_max: 500,
            results: false,
            results_capacity: 10_000,
            rate_limit: None,
        }
    }
}
