//! The facade: one `EventBus` wiring codec, transport, keyed pool and topics.

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use evbus_envelope::{Codec, CodecConfig, Envelope, codec};
use evbus_topics::{Outcome, TopicOptions, TopicRegistry};
use evbus_transport::{
    ConnectionEvent, ConnectionState, OutgoingMessage, Receipt, SubscribeOptions, TopicUse,
    Transport,
};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::{
    backend,
    config::BusConfig,
    context::DeliveryContext,
    detached::Detached,
    error::{BusError, Result},
    handler::{
        DeliveryMeta, HandlerResult, Message, context_handler, envelope_handler, raw_handler,
    },
    operations::{self, Ops},
    publish::{
        callbacks::{Published, PublishedCallback},
        rate_limit::PublishLimiter,
        results::{Origin, ResultHub},
    },
    report::{ErrorCallback, Reporter},
    shutdown::{self, Lifecycle},
    subscribe::{
        Consumer, DeadLetterSink, Job, Limits, Pool, Running, SubscriptionHandle,
        SubscriptionOptions, Target,
    },
    telemetry::{Metrics, Mode},
    tracing_otel,
};
use tracing::Instrument;

/// Publishes and consumes events; see the crate docs.
///
/// Cheap to clone: clones share one bus (handlers keep a clone to publish).
/// Dropping the last clone without [`close`](Self::close) starts a
/// best-effort shutdown in the background and logs a warning; only `close`
/// tells whether everything was settled and flushed.
#[derive(Clone)]
pub struct EventBus {
    pub(crate) inner: Arc<BusInner>,
    /// Shared by the user's clones only (the bus's own tasks hold `inner`),
    /// so its drop marks the last user handle gone.
    _owner: Arc<Owner>,
}

/// Starts a shutdown when the last user handle of a bus is dropped.
struct Owner(Arc<BusInner>);

impl Drop for Owner {
    fn drop(&mut self) {
        if !self.0.lifecycle.is_open() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                tracing::warn!(
                    "the last EventBus handle was dropped without close(): shutting down in \
                     the background; call close() to know that everything was settled"
                );
                let _entered = runtime.enter();
                shutdown::start(&self.0);
            }
            Err(_) => tracing::warn!(
                "the last EventBus handle was dropped without close() outside a tokio \
                 runtime: nothing was settled, the broker redelivers what was unsettled"
            ),
        }
    }
}

impl std::fmt::Debug for EventBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventBus")
            .field("service", &self.inner.config.service_name)
            .field("transport", &self.inner.transport.name())
            .finish_non_exhaustive()
    }
}

pub(crate) struct BusInner {
    pub(crate) config: BusConfig,
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) codec_config: CodecConfig,
    pub(crate) pool: Pool,
    pub(crate) dead_letters: Arc<DeadLetterSink>,
    codec: Arc<dyn Codec>,
    /// A codec the user plugged in: it encodes, and decodes every envelope
    /// subscription (instead of detecting the codec per message).
    pub(crate) custom_codec: Option<Arc<dyn Codec>>,
    reporter: Arc<Reporter>,
    topics: TopicRegistry,
    pub(crate) subscriptions: Mutex<Vec<Arc<Running>>>,
    next_subscription: AtomicU64,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) detached: Detached,
    pub(crate) ops: Arc<Ops>,
    limiter: Option<PublishLimiter>,
}

impl BusInner {
    pub(crate) fn report(&self, error: BusError) {
        self.reporter.report(error);
    }
}

/// Builds an [`EventBus`] from a [`BusConfig`], optionally with a transport
/// made elsewhere (several buses sharing one in-memory broker, a custom
/// transport) and an error callback.
#[must_use]
pub struct EventBusBuilder {
    config: BusConfig,
    transport: Option<Arc<dyn Transport>>,
    on_error: Option<ErrorCallback>,
    codec: Option<Arc<dyn Codec>>,
    on_published: Option<PublishedCallback>,
    on_connection: Option<operations::ConnectionCallback>,
}

impl EventBusBuilder {
    /// Encodes envelopes with this codec instead of
    /// [`BusConfig::codec`], and decodes every envelope subscription's
    /// messages with it (instead of detecting each message's codec).
    pub fn codec(mut self, codec: Arc<dyn Codec>) -> Self {
        self.codec = Some(codec);
        self
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: BusConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the service name (the default consumer group).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config.service_name = name.into();
        self
    }

    /// Uses this transport instead of connecting the configured backend.
    pub fn transport(mut self, transport: Arc<dyn Transport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Calls `callback` for every error no caller is waiting for: failed
    /// detached publishes, failed dead-letter publishes, failed settlements,
    /// fetch errors. Each is also logged and counted (metric
    /// `evbus_errors_total`).
    pub fn on_error(mut self, callback: impl Fn(&BusError) + Send + Sync + 'static) -> Self {
        self.on_error = Some(Arc::new(callback));
        self
    }

    /// Calls `callback` for every publish the broker confirmed, awaited or
    /// detached (opt-in: failures go to [`on_error`](Self::on_error) or to
    /// the caller). It runs on the publishing path: keep it short.
    pub fn on_published(
        mut self,
        callback: impl Fn(&Published<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.on_published = Some(Arc::new(callback));
        self
    }

    /// Calls `callback` with the transport's connection state when the bus
    /// starts, then on every change: disconnected (reconnecting),
    /// reconnected, closed, each with the reconnect count and the last
    /// error the backend reported. Callbacks run on a task of their own, in
    /// order; a slow callback sees the newest event next (its
    /// `reconnects` tells what it missed). What each backend can report:
    /// docs/operations.md.
    pub fn on_connection(
        mut self,
        callback: impl Fn(&ConnectionEvent) + Send + Sync + 'static,
    ) -> Self {
        self.on_connection = Some(Arc::new(callback));
        self
    }

    /// Connects the transport and starts the bus. Must run inside a tokio
    /// runtime.
    pub async fn build(self) -> Result<EventBus> {
        let config = self.config;
        let transport = match self.transport {
            Some(transport) => transport,
            None => backend::connect(&config).await?,
        };
        let mut codec_config = CodecConfig::default();
        codec_config.max_encoded_size = config.max_envelope_bytes;
        codec_config.source = config.service_name.clone();
        config.subscribe.validate()?;
        let custom_codec = self.codec;
        let codec = custom_codec
            .clone()
            .unwrap_or_else(|| codec(config.codec, &codec_config));

        let metrics = Arc::new(Metrics::new());
        let ops = Arc::new(Ops::new(config.operations.clone(), metrics.clone()));
        let reporter =
            Arc::new(Reporter::new(self.on_error, metrics).with_on_published(self.on_published));
        // Jobs apply the handler timeout and answer their last failure
        // themselves (dead-lettering while the pool holds the aggregate), so
        // the pool only retries what they hand back.
        let dead_letters = Arc::new(DeadLetterSink::new(
            transport.clone(),
            reporter.clone(),
            config.dead_letter.suffix.clone(),
            config.pool.retry.clone(),
            config
                .pool
                .handler_timeout
                .or(config.subscribe.handler_timeout),
            &config.pool.name,
            ops.dead_letter_callbacks.clone(),
        ));
        let mut pool_config = config.pool.clone();
        pool_config.handler_timeout = None;
        // Jobs retry in place themselves, as their subscription's policy
        // and failure hook say.
        pool_config.retry = evbus_keyed_pool::RetryPolicy::attempts(1);
        if pool_config.keepalive_interval.is_none() {
            pool_config.keepalive_interval = Some(Duration::from_secs(5));
        }
        let pool = Pool::builder(pool_config)
            .on_wait(|job: &Arc<Job>| job.keep_alive())
            .build(Job::run)
            .map_err(|error| BusError::config(format!("pool: {error}")))?;

        let limiter = (config.publish.rate_limit.as_ref())
            .map(PublishLimiter::new)
            .transpose()?;
        let detached = Detached::start(
            transport.clone(),
            reporter.clone(),
            config.publish.queue_capacity,
            config.publish.batch_max,
            (config.publish.results)
                .then(|| Arc::new(ResultHub::new(config.publish.results_capacity))),
        );
        let inner = Arc::new(BusInner {
            config,
            transport,
            codec_config,
            pool,
            dead_letters,
            codec,
            custom_codec,
            reporter,
            topics: TopicRegistry::new(),
            subscriptions: Mutex::new(Vec::new()),
            next_subscription: AtomicU64::new(0),
            lifecycle: Lifecycle::new(),
            detached,
            ops,
            limiter,
        });
        if let Some(callback) = self.on_connection {
            tokio::spawn(operations::follow_connection(
                inner.transport.connection_events(),
                callback,
            ));
        }
        tokio::spawn(operations::sample(
            Arc::downgrade(&inner),
            inner.ops.config.sample_interval,
            inner.ops.stop.clone(),
        ));
        Ok(EventBus {
            _owner: Arc::new(Owner(inner.clone())),
            inner,
        })
    }
}

impl EventBus {
    /// A builder with the default configuration (in-memory backend).
    pub fn builder() -> EventBusBuilder {
        EventBusBuilder {
            config: BusConfig::default(),
            transport: None,
            on_error: None,
            codec: None,
            on_published: None,
            on_connection: None,
        }
    }

    /// Connects the configured backend and starts the bus.
    pub async fn from_config(config: BusConfig) -> Result<Self> {
        Self::builder().config(config).build().await
    }

    /// The configuration the bus runs with.
    pub fn config(&self) -> &BusConfig {
        &self.inner.config
    }

    /// The transport, for what the bus does not wrap.
    pub fn transport(&self) -> &Arc<dyn Transport> {
        &self.inner.transport
    }

    /// The state of the broker connection.
    pub fn connection_state(&self) -> ConnectionState {
        self.inner.transport.connection_state()
    }

    /// Fails unless the bus is open: subscribing and topic configuration.
    fn ensure_open(&self) -> Result<()> {
        if !self.inner.lifecycle.is_open() {
            return Err(BusError::closed());
        }
        Ok(())
    }

    /// Fails once the bus is closed: publishing, which handlers still do
    /// while a close drains the pool.
    fn ensure_not_closed(&self) -> Result<()> {
        if self.inner.lifecycle.is_closed() {
            return Err(BusError::closed());
        }
        Ok(())
    }

    // ----- topics -----------------------------------------------------------

    /// Configures topics on the broker at start-up with the bus's topic
    /// policy ([`BusConfig::topics`]), and their dead-letter topics with the
    /// same options. Returns what was done for each. After this, publishing
    /// and subscribing never ask the broker about topics again.
    pub async fn configure_topics<I, S>(&self, topics: I) -> Result<Vec<(String, Outcome)>>
    where
        I: IntoIterator<Item = (S, TopicOptions)>,
        S: Into<String>,
    {
        self.ensure_open()?;
        let admin = self.inner.transport.topic_admin();
        let policy = &self.inner.config.topics;
        let mut outcomes = Vec::new();
        for (topic, options) in topics {
            let topic = topic.into();
            let dead_letter = self.inner.dead_letters.topic_for(&topic);
            for name in std::iter::once(topic).chain(dead_letter) {
                self.inner
                    .transport
                    .validate_topic(&name, TopicUse::Publish)?;
                let outcome =
                    evbus_topics::configure(admin.as_ref(), &name, &options, policy).await?;
                self.inner.transport.register_topic(&name, &options);
                self.inner.topics.set(&name, options.clone());
                outcomes.push((name, outcome));
            }
        }
        Ok(outcomes)
    }

    /// The options a topic was configured with on this bus.
    pub fn topic_config(&self, topic: &str) -> Option<TopicOptions> {
        self.inner.topics.get(topic)
    }

    /// Every topic configured on this bus, with its options.
    pub fn topic_configs(&self) -> Vec<(String, TopicOptions)> {
        self.inner.topics.list()
    }

    /// Forgets the local configuration of a topic. The topic on the broker
    /// is never deleted.
    pub fn remove_topic_config(&self, topic: &str) -> Option<TopicOptions> {
        self.inner.topics.remove(topic)
    }

    // ----- publishing -------------------------------------------------------

    /// Publishes raw bytes with no key (no ordering) and waits for the
    /// broker's receipt.
    pub async fn publish(&self, topic: &str, payload: impl Into<Bytes>) -> Result<Receipt> {
        self.publish_message(topic, OutgoingMessage::new(payload))
            .await
    }

    /// Publishes a message with its key and headers and waits for the
    /// broker's receipt.
    pub async fn publish_message(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        self.ensure_not_closed()?;
        // No topic check here: every transport's publish rejects an invalid
        // name with InvalidTopic before sending (a contract bullet the
        // conformance suite checks), so checking twice would only cost.
        let mut message = message;
        if let Some(limiter) = &self.inner.limiter {
            let waited = limiter.acquire(1).await;
            (self.inner.ops.metrics).publish_rate_limited(Mode::Awaited, waited);
        }
        let system = self.inner.transport.name();
        let span = tracing_otel::publish_span(system, topic, std::slice::from_mut(&mut message));
        let reporter = &self.inner.reporter;
        let event_id = reporter.wants_published().then(|| message.dedup_id.clone());
        let started = Instant::now();
        let publish = self.inner.transport.publish(topic, message);
        let result = publish.instrument(span).await;
        let (ok, failed) = (result.is_ok().into(), result.is_err().into());
        (self.inner.ops.metrics).published(Mode::Awaited, ok, failed, started.elapsed());
        if let (Ok(receipt), Some(event_id)) = (&result, event_id) {
            reporter.published(&Published {
                topic,
                event_id: event_id.as_deref(),
                receipt,
                detached: false,
            });
        }
        Ok(result?)
    }

    /// Encodes an envelope with the configured codec and publishes it with
    /// key = aggregate id, the Go SDK's `X-*` headers and the event id as
    /// dedup id; waits for the broker's receipt.
    ///
    /// Envelopes of one aggregate are stored in call order when each publish
    /// is awaited before the next starts (or they go in one
    /// [`publish_batch`](Self::publish_batch)).
    pub async fn publish_envelope(&self, topic: &str, envelope: &Envelope) -> Result<Receipt> {
        let message = self.encode(envelope)?;
        self.publish_message(topic, message).await
    }

    /// Publishes envelopes in one batch and waits for every outcome: one
    /// result per envelope, in input order. Envelopes of one aggregate are
    /// stored in batch order. An envelope that fails to encode fails alone.
    pub async fn publish_batch(
        &self,
        topic: &str,
        envelopes: &[Envelope],
    ) -> Result<Vec<Result<Receipt>>> {
        self.ensure_not_closed()?;
        self.inner
            .transport
            .validate_topic(topic, TopicUse::Publish)?;
        let mut results: Vec<Option<Result<Receipt>>> = Vec::with_capacity(envelopes.len());
        let mut messages = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            match self.encode(envelope) {
                Ok(message) => {
                    messages.push(message);
                    results.push(None);
                }
                Err(error) => results.push(Some(Err(error))),
            }
        }
        if let Some(limiter) = &self.inner.limiter {
            let waited = limiter.acquire(messages.len()).await;
            (self.inner.ops.metrics).publish_rate_limited(Mode::Awaited, waited);
        }
        let span = tracing_otel::publish_span(self.inner.transport.name(), topic, &mut messages);
        let event_ids: Vec<Option<String>> = if self.inner.reporter.wants_published() {
            messages.iter().map(|m| m.dedup_id.clone()).collect()
        } else {
            Vec::new()
        };
        let started = Instant::now();
        let sent = self.inner.transport.publish_batch(topic, messages);
        let mut sent = sent.instrument(span).await.into_iter();
        let slots_encoded: Vec<bool> = results.iter().map(Option::is_none).collect();
        let results: Vec<Result<Receipt>> = results
            .into_iter()
            .map(|slot| match slot {
                Some(failed) => failed,
                None => sent
                    .next()
                    .unwrap_or_else(|| {
                        Err(evbus_transport::TransportError::new(
                            evbus_transport::ErrorKind::Other,
                            self.inner.transport.name(),
                            "the transport returned fewer batch results than messages",
                        ))
                    })
                    .map_err(BusError::from),
            })
            .collect();
        let failed = results.iter().filter(|r| r.is_err()).count() as u64;
        let ok = results.len() as u64 - failed;
        if !event_ids.is_empty() {
            // The ids are those of the messages that reached the transport:
            // envelopes that failed to encode are skipped.
            let encoded = slots_encoded.iter().zip(&results).filter(|(e, _)| **e);
            for ((_, result), event_id) in encoded.zip(&event_ids) {
                if let Ok(receipt) = result {
                    self.inner.reporter.published(&Published {
                        topic,
                        event_id: event_id.as_deref(),
                        receipt,
                        detached: false,
                    });
                }
            }
        }
        (self.inner.ops.metrics).published(Mode::Awaited, ok, failed, started.elapsed());
        Ok(results)
    }

    /// Fire-and-forget: encodes and validates now (those errors are
    /// returned), queues the envelope and returns; a full queue makes it
    /// wait. Queued envelopes are sent in queue order, in batches; a send
    /// that fails reaches the error callback and the metric
    /// `evbus_publish_failures_total{mode="detached"}`, never nowhere.
    /// With [`PublishConfig::results`](crate::PublishConfig::results) on,
    /// every outcome also goes to a result stream
    /// ([`publish_results`](Self::publish_results),
    /// [`register_tenant`](Self::register_tenant)).
    pub async fn publish_detached(&self, topic: &str, envelope: &Envelope) -> Result<()> {
        self.ensure_not_closed()?;
        let detached = &self.inner.detached;
        let transport = &self.inner.transport;
        let queued_topic = detached.topic(topic, |topic| {
            transport.validate_topic(topic, TopicUse::Publish)
        })?;
        let mut message = self.encode(envelope)?;
        // Taken before queueing: the caller waits, as for a full queue.
        if let Some(limiter) = &self.inner.limiter {
            let waited = limiter.acquire(1).await;
            (self.inner.ops.metrics).publish_rate_limited(Mode::Detached, waited);
        }
        // The span covers the enqueue; the send happens later, in a batch.
        let system = self.inner.transport.name();
        tracing_otel::publish_span(system, topic, std::slice::from_mut(&mut message));
        let origin = detached.results().map(|_| Box::new(Origin::of(envelope)));
        detached.send(queued_topic, message, origin).await
    }

    /// Waits until every detached publish queued before the call was sent
    /// and every publish the transport has outstanding was resolved.
    pub async fn flush(&self) -> Result<()> {
        self.inner.detached.flush().await;
        Ok(self.inner.transport.flush().await?)
    }

    fn encode(&self, envelope: &Envelope) -> Result<OutgoingMessage> {
        let traced = tracing_otel::with_trace_id(envelope);
        let envelope = traced.as_ref().unwrap_or(envelope);
        let encoded = self.inner.codec.encode(envelope)?;
        Ok(OutgoingMessage {
            key: Some(encoded.key),
            headers: encoded.headers,
            payload: encoded.body,
            dedup_id: Some(envelope.event_id().to_owned()),
        })
    }

    // ----- subscribing ------------------------------------------------------

    /// Subscribes `handler` to raw messages of `topic` in the default group
    /// (see [`subscribe_with`](Self::subscribe_with)).
    pub async fn subscribe<F, Fut>(&self, topic: &str, handler: F) -> Result<SubscriptionHandle>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let group = self.default_group();
        self.subscribe_with(topic, &group, handler).await
    }

    /// Subscribes `handler` to raw messages of `topic` as a member of
    /// `group`. Messages are keyed by their aggregate id (header
    /// `X-Aggregate-ID` and friends, else the record key): one aggregate is
    /// handled in order, different aggregates in parallel; messages with no
    /// aggregate id run unordered.
    pub async fn subscribe_with<F, Fut>(
        &self,
        topic: &str,
        group: &str,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let options = SubscriptionOptions::new().group(group);
        self.start(topic, options, Target::Raw(raw_handler(handler)))
            .await
    }

    /// Subscribes `handler` to decoded envelopes of `topic` in the default
    /// group (see [`subscribe_envelope_with`](Self::subscribe_envelope_with)).
    pub async fn subscribe_envelope<F, Fut>(
        &self,
        topic: &str,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Envelope, DeliveryMeta) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let group = self.default_group();
        self.subscribe_envelope_with(topic, &group, handler).await
    }

    /// Subscribes `handler` to decoded envelopes of `topic` as a member of
    /// `group`. Each message's codec is detected, so protobuf and Go-JSON
    /// envelopes may share a topic. Envelopes of one aggregate are handled
    /// in order, different aggregates in parallel. Bytes that do not decode
    /// are dead-lettered without reaching the handler.
    pub async fn subscribe_envelope_with<F, Fut>(
        &self,
        topic: &str,
        group: &str,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Envelope, DeliveryMeta) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        let options = SubscriptionOptions::new().group(group);
        self.start(topic, options, Target::Envelope(envelope_handler(handler)))
            .await
    }

    /// Subscribes `handler` to raw messages of `topic` with its own
    /// options (group, start position, handler timeout, retry policy,
    /// dead-letter target, share of the pool, rate limit, failure hook);
    /// what `options` leaves unset is the bus's default. Otherwise as
    /// [`subscribe_with`](Self::subscribe_with).
    pub async fn subscribe_with_options<F, Fut>(
        &self,
        topic: &str,
        options: SubscriptionOptions,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Message) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.start(topic, options, Target::Raw(raw_handler(handler)))
            .await
    }

    /// Subscribes `handler` to decoded envelopes of `topic` with its own
    /// options (see [`subscribe_with_options`](Self::subscribe_with_options));
    /// otherwise as [`subscribe_envelope_with`](Self::subscribe_envelope_with).
    pub async fn subscribe_envelope_with_options<F, Fut>(
        &self,
        topic: &str,
        options: SubscriptionOptions,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Envelope, DeliveryMeta) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.start(topic, options, Target::Envelope(envelope_handler(handler)))
            .await
    }

    /// Subscribes `handler` to decoded envelopes of `topic` with the whole
    /// delivery context: the bytes as received, key, ordered headers,
    /// partition, offset or stream sequence, broker timestamp, delivery
    /// count and a payload hash computed when asked for. Otherwise as
    /// [`subscribe_envelope_with_options`](Self::subscribe_envelope_with_options).
    pub async fn subscribe_envelope_with_context<F, Fut>(
        &self,
        topic: &str,
        options: SubscriptionOptions,
        handler: F,
    ) -> Result<SubscriptionHandle>
    where
        F: Fn(Envelope, DeliveryContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HandlerResult> + Send + 'static,
    {
        self.start(topic, options, Target::Context(context_handler(handler)))
            .await
    }

    fn default_group(&self) -> String {
        let config = &self.inner.config;
        config
            .subscribe
            .group
            .clone()
            .unwrap_or_else(|| config.service_name.clone())
    }

    async fn start(
        &self,
        topic: &str,
        options: SubscriptionOptions,
        target: Target,
    ) -> Result<SubscriptionHandle> {
        self.ensure_open()?;
        let transport = &self.inner.transport;
        transport.validate_topic(topic, TopicUse::Subscribe)?;
        let config = &self.inner.config;
        let max_in_flight = options.max_in_flight.unwrap_or_else(|| {
            (config.subscribe).max_in_flight(config.pool.workers, config.pool.capacity)
        });
        let limits = Arc::new(Limits::new(max_in_flight, options.rate_limit)?);
        let sink = Arc::new(self.inner.dead_letters.for_subscription(&options));
        let group = match &options.group {
            Some(group) => group.clone(),
            None => self.default_group(),
        };
        let group = group.as_str();
        let subscription = transport
            .subscribe(
                topic,
                group,
                SubscribeOptions::default().start_from(options.start_from),
            )
            .await?;
        let consumer = Consumer {
            bus: self.inner.clone(),
            id: self.inner.next_subscription.fetch_add(1, Ordering::Relaxed),
            topic: topic.into(),
            group: group.into(),
            stats: (self.inner.ops).subscription(transport.name(), topic, group),
            target,
            stop: CancellationToken::new(),
            sink,
            limits,
        };
        let running = Arc::new(Running::spawn(consumer, subscription));
        {
            let mut subscriptions = self.inner.subscriptions.lock();
            subscriptions.retain(|s| !s.is_done());
            subscriptions.push(running.clone());
        }
        // A close that began meanwhile did not see this subscription.
        if !self.inner.lifecycle.is_open() {
            running.stop();
            running.join().await;
            return Err(BusError::closed());
        }
        Ok(SubscriptionHandle::new(running))
    }

    // ----- closing ------------------------------------------------------------

    /// Closes the bus, in this order: stop taking from brokers; drain the
    /// pool (queued and running handlers finish; publishing still works
    /// meanwhile, because handlers publish); ack or commit what finished,
    /// dead-letter what failed, nack what was given up at the deadline (with
    /// every later queued message of its aggregate); close the
    /// subscriptions; flush detached and outstanding publishes; close the
    /// connection. Afterwards every call returns
    /// [`Closed`](crate::BusErrorKind::Closed), and no task of the bus is
    /// left running.
    ///
    /// The whole close ends within [`BusConfig::close_timeout`], each phase
    /// having a share of it (handlers 3/5, settling 1/5, flushing and
    /// closing the connection the rest), also while the broker is down;
    /// what is not settled in time is redelivered by the broker. Publishes
    /// whose outcome is still unknown at the deadline make it return an
    /// error.
    ///
    /// The shutdown belongs to the bus: dropping this future (a timeout
    /// around it) does not stop it, and every call, concurrent or later,
    /// waits for the same shutdown and returns its outcome.
    pub async fn close(&self) -> Result<()> {
        shutdown::close(&self.inner).await
    }
}
