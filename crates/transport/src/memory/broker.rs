//! The shared broker: topics, their logs and groups, and the simulated
//! restart.

use std::{
    collections::VecDeque,
    sync::{
        Arc, Weak,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use evbus_topics::{Persistence, TopicOptions};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use super::{
    MemoryConfig, MemoryTransport,
    group::{Group, MemberId},
    log::{Limits, TopicLog},
    transport::Client,
};
use crate::{
    connection::ConnectionChange,
    error::{ErrorKind, Result, TransportError},
    message::Position,
};

/// An in-process broker: topics with partition logs, consumer groups,
/// redelivery and retention. Cheap to clone (all clones share one broker).
///
/// Connect several [`MemoryTransport`]s to one broker to run several bus
/// instances (for example two members of a consumer group) in one process.
///
/// ```
/// use evbus_transport::memory::{MemoryBroker, MemoryConfig};
///
/// let broker = MemoryBroker::new(MemoryConfig::default()).unwrap();
/// let first = broker.connect();
/// let second = broker.connect();
/// # drop((first, second));
/// ```
#[derive(Clone, Default)]
pub struct MemoryBroker {
    pub(super) inner: Arc<BrokerInner>,
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker")
            .field("config", &self.inner.config)
            .field("topics", &self.inner.topics.read().len())
            .finish()
    }
}

#[derive(Default)]
pub(super) struct BrokerInner {
    pub config: MemoryConfig,
    topics: RwLock<ahash::HashMap<String, Arc<Topic>>>,
    /// Options recorded by `register_topic`, used when the topic is created.
    registered: Mutex<ahash::HashMap<String, TopicOptions>>,
    /// True during a simulated restart's outage.
    down: AtomicBool,
    next_member: AtomicU64,
    /// The connected clients, told of a restart through their connection
    /// events; weak, so a dropped transport is not kept alive.
    clients: Mutex<Vec<Weak<Client>>>,
}

impl MemoryBroker {
    /// A broker with `config`.
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming the invalid setting.
    pub fn new(config: MemoryConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(BrokerInner {
                config,
                ..BrokerInner::default()
            }),
        })
    }

    /// A new client of this broker.
    pub fn connect(&self) -> MemoryTransport {
        let transport = MemoryTransport::with_broker(self.clone());
        let mut clients = self.inner.clients.lock();
        clients.retain(|client| client.strong_count() > 0);
        clients.push(Arc::downgrade(&transport.client));
        transport
    }

    /// The broker's configuration.
    pub fn config(&self) -> &MemoryConfig {
        &self.inner.config
    }

    /// Simulates a broker restart with an outage of `outage`.
    ///
    /// During the outage publishes and settlements fail with the retryable
    /// [`ErrorKind::Disconnected`], subscriptions wait, and the transports'
    /// [`connection_state`](crate::Transport::connection_state) is
    /// `Reconnecting`; their connection events report `Disconnected` when
    /// the outage starts and `Reconnected` when it ends. Every delivery in
    /// flight is returned for redelivery.
    /// Persistent topics keep their messages and every group's acked
    /// progress; ephemeral topics lose their messages. Returns when the
    /// broker accepts requests again (also if the future is dropped early).
    pub async fn restart(&self, outage: Duration) {
        struct Up<'a>(&'a BrokerInner);
        impl Drop for Up<'_> {
            fn drop(&mut self) {
                self.0.down.store(false, Ordering::SeqCst);
                self.0.tell_clients(ConnectionChange::Reconnected, None);
                for topic in self.0.all_topics() {
                    topic.notify.notify_waiters();
                }
            }
        }
        self.inner.down.store(true, Ordering::SeqCst);
        let _up = Up(&self.inner);
        self.inner.tell_clients(
            ConnectionChange::Disconnected,
            Some("the broker is restarting".to_owned()),
        );
        for topic in self.inner.all_topics() {
            let mut state = topic.state.lock();
            let ephemeral = state.persistence == Persistence::Ephemeral;
            if ephemeral {
                state.log.clear();
            }
            for group in &mut state.groups {
                if ephemeral {
                    group.forget_unsettled();
                } else {
                    group.return_all_inflight();
                }
            }
        }
        tokio::time::sleep(outage).await;
    }
}

impl BrokerInner {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::SeqCst)
    }

    /// Fails with a retryable error while the broker is restarting.
    pub fn check_up(&self, topic: &str) -> Result<()> {
        if self.is_down() {
            return Err(TransportError::new(
                ErrorKind::Disconnected,
                "memory",
                "the broker is restarting",
            )
            .with_topic(topic));
        }
        Ok(())
    }

    /// Reports `change` on every open client's connection events.
    fn tell_clients(&self, change: ConnectionChange, error: Option<String>) {
        let clients: Vec<Arc<Client>> = (self.clients.lock().iter())
            .filter_map(Weak::upgrade)
            .collect();
        for client in clients {
            client.connection_changed(change, error.clone());
        }
    }

    pub fn new_member_id(&self) -> MemberId {
        self.next_member.fetch_add(1, Ordering::Relaxed)
    }

    fn all_topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    pub fn find(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.read().get(name).cloned()
    }

    /// The topic, created with its registered options (or the defaults) on
    /// first use.
    pub fn topic(&self, name: &str) -> Arc<Topic> {
        if let Some(topic) = self.find(name) {
            return topic;
        }
        let options = self
            .registered
            .lock()
            .get(name)
            .cloned()
            .unwrap_or_default();
        let mut topics = self.topics.write();
        topics
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Topic::new(name, &options, &self.config)))
            .clone()
    }

    /// Creates a topic; `false` when it already exists.
    pub fn create(&self, name: &str, options: &TopicOptions) -> bool {
        let mut topics = self.topics.write();
        if topics.contains_key(name) {
            return false;
        }
        topics.insert(
            name.to_owned(),
            Arc::new(Topic::new(name, options, &self.config)),
        );
        true
    }

    /// The persistence a topic has, or will have when first used.
    pub fn persistence(&self, name: &str) -> Persistence {
        if let Some(topic) = self.find(name) {
            return topic.state.lock().persistence;
        }
        let registered = self.registered.lock().get(name).map(|o| o.persistence);
        registered
            .unwrap_or(Persistence::Auto)
            .resolve(self.config.default_persistence)
    }

    pub fn register(&self, name: &str, options: &TopicOptions) {
        self.registered
            .lock()
            .insert(name.to_owned(), options.clone());
    }
}

/// One topic: its state behind one short-held lock, and the signal members
/// wait on.
pub(super) struct Topic {
    pub name: Arc<str>,
    pub state: Mutex<TopicState>,
    /// Woken when there may be something new for a member: a publish, a
    /// redelivery, a partition changing hands, the end of an outage.
    pub notify: Notify,
}

pub(super) struct TopicState {
    /// The effective options, as `describe` reports them.
    pub options: TopicOptions,
    pub persistence: Persistence,
    pub log: TopicLog,
    pub groups: Vec<Group>,
    pub group_index: ahash::HashMap<String, usize>,
    pub dedup: Dedup,
}

impl Topic {
    fn new(name: &str, options: &TopicOptions, config: &MemoryConfig) -> Self {
        let partitions = options.partitions.unwrap_or(config.partitions).max(1);
        let persistence = options.persistence.resolve(config.default_persistence);
        let mut effective = options.clone();
        effective.partitions = Some(partitions);
        effective.persistence = persistence;
        // Meaningless in memory: reported as unknown, never drift.
        effective.replicas = None;
        effective.compression = None;
        Self {
            name: name.into(),
            state: Mutex::new(TopicState {
                log: TopicLog::new(partitions, Limits::from_options(&effective)),
                options: effective,
                persistence,
                groups: Vec::new(),
                group_index: ahash::HashMap::default(),
                dedup: Dedup::new(config.dedup_window),
            }),
            notify: Notify::new(),
        }
    }
}

impl TopicState {
    /// Changes the updatable options and applies the new limits now.
    pub fn update(&mut self, options: &TopicOptions, now: Instant) {
        let effective = &mut self.options;
        if options.persistence != Persistence::Auto {
            effective.persistence = options.persistence;
            self.persistence = options.persistence;
        }
        if options.retention.is_some() {
            effective.retention = options.retention;
        }
        if options.max_bytes.is_some() {
            effective.max_bytes = options.max_bytes;
        }
        if options.max_messages.is_some() {
            effective.max_messages = options.max_messages;
        }
        if options.description.is_some() {
            effective.description.clone_from(&options.description);
        }
        let limits = Limits::from_options(effective);
        self.log.set_limits(limits, now);
    }
}

/// Remembers dedup ids for a window.
pub(super) struct Dedup {
    window: Duration,
    ids: ahash::HashMap<String, Position>,
    order: VecDeque<(Instant, String)>,
}

impl Dedup {
    fn new(window: Duration) -> Self {
        Self {
            window,
            ids: ahash::HashMap::default(),
            order: VecDeque::new(),
        }
    }

    /// The position of an earlier message with `id` still in the window.
    pub fn check(&mut self, id: &str, now: Instant) -> Option<Position> {
        while let Some((at, _)) = self.order.front() {
            if now.saturating_duration_since(*at) < self.window {
                break;
            }
            if let Some((_, old)) = self.order.pop_front() {
                self.ids.remove(&old);
            }
        }
        self.ids.get(id).copied()
    }

    pub fn record(&mut self, id: String, position: Position, now: Instant) {
        if self.window.is_zero() {
            return;
        }
        self.order.push_back((now, id.clone()));
        self.ids.insert(id, position);
    }
}
