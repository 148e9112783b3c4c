//! The unit of work the keyed pool runs: one delivery with its handler.

use std::sync::Arc;

use bytes::Bytes;
use evbus_envelope::Envelope;
use evbus_transport::{Headers, Lease};
use futures::future::BoxFuture;

use crate::handler::{
    DeliveryMeta, EnvelopeHandler, HandlerError, HandlerResult, Message, RawHandler,
};

/// The pool's key: one subscription's aggregate, so two subscriptions of the
/// same aggregate never hold each other back.
pub(crate) type PoolKey = (u64, String);

/// The pool of a bus: every subscription's jobs share it.
pub(crate) type Pool = evbus_keyed_pool::KeyedPool<PoolKey, Arc<Job>, (), HandlerError>;

/// A delivery as received: what a dead-letter copy is made of.
pub(crate) struct Source {
    pub key: Option<String>,
    pub headers: Headers,
    pub payload: Bytes,
    pub meta: DeliveryMeta,
}

// Jobs live behind an `Arc`, so the size difference costs nothing; boxing the
// envelope would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Handler {
    Raw(RawHandler),
    Envelope(EnvelopeHandler, Envelope),
}

/// One delivery and the handler that runs it. Shared (`Arc`) because the pool
/// runs it again on retry and the lease keeper reads it while it waits.
pub(crate) struct Job {
    handler: Handler,
    source: Source,
    lease: Lease,
}

impl Job {
    pub(crate) fn new(handler: Handler, source: Source, lease: Lease) -> Self {
        Self {
            handler,
            source,
            lease,
        }
    }

    /// Runs one attempt. Each attempt gets its own copy of the input; the
    /// payload is shared `Bytes`, so copies are cheap.
    pub(crate) fn run(&self) -> BoxFuture<'static, HandlerResult> {
        let source = &self.source;
        match &self.handler {
            Handler::Raw(handler) => handler(Message {
                key: source.key.clone(),
                headers: source.headers.clone(),
                payload: source.payload.clone(),
                meta: source.meta.clone(),
            }),
            Handler::Envelope(handler, envelope) => handler(envelope.clone(), source.meta.clone()),
        }
    }

    /// Extends the delivery's broker lease (called while it waits or runs).
    pub(crate) fn keep_alive(&self) {
        self.lease.keep_alive();
    }

    pub(crate) fn source(&self) -> &Source {
        &self.source
    }
}
