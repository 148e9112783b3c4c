//! Subscriptions: a fetch loop per subscription feeding the bus's keyed
//! pool, and a settler that acks, dead-letters or nacks each delivery once
//! its fate is known.

mod consumer;
mod job;
mod settle;

use std::sync::Arc;

use parking_lot::Mutex;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub(crate) use consumer::{Consumer, Target};
pub(crate) use job::{Job, Pool};

/// A running subscription. Dropping the handle does not stop it; the bus
/// stops every subscription at [`close`](crate::EventBus::close), or call
/// [`unsubscribe`](Self::unsubscribe).
#[derive(Debug, Clone)]
pub struct SubscriptionHandle {
    inner: Arc<Running>,
}

#[derive(Debug)]
pub(crate) struct Running {
    topic: String,
    group: String,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Running {
    pub(crate) fn new(topic: String, group: String, stop: CancellationToken) -> Self {
        Self {
            topic,
            group,
            stop,
            task: Mutex::new(None),
        }
    }

    pub(crate) fn set_task(&self, task: JoinHandle<()>) {
        *self.task.lock() = Some(task);
    }

    /// Stops fetching at once.
    pub(crate) fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until the consumer has settled what it took and closed its
    /// subscription.
    pub(crate) async fn join(&self) {
        let task = self.task.lock().take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(topic = %self.topic, %error, "subscription task failed");
        }
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
