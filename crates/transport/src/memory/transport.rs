//! [`MemoryTransport`]: one client of a [`MemoryBroker`].

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use async_trait::async_trait;
use evbus_topics::{Persistence, TopicAdmin, TopicOptions};
use parking_lot::Mutex;

use super::{
    MemoryBroker, MemoryConfig, admin::MemoryAdmin, broker::Topic, group::MemberId,
    subscription::MemorySubscription,
};
use crate::{
    capabilities::Capabilities,
    connection::{ConnectionChange, ConnectionEvent},
    error::{ErrorKind, Result, TransportError},
    message::{OutgoingMessage, Receipt},
    topic::{TopicUse, validate_topic},
    transport::{ConnectionState, SubscribeOptions, Subscription, Transport},
};

pub(super) const NAME: &str = "memory";

/// A client of a [`MemoryBroker`]: publishes and subscribes in process.
///
/// Behaves like a real broker: messages are stored per topic in partition
/// logs, each consumer group has its own progress, deliveries are
/// redelivered on nack, on a dropped handle, when their member goes away and
/// after [`MemoryConfig::ack_wait`]. See the crate README for the defaults.
///
/// Clones are the same client: closing one closes them all. For separate
/// clients, [`connect`](MemoryBroker::connect) again.
///
/// ```
/// use evbus_transport::{OutgoingMessage, SubscribeOptions, Transport, memory::MemoryTransport};
///
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let transport = MemoryTransport::default();
/// transport.publish("orders", OutgoingMessage::new("hello").with_key("order-1")).await?;
/// let mut orders = transport.subscribe("orders", "billing", SubscribeOptions::default()).await?;
/// let delivery = orders.next_batch(10).await?.remove(0);
/// assert_eq!(delivery.payload, "hello");
/// delivery.ack().await?;
/// transport.close().await?;
/// # Ok::<_, evbus_transport::TransportError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct MemoryTransport {
    broker: MemoryBroker,
    pub(super) client: Arc<Client>,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("closed", &self.client.is_closed())
            .finish()
    }
}

impl Default for MemoryTransport {
    /// A transport on its own broker with the default configuration.
    fn default() -> Self {
        MemoryBroker::default().connect()
    }
}

/// What one transport owns: its open/closed state, its connection events
/// and its subscriptions.
pub(super) struct Client {
    closed: AtomicBool,
    events: tokio::sync::watch::Sender<ConnectionEvent>,
    members: Mutex<ahash::HashMap<MemberId, (Arc<Topic>, usize)>>,
}

impl Default for Client {
    fn default() -> Self {
        Self {
            closed: AtomicBool::new(false),
            events: tokio::sync::watch::Sender::new(ConnectionEvent::from_state(
                ConnectionState::Connected,
            )),
            members: Mutex::default(),
        }
    }
}

impl Client {
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    pub fn check_open(&self, what: &str) -> Result<()> {
        if self.is_closed() {
            return Err(TransportError::closed(NAME, what));
        }
        Ok(())
    }

    /// Reports `change` on the connection events, unless the client was
    /// closed (nothing follows `Closed`).
    pub fn connection_changed(&self, change: ConnectionChange, error: Option<String>) {
        self.events.send_if_modified(|event| {
            let open = event.state != ConnectionState::Closed;
            if open {
                *event = event.next(change, error);
            }
            open
        });
    }

    pub fn add_member(&self, member: MemberId, topic: Arc<Topic>, group: usize) {
        self.members.lock().insert(member, (topic, group));
    }

    /// Takes a member out of its group (its unsettled deliveries become due)
    /// and wakes the group's other members.
    pub fn remove_member(&self, member: MemberId) {
        let Some((topic, group)) = self.members.lock().remove(&member) else {
            return;
        };
        leave(&topic, group, member);
    }
}

pub(super) fn leave(topic: &Topic, group: usize, member: MemberId) {
    let left = topic.state.lock().groups[group].leave(member);
    if left {
        topic.notify.notify_waiters();
    }
}

impl MemoryTransport {
    /// A transport on a new broker of its own with `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the invalid setting.
    pub fn new(config: MemoryConfig) -> Result<Self> {
        Ok(MemoryBroker::new(config)?.connect())
    }

    pub(super) fn with_broker(broker: MemoryBroker) -> Self {
        Self {
            broker,
            client: Arc::default(),
        }
    }

    /// The broker this transport is connected to (connect more clients to it
    /// with [`MemoryBroker::connect`]).
    pub fn broker(&self) -> &MemoryBroker {
        &self.broker
    }

    fn no_wildcards(topic: &str) -> Result<(), String> {
        match topic.chars().find(|c| matches!(c, '*' | '>')) {
            Some(c) => Err(format!(
                "the memory transport has no wildcard subscriptions ({c:?})"
            )),
            None => Ok(()),
        }
    }

    /// Stores messages under one lock; one result per message, in order.
    fn store(&self, topic: &str, messages: Vec<OutgoingMessage>) -> Vec<Result<Receipt>> {
        let failed = |error: TransportError, n: usize| {
            (0..n)
                .map(|_| {
                    Err(TransportError::new(error.kind(), NAME, error.message()).with_topic(topic))
                })
                .collect()
        };
        if let Err(error) = self
            .client
            .check_open("the transport")
            .and_then(|()| self.validate_topic(topic, TopicUse::Publish))
            .and_then(|()| self.broker.inner.check_up(topic))
        {
            return failed(error, messages.len());
        }
        let max = self.broker.inner.config.max_message_bytes;
        let target = self.broker.inner.topic(topic);
        let now = Instant::now();
        let mut results = Vec::with_capacity(messages.len());
        let mut stored_any = false;
        {
            let mut state = target.state.lock();
            for message in messages {
                let size = message.wire_size();
                if size > max {
                    results.push(Err(TransportError::new(
                        ErrorKind::TooLarge,
                        NAME,
                        format!("{size} bytes > limit {max} (memory.max_message_bytes)"),
                    )
                    .with_topic(topic)));
                    continue;
                }
                if let Some(id) = &message.dedup_id
                    && let Some(position) = state.dedup.check(id, now)
                {
                    results.push(Ok(Receipt {
                        position,
                        duplicate: true,
                    }));
                    continue;
                }
                let dedup_id = message.dedup_id.clone();
                let position = state.log.append(message, now);
                if let Some(id) = dedup_id {
                    state.dedup.record(id, position, now);
                }
                stored_any = true;
                results.push(Ok(Receipt {
                    position,
                    duplicate: false,
                }));
            }
        }
        if stored_any {
            target.notify.notify_waiters();
        }
        results
    }
}

#[async_trait]
impl Transport for MemoryTransport {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self, topic: &str) -> Capabilities {
        let full = Capabilities::full(self.broker.inner.config.max_message_bytes);
        match self.broker.inner.persistence(topic) {
            // An ephemeral topic still redelivers while the broker runs, but
            // a restart drops its messages.
            Persistence::Ephemeral => Capabilities {
                persistent: false,
                ..full
            },
            _ => full,
        }
    }

    fn validate_topic(&self, topic: &str, usage: TopicUse) -> Result<()> {
        validate_topic(NAME, topic, usage, Some(Self::no_wildcards))
    }

    fn topic_admin(&self) -> Arc<dyn TopicAdmin> {
        Arc::new(MemoryAdmin::new(self.broker.clone()))
    }

    fn register_topic(&self, topic: &str, options: &TopicOptions) {
        self.broker.inner.register(topic, options);
    }

    fn connection_state(&self) -> ConnectionState {
        if self.client.is_closed() {
            ConnectionState::Closed
        } else if self.broker.inner.is_down() {
            ConnectionState::Reconnecting
        } else {
            ConnectionState::Connected
        }
    }

    async fn publish(&self, topic: &str, message: OutgoingMessage) -> Result<Receipt> {
        let mut results = self.store(topic, vec![message]);
        results.pop().unwrap_or_else(|| {
            Err(TransportError::new(ErrorKind::Other, NAME, "no publish result").with_topic(topic))
        })
    }

    async fn publish_batch(
        &self,
        topic: &str,
        messages: Vec<OutgoingMessage>,
    ) -> Vec<Result<Receipt>> {
        self.store(topic, messages)
    }

    async fn subscribe(
        &self,
        topic: &str,
        group: &str,
        options: SubscribeOptions,
    ) -> Result<Box<dyn Subscription>> {
        self.client.check_open("the transport")?;
        self.validate_topic(topic, TopicUse::Subscribe)?;
        if group.is_empty() {
            return Err(TransportError::new(
                ErrorKind::Config,
                NAME,
                "a consumer group name must not be empty",
            )
            .with_topic(topic));
        }
        let inner = &self.broker.inner;
        let target = inner.topic(topic);
        let member = inner.new_member_id();
        let index = {
            let mut state = target.state.lock();
            let state = &mut *state;
            let index = match state.group_index.get(group) {
                Some(&index) => index,
                None => {
                    state
                        .groups
                        .push(super::group::Group::new(&state.log, options.start_from));
                    let index = state.groups.len() - 1;
                    state.group_index.insert(group.to_owned(), index);
                    index
                }
            };
            state.groups[index].join(member);
            index
        };
        self.client.add_member(member, target.clone(), index);
        if self.client.is_closed() {
            // `close` ran while this member joined; it may have missed it.
            self.client.remove_member(member);
            return Err(TransportError::closed(NAME, "the transport"));
        }
        // A partition may have moved to the new member; wake the others too.
        target.notify.notify_waiters();
        Ok(Box::new(MemorySubscription::new(
            target,
            group,
            index,
            member,
            self.broker.inner.clone(),
            self.client.clone(),
        )))
    }

    async fn flush(&self) -> Result<()> {
        // Publishes are stored before they resolve: nothing is outstanding.
        self.client.check_open("the transport")
    }

    fn connection_events(&self) -> tokio::sync::watch::Receiver<ConnectionEvent> {
        self.client.events.subscribe()
    }

    async fn close(&self) -> Result<()> {
        self.client.closed.store(true, Ordering::SeqCst);
        self.client
            .connection_changed(ConnectionChange::Closed, None);
        let members: Vec<MemberId> = self.client.members.lock().keys().copied().collect();
        for member in members {
            self.client.remove_member(member);
        }
        Ok(())
    }
}
