//! Subscriptions: a fetch loop per subscription feeding the bus's keyed
//! pool, jobs that handle or dead-letter each delivery while the pool holds
//! its aggregate, and a settler that acks or nacks once a job is answered.

mod consumer;
mod dead_letter;
mod failure;
mod job;
mod limits;
mod options;
mod ownership;
mod settle;

use std::sync::Arc;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub(crate) use consumer::{Consumer, Target};
pub(crate) use dead_letter::DeadLetterSink;
pub(crate) use job::{Job, Pool};
pub(crate) use limits::Limits;
pub use options::{DeadLetterTarget, Failure, FailureAction, FailureHook, SubscriptionOptions};

/// A running subscription. Dropping the handle does not stop it; the bus
/// stops every subscription at [`close`](crate::EventBus::close), or call
/// [`unsubscribe`](Self::unsubscribe).
#[derive(Debug, Clone)]
pub struct SubscriptionHandle {
    inner: Arc<Running>,
}

/// The bus's view of one subscription's consumer task.
#[derive(Debug)]
pub(crate) struct Running {
    topic: String,
    group: String,
    stop: CancellationToken,
    done: watch::Receiver<bool>,
    task: tokio::task::AbortHandle,
}

impl Running {
    /// Spawns `consumer` on `subscription`.
    pub(crate) fn spawn(
        consumer: Consumer,
        subscription: Box<dyn evbus_transport::Subscription>,
    ) -> Self {
        let (finished, done) = watch::channel(false);
        let topic = consumer.topic.to_string();
        let group = consumer.group.to_string();
        let stop = consumer.stop.clone();
        let task = tokio::spawn(async move {
            consumer.run(subscription).await;
            finished.send_replace(true);
        })
        .abort_handle();
        Self {
            topic,
            group,
            stop,
            done,
            task,
        }
    }

    /// Ends the consumer task where it is: deliveries it has not settled
    /// are dropped unsettled, so the broker redelivers them.
    pub(crate) fn abort(&self) {
        self.task.abort();
    }

    /// Stops fetching at once.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Whether the consumer task has ended.
    pub(crate) fn is_done(&self) -> bool {
        *self.done.borrow()
    }

    /// Waits until the consumer has settled what it took and closed its
    /// subscription. Any number of callers may wait.
    pub(crate) async fn join(&self) {
        // An error means the task is gone (it panicked): nothing to wait for.
        let _ = self.done.clone().wait_for(|done| *done).await;
    }
}

impl SubscriptionHandle {
    pub(crate) fn new(inner: Arc<Running>) -> Self {
        Self { inner }
    }

    /// The topic.
    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.inner.group
    }

    /// Stops taking messages and returns once every message this
    /// subscription handed to the pool is settled (handlers that are running
    /// finish first) and its broker subscription is closed.
    pub async fn unsubscribe(&self) {
        self.inner.stop();
        self.inner.join().await;
    }
}
