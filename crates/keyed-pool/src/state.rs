//! The pool's queues: one FIFO per active key plus a ready queue of work a
//! worker may start. All of it sits behind one mutex held only for a few
//! map and queue operations, never while a handler runs.
//!
//! Invariants:
//! - a key is in `lanes` exactly while it has an item queued or running; its
//!   lane holds the items behind the one that is ready or running;
//! - a key is in `ready` at most once, with its head item, and only while
//!   none of its items runs, so no two workers ever run the same key;
//! - `held` counts every accepted item that has not been answered yet.
//!
//! Carrying the head item in the ready entry means a key with a single item
//! (the common case with many keys) costs one map insert and one removal,
//! and its lane never allocates.

use std::collections::VecDeque;
use std::collections::hash_map::Entry;
use std::hash::Hash;

use ahash::AHashMap;

use crate::completion::Reply;

/// An accepted item and the channel its outcome goes to.
pub(crate) struct Job<T, O, E> {
    pub item: T,
    pub reply: Reply<O, E>,
}

/// Work a worker may start: a key's head item, or an unkeyed item.
struct Ready<K, T, O, E> {
    key: Option<K>,
    job: Job<T, O, E>,
}

/// An item taken by a worker, with its key (to hand the lane back after).
pub(crate) struct Taken<K, T, O, E> {
    pub key: Option<K>,
    pub job: Job<T, O, E>,
}

/// Why an item was not admitted; the key and job come back to the caller.
pub(crate) enum Rejected<K, T, O, E> {
    Full(Option<K>, Job<T, O, E>),
    Closed(Job<T, O, E>),
}

pub(crate) struct State<K, T, O, E> {
    lanes: AHashMap<K, VecDeque<Job<T, O, E>>>,
    ready: VecDeque<Ready<K, T, O, E>>,
    capacity: usize,
    held: usize,
    running: usize,
    closed: bool,
}

impl<K, T, O, E> State<K, T, O, E> {
    pub fn new(capacity: usize) -> Self {
        Self {
            lanes: AHashMap::new(),
            ready: VecDeque::new(),
            capacity,
            held: 0,
            running: 0,
            closed: false,
        }
    }

    pub fn held(&self) -> usize {
        self.held
    }

    pub fn free(&self) -> usize {
        self.capacity - self.held
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Takes the next ready work, marking it running.
    pub fn take(&mut self) -> Option<Taken<K, T, O, E>> {
        let Ready { key, job } = self.ready.pop_front()?;
        self.running += 1;
        Some(Taken { key, job })
    }

    /// Removes every queued (not running) job, for abandoning at shutdown.
    pub fn drain_queued(&mut self) -> Vec<Job<T, O, E>> {
        let mut jobs: Vec<_> = self.ready.drain(..).map(|ready| ready.job).collect();
        for lane in self.lanes.values_mut() {
            jobs.extend(lane.drain(..));
        }
        // `finish` tolerates the missing lane of a key that is still running.
        self.lanes.clear();
        self.held -= jobs.len();
        jobs
    }

    /// Calls `f` on every queued (not running) item.
    pub fn for_each_queued(&self, mut f: impl FnMut(&T)) {
        self.ready.iter().for_each(|ready| f(&ready.job.item));
        for lane in self.lanes.values() {
            lane.iter().for_each(|job| f(&job.item));
        }
    }
}

impl<K: Hash + Eq + Clone, T, O, E> State<K, T, O, E> {
    /// Accepts a job if the pool is open and has room. `Ok(true)` means new
    /// work became ready, so an idle worker should be woken.
    pub fn admit(
        &mut self,
        key: Option<K>,
        job: Job<T, O, E>,
    ) -> Result<bool, Rejected<K, T, O, E>> {
        if self.closed {
            return Err(Rejected::Closed(job));
        }
        if self.held >= self.capacity {
            return Err(Rejected::Full(key, job));
        }
        self.held += 1;
        let Some(key) = key else {
            self.ready.push_back(Ready { key: None, job });
            return Ok(true);
        };
        match self.lanes.entry(key) {
            // The key is ready or running already: its turn comes when the
            // item ahead of this one finishes.
            Entry::Occupied(mut lane) => {
                lane.get_mut().push_back(job);
                Ok(false)
            }
            Entry::Vacant(slot) => {
                let key = slot.key().clone();
                slot.insert(VecDeque::new());
                self.ready.push_back(Ready {
                    key: Some(key),
                    job,
                });
                Ok(true)
            }
        }
    }

    /// Records that a taken item was answered; its key's next item (if any)
    /// becomes ready, behind work that was ready before it.
    pub fn finish(&mut self, key: Option<K>) {
        self.held -= 1;
        self.running -= 1;
        let Some(key) = key else { return };
        if let Some(job) = self.lanes.get_mut(&key).and_then(VecDeque::pop_front) {
            self.ready.push_back(Ready {
                key: Some(key),
                job,
            });
        } else {
            self.lanes.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::completion::Completion;

    type TestState = State<&'static str, u32, (), ()>;

    fn job(item: u32) -> Job<u32, (), ()> {
        let (reply, _completion) = Completion::channel();
        Job { item, reply }
    }

    fn take_item(state: &mut TestState) -> Option<(Option<&'static str>, u32)> {
        state.take().map(|t| (t.key, t.job.item))
    }

    #[test]
    fn a_busy_key_is_not_ready_until_its_item_finishes() {
        let mut state = TestState::new(10);
        assert!(matches!(state.admit(Some("a"), job(1)), Ok(true)));
        assert!(matches!(state.admit(Some("a"), job(2)), Ok(false)));
        assert!(matches!(state.admit(Some("b"), job(3)), Ok(true)));
        assert_eq!(take_item(&mut state), Some((Some("a"), 1)));
        // "a" is running: the next worker gets "b", not "a"'s second item.
        assert_eq!(take_item(&mut state), Some((Some("b"), 3)));
        assert_eq!(take_item(&mut state), None);
        state.finish(Some("a"));
        assert_eq!(take_item(&mut state), Some((Some("a"), 2)));
        state.finish(Some("a"));
        state.finish(Some("b"));
        assert_eq!(state.held(), 0);
        assert!(state.lanes.is_empty());
    }

    #[test]
    fn unkeyed_items_are_ready_at_once() {
        let mut state = TestState::new(10);
        state.admit(None, job(1)).ok();
        state.admit(None, job(2)).ok();
        assert_eq!(take_item(&mut state), Some((None, 1)));
        assert_eq!(take_item(&mut state), Some((None, 2)));
    }

    #[test]
    fn capacity_counts_queued_and_running_items() {
        let mut state = TestState::new(2);
        state.admit(Some("a"), job(1)).ok();
        state.admit(Some("b"), job(2)).ok();
        assert!(
            matches!(state.admit(Some("c"), job(3)), Err(Rejected::Full(Some("c"), j)) if j.item == 3)
        );
        let _ = state.take();
        assert!(matches!(
            state.admit(Some("c"), job(3)),
            Err(Rejected::Full(..))
        ));
        state.finish(Some("a"));
        assert_eq!(state.free(), 1);
        assert!(state.admit(Some("c"), job(3)).is_ok());
    }

    #[test]
    fn closed_state_rejects_and_drain_keeps_running_accounting() {
        let mut state = TestState::new(10);
        state.admit(Some("a"), job(1)).ok();
        state.admit(Some("a"), job(2)).ok();
        state.admit(None, job(3)).ok();
        assert_eq!(take_item(&mut state), Some((Some("a"), 1)));
        state.close();
        assert!(matches!(
            state.admit(None, job(4)),
            Err(Rejected::Closed(_))
        ));
        let drained: Vec<u32> = state.drain_queued().into_iter().map(|j| j.item).collect();
        assert_eq!(drained.len(), 2);
        assert!(drained.contains(&2) && drained.contains(&3));
        assert_eq!(state.held(), 1);
        state.finish(Some("a"));
        assert_eq!(state.held(), 0);
        assert_eq!(take_item(&mut state), None);
    }
}
