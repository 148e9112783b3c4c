//! The pool handle: submitting items, capacity, and shutdown.

use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio::time::Sleep;

use crate::builder::PoolBuilder;
use crate::completion::Completion;
use crate::config::PoolConfig;
use crate::error::{BuildError, SubmitError};
use crate::shared::Shared;
use crate::state::{Job, Rejected};

/// The pool's tasks, taken by the first `close` (or by drop).
pub(crate) struct Tasks {
    pub workers: Vec<JoinHandle<()>>,
    pub sweeper: Option<JoinHandle<()>>,
}

/// What [`KeyedPool::close`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseReport {
    /// Items answered with the handler's result (success or final failure)
    /// while the pool drained.
    pub completed: u64,
    /// Items answered with [`Abandoned`](crate::TaskErrorKind::Abandoned)
    /// because the deadline passed first.
    pub abandoned: u64,
}

/// A bounded pool of async workers that runs the items of one key strictly
/// one after another, in submit order, and different keys in parallel.
///
/// `K` is the key, `T` the item passed to the handler (cloned once per
/// retry, so make it cheap to clone, e.g. an `Arc`), `O` and `E` the
/// handler's output and error. See the crate documentation for the design
/// and an example.
pub struct KeyedPool<K, T, O, E> {
    shared: Arc<Shared<K, T, O, E>>,
    tasks: Arc<tokio::sync::Mutex<Option<Tasks>>>,
    runtime: Handle,
    enqueue_timeout: Duration,
    capacity: usize,
}

impl<K, T, O, E> KeyedPool<K, T, O, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
{
    /// Starts configuring a pool.
    pub fn builder(config: PoolConfig) -> PoolBuilder<K, T, O, E> {
        PoolBuilder::new(config)
    }

    /// Builds a pool with no retry predicate and no wait hook on the current
    /// tokio runtime. See [`PoolBuilder::build`] for the errors.
    pub fn new<H, Fut>(config: PoolConfig, handler: H) -> Result<Self, BuildError>
    where
        H: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static,
    {
        Self::builder(config).build(handler)
    }

    pub(crate) fn from_parts(
        shared: Arc<Shared<K, T, O, E>>,
        tasks: Tasks,
        runtime: Handle,
        config: &PoolConfig,
    ) -> Self {
        Self {
            shared,
            tasks: Arc::new(tokio::sync::Mutex::new(Some(tasks))),
            runtime,
            enqueue_timeout: config.enqueue_timeout,
            capacity: config.capacity,
        }
    }

    /// Submits an item, waiting up to `enqueue_timeout` for capacity.
    ///
    /// Items with the same `Some(key)` are handled one at a time in the
    /// order their submits returned; items with `None` run as soon as a
    /// worker is free, in no particular order.
    ///
    /// # Errors
    /// [`SubmitError::Full`] when no capacity freed up in time,
    /// [`SubmitError::Closed`] after [`close`](Self::close); both hand the
    /// item back.
    pub async fn submit(
        &self,
        key: Option<K>,
        item: T,
    ) -> Result<Completion<O, E>, SubmitError<T>> {
        let (reply, completion) = Completion::channel();
        let (mut key, mut job) =
            match self
                .shared
                .admit(self.shared.lock(), key, Job { item, reply })
            {
                Ok(()) => return Ok(completion),
                Err(rejected) => match rejected {
                    Rejected::Closed(job) => return Err(SubmitError::Closed(job.item)),
                    Rejected::Full(key, job) => (key, job),
                },
            };
        // Slow path: the timer and the waiter registration cost a little, so
        // only a full pool pays for them.
        let mut timer: Option<Pin<Box<Sleep>>> = None;
        loop {
            let notified = self.shared.space.notified();
            tokio::pin!(notified);
            // Registered before the check, so capacity freed in between wakes us.
            notified.as_mut().enable();
            match self.shared.admit(self.shared.lock(), key, job) {
                Ok(()) => return Ok(completion),
                Err(Rejected::Closed(job)) => return Err(SubmitError::Closed(job.item)),
                Err(Rejected::Full(k, j)) => (key, job) = (k, j),
            }
            let timer =
                timer.get_or_insert_with(|| Box::pin(tokio::time::sleep(self.enqueue_timeout)));
            tokio::select! {
                () = notified => {}
                () = timer.as_mut() => return Err(SubmitError::Full(job.item)),
            }
        }
    }

    /// Submits an item if there is capacity right now, without waiting.
    ///
    /// # Errors
    /// [`SubmitError::Full`] or [`SubmitError::Closed`], handing the item back.
    pub fn try_submit(&self, key: Option<K>, item: T) -> Result<Completion<O, E>, SubmitError<T>> {
        let (reply, completion) = Completion::channel();
        self.shared
            .admit(self.shared.lock(), key, Job { item, reply })
            .map(|()| completion)
            .map_err(Rejected::into_submit_error)
    }

    /// Submits an item from synchronous code, blocking the thread up to
    /// `enqueue_timeout` for capacity. Wait for the result with
    /// [`Completion::wait_blocking`].
    ///
    /// Do not call it on a runtime thread: blocking there can stall the pool.
    ///
    /// # Errors
    /// As for [`submit`](Self::submit).
    pub fn submit_blocking(
        &self,
        key: Option<K>,
        item: T,
    ) -> Result<Completion<O, E>, SubmitError<T>> {
        let deadline = Instant::now() + self.enqueue_timeout;
        let mut state = self.shared.lock();
        while !state.is_closed() && state.free() == 0 {
            if self
                .shared
                .space_blocking
                .wait_until(&mut state, deadline)
                .timed_out()
                && state.free() == 0
            {
                if state.is_closed() {
                    break;
                }
                return Err(SubmitError::Full(item));
            }
        }
        let (reply, completion) = Completion::channel();
        self.shared
            .admit(state, key, Job { item, reply })
            .map(|()| completion)
            .map_err(Rejected::into_submit_error)
    }

    /// Waits until the pool has room for at least one item, or is closed.
    /// A caller feeding the pool from a broker waits here and then asks for
    /// no more than [`free_capacity`](Self::free_capacity), so nothing it
    /// fetches sits outside the pool while its broker lease runs.
    pub async fn wait_for_capacity(&self) {
        loop {
            let notified = self.shared.space.notified();
            tokio::pin!(notified);
            // Registered before the check, so room freed in between wakes us.
            notified.as_mut().enable();
            if self.free_capacity() > 0 || self.is_closed() {
                return;
            }
            notified.await;
        }
    }

    /// Makes the wait hook run at least every `at_most` from now on (never
    /// less often than configured): for a caller that learns only later how
    /// short the leases it keeps alive are. Does nothing for a pool built
    /// without a wait hook.
    pub fn shorten_keepalive_interval(&self, at_most: Duration) {
        let at_most = crate::builder::millis(at_most);
        let current = self.shared.keepalive_ms.load(Ordering::Acquire);
        if current == 0 || at_most >= current {
            return;
        }
        if self
            .shared
            .keepalive_ms
            .fetch_min(at_most, Ordering::AcqRel)
            > at_most
        {
            self.shared.keepalive_changed.notify_waiters();
        }
    }

    /// The interval of the wait hook now; `None` without a wait hook.
    pub fn keepalive_interval(&self) -> Option<Duration> {
        match self.shared.keepalive_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(Duration::from_millis(ms)),
        }
    }

    /// How many more items the pool accepts right now: ask a broker for no
    /// more than this.
    pub fn free_capacity(&self) -> usize {
        self.shared.lock().free()
    }

    /// Items held: queued, running or waiting to be retried.
    pub fn len(&self) -> usize {
        self.shared.lock().held()
    }

    /// `true` when no item is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The configured capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// `true` once [`close`](Self::close) was called (or started by drop).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().is_closed()
    }

    /// Stops intake and lets the workers finish everything already accepted.
    ///
    /// With a `deadline`, items still queued when it passes are answered
    /// [`Abandoned`](crate::TaskErrorKind::Abandoned) without running, and
    /// running attempts (or backoff waits) are cancelled and answered the
    /// same way. When `close` returns, every worker and the sweeper have
    /// ended and every accepted item has been answered. A handler that
    /// blocks its thread instead of awaiting delays this past the deadline.
    ///
    /// Calling it again (or concurrently) waits for the first call and then
    /// reports nothing more.
    pub async fn close(&self, deadline: Option<Duration>) -> CloseReport {
        close(self.shared.clone(), self.tasks.clone(), deadline).await
    }

    /// [`close`](Self::close) for synchronous callers: runs it on the pool's
    /// runtime and blocks this thread until it is done. Do not call it on a
    /// runtime thread.
    pub fn close_blocking(&self, deadline: Option<Duration>) -> CloseReport {
        let closing = self
            .runtime
            .spawn(close(self.shared.clone(), self.tasks.clone(), deadline));
        // The spawned close only fails to report if the runtime shut down,
        // which also ended the pool's tasks.
        futures::executor::block_on(closing).unwrap_or_default()
    }
}

async fn close<K, T, O, E>(
    shared: Arc<Shared<K, T, O, E>>,
    tasks: Arc<tokio::sync::Mutex<Option<Tasks>>>,
    deadline: Option<Duration>,
) -> CloseReport {
    let mut tasks = tasks.lock().await;
    let Some(Tasks { workers, sweeper }) = tasks.take() else {
        return CloseReport::default();
    };
    let answered_before = shared.answered.load(Ordering::Relaxed);
    let abandoned_before = shared.abandoned.load(Ordering::Relaxed);
    shared.begin_close();
    let deadline = deadline.map(|d| tokio::time::Instant::now() + d);
    for mut worker in workers {
        if let (Some(at), false) = (deadline, shared.is_cancelled()) {
            if tokio::time::timeout_at(at, &mut worker).await.is_ok() {
                continue;
            }
            shared.cancel_all();
        }
        // A worker only ends with a panic if the runtime is shutting down;
        // there is nothing left to drain then.
        let _ = worker.await;
    }
    // Queued items no worker took before the cancellation.
    shared.abandon_queued();
    shared.stop_sweeper.cancel();
    if let Some(sweeper) = sweeper {
        let _ = sweeper.await;
    }
    CloseReport {
        completed: shared.answered.load(Ordering::Relaxed) - answered_before,
        abandoned: shared.abandoned.load(Ordering::Relaxed) - abandoned_before,
    }
}

impl<K, T, O, E> Drop for KeyedPool<K, T, O, E> {
    /// Dropping without [`close`](KeyedPool::close) stops the pool at once:
    /// queued items and running attempts are answered `Abandoned`, and the
    /// tasks end shortly after, in the background.
    fn drop(&mut self) {
        // A close in progress (from `close_blocking`) owns the shutdown.
        let Ok(mut tasks) = self.tasks.try_lock() else {
            return;
        };
        if tasks.take().is_none() {
            return;
        }
        self.shared.cancel_all();
        self.shared.stop_sweeper.cancel();
        self.shared.begin_close();
        self.shared.abandon_queued();
    }
}

impl<K, T, O, E> std::fmt::Debug for KeyedPool<K, T, O, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedPool")
            .field("capacity", &self.capacity)
            .field("enqueue_timeout", &self.enqueue_timeout)
            .finish_non_exhaustive()
    }
}

impl<K, T, O, E> Rejected<K, T, O, E> {
    fn into_submit_error(self) -> SubmitError<T> {
        match self {
            Self::Full(_, job) => SubmitError::Full(job.item),
            Self::Closed(job) => SubmitError::Closed(job.item),
        }
    }
}
