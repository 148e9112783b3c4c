//! What the polling thread and the subscription share: the records fetched
//! and not yet taken, the settlements going back, and the stop request.

use std::{
    collections::VecDeque,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use evbus_transport::{
    Headers, TransportError,
    ownership::{Fence, OwnershipChange, OwnershipEvent},
};
use parking_lot::Mutex;
use rdkafka::{
    Message,
    message::{BorrowedHeaders, BorrowedMessage, Headers as _},
};
use tokio::sync::{Notify, broadcast};

/// Ownership events kept for a receiver that falls behind.
const EVENTS_KEPT: usize = 256;

/// A fetched record's contents, shared by its deliveries.
#[derive(Debug)]
pub(crate) struct RecordData {
    pub key: Option<String>,
    pub headers: Headers,
    pub payload: Bytes,
    /// The record timestamp (create or log-append time), if it has one.
    pub timestamp: Option<std::time::SystemTime>,
}

impl RecordData {
    /// Copies a message's key, headers and payload. Kafka allows bytes where
    /// the transport carries text: key and header values that are not UTF-8 are
    /// converted lossily (invalid bytes become U+FFFD), a null header value
    /// becomes an empty string, and a header whose name is not UTF-8 is left
    /// out (see [`read_headers`]), so the message is still delivered.
    pub fn from_message(message: &BorrowedMessage<'_>) -> Self {
        let key = message
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned());
        let headers = message
            .headers()
            .map(|headers| read_headers(headers, message))
            .unwrap_or_default();
        Self {
            key,
            headers,
            payload: Bytes::copy_from_slice(message.payload().unwrap_or_default()),
            timestamp: message
                .timestamp()
                .to_millis()
                .and_then(|ms| u64::try_from(ms).ok())
                .map(|ms| std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms)),
        }
    }
}

/// The headers of `message` that can be read. rdkafka reads a header name
/// as UTF-8 and panics on other bytes; on the polling thread that panic
/// would end the subscription, and every member would meet the record again.
/// Such a header is left out, with a warning: the transport's header names
/// are text, and the name's bytes cannot be read without that panic.
fn read_headers(headers: &BorrowedHeaders, message: &BorrowedMessage<'_>) -> Headers {
    (0..headers.count())
        .filter_map(|index| {
            let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
                headers.try_get(index).map(|h| {
                    let value = h
                        .value
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    (h.key.to_owned(), value)
                })
            }));
            read.unwrap_or_else(|_| {
                tracing::warn!(
                    topic = message.topic(),
                    partition = message.partition(),
                    offset = message.offset(),
                    index,
                    "a header whose name is not UTF-8 was left out"
                );
                None
            })
        })
        .collect()
}

/// One delivery of a fetched record.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub partition: i32,
    pub offset: i64,
    /// The assignment the record was fetched in.
    pub epoch: u64,
    /// Stale once the partition left this member.
    pub fence: Fence,
    /// Deliveries so far, this one included.
    pub delivery_count: u32,
    pub data: Arc<RecordData>,
}

/// A settlement on its way to the polling thread.
#[derive(Debug)]
pub(crate) enum Command {
    /// Acked or rejected: the offset may be committed past.
    Done {
        partition: i32,
        epoch: u64,
        offset: i64,
    },
    /// Nacked (or its handle dropped): deliver it again after `delay`.
    Redeliver { record: Record, delay: Duration },
}

#[derive(Debug, Default)]
struct Queue {
    records: VecDeque<Record>,
    /// The latest consumer error not yet handed to the subscription; a
    /// newer one replaces it (the same error tends to repeat every poll).
    error: Option<TransportError>,
    closed: bool,
}

/// The meeting point of one subscription and its polling thread.
#[derive(Debug)]
pub(crate) struct Handoff {
    pub topic: Arc<str>,
    pub group: Arc<str>,
    /// Partitions assigned to and taken from this member.
    events: broadcast::Sender<OwnershipEvent>,
    queue: Mutex<Queue>,
    ready: Notify,
    commands: Sender<Command>,
    wake: Sender<()>,
    stop: AtomicBool,
}

/// The polling thread's ends of the channels.
pub(crate) struct Inbox {
    pub commands: Receiver<Command>,
    pub wake: Receiver<()>,
}

impl Handoff {
    pub fn new(topic: &str, group: &str) -> (Arc<Self>, Inbox) {
        let (commands, commands_rx) = crossbeam_channel::unbounded();
        // One pending wake-up is enough: the thread looks at everything.
        let (wake, wake_rx) = crossbeam_channel::bounded(1);
        let handoff = Arc::new(Self {
            topic: topic.into(),
            group: group.into(),
            events: broadcast::channel(EVENTS_KEPT).0,
            queue: Mutex::default(),
            ready: Notify::new(),
            commands,
            wake,
            stop: AtomicBool::new(false),
        });
        let inbox = Inbox {
            commands: commands_rx,
            wake: wake_rx,
        };
        (handoff, inbox)
    }

    /// A receiver of the ownership events from now on.
    pub fn ownership_events(&self) -> broadcast::Receiver<OwnershipEvent> {
        self.events.subscribe()
    }

    /// Tells the receivers (if any) that a partition changed hands.
    pub fn announce(&self, partition: i32, change: OwnershipChange, epoch: u64) {
        let _ = self.events.send(OwnershipEvent {
            topic: self.topic.clone(),
            group: self.group.clone(),
            partition: u32::try_from(partition).unwrap_or_default(),
            change,
            epoch,
            lease: None,
        });
    }

    /// Wakes the polling thread (never blocks).
    pub fn wake(&self) {
        match self.wake.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
        }
    }

    /// Sends a settlement to the polling thread; `false` once it has ended.
    pub fn send(&self, command: Command) -> bool {
        let sent = self.commands.send(command).is_ok();
        self.wake();
        sent
    }

    /// Asks the polling thread to commit what finished and leave the group,
    /// and ends the subscription's stream.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.close();
        self.wake();
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Appends fetched records for the subscription; `false` (records
    /// dropped) once closed.
    pub fn push(&self, records: Vec<Record>) -> Result<(), Vec<Record>> {
        if records.is_empty() {
            return Ok(());
        }
        {
            let mut queue = self.queue.lock();
            if queue.closed {
                return Err(records);
            }
            queue.records.extend(records);
        }
        self.ready.notify_one();
        Ok(())
    }

    /// Keeps a consumer error for the subscription's next `next_batch`.
    pub fn report(&self, error: TransportError) {
        self.queue.lock().error = Some(error);
        self.ready.notify_one();
    }

    /// The consumer error waiting, if any; taken once.
    pub fn take_error(&self) -> Option<TransportError> {
        self.queue.lock().error.take()
    }

    /// Takes up to `max` records; `None` once closed.
    pub fn take(&self, max: usize) -> Option<Vec<Record>> {
        let mut queue = self.queue.lock();
        if queue.closed {
            return None;
        }
        let n = max.min(queue.records.len());
        Some(queue.records.drain(..n).collect())
    }

    /// Waits until records may be there (spurious wake-ups are possible).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Removes the queued records of `partitions`: they were never handed
    /// out, and their partitions are leaving.
    pub fn purge(&self, partitions: &[i32]) -> Vec<Record> {
        let mut queue = self.queue.lock();
        let (gone, kept): (Vec<Record>, Vec<Record>) = std::mem::take(&mut queue.records)
            .into_iter()
            .partition(|r| partitions.contains(&r.partition));
        queue.records = kept.into();
        gone
    }

    /// Ends the stream: `take` returns `None` from now on. Returns the
    /// records that were never handed out.
    pub fn close(&self) -> Vec<Record> {
        let records = {
            let mut queue = self.queue.lock();
            queue.closed = true;
            std::mem::take(&mut queue.records)
        };
        // A permit for a later `next_batch`, and a wake-up for a waiting one.
        self.ready.notify_one();
        records.into()
    }
}
