//! Fire-and-forget publishing: a bounded queue drained by one task that
//! sends in queue order, in batches, and reports every failure.

use std::sync::Arc;

use evbus_transport::{OutgoingMessage, Transport};
use parking_lot::Mutex;
use tokio::{
    sync::{mpsc, oneshot},
    task::JoinHandle,
};

use crate::{error::BusError, report::Reporter, telemetry::Mode};

enum Command {
    Publish(String, OutgoingMessage),
    Flush(oneshot::Sender<()>),
}

/// The detached publisher of one bus.
pub(crate) struct Detached {
    queue: Mutex<Option<mpsc::Sender<Command>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Detached {
    pub(crate) fn start(
        transport: Arc<dyn Transport>,
        reporter: Arc<Reporter>,
        capacity: usize,
        batch_max: usize,
    ) -> Self {
        let (queue, commands) = mpsc::channel(capacity.max(1));
        let task = tokio::spawn(run(transport, reporter, commands, batch_max.max(1)));
        Self {
            queue: Mutex::new(Some(queue)),
            task: Mutex::new(Some(task)),
        }
    }

    /// Queues a message, waiting while the queue is full.
    pub(crate) async fn send(&self, topic: &str, message: OutgoingMessage) -> Result<(), BusError> {
        let queue = self.queue.lock().clone().ok_or_else(BusError::closed)?;
        queue
            .send(Command::Publish(topic.to_owned(), message))
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

async fn run(
    transport: Arc<dyn Transport>,
    reporter: Arc<Reporter>,
    mut commands: mpsc::Receiver<Command>,
    batch_max: usize,
) {
    let mut drained = Vec::with_capacity(batch_max);
    while commands.recv_many(&mut drained, batch_max).await > 0 {
        // Group by topic keeping queue order within each topic: per-topic
        // order is all that ordering promises, and a batch per topic lets
        // the broker pipeline it.
        let mut groups: Vec<(String, Vec<OutgoingMessage>)> = Vec::new();
        for command in drained.drain(..) {
            match command {
                Command::Publish(topic, message) => {
                    match groups.iter_mut().find(|(t, _)| *t == topic) {
                        Some((_, messages)) => messages.push(message),
                        None => groups.push((topic, vec![message])),
                    }
                }
                Command::Flush(done) => {
                    send_groups(transport.as_ref(), &reporter, &mut groups).await;
                    let _ = done.send(());
                }
            }
        }
        send_groups(transport.as_ref(), &reporter, &mut groups).await;
    }
}

async fn send_groups(
    transport: &dyn Transport,
    reporter: &Reporter,
    groups: &mut Vec<(String, Vec<OutgoingMessage>)>,
) {
    for (topic, messages) in groups.drain(..) {
        let ids: Vec<Option<String>> = messages.iter().map(|m| m.dedup_id.clone()).collect();
        let started = std::time::Instant::now();
        let mut results = transport.publish_batch(&topic, messages).await.into_iter();
        let took = started.elapsed();
        let total = ids.len() as u64;
        let mut failed = 0;
        for id in ids {
            let id = id.as_deref().unwrap_or("-");
            // A transport that answered for fewer messages than it was given
            // leaves their outcome unknown: that is reported too.
            let error = match results.next() {
                Some(Ok(_)) => continue,
                Some(Err(error)) => BusError::from(error),
                None => BusError::new(
                    crate::error::BusErrorKind::Internal,
                    format!("the `{}` transport returned no outcome", transport.name()),
                ),
            };
            failed += 1;
            reporter.report(error.context(format!(
                "detached publish of event `{id}` to `{topic}` failed"
            )));
        }
        reporter
            .metrics()
            .published(Mode::Detached, total - failed, failed, took);
    }
}
