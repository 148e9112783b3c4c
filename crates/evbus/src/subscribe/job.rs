//! The unit of work the keyed pool runs: one delivery, its handler, and its
//! dead-letter step. Dead-lettering happens inside the job, while the pool
//! still holds the aggregate's key, so a later event of the aggregate never
//! runs before an earlier one was handled or stored on the dead-letter
//! topic.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Instant, SystemTime},
};

use bytes::Bytes;
use evbus_envelope::Envelope;
use evbus_transport::{Headers, Lease, dead_letter::Reason, ownership::Fence};
use futures::{FutureExt, future::BoxFuture};
use parking_lot::Mutex;

use super::{dead_letter::DeadLetterSink, failure, options::FailureAction};
use crate::context::DeliveryContext;
use crate::handler::{
    ContextHandler, DeliveryMeta, EnvelopeHandler, HandlerError, HandlerResult, Message, RawHandler,
};
use crate::{operations::SubscriptionStats, tracing_otel};
use tracing::Instrument;

/// The pool's key: one subscription's aggregate, so two subscriptions of the
/// same aggregate never hold each other back.
/// The subscription and the aggregate. Shared, not owned: the pool keeps a
/// copy of the key per queued job and a submit that finds the pool full is
/// retried with another, so a clone must not allocate.
pub(crate) type PoolKey = (u64, Arc<str>);

/// The pool of a bus: every subscription's jobs share it.
pub(crate) type Pool = evbus_keyed_pool::KeyedPool<PoolKey, Arc<Job>, Verdict, HandlerError>;

/// How a job ended, for the settler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The handler succeeded: ack.
    Handled,
    /// A copy is stored on the dead-letter topic: ack.
    DeadLettered,
    /// Given up on with no dead-letter topic configured: nack, so the broker
    /// redelivers it later.
    Unhandled,
    /// Not run (or not run again): the subscription lost the partition the
    /// delivery came from. Neither acked, nacked nor dead-lettered: the
    /// partition's new owner receives it.
    Fenced,
}

/// A delivery as received: what a dead-letter copy is made of.
pub(crate) struct Source {
    pub key: Option<String>,
    pub headers: Headers,
    pub payload: Bytes,
    pub meta: DeliveryMeta,
    /// When it was fetched, for the queue-time metric.
    pub fetched: Instant,
    pub stats: Arc<SubscriptionStats>,
    /// The message's place in its subscription's share of the pool, given
    /// back when the job is dropped.
    #[expect(dead_code, reason = "held, never read: dropping it frees the slot")]
    pub slot: tokio::sync::OwnedSemaphorePermit,
}

// Jobs live behind an `Arc`, so the size difference costs nothing; boxing the
// envelope would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Handler {
    Raw(RawHandler),
    Envelope(EnvelopeHandler, Envelope),
    Context(ContextHandler, Envelope),
    /// Dead-letter without running a handler (undecodable bytes, too many
    /// broker deliveries).
    GiveUp(Reason, String),
}

/// One delivery and what runs it. Shared (`Arc`) because the pool runs it
/// again on retry and the lease keeper reads it while it waits.
pub(crate) struct Job {
    handler: Handler,
    source: Source,
    lease: Lease,
    /// Whether the subscription still owns the delivery's partition.
    fence: Fence,
    sink: Arc<DeadLetterSink>,
    attempts: AtomicU32,
    first_failure: Mutex<Option<SystemTime>>,
}

impl Job {
    pub(crate) fn new(
        handler: Handler,
        source: Source,
        lease: Lease,
        fence: Fence,
        sink: Arc<DeadLetterSink>,
    ) -> Self {
        Self {
            handler,
            source,
            lease,
            fence,
            sink,
            attempts: AtomicU32::new(0),
            first_failure: Mutex::new(None),
        }
    }

    /// Runs the handler until it succeeds or the failure is answered:
    /// retried in place (the pool holds the aggregate, so its later
    /// messages wait), dead-lettered, or skipped, as the subscription's
    /// failure hook or retry policy decides. Never hands a failure back to
    /// the pool.
    pub(crate) fn run(self: Arc<Self>) -> BoxFuture<'static, Result<Verdict, HandlerError>> {
        Box::pin(async move { Ok(self.attempts().await) })
    }

    async fn attempts(&self) -> Verdict {
        // Checked before every attempt, retries included, and before a
        // dead-letter copy: once the partition moved, its new owner handles
        // this delivery and later ones of its aggregate, so running it here
        // would run it beside or after them, and the new owner decides for
        // itself whether it fails for good.
        if self.is_fenced() {
            return Verdict::Fenced;
        }
        if let Handler::GiveUp(reason, error) = &self.handler {
            let first = *self
                .first_failure
                .lock()
                .get_or_insert_with(SystemTime::now);
            return self
                .sink
                .dead_letter(&self.source, *reason, error, 0, first)
                .await;
        }
        loop {
            if self.is_fenced() {
                return Verdict::Fenced;
            }
            let attempt = self.attempts.fetch_add(1, Ordering::Relaxed) + 1;
            let failure = match self.timed_call(attempt).await {
                Ok(()) => return Verdict::Handled,
                Err(failure) => failure,
            };
            let first = *self
                .first_failure
                .lock()
                .get_or_insert_with(SystemTime::now);
            if self.is_fenced() {
                return Verdict::Fenced;
            }
            match failure::decide(&self.sink, &failure, attempt, &self.source.meta) {
                FailureAction::Retry => {
                    self.sink.retried();
                    tokio::time::sleep(self.sink.retry().backoff(attempt)).await;
                }
                FailureAction::RetryAfter(wait) => {
                    self.sink.retried();
                    tokio::time::sleep(wait).await;
                }
                FailureAction::Skip => {
                    let meta = &self.source.meta;
                    tracing::warn!(topic = %meta.topic, position = %meta.position,
                        error = %failure, attempt, "message skipped by the failure hook: acked unhandled");
                    return Verdict::Handled;
                }
                FailureAction::DeadLetter => {
                    let error = failure.to_string();
                    let reason = Reason::HandlerFailed;
                    return self
                        .sink
                        .dead_letter(&self.source, reason, &error, attempt, first)
                        .await;
                }
            }
        }
    }

    async fn timed_call(&self, attempt: u32) -> HandlerResult {
        let started = Instant::now();
        let source = &self.source;
        let span = tracing_otel::process_span(source.stats.system, &source.meta, &source.headers);
        let result = self.call().instrument(span).await;
        let (fetched, stored) = (self.source.fetched, self.source.meta.timestamp);
        (self.source.stats).attempted(fetched, stored, started, attempt == 1);
        result
    }

    /// Calls the handler once, turning a panic into a permanent failure and
    /// a hung handler into a retryable one.
    async fn call(&self) -> HandlerResult {
        let source = &self.source;
        // A handler may panic while it is called, before it returns its
        // future: that panic is caught here too, or it would escape the job
        // and the aggregate's next event would run before this one was
        // answered.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| match &self.handler {
            Handler::Raw(handler) => Some(handler(Message {
                key: source.key.clone(),
                headers: source.headers.clone(),
                payload: source.payload.clone(),
                meta: source.meta.clone(),
            })),
            Handler::Envelope(handler, envelope) => {
                Some(handler(envelope.clone(), source.meta.clone()))
            }
            Handler::Context(handler, envelope) => Some(handler(
                envelope.clone(),
                DeliveryContext::new(
                    source.meta.clone(),
                    source.key.clone(),
                    source.headers.clone(),
                    source.payload.clone(),
                ),
            )),
            Handler::GiveUp(..) => None,
        }));
        let call = match called {
            Ok(Some(call)) => call,
            Ok(None) => return Ok(()),
            Err(panic) => return Err(panicked(panic)),
        };
        let guarded = AssertUnwindSafe(call).catch_unwind();
        let outcome = match self.sink.handler_timeout() {
            Some(limit) => match tokio::time::timeout(limit, guarded).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    return Err(HandlerError::msg(format!(
                        "handler timed out after {limit:?}"
                    )));
                }
            },
            None => guarded.await,
        };
        outcome.unwrap_or_else(|panic| Err(panicked(panic)))
    }

    /// Whether the partition the delivery came from is no longer ours.
    fn is_fenced(&self) -> bool {
        let fenced = !self.fence.is_current();
        if fenced {
            self.source.stats.metrics.fenced.increment(1);
            tracing::debug!(
                topic = %self.source.meta.topic,
                group = %self.source.meta.group,
                position = %self.source.meta.position,
                epoch = self.fence.epoch(),
                "delivery dropped: its partition moved to another member"
            );
        }
        fenced
    }

    /// Extends the delivery's broker lease (called while it waits or runs).
    pub(crate) fn keep_alive(&self) {
        self.lease.keep_alive();
    }
}

/// A handler's panic as a permanent failure: running it again would panic
/// again.
fn panicked(panic: Box<dyn std::any::Any + Send>) -> HandlerError {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic payload".into());
    HandlerError::permanent(format!("handler panicked: {message}"))
}
