//! Helpers that keep the scenarios short: a scenario context, unique names,
//! and collectors that wait for a set of messages with a deadline.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context as _, Result, anyhow, bail, ensure};
use evbus_topics::{TopicOptions, TopicsErrorKind};
use parking_lot::Mutex;
use tokio::{sync::watch, task::JoinHandle, time::Instant};

use super::Harness;
use crate::{
    Capabilities, Delivery, OutgoingMessage, SubscribeOptions, Subscription, Transport,
    TransportError,
};

/// How long a scenario waits for the messages it expects.
pub(crate) const WITHIN: Duration = Duration::from_secs(40);

/// What a scenario gets: the harness, the capabilities it was admitted with,
/// and the transports it opened (closed when it ends).
#[derive(Clone)]
pub(crate) struct Ctx {
    inner: Arc<CtxInner>,
}

struct CtxInner {
    harness: Arc<dyn Harness>,
    caps: Capabilities,
    transports: Mutex<Vec<Arc<dyn Transport>>>,
}

impl Ctx {
    pub fn new(harness: Arc<dyn Harness>, caps: Capabilities) -> Self {
        Self {
            inner: Arc::new(CtxInner {
                harness,
                caps,
                transports: Mutex::default(),
            }),
        }
    }

    pub fn caps(&self) -> &Capabilities {
        &self.inner.caps
    }

    pub fn harness(&self) -> &dyn Harness {
        &*self.inner.harness
    }

    /// A new transport, closed when the scenario ends.
    pub async fn transport(&self) -> Result<Arc<dyn Transport>> {
        let transport = self
            .inner
            .harness
            .transport()
            .await
            .context("the harness could not create a transport")?;
        self.inner.transports.lock().push(transport.clone());
        Ok(transport)
    }

    /// A new topic with a unique name, created with default options.
    pub async fn topic(&self, transport: &dyn Transport, label: &str) -> Result<String> {
        let name = unique(label);
        match transport
            .topic_admin()
            .create(&name, &TopicOptions::new())
            .await
        {
            Ok(()) => Ok(name),
            Err(e) if e.kind() == TopicsErrorKind::AlreadyExists => Ok(name),
            Err(e) => Err(e).with_context(|| format!("creating topic `{name}`")),
        }
    }

    /// A new topic and a subscription of a new group to it.
    pub async fn topic_and_subscription(
        &self,
        transport: &dyn Transport,
        label: &str,
    ) -> Result<(String, String, Box<dyn Subscription>)> {
        let topic = self.topic(transport, label).await?;
        let group = unique(label);
        let sub = subscribe(transport, &topic, &group).await?;
        Ok((topic, group, sub))
    }

    /// Closes every transport the scenario opened; errors do not matter any
    /// more (a transport may already be closed).
    pub async fn close_all(&self) {
        let transports = std::mem::take(&mut *self.inner.transports.lock());
        for transport in transports {
            let _ = tokio::time::timeout(Duration::from_secs(5), transport.close()).await;
        }
    }
}

/// A name no other run uses: scenarios are independent and topics are never
/// deleted. Valid on every transport (`[a-z0-9-]`).
pub(crate) fn unique(label: &str) -> String {
    format!(
        "evbus-ct-{}-{:016x}",
        label.replace('_', "-"),
        rand::random::<u64>()
    )
}

pub(crate) async fn subscribe(
    transport: &dyn Transport,
    topic: &str,
    group: &str,
) -> Result<Box<dyn Subscription>> {
    transport
        .subscribe(topic, group, SubscribeOptions::default())
        .await
        .with_context(|| format!("subscribing to `{topic}` as group `{group}`"))
}

/// A message whose payload is its id.
pub(crate) fn message(id: &str) -> OutgoingMessage {
    OutgoingMessage::new(id.to_owned())
}

/// The id of a delivery (its payload).
pub(crate) fn id_of(delivery: &Delivery) -> String {
    String::from_utf8_lossy(&delivery.payload).into_owned()
}

pub(crate) fn ids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// Publishes each message in turn, awaiting each.
pub(crate) async fn publish_each(
    transport: &dyn Transport,
    topic: &str,
    messages: impl IntoIterator<Item = OutgoingMessage>,
) -> Result<()> {
    for message in messages {
        transport
            .publish(topic, message)
            .await
            .with_context(|| format!("publishing to `{topic}`"))?;
    }
    Ok(())
}

/// Publishes in batches of `size`, failing on the first failed message.
pub(crate) async fn publish_batches(
    transport: &dyn Transport,
    topic: &str,
    messages: Vec<OutgoingMessage>,
    size: usize,
) -> Result<()> {
    let mut messages = messages.into_iter().peekable();
    while messages.peek().is_some() {
        let batch: Vec<_> = messages.by_ref().take(size).collect();
        for result in transport.publish_batch(topic, batch).await {
            result.with_context(|| format!("batch publishing to `{topic}`"))?;
        }
    }
    Ok(())
}

/// The next batch, failing at `deadline` or when the subscription ends.
pub(crate) async fn next(
    sub: &mut dyn Subscription,
    max: usize,
    deadline: Instant,
) -> Result<Vec<Delivery>> {
    let batch = tokio::time::timeout_at(deadline, sub.next_batch(max))
        .await
        .map_err(|_| anyhow!("timed out waiting for deliveries"))??;
    ensure!(!batch.is_empty(), "the subscription ended unexpectedly");
    // A transport that always has a batch ready never yields by itself;
    // yielding keeps the scenario's timeout able to fire.
    tokio::task::yield_now().await;
    Ok(batch)
}

/// Fails if anything arrives within `window` (the subscription may also end).
pub(crate) async fn expect_quiet(sub: &mut dyn Subscription, window: Duration) -> Result<()> {
    match tokio::time::timeout(window, sub.next_batch(16)).await {
        Err(_) => Ok(()),
        Ok(batch) => {
            let batch = batch?;
            let got: Vec<String> = batch.iter().map(id_of).collect();
            ensure!(got.is_empty(), "nothing should arrive, but got {got:?}");
            Ok(())
        }
    }
}

/// Describes which of `expected` are missing, for timeout messages.
pub(crate) fn missing(expected: &HashSet<String>, got: &HashSet<String>) -> String {
    let mut missing: Vec<&String> = expected.difference(got).collect();
    missing.sort();
    let n = missing.len();
    missing.truncate(5);
    format!("{n} of {} missing, e.g. {missing:?}", expected.len())
}

/// Receives and acks until every id in `expected` arrived; `check` runs on
/// each delivery first. An id outside `expected` (cross-talk, a message that
/// should not exist) fails at once, and so does a repeat that is not a
/// redelivery (`delivery_count` 1).
pub(crate) async fn receive_all(
    sub: &mut dyn Subscription,
    expected: &HashSet<String>,
    mut check: impl FnMut(&Delivery) -> Result<()>,
) -> Result<HashSet<String>> {
    let deadline = Instant::now() + WITHIN;
    let mut got = HashSet::new();
    while !expected.is_subset(&got) {
        let batch = next(sub, 64, deadline)
            .await
            .with_context(|| missing(expected, &got))?;
        for delivery in batch {
            let id = id_of(&delivery);
            ensure!(
                expected.contains(&id),
                "received `{id}`, which was never published to this topic"
            );
            ensure!(
                got.insert(id.clone()) || delivery.delivery_count > 1,
                "`{id}` was delivered twice as a first delivery (delivery_count 1)"
            );
            check(&delivery).with_context(|| format!("checking `{id}`"))?;
            delivery.ack().await.context("ack")?;
        }
    }
    Ok(got)
}

/// One delivery as a consumer task saw it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub member: usize,
    pub id: String,
    pub count: u32,
}

/// What a set of consumer tasks received, and a counter of distinct ids to
/// wait on.
pub(crate) struct Tally {
    seen: Mutex<(Vec<Seen>, HashSet<String>)>,
    distinct: watch::Sender<usize>,
    stop: watch::Sender<bool>,
}

impl Tally {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            seen: Mutex::default(),
            distinct: watch::Sender::new(0),
            stop: watch::Sender::new(false),
        })
    }

    fn record(&self, member: usize, delivery: &Delivery) {
        let id = id_of(delivery);
        let mut seen = self.seen.lock();
        seen.0.push(Seen {
            member,
            id: id.clone(),
            count: delivery.delivery_count,
        });
        if seen.1.insert(id) {
            let n = seen.1.len();
            self.distinct.send_replace(n);
        }
    }

    /// Every delivery so far, and the distinct ids.
    pub fn snapshot(&self) -> (Vec<Seen>, HashSet<String>) {
        self.seen.lock().clone()
    }

    /// Waits until every id of `expected` was received, or fails at the
    /// deadline naming what is missing.
    pub async fn wait_for(&self, expected: &HashSet<String>) -> Result<()> {
        let mut distinct = self.distinct.subscribe();
        let deadline = Instant::now() + WITHIN;
        loop {
            if expected.is_subset(&self.seen.lock().1) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, distinct.changed())
                .await
                .is_err()
            {
                bail!("{}", missing(expected, &self.seen.lock().1));
            }
        }
    }

    /// Tells the consumer tasks to close their subscriptions and end.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    /// A task that receives on `sub` as member `member`, records and acks
    /// each delivery until [`stop`](Self::stop). Retryable errors (a broker
    /// restarting) are waited out: the deliveries concerned come again.
    pub fn consume(
        self: &Arc<Self>,
        member: usize,
        mut sub: Box<dyn Subscription>,
    ) -> JoinHandle<Result<()>> {
        let tally = self.clone();
        let mut stop = self.stop.subscribe();
        tokio::spawn(async move {
            loop {
                let batch = tokio::select! {
                    _ = stop.wait_for(|stop| *stop) => break,
                    batch = sub.next_batch(64) => batch,
                };
                let batch = match batch {
                    Ok(batch) if batch.is_empty() => bail!("member {member}'s subscription ended"),
                    Ok(batch) => batch,
                    Err(e) if e.is_retryable() => {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                    Err(e) => return Err(e).context("next_batch"),
                };
                for delivery in batch {
                    tally.record(member, &delivery);
                    tolerate_retryable(delivery.ack().await)?;
                }
                tokio::task::yield_now().await;
            }
            sub.close().await.context("closing a subscription")
        })
    }
}

/// A settlement that failed because the broker is restarting is fine: the
/// delivery comes again.
pub(crate) fn tolerate_retryable(result: crate::Result<()>) -> Result<()> {
    match result {
        Err(e) if !e.is_retryable() => Err(e).context("settling a delivery"),
        _ => Ok(()),
    }
}

/// Waits for spawned tasks and returns the first error (a panic included).
pub(crate) async fn join_all<T>(handles: Vec<JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.context("a scenario task panicked")??);
    }
    Ok(out)
}

/// Counts per member how many ids it was first to receive (count 1).
pub(crate) fn first_deliveries_by_member(seen: &[Seen]) -> HashMap<String, HashSet<usize>> {
    let mut owners: HashMap<String, HashSet<usize>> = HashMap::new();
    for s in seen.iter().filter(|s| s.count == 1) {
        owners.entry(s.id.clone()).or_default().insert(s.member);
    }
    owners
}

/// The error of an operation that should have failed with `kind`.
pub(crate) fn expect_kind<T: std::fmt::Debug>(
    result: crate::Result<T>,
    kind: crate::ErrorKind,
    what: &str,
) -> Result<TransportError> {
    match result {
        Ok(value) => bail!("{what} should fail with {kind:?} but succeeded: {value:?}"),
        Err(e) if e.kind() == kind => Ok(e),
        Err(e) => bail!(
            "{what} should fail with {kind:?} but failed with {:?}: {e}",
            e.kind()
        ),
    }
}
