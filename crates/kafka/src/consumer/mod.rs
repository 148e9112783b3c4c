//! One subscription: a group consumer, its polling thread, and the
//! [`Subscription`] handing its records out.

mod core;
mod handoff;
mod partition;
mod rebalance;

use std::{
    sync::Arc,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use evbus_transport::{
    AckHandle, Delivery, ErrorKind, Position, Result, StartFrom, Subscription, TransportError,
    ownership::OwnershipEvents,
};
use parking_lot::Mutex;
use rdkafka::consumer::Consumer;

pub(crate) use self::core::Settings;
pub(crate) use handoff::{Command, Handoff, Record};

use self::core::{Core, GroupConsumer};
use crate::{NAME, acker::KafkaAcker, config::KafkaConfig, error};

/// Messages polled per round before settlements are looked at again.
const POLL_BATCH: usize = 500;
/// The longest the polling thread sleeps: librdkafka's own events
/// (rebalances) also wake it, this only bounds the delay of missed ones.
const IDLE_WAIT: Duration = Duration::from_millis(50);

/// A running polling thread, as the transport keeps track of it.
pub(crate) struct ConsumerHandle {
    handoff: Arc<Handoff>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl ConsumerHandle {
    /// Stops the thread (commit what finished, leave the group) and waits
    /// for it on a blocking thread.
    pub async fn stop(&self) {
        self.handoff.request_stop();
        let thread = self.thread.lock().take();
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }

    /// Asks the thread to stop without waiting for it.
    pub fn request_stop(&self) {
        self.handoff.request_stop();
    }

    /// Whether the thread has ended (or was joined).
    pub fn is_finished(&self) -> bool {
        self.thread
            .lock()
            .as_ref()
            .is_none_or(JoinHandle::is_finished)
    }
}

/// Creates the consumer of `group` on `topic` and starts its polling thread.
pub(crate) fn start(
    config: &KafkaConfig,
    topic: &str,
    group: &str,
    start_from: StartFrom,
) -> Result<(KafkaSubscription, Arc<ConsumerHandle>)> {
    let (handoff, inbox) = Handoff::new(topic, group);
    let settings = Settings {
        window: config.partition_window,
        commit_interval: config.commit_interval,
        drain_timeout: config.drain_timeout,
    };
    let core = Core::new(handoff.clone(), inbox, settings);
    let mut consumer: GroupConsumer = config
        .consumer_client_config(group)
        .create_with_context(core)
        .map_err(error::config_error)?;
    if matches!(start_from, StartFrom::Latest) {
        let ends = partition_ends(&consumer, topic, config.publish_timeout)?;
        consumer.context().start_at(ends);
    }
    let waker = handoff.clone();
    consumer.set_nonempty_callback(move || waker.wake());
    consumer.subscribe(&[topic]).map_err(|e| {
        TransportError::new(ErrorKind::Other, NAME, format!("subscribing failed: {e}"))
            .with_topic(topic)
            .with_source(e)
    })?;
    let thread = std::thread::Builder::new()
        .name(format!("evbus-kafka-{group}"))
        .spawn(move || run(consumer, settings))
        .map_err(|e| {
            TransportError::new(
                ErrorKind::Other,
                NAME,
                format!("could not start a polling thread: {e}"),
            )
        })?;
    let handle = Arc::new(ConsumerHandle {
        handoff: handoff.clone(),
        thread: Mutex::new(Some(thread)),
    });
    let subscription = KafkaSubscription {
        group: group.to_owned(),
        handoff,
        handle: handle.clone(),
    };
    Ok((subscription, handle))
}

/// Each partition's end offset now (blocking: metadata and one offsets
/// request per partition).
fn partition_ends(
    consumer: &GroupConsumer,
    topic: &str,
    timeout: Duration,
) -> Result<ahash::HashMap<i32, i64>> {
    let unreachable = |e: rdkafka::error::KafkaError| {
        TransportError::new(
            ErrorKind::Disconnected,
            NAME,
            format!("could not read where the topic ends: {e}"),
        )
        .with_topic(topic)
        .with_source(e)
    };
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .map_err(unreachable)?;
    let mut ends = ahash::HashMap::default();
    for found in metadata.topics().iter().filter(|t| t.name() == topic) {
        for partition in found.partitions() {
            let (_, high) = consumer
                .fetch_watermarks(topic, partition.id(), timeout)
                .map_err(unreachable)?;
            ends.insert(partition.id(), high);
        }
    }
    Ok(ends)
}

/// The polling thread: polls, queues records, applies settlements, fires
/// nack timers, commits and pauses, until asked to stop.
fn run(consumer: GroupConsumer, settings: Settings) {
    let core = consumer.context().clone();
    let _ends_stream = EndStreamOnExit(core.handoff().clone());
    let mut last_commit = Instant::now();
    while !core.handoff().stop_requested() {
        core.drain_commands();
        let next_timer = core.fire_timers();
        core.resume_drained(&consumer);
        if last_commit.elapsed() >= settings.commit_interval {
            core.commit_moved(&consumer);
            last_commit = Instant::now();
        }
        if core.fetch(&consumer, POLL_BATCH) > 0 {
            continue;
        }
        let mut wait = IDLE_WAIT.min(
            settings
                .commit_interval
                .saturating_sub(last_commit.elapsed()),
        );
        if let Some(due) = next_timer {
            wait = wait.min(due.saturating_duration_since(Instant::now()));
        }
        core.wait(wait);
    }
    core.shutdown(&consumer);
    consumer.unsubscribe();
    // Dropping the consumer leaves the group (its last revoke commits
    // nothing new) and ends librdkafka's threads for it.
    drop(consumer);
}

/// Ends the subscription's stream when the polling thread ends, even by a
/// panic, so `next_batch` never waits for a thread that is gone.
struct EndStreamOnExit(Arc<Handoff>);

impl Drop for EndStreamOnExit {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// One member of a consumer group on one topic.
pub(crate) struct KafkaSubscription {
    group: String,
    handoff: Arc<Handoff>,
    handle: Arc<ConsumerHandle>,
}

impl KafkaSubscription {
    fn delivery(&self, record: Record) -> Delivery {
        Delivery {
            topic: self.handoff.topic.clone(),
            key: record.data.key.clone(),
            headers: record.data.headers.clone(),
            payload: record.data.payload.clone(),
            delivery_count: record.delivery_count,
            position: Position {
                partition: u32::try_from(record.partition).unwrap_or_default(),
                offset: u64::try_from(record.offset).unwrap_or_default(),
            },
            timestamp: record.data.timestamp,
            ack: AckHandle::new(Arc::new(KafkaAcker {
                handoff: self.handoff.clone(),
                record,
            })),
        }
    }
}

#[async_trait]
impl Subscription for KafkaSubscription {
    fn topic(&self) -> &str {
        &self.handoff.topic
    }

    fn group(&self) -> &str {
        &self.group
    }

    async fn next_batch(&mut self, max: usize) -> Result<Vec<Delivery>> {
        loop {
            // Taking is synchronous, so a dropped future has taken nothing.
            match self.handoff.take(max.max(1)) {
                None => return Ok(Vec::new()),
                Some(records) if !records.is_empty() => {
                    return Ok(records.into_iter().map(|r| self.delivery(r)).collect());
                }
                // Records first: an error (a topic that went missing) does
                // not hold back what was fetched before it.
                Some(_) => match self.handoff.take_error() {
                    Some(error) => return Err(error),
                    None => self.handoff.ready().await,
                },
            }
        }
    }

    fn ownership_events(&self) -> Option<OwnershipEvents> {
        Some(self.handoff.ownership_events())
    }

    async fn close(self: Box<Self>) -> Result<()> {
        self.handle.stop().await;
        Ok(())
    }
}

impl Drop for KafkaSubscription {
    fn drop(&mut self) {
        // The thread commits, leaves the group and ends by itself; the
        // transport joins it on close.
        self.handoff.request_stop();
    }
}
