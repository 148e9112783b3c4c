//! The one error type of topic configuration.

use crate::drift::{Drift, Joined};
use crate::field::TopicFields;

/// A boxed error from a broker client, kept as the [`source`](std::error::Error::source).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why configuring a topic failed.
///
/// Match on [`kind`](TopicsError::kind) for decisions and use
/// [`is_retryable`](TopicsError::is_retryable) for retries. Admin
/// implementations build these with the variants or the helper constructors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TopicsError {
    /// The topic name is not 1-255 printable ASCII characters without spaces.
    #[error("invalid topic name {topic:?}: {reason}")]
    InvalidTopicName {
        /// The rejected name.
        topic: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A [`TopicOptions`](crate::TopicOptions) value is out of range.
    #[error("invalid options for topic {topic:?}: {reason}")]
    InvalidOptions {
        /// The topic.
        topic: String,
        /// What is wrong.
        reason: String,
    },
    /// More replicas were asked for than the broker can host.
    #[error(
        "topic {topic:?} wants {wanted} replicas but the broker can host at most {max}; \
         override it with `.replicas({max})` on the TopicOptions (or `replicas = {max}` \
         in configuration), or run a cluster of at least {wanted} nodes"
    )]
    ReplicasUnavailable {
        /// The topic.
        topic: String,
        /// Replicas asked for.
        wanted: u32,
        /// Replicas the broker can host.
        max: u32,
    },
    /// The topic differs from its options and the policy says fail.
    #[error("topic {topic:?} differs from its options: {}", Joined(drift))]
    Drift {
        /// The topic.
        topic: String,
        /// Every differing field.
        drift: Vec<Drift>,
    },
    /// The topic does not exist and the strategy does not create it.
    #[error("topic {topic:?} does not exist and the validate-only strategy does not create topics")]
    Missing {
        /// The topic.
        topic: String,
    },
    /// `create` found the topic already there (another process created it).
    #[error("topic {topic:?} already exists")]
    AlreadyExists {
        /// The topic.
        topic: String,
    },
    /// The backend cannot do what was asked (e.g. a compression codec).
    #[error("topic {topic:?}: {what} is not supported by {backend}")]
    Unsupported {
        /// The topic.
        topic: String,
        /// The backend, e.g. `"NATS JetStream"`.
        backend: &'static str,
        /// What was asked, with the alternative when there is one.
        what: String,
    },
    /// The broker could not be reached or timed out; worth retrying.
    #[error("broker unavailable while configuring topic {topic:?}")]
    Unavailable {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: BoxError,
    },
    /// The broker refused the request (authorization, invalid config, ...).
    #[error("broker refused a request for topic {topic:?}")]
    Broker {
        /// The topic.
        topic: String,
        /// The client's error.
        #[source]
        source: BoxError,
    },
}

/// What went wrong, without the details, for `match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TopicsErrorKind {
    /// See [`TopicsError::InvalidTopicName`].
    InvalidTopicName,
    /// See [`TopicsError::InvalidOptions`].
    InvalidOptions,
    /// See [`TopicsError::ReplicasUnavailable`].
    ReplicasUnavailable {
        /// Replicas asked for.
        wanted: u32,
        /// Replicas the broker can host.
        max: u32,
    },
    /// See [`TopicsError::Drift`].
    Drift {
        /// Every differing field.
        fields: TopicFields,
    },
    /// See [`TopicsError::Missing`].
    Missing,
    /// See [`TopicsError::AlreadyExists`].
    AlreadyExists,
    /// See [`TopicsError::Unsupported`].
    Unsupported,
    /// See [`TopicsError::Unavailable`].
    Unavailable,
    /// See [`TopicsError::Broker`].
    Broker,
}

impl TopicsError {
    /// The kind, for `match`.
    pub fn kind(&self) -> TopicsErrorKind {
        match self {
            TopicsError::InvalidTopicName { .. } => TopicsErrorKind::InvalidTopicName,
            TopicsError::InvalidOptions { .. } => TopicsErrorKind::InvalidOptions,
            TopicsError::ReplicasUnavailable { wanted, max, .. } => {
                TopicsErrorKind::ReplicasUnavailable {
                    wanted: *wanted,
                    max: *max,
                }
            }
            TopicsError::Drift { drift, .. } => TopicsErrorKind::Drift {
                fields: drift.iter().map(|d| d.field).collect(),
            },
            TopicsError::Missing { .. } => TopicsErrorKind::Missing,
            TopicsError::AlreadyExists { .. } => TopicsErrorKind::AlreadyExists,
            TopicsError::Unsupported { .. } => TopicsErrorKind::Unsupported,
            TopicsError::Unavailable { .. } => TopicsErrorKind::Unavailable,
            TopicsError::Broker { .. } => TopicsErrorKind::Broker,
        }
    }

    /// Whether the same call may succeed later without a change of
    /// configuration: only an unreachable or timed-out broker.
    pub fn is_retryable(&self) -> bool {
        matches!(self, TopicsError::Unavailable { .. })
    }

    /// The topic the error is about.
    pub fn topic(&self) -> &str {
        match self {
            TopicsError::InvalidTopicName { topic, .. }
            | TopicsError::InvalidOptions { topic, .. }
            | TopicsError::ReplicasUnavailable { topic, .. }
            | TopicsError::Drift { topic, .. }
            | TopicsError::Missing { topic }
            | TopicsError::AlreadyExists { topic }
            | TopicsError::Unsupported { topic, .. }
            | TopicsError::Unavailable { topic, .. }
            | TopicsError::Broker { topic, .. } => topic,
        }
    }

    /// An [`Unsupported`](TopicsError::Unsupported) error.
    pub fn unsupported(topic: &str, backend: &'static str, what: impl Into<String>) -> Self {
        TopicsError::Unsupported {
            topic: topic.to_owned(),
            backend,
            what: what.into(),
        }
    }

    /// An [`Unavailable`](TopicsError::Unavailable) (retryable) error.
    pub fn unavailable(topic: &str, source: impl Into<BoxError>) -> Self {
        TopicsError::Unavailable {
            topic: topic.to_owned(),
            source: source.into(),
        }
    }

    /// A [`Broker`](TopicsError::Broker) (not retryable) error.
    pub fn broker(topic: &str, source: impl Into<BoxError>) -> Self {
        TopicsError::Broker {
            topic: topic.to_owned(),
            source: source.into(),
        }
    }

    /// An [`AlreadyExists`](TopicsError::AlreadyExists) error.
    pub fn already_exists(topic: &str) -> Self {
        TopicsError::AlreadyExists {
            topic: topic.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn only_an_unavailable_broker_is_retryable() {
        assert!(TopicsError::unavailable("t", "connection refused").is_retryable());
        assert!(!TopicsError::broker("t", "authorization violation").is_retryable());
        assert!(!TopicsError::already_exists("t").is_retryable());
    }

    #[test]
    fn broker_detail_is_the_source_and_the_topic_is_in_the_message() {
        let err = TopicsError::broker("orders", "authorization violation");
        assert!(err.to_string().contains("\"orders\""));
        assert_eq!(err.source().unwrap().to_string(), "authorization violation");
        assert_eq!(err.topic(), "orders");
        assert_eq!(err.kind(), TopicsErrorKind::Broker);
    }

    #[test]
    fn unsupported_names_backend_and_request() {
        let err = TopicsError::unsupported("t", "NATS JetStream", "snappy compression (use s2)");
        assert_eq!(
            err.to_string(),
            "topic \"t\": snappy compression (use s2) is not supported by NATS JetStream"
        );
    }
}
