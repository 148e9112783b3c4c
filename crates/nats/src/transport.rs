//! [`NatsTransport`]: the [`Transport`] over one NATS connection.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_nats::{Client, jetstream};
use async_trait::async_trait;
use evbus_topics::{TopicAdmin, TopicOptions};
use evbus_transport::{
    Backlog, Capabilities, ConnectionChange, ConnectionEvent, ConnectionState, OutgoingMessage,
    Receipt, Result, SubscribeOptions, Subscription, TopicUse, Transport, TransportError,
    validate_topic,
};
use parking_lot::Mutex;
use tokio::sync::{broadcast, watch};

use crate::{
    NAME,
    admin::NatsTopicAdmin,
    config::NatsConfig,
    connection::{self, NatsEvent},
    mapping,
    pull::PullShared,
    stream_probe::StreamProbe,
    topics::{Mode, TopicModes},
};

/// Room left in the server's `max_payload` for the headers evbus adds (key,
/// dedup id, header order) and the header block's framing.
const HEADER_RESERVE: usize = 1024;

/// How long `close` waits for the connection to drain before it lets go.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The NATS transport: one connection per bus, JetStream for persistent
/// topics and core NATS for ephemeral ones. See the crate docs.
///
/// Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct NatsTransport {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for NatsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsTransport")
            .field(
                "servers",
                &crate::redact::Servers(&self.inner.config.servers),
            )
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

/// What the transport's parts share.
pub(crate) struct Inner {
    pub(crate) config: NatsConfig,
    pub(crate) client: Client,
    pub(crate) jetstream: jetstream::Context,
    pub(crate) state: watch::Receiver<ConnectionState>,
    pub(crate) events: broadcast::Sender<NatsEvent>,
    /// The backend-neutral connection events.
    pub(crate) connection: Arc<watch::Sender<ConnectionEvent>>,
    pub(crate) topics: Arc<TopicModes>,
    /// Why publishes got no answer from any stream.
    pub(crate) stream_probe: StreamProbe,
    /// `true` once `close` has started: new operations fail, subscriptions end.
    pub(crate) closing: watch::Sender<bool>,
    /// Publishes hold it shared while they run; `flush` takes it exclusively
    /// to wait for every publish issued before it.
    pub(crate) publish_gate: tokio::sync::RwLock<()>,
    /// JetStream publishes sent and awaiting their ack.
    pub(crate) pending_acks: AtomicUsize,
    /// The pinned (ordered-mode) subscriptions, so `close` can hand their
    /// groups over at once.
    pub(crate) pinned: Mutex<Vec<std::sync::Weak<PullShared>>>,
    close_lock: tokio::sync::Mutex<bool>,
}

impl NatsTransport {
    /// Connects to the servers of `config`.
    ///
    /// # Errors
    /// [`Config`](evbus_transport::ErrorKind::Config) for an invalid
    /// configuration (the message names the setting),
    /// [`Rejected`](evbus_transport::ErrorKind::Rejected) for refused
    /// credentials, [`Disconnected`](evbus_transport::ErrorKind::Disconnected)
    /// or [`Timeout`](evbus_transport::ErrorKind::Timeout) when no server
    /// answers.
    pub async fn connect(config: NatsConfig) -> Result<Self> {
        config.validate()?;
        let connection = connection::connect(&config).await?;
        if !connection.client.server_info().jetstream {
            tracing::warn!(
                "the NATS server has JetStream disabled: only ephemeral (core NATS) topics work"
            );
        }
        let (closing, _) = watch::channel(false);
        Ok(Self {
            inner: Arc::new(Inner {
                topics: Arc::new(TopicModes::new(config.default_persistence)),
                stream_probe: StreamProbe::default(),
                config,
                client: connection.client,
                jetstream: connection.jetstream,
                state: connection.state,
                events: connection.events,
                connection: connection.connection,
                closing,
                publish_gate: tokio::sync::RwLock::new(()),
                pending_acks: AtomicUsize::new(0),
                pinned: Mutex::new(Vec::new()),
                close_lock: tokio::sync::Mutex::new(false),
            }),
        })
    }

    /// Connection events (lost, up again, reconnects exhausted, closed...),
    /// from now on.
    pub fn events(&self) -> broadcast::Receiver<NatsEvent> {
        self.inner.events.subscribe()
    }

    /// The connection state, to watch for changes.
    pub fn state_changes(&self) -> watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// JetStream publishes sent and still awaiting their ack: at most
    /// [`max_pending_acks`](NatsConfig::max_pending_acks).
    pub fn pending_publish_acks(&self) -> usize {
        self.inner.pending_acks.load(Ordering::Relaxed)
    }

    /// The configuration the transport was connected with.
    pub fn config(&self) -> &NatsConfig {
        &self.inner.config
    }

    /// The topic administration, typed (also available as
    /// `Arc<dyn TopicAdmin>` through [`Transport::topic_admin`]).
    pub fn nats_topic_admin(&self) -> NatsTopicAdmin {
        NatsTopicAdmin::new(&self.inner)
    }
}

impl Inner {
    /// `Closed` once the transport was closed or gave up reconnecting.
    pub(crate) fn ensure_open(&self) -> Result<()> {
        if *self.closing.borrow() {
            return Err(TransportError::closed(NAME, "the transport"));
        }
        if *self.state.borrow() == ConnectionState::Closed {
            return Err(TransportError::new(
                evbus_transport::ErrorKind::Closed,
                NAME,
                "the connection gave up reconnecting (max_reconnects); create a new transport",
            ));
        }
        Ok(())
    }

    pub(crate) fn max_message_bytes(&self) -> usize {
        self.client.max_payload().saturating_sub(HEADER_RESERVE)
    }

    pub(crate) fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()> {
        validate_topic(NAME, topic, usage, Some(mapping::subject_rule))?;
        if usage == TopicUse::Subscribe
            && topic.contains(['*', '>'])
            && self.topics.mode(topic) == Mode::JetStream
        {
            return Err(TransportError::new(
                evbus_transport::ErrorKind::InvalidTopic,
                NAME,
                "wildcards are only allowed on ephemeral (core NATS) topics: a JetStream \
                 subscription reads the stream of one topic",
            )
            .with_topic(topic));
        }
        Ok(())
    }

    async fn close(&self) -> Result<()> {
        let mut closed = self.close_lock.lock().await;
        if *closed {
            return Ok(());
        }
        self.closing.send_replace(true);
        let flushed = self.flush_publishes().await;
        let pinned: Vec<_> = self
            .pinned
            .lock()
            .drain(..)
            .filter_map(|weak| weak.upgrade())
            .collect();
        // A pull request of this transport still waiting at the server could
        // be pinned again right after the release: let those expire first
        // (at most fetch_max_wait, plus as much for the request's transit).
        if let Some(expiry) = pinned
            .iter()
            .filter_map(|s| s.pinned_request_expiry())
            .max()
        {
            tokio::time::sleep_until(expiry + self.config.fetch_max_wait).await;
        }
        for shared in pinned {
            shared.close();
        }
        let mut state = self.state.clone();
        let drained = match self.client.drain().await {
            Ok(()) => tokio::time::timeout(
                DRAIN_TIMEOUT,
                state.wait_for(|s| *s == ConnectionState::Closed),
            )
            .await
            .is_ok(),
            Err(_) => false,
        };
        if !drained {
            tracing::warn!("the NATS connection did not drain within 5s; dropping it");
        }
        *closed = true;
        // The client reports Closed when it drained; one that did not is
        // closed all the same.
        self.connection.send_if_modified(|event| {
            let open = event.state != ConnectionState::Closed;
            if open {
                *event = event.next(ConnectionChange::Closed, None);
            }
            open
        });
        flushed
    }
}

#[async_trait]
impl Transport for NatsTransport {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self, topic: &str) -> Capabilities {
        let max = self.inner.max_message_bytes();
        match self.inner.topics.mode(topic) {
            Mode::JetStream => Capabilities::full(max).with_publish_dedup(true),
            Mode::Core => Capabilities::at_most_once(max),
        }
    }

    fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()> {
        self.inner.validate_topic(topic, usage)
    }

    fn topic_admin(&self) -> Arc<dyn TopicAdmin> {
        Arc::new(self.nats_topic_admin())
    }

    fn register_topic(&self, topic: &str, options: &TopicOptions) {
        self.inner.topics.register(topic, options);
    }

    async fn backlog(&self, topic: &str, group: &str) -> Result<Backlog> {
        self.inner.backlog(topic, group).await
    }

    fn publish_in_flight(&self) -> usize {
        self.pending_publish_acks()
    }

    fn connection_events(&self) -> watch::Receiver<ConnectionEvent> {
        self.inner.connection.subscribe()
    }

    fn connection_state(&self) -> ConnectionState {
        if *self.inner.closing.borrow() {
            ConnectionState::Closed
        } else {
            *self.inner.state.borrow()
        }
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        self.inner.publish(topic, message).await
    }

    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>> {
        self.inner.publish_batch(topic, messages).await
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>> {
        crate::subscriber::subscribe(&self.inner, topic, group, options).await
    }

    async fn flush(&self) -> Result<()> {
        self.inner.ensure_open()?;
        self.inner.flush_publishes().await
    }

    async fn close(&self) -> Result<()> {
        self.inner.close().await
    }
}
