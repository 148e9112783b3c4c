//! Callbacks told of every message the bus dead-lettered, the same on every
//! backend: they run in the facade, after the dead-letter copy was stored.

use std::sync::Arc;

use evbus_transport::{Position, dead_letter::Reason};
use parking_lot::Mutex;

use crate::EventBus;

/// A message stored on its dead-letter topic.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeadLettered {
    /// The topic it was consumed from.
    pub topic: String,
    /// The consumer group that gave up on it.
    pub group: String,
    /// The topic its copy was stored on.
    pub dead_letter_topic: String,
    /// Its aggregate id (headers or record key), when it had one.
    pub aggregate_id: Option<String>,
    /// Its position on the original topic.
    pub position: Position,
    /// Why it was dead-lettered.
    pub reason: Reason,
    /// The last error, as text.
    pub error: String,
    /// How many times the handler ran (0 when it never could).
    pub attempts: u32,
}

type DeadLetterCallback = Arc<dyn Fn(&DeadLettered) + Send + Sync>;

/// The bus's dead-letter callbacks.
#[derive(Default)]
pub(crate) struct DeadLetterCallbacks(Mutex<Vec<DeadLetterCallback>>);

impl DeadLetterCallbacks {
    /// Tells every callback; none registered costs one lock.
    pub(crate) fn notify(&self, make: impl FnOnce() -> DeadLettered) {
        let callbacks = self.0.lock().clone();
        if callbacks.is_empty() {
            return;
        }
        let dead = make();
        for callback in callbacks {
            callback(&dead);
        }
    }
}

impl EventBus {
    /// Calls `callback` for every message the bus dead-lettered, once its
    /// copy is stored (before the original is acknowledged). Runs on the
    /// handler's task, holding the aggregate: keep it short.
    pub fn on_dead_letter(&self, callback: impl Fn(&DeadLettered) + Send + Sync + 'static) {
        (self.inner.ops.dead_letter_callbacks.0)
            .lock()
            .push(Arc::new(callback));
    }
}
