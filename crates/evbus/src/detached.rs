//! Fire-and-forget publishing: a bounded queue drained by one task that
//! sends in queue order, in batches, reports every failure and, when
//! results are on, hands every outcome to the result streams.

use std::sync::Arc;

use evbus_transport::{OutgoingMessage, Transport};
use parking_lot::Mutex;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::{
    error::BusError,
    publish::{
        callbacks::Published,
        results::{Origin, ResultHub},
    },
    report::Reporter,
    telemetry::Mode,
};

enum Command {
    // The origin is boxed: it is there only with results on, and the
    // queue holds many commands.
    Publish(Arc<str>, OutgoingMessage, Option<Box<Origin>>),
    Flush(oneshot::Sender<()>),
}

/// The detached publisher of one bus.
pub(crate) struct Detached {
    queue: Mutex<Option<mpsc::Sender<Command>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    results: Option<Arc<ResultHub>>,
    /// The last topic [`topic`](Self::topic) checked.
    last_topic: Mutex<Option<Arc<str>>>,
}

/// One topic's share of a drained batch, in queue order.
struct Group {
    topic: Arc<str>,
    messages: Vec<OutgoingMessage>,
    origins: Vec<Option<Box<Origin>>>,
}

impl Detached {
    pub(crate) fn start(
        transport: Arc<dyn Transport>,
        reporter: Arc<Reporter>,
        capacity: usize,
        batch_max: usize,
        results: Option<Arc<ResultHub>>,
    ) -> Self {
        let (queue, commands) = mpsc::channel(capacity.max(1));
        let sender = Sender {
            transport,
            reporter,
            results: results.clone(),
        };
        let task = tokio::spawn(run(sender, commands, batch_max.max(1)));
        Self {
            queue: Mutex::new(Some(queue)),
            task: Mutex::new(Some(task)),
            results,
            last_topic: Mutex::new(None),
        }
    }

    /// The result streams, when results are on.
    pub(crate) fn results(&self) -> Option<&Arc<ResultHub>> {
        self.results.as_ref()
    }

    /// `topic` checked by `validate` and shared: a publisher mostly stays on
    /// one topic, so the name is neither checked nor copied again while the
    /// topic stays the same (a topic's validity does not change).
    pub(crate) fn topic<E>(
        &self,
        topic: &str,
        validate: impl FnOnce(&str) -> Result<(), E>,
    ) -> Result<Arc<str>, E> {
        if let Some(shared) = &*self.last_topic.lock()
            && **shared == *topic
        {
            return Ok(shared.clone());
        }
        // Checked without the lock held: the check is the transport's.
        validate(topic)?;
        let shared: Arc<str> = Arc::from(topic);
        *self.last_topic.lock() = Some(shared.clone());
        Ok(shared)
    }

    /// Queues a message to a topic from [`topic`](Self::topic), waiting while
    /// the queue is full. `origin` is given when results are on.
    pub(crate) async fn send(
        &self,
        topic: Arc<str>,
        message: OutgoingMessage,
        origin: Option<Box<Origin>>,
    ) -> Result<(), BusError> {
        let queue = self.queue.lock().clone().ok_or_else(BusError::closed)?;
        queue
            .send(Command::Publish(topic, message, origin))
            .await
            .map_err(|_| BusError::closed())
    }

    /// Messages queued and not yet taken by the sending task.
    pub(crate) fn depth(&self) -> usize {
        self.queue
            .lock()
            .as_ref()
            .map_or(0, |queue| queue.max_capacity() - queue.capacity())
    }

    /// Returns once every message queued before the call was sent and its
    /// outcome reported.
    pub(crate) async fn flush(&self) {
        let Some(queue) = self.queue.lock().clone() else {
            return;
        };
        let (done, flushed) = oneshot::channel();
        if queue.send(Command::Flush(done)).await.is_ok() {
            let _ = flushed.await;
        }
    }

    /// Sends what is queued and stops the task, by `deadline`; `false` when
    /// the deadline passed first (the task is stopped then, and what it had
    /// not sent is not sent).
    pub(crate) async fn close_by(&self, deadline: tokio::time::Instant) -> bool {
        drop(self.queue.lock().take());
        let Some(mut task) = self.task.lock().take() else {
            return true;
        };
        // Whatever happens to the task, no more results come: end the
        // streams so their readers see the end.
        let _end_streams = EndStreams(self.results.clone());
        match tokio::time::timeout_at(deadline, &mut task).await {
            Ok(Ok(())) => true,
            Ok(Err(error)) => {
                tracing::error!(%error, "detached publisher task failed");
                true
            }
            Err(_) => {
                task.abort();
                false
            }
        }
    }
}

/// Ends the result streams when dropped.
struct EndStreams(Option<Arc<ResultHub>>);

impl Drop for EndStreams {
    fn drop(&mut self) {
        if let Some(hub) = &self.0 {
            hub.close();
        }
    }
}

/// What the sending task needs.
struct Sender {
    transport: Arc<dyn Transport>,
    reporter: Arc<Reporter>,
    results: Option<Arc<ResultHub>>,
}

async fn run(sender: Sender, mut commands: mpsc::Receiver<Command>, batch_max: usize) {
    let mut drained = Vec::with_capacity(batch_max);
    while commands.recv_many(&mut drained, batch_max).await > 0 {
        // Group by topic keeping queue order within each topic: per-topic
        // order is all that ordering promises, and a batch per topic lets
        // the broker pipeline it.
        let mut groups: Vec<Group> = Vec::new();
        for command in drained.drain(..) {
            match command {
                Command::Publish(topic, message, origin) => {
                    let index = match groups.iter().position(|g| g.topic == topic) {
                        Some(index) => index,
                        None => {
                            groups.push(Group {
                                topic,
                                messages: Vec::new(),
                                origins: Vec::new(),
                            });
                            groups.len() - 1
                        }
                    };
                    groups[index].messages.push(message);
                    groups[index].origins.push(origin);
                }
                Command::Flush(done) => {
                    sender.send_groups(&mut groups).await;
                    let _ = done.send(());
                }
            }
        }
        sender.send_groups(&mut groups).await;
    }
}

impl Sender {
    async fn send_groups(&self, groups: &mut Vec<Group>) {
        for group in groups.drain(..) {
            self.send_group(group).await;
        }
    }

    async fn send_group(&self, group: Group) {
        let Group {
            topic,
            messages,
            origins,
        } = group;
        let transport = self.transport.as_ref();
        let ids: Vec<Option<String>> = messages.iter().map(|m| m.dedup_id.clone()).collect();
        let started = std::time::Instant::now();
        let mut results = transport.publish_batch(&topic, messages).await.into_iter();
        let took = started.elapsed();
        let total = ids.len() as u64;
        let mut failed = 0;
        let mut outcomes = Vec::with_capacity(ids.len());
        for id in ids {
            let id = id.as_deref().unwrap_or("-");
            // A transport that answered for fewer messages than it was given
            // leaves their outcome unknown: that is reported too.
            let error = match results.next() {
                Some(Ok(receipt)) => {
                    self.reporter.published(&Published {
                        topic: &topic,
                        event_id: Some(id),
                        receipt: &receipt,
                        detached: true,
                    });
                    outcomes.push(Ok(receipt));
                    continue;
                }
                Some(Err(error)) => BusError::from(error),
                None => BusError::new(
                    crate::error::BusErrorKind::Internal,
                    format!("the `{}` transport returned no outcome", transport.name()),
                ),
            };
            failed += 1;
            let error = error.context(format!(
                "detached publish of event `{id}` to `{topic}` failed"
            ));
            // The callback and the result stream each get the error.
            let copy =
                BusError::new(error.kind(), error.to_string()).with_retryable(error.is_retryable());
            self.reporter.report(error);
            outcomes.push(Err(copy));
        }
        self.reporter
            .metrics()
            .published(Mode::Detached, total - failed, failed, took);
        // Results after the metric: a slow result reader delays the next
        // send, not the record of this one.
        if let Some(hub) = &self.results {
            for (outcome, origin) in outcomes.into_iter().zip(origins) {
                if let Some(origin) = origin {
                    hub.deliver((*origin).result(&topic, outcome)).await;
                }
            }
        }
    }
}
