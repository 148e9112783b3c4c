//! The one error type of the transport boundary.

use std::fmt;

/// What went wrong, as a caller matches it.
///
/// The kind decides what a caller may do next: [`ErrorKind::is_retryable`]
/// says whether the same operation can succeed if tried again unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The topic name breaks a naming rule; the message names the rule.
    InvalidTopic,
    /// The message (payload and headers) exceeds the transport's limit.
    TooLarge,
    /// The operation did not finish in time and had no side effect.
    Timeout,
    /// A publish timed out after it may have reached the broker. Retrying it
    /// with the same event id is safe where the transport deduplicates
    /// (see [`crate::Capabilities::publish_dedup`]); otherwise it may store a
    /// duplicate, which at-least-once consumers tolerate.
    OutcomeUnknown,
    /// The connection to the broker is down; the client is reconnecting.
    Disconnected,
    /// The broker refused the operation (permissions, missing topic, quota).
    Rejected,
    /// The transport, subscription or delivery was closed.
    Closed,
    /// The transport cannot do this at all (see its [`crate::Capabilities`]).
    Unsupported,
    /// The configuration is invalid; the message names the setting.
    Config,
    /// A topic could not be created, described or updated.
    Topic,
    /// Anything else the broker client reported.
    Other,
}

impl ErrorKind {
    /// Whether retrying the same operation unchanged can succeed.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::Timeout | ErrorKind::OutcomeUnknown | ErrorKind::Disconnected
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            ErrorKind::InvalidTopic => "invalid topic",
            ErrorKind::TooLarge => "message too large",
            ErrorKind::Timeout => "timed out",
            ErrorKind::OutcomeUnknown => "outcome unknown",
            ErrorKind::Disconnected => "disconnected",
            ErrorKind::Rejected => "rejected by the broker",
            ErrorKind::Closed => "closed",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Topic => "topic configuration failed",
            ErrorKind::Other => "transport error",
        };
        f.write_str(name)
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from a transport: a matchable [`ErrorKind`], a message that says
/// what and where (transport, topic), and the client's error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{transport}: {kind}{}: {message}", topic.as_deref().map(|t| format!(" on topic `{t}`")).unwrap_or_default())]
pub struct TransportError {
    kind: ErrorKind,
    transport: &'static str,
    topic: Option<String>,
    message: String,
    #[source]
    source: Option<Source>,
}

impl TransportError {
    /// A new error of `kind` raised by `transport` (its [`crate::Transport::name`]).
    pub fn new(kind: ErrorKind, transport: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            transport,
            topic: None,
            message: message.into(),
            source: None,
        }
    }

    /// Names the topic the operation was about.
    pub fn with_topic(mut self, topic: impl Into<String>) -> Self {
        self.topic = Some(topic.into());
        self
    }

    /// Attaches the underlying client error.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The kind, to match on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether retrying the same operation unchanged can succeed.
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// The transport that raised the error.
    pub fn transport(&self) -> &'static str {
        self.transport
    }

    /// The topic the operation was about, when there was one.
    pub fn topic(&self) -> Option<&str> {
        self.topic.as_deref()
    }

    /// The human-readable detail, without the kind and topic prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Shorthand for a [`ErrorKind::Closed`] error.
    pub fn closed(transport: &'static str, what: &str) -> Self {
        Self::new(ErrorKind::Closed, transport, format!("{what} is closed"))
    }
}

impl From<evbus_topics::TopicsError> for TransportError {
    fn from(error: evbus_topics::TopicsError) -> Self {
        let message = error.to_string();
        TransportError::new(ErrorKind::Topic, "topics", message).with_source(error)
    }
}

/// The result type of transport operations.
pub type Result<T, E = TransportError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_transport_kind_and_topic() {
        let error = TransportError::new(ErrorKind::TooLarge, "memory", "1200 bytes > limit 1000")
            .with_topic("orders");
        assert_eq!(
            error.to_string(),
            "memory: message too large on topic `orders`: 1200 bytes > limit 1000"
        );
        assert!(!error.is_retryable());
    }

    #[test]
    fn only_transient_kinds_are_retryable() {
        assert!(ErrorKind::Timeout.is_retryable());
        assert!(ErrorKind::OutcomeUnknown.is_retryable());
        assert!(ErrorKind::Disconnected.is_retryable());
        for kind in [
            ErrorKind::InvalidTopic,
            ErrorKind::TooLarge,
            ErrorKind::Rejected,
            ErrorKind::Closed,
            ErrorKind::Unsupported,
            ErrorKind::Config,
        ] {
            assert!(!kind.is_retryable(), "{kind:?}");
        }
    }
}
