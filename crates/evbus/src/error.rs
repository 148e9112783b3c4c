//! The one error type of the bus.

use std::fmt;

use evbus_envelope::EnvelopeError;
use evbus_topics::TopicsError;
use evbus_transport::{ErrorKind as TransportKind, TransportError};

/// What went wrong, as a caller matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BusErrorKind {
    /// The transport failed; the inner kind says how.
    Transport(TransportKind),
    /// An envelope broke a validation rule, or bytes could not be decoded.
    Envelope,
    /// Topic configuration failed or found drift it must not ignore.
    Topic,
    /// The configuration is invalid; the message names the setting.
    Config,
    /// The bus is closed.
    Closed,
    /// Something the bus itself did not expect; the message says what. The
    /// message involved is redelivered.
    Internal,
}

impl fmt::Display for BusErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BusErrorKind::Transport(kind) => write!(f, "transport: {kind}"),
            BusErrorKind::Envelope => f.write_str("envelope"),
            BusErrorKind::Topic => f.write_str("topic configuration"),
            BusErrorKind::Config => f.write_str("configuration"),
            BusErrorKind::Closed => f.write_str("closed"),
            BusErrorKind::Internal => f.write_str("internal"),
        }
    }
}

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from the bus: a matchable [`BusErrorKind`], a message that says
/// what and where, and the underlying error as its source.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BusError {
    kind: BusErrorKind,
    retryable: bool,
    message: String,
    #[source]
    source: Option<Source>,
}

impl BusError {
    pub(crate) fn new(kind: BusErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            retryable: false,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn closed() -> Self {
        Self::new(BusErrorKind::Closed, "the event bus is closed")
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(BusErrorKind::Config, message)
    }

    pub(crate) fn with_retryable(mut self, retryable: bool) -> Self {
        self.retryable = retryable;
        self
    }

    /// Prefixes the message with what the bus was doing.
    pub(crate) fn context(mut self, doing: impl std::fmt::Display) -> Self {
        self.message = format!("{doing}: {}", self.message);
        self
    }

    /// The kind, to match on.
    pub fn kind(&self) -> BusErrorKind {
        self.kind
    }

    /// Whether retrying the same operation unchanged can succeed.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

impl From<TransportError> for BusError {
    fn from(error: TransportError) -> Self {
        let kind = match error.kind() {
            TransportKind::Closed => BusErrorKind::Closed,
            other => BusErrorKind::Transport(other),
        };
        Self {
            kind,
            retryable: error.is_retryable(),
            message: error.to_string(),
            source: Some(Box::new(error)),
        }
    }
}

impl From<EnvelopeError> for BusError {
    fn from(error: EnvelopeError) -> Self {
        Self {
            kind: BusErrorKind::Envelope,
            retryable: false,
            message: format!("envelope: {error}"),
            source: Some(Box::new(error)),
        }
    }
}

impl From<TopicsError> for BusError {
    fn from(error: TopicsError) -> Self {
        Self {
            kind: BusErrorKind::Topic,
            retryable: error.is_retryable(),
            message: format!("topics: {error}"),
            source: Some(Box::new(error)),
        }
    }
}

/// The result type of bus operations.
pub type Result<T, E = BusError> = std::result::Result<T, E>;
