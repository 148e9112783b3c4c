//! The trait each transport implements to read and change topics on its broker.

use crate::error::TopicsError;
use crate::field::{TopicField, TopicFields};
use crate::options::TopicOptions;

/// Reads and changes topics (JetStream streams, Kafka topics, an in-memory
/// log) for the [`configure`](crate::configure) engine.
///
/// Object safe: transports hand out `Arc<dyn TopicAdmin>`.
///
/// # Behavior
///
/// - `describe` reports what the broker has, `None` when the topic is
///   missing. Fields the broker does not report stay `None` and are never
///   drift; fields with no meaning on the backend (partitions on JetStream,
///   max messages on Kafka) are reported as `None` too.
/// - `create` creates the topic with every field that is `Some` (and
///   persistence unless `Auto`, which means the transport's default); it
///   ignores fields with no meaning on the backend, answers a value it
///   cannot apply with [`TopicsError::Unsupported`], and a topic that
///   already exists with [`TopicsError::AlreadyExists`].
/// - `update` changes exactly the fields that are `Some` (and persistence
///   unless `Auto`) and keeps every other setting of the topic as it is
///   (read-modify-write where the broker's API replaces whole configs).
///   The engine only passes fields listed in [`AdminLimits::updatable`].
/// - An unreachable broker or a timeout is [`TopicsError::Unavailable`];
///   a refusal is [`TopicsError::Broker`] with the client error as source.
#[async_trait::async_trait]
pub trait TopicAdmin: Send + Sync {
    /// The topic's actual configuration, or `None` when it does not exist.
    async fn describe(&self, topic: &str) -> Result<Option<TopicOptions>, TopicsError>;

    /// Creates the topic with `options`.
    async fn create(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError>;

    /// Changes the fields set in `options`, leaving the others untouched.
    async fn update(&self, topic: &str, options: &TopicOptions) -> Result<(), TopicsError>;

    /// What the broker can host and change; cheap, asks the broker nothing.
    fn limits(&self) -> AdminLimits;
}

/// What a backend can do, so the engine reports instead of attempting the
/// impossible.
///
/// The default is conservative: unknown replica limit (not checked) and no
/// updatable field, so an admin that declares nothing is never asked to
/// update and every difference is reported as drift.
///
/// ```
/// use evbus_topics::{AdminLimits, TopicField, TopicFields};
///
/// // A single JetStream server: storage type and partitions are fixed.
/// let limits = AdminLimits::new()
///     .max_replicas(1)
///     .updatable(
///         TopicFields::ALL
///             .without(TopicField::Persistence)
///             .without(TopicField::Partitions),
///     );
/// assert!(limits.can_update(TopicField::Retention));
/// assert!(!limits.can_update(TopicField::Persistence));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AdminLimits {
    /// Most replicas the broker can host (nodes in the cluster); `None` when
    /// unknown, then the engine does not check. Default: `None`.
    pub max_replicas: Option<u32>,
    /// Fields `update` can change after creation. A drifted field outside
    /// this set is reported with [`DriftReason::Immutable`](crate::DriftReason::Immutable).
    /// Partitions in this set may only grow. Default: none.
    pub updatable: TopicFields,
}

impl AdminLimits {
    /// No replica limit known and nothing updatable.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the most replicas the broker can host.
    pub fn max_replicas(mut self, max: impl Into<Option<u32>>) -> Self {
        self.max_replicas = max.into();
        self
    }

    /// Sets the fields `update` can change.
    pub fn updatable(mut self, fields: TopicFields) -> Self {
        self.updatable = fields;
        self
    }

    /// Whether `update` can change `field`.
    pub fn can_update(&self, field: TopicField) -> bool {
        self.updatable.contains(field)
    }
}
