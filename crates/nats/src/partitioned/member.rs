//! The member's coordinator: announces the member, renews the leases of
//! the partitions it holds, works out its share of the live members and
//! hands partitions over or takes them, once per tick.
//!
//! Layout of the group's KV bucket ([`group_bucket_name`]), whose `max_age`
//! is the lease: `m.<member>` (a live member, put every tick) and
//! `p.<partition>` (the partition's lease: the holder's member id, created
//! only when absent, renewed with the revision it holds). Partition `p`
//! belongs to the `p mod n`-th of the `n` live members in name order.
//!
//! [`group_bucket_name`]: crate::mapping::group_bucket_name

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::Duration,
};

use async_nats::jetstream::{
    consumer::{AckPolicy, DeliverPolicy, pull},
    context::ConsumerInfoErrorKind,
    kv::{self, CreateErrorKind, UpdateErrorKind},
    stream,
};
use evbus_transport::{Delivery, ownership::OwnershipChange, ownership::OwnershipEvent};
use futures::TryStreamExt;
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::JoinHandle,
    time::Instant,
};

use super::{
    slot::Slot,
    worker::{self, Controls},
};
use crate::{
    error, mapping,
    pull::{PullShared, PullSubscription, PullTarget},
    transport::Inner,
};

const MEMBER_PREFIX: &str = "m.";
const PARTITION_PREFIX: &str = "p.";

/// Where a partition's consumer starts when it is first created.
#[derive(Clone, Copy)]
pub(super) enum Start {
    All,
    /// The first stream sequence after the subscription opened.
    From(u64),
}

/// Everything the coordinator needs, fixed for the subscription's life.
pub(super) struct Member {
    pub(super) inner: Arc<Inner>,
    pub(super) kv: kv::Store,
    pub(super) stream: stream::Stream,
    pub(super) stream_name: String,
    pub(super) topic: Arc<str>,
    pub(super) group: Arc<str>,
    pub(super) partitions: u32,
    pub(super) me: String,
    pub(super) lease: Duration,
    pub(super) start: Start,
    pub(super) out: mpsc::Sender<Delivery>,
    pub(super) events: broadcast::Sender<OwnershipEvent>,
}

/// A partition the member holds (or is handing over).
struct Held {
    slot: Arc<Slot>,
    revision: u64,
    deadline: watch::Sender<Instant>,
    stop: watch::Sender<bool>,
    pull_loop: JoinHandle<()>,
    /// When the hand-over started.
    revoked_at: Option<Instant>,
    /// The partition consumer's AckWait.
    ack_wait: Duration,
}

impl Member {
    fn tick(&self) -> Duration {
        self.lease / 4
    }

    /// Runs until `stop` turns true (or its sender is dropped) or the
    /// transport closes, then hands every partition over.
    pub(super) async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut held = BTreeMap::new();
        let mut ticks = tokio::time::interval(self.tick());
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut closing = self.inner.closing.subscribe();
        loop {
            tokio::select! {
                biased;
                () = raised(&mut stop) => break,
                () = raised(&mut closing) => break,
                _ = ticks.tick() => self.round(&mut held).await,
            }
        }
        self.leave(held).await;
    }

    /// One round: heartbeat, renewals, hand-overs, acquisitions.
    async fn round(&self, held: &mut BTreeMap<u32, Held>) {
        let bound = self.tick();
        let heartbeat = self.kv.put(
            format!("{MEMBER_PREFIX}{}", self.me),
            self.me.clone().into(),
        );
        if let Err(error) = within(bound, heartbeat).await {
            tracing::debug!(%error, group = &*self.group, "member heartbeat failed");
        }
        self.renew(held).await;
        let Some(members) = self.members().await else {
            return;
        };
        let position = members.iter().position(|m| *m == self.me);
        let count = u32::try_from(members.len()).unwrap_or(u32::MAX);
        let mine: BTreeSet<u32> = (0..self.partitions)
            .filter(|p| position.is_some_and(|at| (p % count) as usize == at))
            .collect();
        self.hand_over(held, &mine).await;
        for partition in mine {
            if !held.contains_key(&partition) {
                self.acquire(held, partition).await;
            }
        }
    }

    /// Renews every lease held; a lease someone else now holds (or that
    /// expired) is lost at once.
    async fn renew(&self, held: &mut BTreeMap<u32, Held>) {
        let mut lost = Vec::new();
        for (partition, entry) in held.iter_mut() {
            if entry.slot.is_ended() && entry.revoked_at.is_none() {
                // The pull loop saw the deadline pass.
                lost.push(*partition);
                continue;
            }
            let sent = Instant::now();
            let renewal = self.kv.update(
                partition_key(*partition),
                self.me.clone().into(),
                entry.revision,
            );
            match within(self.tick(), renewal).await {
                Ok(revision) => {
                    entry.revision = revision;
                    entry.deadline.send_replace(self.deadline(sent));
                }
                Err(Failure::Update(UpdateErrorKind::WrongLastRevision)) => {
                    lost.push(*partition);
                }
                Err(error) => {
                    tracing::debug!(%error, partition, "renewing a partition lease failed");
                }
            }
        }
        for partition in lost {
            if let Some(entry) = held.remove(&partition) {
                entry.slot.end(OwnershipChange::Lost);
                entry.stop.send_replace(true);
            }
        }
    }

    /// Until when a lease renewed (or taken) at `sent` is surely still
    /// this member's: the server counts its `max_age` from when the write
    /// arrived, which is later; one tick is kept in hand.
    fn deadline(&self, sent: Instant) -> Instant {
        sent + self.lease - self.tick()
    }

    /// The live members, sorted; `None` when the bucket did not answer.
    async fn members(&self) -> Option<Vec<String>> {
        let listed = async {
            let keys = self.kv.keys().await?;
            keys.try_collect::<Vec<String>>()
                .await
                .map_err(async_nats::Error::from)
        };
        let keys = match within(self.tick(), listed).await {
            Ok(keys) => keys,
            Err(error) => {
                tracing::debug!(%error, group = &*self.group, "listing the members failed");
                return None;
            }
        };
        let mut members: Vec<String> = keys
            .iter()
            .filter_map(|key| key.strip_prefix(MEMBER_PREFIX))
            .map(str::to_owned)
            .collect();
        if !members.contains(&self.me) {
            members.push(self.me.clone());
        }
        members.sort();
        Some(members)
    }

    /// Stops pulling the partitions that are no longer this member's share,
    /// and releases each once nothing of it is in flight any more, or once
    /// what is still in flight was neither handed out nor kept alive for the
    /// consumer's AckWait (JetStream takes such deliveries as abandoned). A
    /// handler kept alive holds its partition here until it finishes.
    async fn hand_over(&self, held: &mut BTreeMap<u32, Held>, mine: &BTreeSet<u32>) {
        let mut released = Vec::new();
        for (partition, entry) in held.iter_mut() {
            // A partition being handed over is released even when it became
            // this member's share again meanwhile; it is taken anew after.
            if mine.contains(partition) && entry.revoked_at.is_none() {
                continue;
            }
            let revoked_at = *entry.revoked_at.get_or_insert_with(|| {
                entry.stop.send_replace(true);
                entry.slot.end(OwnershipChange::Revoked);
                Instant::now()
            });
            let drained = entry.slot.in_flight() == 0;
            let abandoned =
                entry.slot.idle() >= entry.ack_wait && revoked_at.elapsed() >= entry.ack_wait;
            if entry.pull_loop.is_finished() && (drained || abandoned) {
                released.push(*partition);
            }
        }
        for partition in released {
            if let Some(entry) = held.remove(&partition) {
                self.release(partition, entry.revision).await;
            }
        }
    }

    async fn release(&self, partition: u32, revision: u64) {
        let release = self
            .kv
            .delete_expect_revision(partition_key(partition), Some(revision));
        if let Err(error) = within(self.tick(), release).await {
            tracing::debug!(%error, partition, "releasing a partition lease failed; it expires");
        }
    }

    /// Takes the partition's lease if it is free and starts pulling it.
    async fn acquire(&self, held: &mut BTreeMap<u32, Held>, partition: u32) {
        let sent = Instant::now();
        let create = self
            .kv
            .create(partition_key(partition), self.me.clone().into());
        let revision = match within(self.tick(), create).await {
            Ok(revision) => revision,
            Err(Failure::Create(CreateErrorKind::AlreadyExists)) => return,
            Err(error) => {
                tracing::debug!(%error, partition, "taking a partition lease failed");
                return;
            }
        };
        let (pull, ack_wait) = match self.open(partition).await {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(%error, topic = &*self.topic, group = &*self.group, partition,
                    "opening a partition's consumer failed; trying again next round");
                self.release(partition, revision).await;
                return;
            }
        };
        let slot = Slot::assigned(
            partition,
            self.topic.clone(),
            self.group.clone(),
            self.lease,
            self.events.clone(),
        );
        let (deadline, deadline_rx) = watch::channel(self.deadline(sent));
        let (stop, stop_rx) = watch::channel(false);
        let pull_loop = tokio::spawn(worker::run(
            slot.clone(),
            pull,
            Controls {
                stop: stop_rx,
                deadline: deadline_rx,
            },
            self.out.clone(),
            self.inner.config.fetch_batch,
        ));
        held.insert(
            partition,
            Held {
                slot,
                revision,
                deadline,
                stop,
                pull_loop,
                revoked_at: None,
                ack_wait,
            },
        );
    }

    /// The partition's durable consumer, ready to pull from. Whatever the
    /// previous owner received and did not ack (down to the consumer's ack
    /// floor) is delivered again, in stream order, before anything newer:
    /// the consumer is recreated from just above its ack floor.
    async fn open(
        &self,
        partition: u32,
    ) -> Result<(PullSubscription, Duration), async_nats::Error> {
        let name = mapping::partition_durable_name(&self.group, &self.topic, partition);
        let config = &self.inner.config;
        let mut reused_ack_wait = config.ack_wait;
        let start = match self.stream.consumer_info(&name).await {
            Ok(info) if info.delivered.stream_sequence <= info.ack_floor.stream_sequence => {
                reused_ack_wait = info.config.ack_wait;
                None
            }
            Ok(info) => {
                self.stream.delete_consumer(&name).await?;
                Some(DeliverPolicy::ByStartSequence {
                    start_sequence: info.ack_floor.stream_sequence + 1,
                })
            }
            Err(err) if matches!(err.kind(), ConsumerInfoErrorKind::NotFound) => {
                Some(match self.start {
                    Start::All => DeliverPolicy::All,
                    Start::From(sequence) => DeliverPolicy::ByStartSequence {
                        start_sequence: sequence,
                    },
                })
            }
            Err(err) => match err.kind() {
                ConsumerInfoErrorKind::JetStream(api) if error::is_not_found(&api) => {
                    Some(DeliverPolicy::All)
                }
                _ => return Err(err.into()),
            },
        };
        let ack_wait = match start {
            None => reused_ack_wait,
            Some(deliver_policy) => {
                let wanted = pull::Config {
                    durable_name: Some(name.clone()),
                    description: Some(format!(
                        "evbus partitioned group `{}` on `{}`, partition {partition}",
                        self.group, self.topic
                    )),
                    filter_subject: mapping::partition_subject(
                        &self.topic,
                        self.partitions,
                        partition,
                    ),
                    ack_policy: AckPolicy::Explicit,
                    ack_wait: config.ack_wait,
                    max_deliver: -1,
                    max_ack_pending: i64::try_from(config.max_ack_pending).unwrap_or(i64::MAX),
                    deliver_policy,
                    ..Default::default()
                };
                let consumer = self.stream.create_consumer(wanted).await?;
                consumer.cached_info().config.ack_wait
            }
        };
        let client = &self.inner.client;
        let inbox = client.new_inbox();
        let messages = client.subscribe(format!("{inbox}.*")).await?;
        let shared = Arc::new(PullShared::new(
            self.inner.jetstream.clone(),
            ack_wait,
            None,
        ));
        let target = PullTarget {
            topic: self.topic.clone(),
            group: self.group.to_string(),
            next_subject: format!("$JS.API.CONSUMER.MSG.NEXT.{}.{name}", self.stream_name),
            ordered: false,
            batch: config.fetch_batch,
            max_wait: config.fetch_max_wait,
        };
        let pull = PullSubscription::new(
            target,
            shared,
            messages,
            inbox,
            self.inner.closing.subscribe(),
        );
        Ok((pull, ack_wait))
    }

    /// Hands every partition over and leaves the group: the others take the
    /// partitions at their next round instead of after the lease.
    async fn leave(&self, mut held: BTreeMap<u32, Held>) {
        let none = BTreeSet::new();
        let give_up = Instant::now() + self.lease;
        while !held.is_empty() && Instant::now() < give_up {
            self.hand_over(&mut held, &none).await;
            if !held.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        // Still running handlers past the bound: their leases expire.
        for entry in held.values() {
            entry.slot.end(OwnershipChange::Revoked);
            entry.stop.send_replace(true);
        }
        let member = self.kv.delete(format!("{MEMBER_PREFIX}{}", self.me));
        if let Err(error) = within(self.tick(), member).await {
            tracing::debug!(%error, "leaving the group's membership failed; it expires");
        }
    }
}

/// Resolves once the flag is up (or its sender is gone).
async fn raised(flag: &mut watch::Receiver<bool>) {
    let _ = flag.wait_for(|up| *up).await;
}

fn partition_key(partition: u32) -> String {
    format!("{PARTITION_PREFIX}{partition}")
}

/// Why a bucket operation failed.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("no answer in time")]
    TimedOut,
    #[error("{0:?}")]
    Update(UpdateErrorKind),
    #[error("{0:?}")]
    Create(CreateErrorKind),
    #[error(transparent)]
    Other(async_nats::Error),
}

impl From<kv::UpdateError> for Failure {
    fn from(error: kv::UpdateError) -> Self {
        Self::Update(error.kind())
    }
}

impl From<kv::CreateError> for Failure {
    fn from(error: kv::CreateError) -> Self {
        Self::Create(error.kind())
    }
}

impl From<kv::PutError> for Failure {
    fn from(error: kv::PutError) -> Self {
        Self::Other(error.into())
    }
}

impl From<async_nats::Error> for Failure {
    fn from(error: async_nats::Error) -> Self {
        Self::Other(error)
    }
}

/// Runs a bucket operation for at most `bound`: a round never waits on an
/// unanswered request for longer than a tick.
async fn within<T, E: Into<Failure>>(
    bound: Duration,
    operation: impl Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(bound, operation).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(Failure::TimedOut),
    }
}
