//! What handlers receive and return.

use std::{fmt, future::Future, sync::Arc};

use bytes::Bytes;
use evbus_envelope::Envelope;
use evbus_transport::{Headers, Position};
use futures::future::BoxFuture;

use crate::context::DeliveryContext;

/// Where a message came from and how often the broker delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryMeta {
    /// The topic it was consumed from.
    pub topic: Arc<str>,
    /// The consumer group consuming it.
    pub group: Arc<str>,
    /// How often the broker has delivered it, this time included (1 on the
    /// first delivery; a redelivery may repeat an event already handled).
    pub delivery_count: u32,
    /// Its position on the broker.
    pub position: Position,
    /// When the broker stored it, where the broker keeps a timestamp (see
    /// [`Delivery::timestamp`](evbus_transport::Delivery::timestamp)).
    pub timestamp: Option<std::time::SystemTime>,
}

/// A raw message as a [`subscribe`](crate::EventBus::subscribe) handler sees
/// it.
#[derive(Debug, Clone)]
pub struct Message {
    /// Its ordering key (the aggregate id), when it has one.
    pub key: Option<String>,
    /// Its headers, as sent.
    pub headers: Headers,
    /// Its payload.
    pub payload: Bytes,
    /// Delivery metadata.
    pub meta: DeliveryMeta,
}

/// A handler's failure.
///
/// Any `std::error::Error` converts into it with `?` and is retried as the
/// bus's retry policy allows; [`HandlerError::permanent`] skips the retries
/// and dead-letters the message at once.
pub struct HandlerError {
    error: Box<dyn std::error::Error + Send + Sync + 'static>,
    permanent: bool,
}

impl HandlerError {
    /// A failure worth retrying, from a message.
    pub fn msg(message: impl fmt::Display) -> Self {
        Self {
            error: message.to_string().into(),
            permanent: false,
        }
    }

    /// A failure that retrying cannot fix (the event is invalid for this
    /// handler): the message is dead-lettered without further attempts.
    pub fn permanent(error: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self {
            error: error.into(),
            permanent: true,
        }
    }

    /// Whether the failure was marked permanent.
    pub fn is_permanent(&self) -> bool {
        self.permanent
    }

    /// The underlying error.
    pub fn error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.error
    }
}

impl<E: std::error::Error + Send + Sync + 'static> From<E> for HandlerError {
    fn from(error: E) -> Self {
        Self {
            error: Box::new(error),
            permanent: false,
        }
    }
}

impl fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerError")
            .field("error", &self.error)
            .field("permanent", &self.permanent)
            .finish()
    }
}

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

/// What a handler returns.
pub type HandlerResult = Result<(), HandlerError>;

pub(crate) type RawHandler =
    Arc<dyn Fn(Message) -> BoxFuture<'static, HandlerResult> + Send + Sync>;
pub(crate) type EnvelopeHandler =
    Arc<dyn Fn(Envelope, DeliveryMeta) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

pub(crate) type ContextHandler =
    Arc<dyn Fn(Envelope, DeliveryContext) -> BoxFuture<'static, HandlerResult> + Send + Sync>;

pub(crate) fn context_handler<F, Fut>(handler: F) -> ContextHandler
where
    F: Fn(Envelope, DeliveryContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |envelope, context| Box::pin(handler(envelope, context)))
}

pub(crate) fn raw_handler<F, Fut>(handler: F) -> RawHandler
where
    F: Fn(Message) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |message| Box::pin(handler(message)))
}

pub(crate) fn envelope_handler<F, Fut>(handler: F) -> EnvelopeHandler
where
    F: Fn(Envelope, DeliveryMeta) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HandlerResult> + Send + 'static,
{
    Arc::new(move |envelope, meta| Box::pin(handler(envelope, meta)))
}
