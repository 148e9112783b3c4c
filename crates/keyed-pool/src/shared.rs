//! State shared by the pool handle, its workers and its sweeper.

use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::{Condvar, Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::completion::Outcome;
use crate::error::TaskError;
use crate::state::{Job, Rejected, State, Taken};
use crate::telemetry::Telemetry;

pub(crate) struct Shared<K, T, O, E> {
    pub state: Mutex<State<K, T, O, E>>,
    /// Wakes idle workers when work becomes ready (or the pool closes).
    pub work: Notify,
    /// Wakes async submitters waiting for capacity.
    pub space: Notify,
    /// Wakes blocking submitters waiting for capacity.
    pub space_blocking: Condvar,
    /// Cancelled when `close` hits its deadline or the pool is dropped:
    /// running attempts stop and report `Abandoned`. Set only through
    /// `cancel_all`, which also sets `cancelled`.
    pub cancel: CancellationToken,
    /// Mirrors `cancel` for the per-item check: one atomic load, where the
    /// token's own check takes a lock.
    pub cancelled: AtomicBool,
    /// Cancelled once the workers are gone, to stop the sweeper.
    pub stop_sweeper: CancellationToken,
    /// How often the sweeper calls the wait hook, in milliseconds; it only
    /// shrinks (see `KeyedPool::shorten_keepalive_interval`).
    pub keepalive_ms: AtomicU64,
    /// Wakes the sweeper when `keepalive_ms` shrank, so a shorter interval
    /// applies at once rather than after the current, longer wait.
    pub keepalive_changed: Notify,
    /// Items being processed by each worker, filled only when a wait hook is
    /// set (so the sweeper can see running items too).
    pub in_flight: Box<[Mutex<Option<T>>]>,
    pub telemetry: Telemetry,
    pub answered: AtomicU64,
    pub abandoned: AtomicU64,
}

impl<K, T, O, E> Shared<K, T, O, E> {
    pub fn lock(&self) -> MutexGuard<'_, State<K, T, O, E>> {
        self.state.lock()
    }

    fn started(&self) {
        self.telemetry.queued.decrement(1.0);
        self.telemetry.running.increment(1.0);
    }

    fn count_answer(&self, abandoned: bool) {
        if abandoned {
            self.abandoned.fetch_add(1, Ordering::Relaxed);
            self.telemetry.abandoned.increment(1);
        } else {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Makes workers abandon what they run or take from now on.
    pub fn cancel_all(&self) {
        self.cancelled.store(true, Ordering::Release);
        self.cancel.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Acquire)
    }

    /// Stops intake and wakes everyone who waits on the pool.
    pub fn begin_close(&self) {
        self.lock().close();
        self.work.notify_waiters();
        self.space.notify_waiters();
        self.space_blocking.notify_all();
    }

    /// Answers every queued item with `Abandoned`; returns how many.
    pub fn abandon_queued(&self) -> usize {
        let jobs = self.lock().drain_queued();
        let count = jobs.len();
        for job in jobs {
            self.count_answer(true);
            let _ = job.reply.send(Err(TaskError::abandoned(0, None)));
        }
        self.telemetry.queued.decrement(count as f64);
        count
    }
}

impl<K: Hash + Eq + Clone, T, O, E> Shared<K, T, O, E> {
    /// Admits a job under an already held lock, then wakes a worker.
    pub fn admit(
        &self,
        mut state: MutexGuard<'_, State<K, T, O, E>>,
        key: Option<K>,
        job: Job<T, O, E>,
    ) -> Result<(), Rejected<K, T, O, E>> {
        let wake = state.admit(key, job)?;
        drop(state);
        self.telemetry.queued.increment(1.0);
        if wake {
            self.work.notify_one();
        }
        Ok(())
    }

    /// Waits for ready work; `None` once the pool is closed and nothing is
    /// ready (a worker that still runs an item re-checks when it finishes, so
    /// no lane is stranded).
    pub async fn next(&self) -> Option<Taken<K, T, O, E>> {
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            // Registered before looking, so a wake between the look and the
            // await is not lost.
            notified.as_mut().enable();
            {
                let mut state = self.lock();
                if let Some(taken) = state.take() {
                    drop(state);
                    self.started();
                    return Some(taken);
                }
                if state.is_closed() {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Answers a taken item, hands its lane back and takes the next ready
    /// work, all under one lock.
    pub fn finish_and_take(
        &self,
        key: Option<K>,
        reply: crate::completion::Reply<O, E>,
        outcome: Outcome<O, E>,
    ) -> Option<Taken<K, T, O, E>> {
        // Counted before the answer, so whoever sees the answer sees the count.
        self.count_answer(matches!(&outcome, Err(e) if e.is_retryable()));
        // Answer before releasing the lane so a caller that awaits item n
        // and then checks item n+1 sees them in order.
        let _ = reply.send(outcome);
        let next = {
            let mut state = self.lock();
            state.finish(key);
            state.take()
        };
        self.telemetry.running.decrement(1.0);
        if next.is_some() {
            self.started();
        }
        self.space.notify_one();
        self.space_blocking.notify_one();
        next
    }
}
