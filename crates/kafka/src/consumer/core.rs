//! The polling thread's state machine: fetched offsets per partition,
//! settlements, nack timers, commits, pauses and rebalances. Everything here
//! runs on the subscription's own polling thread, never on a tokio worker;
//! rebalances are in `rebalance.rs`.

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::Arc,
    time::{Duration, Instant},
};

use ahash::HashMap;
use evbus_transport::ownership::Ownership;
use parking_lot::Mutex;
use rdkafka::{
    Message, Offset, TopicPartitionList,
    consumer::{BaseConsumer, CommitMode, Consumer},
    message::BorrowedMessage,
};

use super::{
    handoff::{Command, Handoff, Inbox, Record, RecordData},
    partition::PartitionState,
};
use crate::logs;

/// The consumer of one subscription.
pub(crate) type GroupConsumer = BaseConsumer<Core>;

/// Tuning of one subscription, from the transport's configuration.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Pending deliveries of a partition at which it is paused.
    pub window: usize,
    pub commit_interval: Duration,
    pub drain_timeout: Duration,
}

/// A nacked record waiting for its delay.
pub(super) struct Timer {
    due: Instant,
    seq: u64,
    pub record: Record,
}

impl PartialEq for Timer {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Timer {}
impl PartialOrd for Timer {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Timer {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

#[derive(Default)]
pub(super) struct State {
    pub partitions: HashMap<i32, PartitionState>,
    pub next_epoch: u64,
    /// One per partition ever assigned, kept across assignments so its epoch
    /// only grows.
    pub ownerships: HashMap<i32, Ownership>,
    pub timers: BinaryHeap<Reverse<Timer>>,
    /// Records of the poll batch under way, not yet in the hand-off. A
    /// rebalance callback runs inside a poll, so a revoke can meet records
    /// of its partitions here.
    pub staged: Vec<Record>,
    next_seq: u64,
    /// Closing: settlements still count, nothing is delivered again here.
    pub stopping: bool,
}

impl State {
    /// The partition state of a record's assignment, if it is still current.
    fn current(&mut self, partition: i32, epoch: u64) -> Option<&mut PartitionState> {
        self.partitions
            .get_mut(&partition)
            .filter(|p| p.epoch == epoch)
    }

    pub fn abandon(&mut self, record: &Record) {
        if let Some(p) = self.current(record.partition, record.epoch) {
            p.abandon(record.offset);
        }
    }
}

/// The consumer context: owns the state and serves the rebalance callbacks.
pub(crate) struct Core {
    pub(super) handoff: Arc<Handoff>,
    pub(super) inbox: Inbox,
    pub(super) settings: Settings,
    pub(super) state: Mutex<State>,
    /// `StartFrom::Latest`: each partition's end when the subscription was
    /// opened, where the group starts when it has no committed offset.
    pub(super) latest: Mutex<Option<HashMap<i32, i64>>>,
}

impl Core {
    pub fn new(handoff: Arc<Handoff>, inbox: Inbox, settings: Settings) -> Self {
        Self {
            handoff,
            inbox,
            settings,
            state: Mutex::default(),
            latest: Mutex::new(None),
        }
    }

    /// Starts partitions the group never committed at these offsets
    /// instead of the earliest.
    pub fn start_at(&self, ends: HashMap<i32, i64>) {
        *self.latest.lock() = Some(ends);
    }

    pub fn handoff(&self) -> &Arc<Handoff> {
        &self.handoff
    }

    pub(super) fn topic(&self) -> &str {
        &self.handoff.topic
    }

    /// Applies every settlement waiting in the inbox. Returns whether there
    /// was any.
    pub fn drain_commands(&self) -> bool {
        let mut any = false;
        while let Ok(command) = self.inbox.commands.try_recv() {
            self.apply(command);
            any = true;
        }
        any
    }

    /// Applies one settlement. Settlements of an earlier assignment of the
    /// partition are ignored: never commit for a partition no longer ours.
    pub fn apply(&self, command: Command) {
        let mut state = self.state.lock();
        match command {
            Command::Done {
                partition,
                epoch,
                offset,
            } => {
                if let Some(p) = state.current(partition, epoch) {
                    p.complete(offset);
                }
            }
            Command::Redeliver { record, delay } => {
                let leaving = state.stopping
                    || state
                        .current(record.partition, record.epoch)
                        .is_none_or(|p| p.leaving);
                if leaving {
                    state.abandon(&record);
                    return;
                }
                let seq = state.next_seq;
                state.next_seq += 1;
                state.timers.push(Reverse(Timer {
                    due: Instant::now() + delay,
                    seq,
                    record,
                }));
            }
        }
    }

    /// Hands out the nacked records whose delay is over. Returns when the
    /// next one is due.
    pub fn fire_timers(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut due = Vec::new();
        let next = {
            let mut state = self.state.lock();
            while let Some(Reverse(timer)) = state.timers.peek() {
                if timer.due > now {
                    break;
                }
                let Some(Reverse(timer)) = state.timers.pop() else {
                    break;
                };
                due.push(timer.record);
            }
            state.timers.peek().map(|Reverse(t)| t.due)
        };
        self.deliver(due);
        next
    }

    /// Queues records for the subscription; those it no longer takes are
    /// abandoned.
    fn deliver(&self, records: Vec<Record>) {
        if let Err(records) = self.handoff.push(records) {
            let mut state = self.state.lock();
            for record in &records {
                state.abandon(record);
            }
        }
    }

    /// Polls up to `max` messages without waiting and queues them. Returns
    /// how many were polled.
    pub fn fetch(&self, consumer: &GroupConsumer, max: usize) -> usize {
        let mut polled = 0;
        while polled < max {
            match consumer.poll(Duration::ZERO) {
                None => break,
                Some(Err(error)) => {
                    logs::client_error(&error, "consuming");
                    // A lost connection shows in the connection state and
                    // heals by itself; anything else (a missing or forbidden
                    // topic) would consume nothing in silence.
                    if !logs::is_connection_error(&error) {
                        self.handoff
                            .report(crate::error::consume_error(error, self.topic()));
                    }
                    break;
                }
                Some(Ok(message)) => {
                    polled += 1;
                    self.accept(consumer, &message);
                }
            }
        }
        let records = std::mem::take(&mut self.state.lock().staged);
        self.deliver(records);
        polled
    }

    /// Records a fetched message in its partition's tracker and stages it
    /// as a record; pauses the partition when its window is full.
    fn accept(&self, consumer: &GroupConsumer, message: &BorrowedMessage<'_>) {
        let mut state = self.state.lock();
        if state.stopping {
            return;
        }
        let partition = message.partition();
        let offset = message.offset();
        let Some(p) = state.partitions.get_mut(&partition) else {
            // Not (or no longer) assigned: not tracked, so never committed;
            // the partition's owner receives it.
            tracing::debug!(
                topic = self.topic(),
                partition,
                offset,
                "message of an unassigned partition dropped"
            );
            return;
        };
        if p.leaving || !p.fetched(offset) {
            return;
        }
        let epoch = p.epoch;
        let fence = p.ownership.fence();
        if !p.paused && p.is_full(self.settings.window) {
            p.paused = true;
            self.set_paused(consumer, partition, true);
        }
        let record = Record {
            partition,
            offset,
            epoch,
            fence,
            delivery_count: 1,
            data: Arc::new(RecordData::from_message(message)),
        };
        state.staged.push(record);
    }

    pub(super) fn set_paused(&self, consumer: &GroupConsumer, partition: i32, pause: bool) {
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition(self.topic(), partition);
        let result = if pause {
            consumer.pause(&tpl)
        } else {
            consumer.resume(&tpl)
        };
        match result {
            Ok(()) => tracing::debug!(topic = self.topic(), partition, pause, "partition fetching"),
            Err(error) => logs::client_error(&error, "pausing or resuming a partition"),
        }
    }

    /// Resumes paused partitions whose window drained to half.
    pub fn resume_drained(&self, consumer: &GroupConsumer) {
        let window = self.settings.window;
        let mut state = self.state.lock();
        for (&partition, p) in state.partitions.iter_mut() {
            if p.paused && !p.leaving && p.has_room(window) {
                p.paused = false;
                self.set_paused(consumer, partition, false);
            }
        }
    }

    /// Commits, without waiting, the finished prefix of every partition
    /// that moved since the last commit.
    pub fn commit_moved(&self, consumer: &GroupConsumer) {
        self.commit(consumer, None, CommitMode::Async, PartitionState::to_commit);
    }

    /// Commits, and waits for, the finished prefix of the partitions
    /// leaving this member (`only`, or all), including what a commit
    /// still on its way already sent: see
    /// [`PartitionState::to_commit_on_leaving`].
    pub fn commit_leaving(&self, consumer: &GroupConsumer, only: Option<&[i32]>) {
        self.commit(
            consumer,
            only,
            CommitMode::Sync,
            PartitionState::to_commit_on_leaving,
        );
    }

    /// Commits, and waits for, the finished prefix of `only`'s partitions
    /// that no commit sent yet, or whose commit failed.
    pub fn commit_unsent(&self, consumer: &GroupConsumer, only: &[i32]) {
        self.commit(
            consumer,
            Some(only),
            CommitMode::Sync,
            PartitionState::to_commit,
        );
    }

    fn commit(
        &self,
        consumer: &GroupConsumer,
        only: Option<&[i32]>,
        mode: CommitMode,
        offset_of: fn(&PartitionState) -> Option<i64>,
    ) {
        let mut tpl = TopicPartitionList::new();
        {
            let mut state = self.state.lock();
            for (&partition, p) in state.partitions.iter_mut() {
                if only.is_some_and(|only| !only.contains(&partition)) {
                    continue;
                }
                if let Some(offset) = offset_of(p) {
                    if let Err(error) =
                        tpl.add_partition_offset(self.topic(), partition, Offset::Offset(offset))
                    {
                        logs::client_error(&error, "building a commit");
                        continue;
                    }
                    p.committed(offset);
                }
            }
        }
        if tpl.count() == 0 {
            return;
        }
        if let Err(error) = consumer.commit(&tpl, mode) {
            logs::client_error(&error, "committing offsets");
            self.commit_failed(&tpl);
        }
    }

    /// Makes the partitions of a failed commit commit again next time.
    pub(super) fn commit_failed(&self, tpl: &TopicPartitionList) {
        let mut state = self.state.lock();
        for element in tpl.elements() {
            match state.partitions.get_mut(&element.partition()) {
                Some(p) => p.commit_failed(),
                // Gone after a revoke or shutdown, whose own commit sent
                // the position again (and logged its failure, if it
                // failed); after a lost assignment nothing may commit.
                None => tracing::debug!(
                    topic = self.topic(),
                    partition = element.partition(),
                    "a commit of a partition no longer assigned failed"
                ),
            }
        }
    }

    /// Waits (up to `timeout`) for a settlement or a wake-up, and applies
    /// the settlement.
    pub fn wait(&self, timeout: Duration) {
        crossbeam_channel::select! {
            recv(self.inbox.commands) -> command => {
                if let Ok(command) = command {
                    self.apply(command);
                }
            }
            recv(self.inbox.wake) -> _ => {}
            default(timeout) => {}
        }
    }

    /// Ends intake for good: queued and waiting records are abandoned,
    /// settlements already sent are applied, and what finished is committed.
    pub fn shutdown(&self, consumer: &GroupConsumer) {
        let queued = self.handoff.close();
        {
            let mut state = self.state.lock();
            state.stopping = true;
            for record in &queued {
                state.abandon(record);
            }
            let timers = std::mem::take(&mut state.timers);
            for Reverse(timer) in timers {
                state.abandon(&timer.record);
            }
        }
        self.drain_commands();
        self.commit_leaving(consumer, None);
    }
}
