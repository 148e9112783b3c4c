//! Building a pool: configuration, optional hooks, and the handler.

use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64};

use parking_lot::{Condvar, Mutex};
use tokio::runtime::Handle;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::PoolConfig;
use crate::error::BuildError;
use crate::pool::{KeyedPool, Tasks};
use crate::shared::Shared;
use crate::state::State;
use crate::sweeper::{self, WaitHook};
use crate::telemetry::Telemetry;
use crate::worker::{self, Executor, RetryPredicate};

/// Builds a [`KeyedPool`]; start with [`KeyedPool::builder`].
#[must_use = "a builder does nothing until `build` is called"]
pub struct PoolBuilder<K, T, O, E> {
    config: PoolConfig,
    retry_if: Option<RetryPredicate<E>>,
    on_wait: Option<WaitHook<T>>,
    runtime: Option<Handle>,
    _types: PhantomData<fn() -> (K, O)>,
}

impl<K, T, O, E> PoolBuilder<K, T, O, E>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
    T: Clone + Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
{
    pub(crate) fn new(config: PoolConfig) -> Self {
        Self {
            config,
            retry_if: None,
            on_wait: None,
            runtime: None,
            _types: PhantomData,
        }
    }

    /// Retries a handler error only when `predicate` returns `true` for it
    /// (and attempts remain). Without a predicate every handler error is
    /// retried up to `retry.max_attempts`. Timeouts are retried like errors;
    /// panics never are.
    pub fn retry_if(mut self, predicate: impl Fn(&E) -> bool + Send + Sync + 'static) -> Self {
        self.retry_if = Some(Arc::new(predicate));
        self
    }

    /// Calls `hook` every `keepalive_interval` for each item the pool holds
    /// and has not answered yet (queued, running or in backoff), e.g. to send
    /// a broker lease extension. One sweeper task serves all items. Without
    /// `keepalive_interval` in the configuration the hook is never called.
    /// The hook runs on a runtime thread and should return quickly.
    pub fn on_wait(mut self, hook: impl Fn(&T) + Send + Sync + 'static) -> Self {
        self.on_wait = Some(Arc::new(hook));
        self
    }

    /// Runs the pool's tasks on this runtime instead of the current one;
    /// needed when building from a thread outside any runtime.
    pub fn runtime(mut self, runtime: Handle) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Starts the workers (and the sweeper, if a wait hook and interval are
    /// set) with `handler` as the function every item is passed to.
    ///
    /// # Errors
    /// [`BuildError::InvalidConfig`] for an out-of-range setting,
    /// [`BuildError::NoRuntime`] outside a tokio runtime without
    /// [`runtime`](Self::runtime).
    pub fn build<H, Fut>(self, handler: H) -> Result<KeyedPool<K, T, O, E>, BuildError>
    where
        H: Fn(T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static,
    {
        self.config.validate()?;
        let runtime = match self.runtime {
            Some(runtime) => runtime,
            None => Handle::try_current().map_err(|_| BuildError::NoRuntime)?,
        };
        let config = self.config;
        let hook = self.on_wait.zip(config.keepalive_interval);
        let in_flight_slots = if hook.is_some() { config.workers } else { 0 };
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config.capacity)),
            work: Notify::new(),
            space: Notify::new(),
            space_blocking: Condvar::new(),
            cancel: CancellationToken::new(),
            cancelled: AtomicBool::new(false),
            stop_sweeper: CancellationToken::new(),
            keepalive_ms: AtomicU64::new(
                hook.as_ref().map_or(0, |(_, interval)| millis(*interval)),
            ),
            keepalive_changed: Notify::new(),
            in_flight: (0..in_flight_slots).map(|_| Mutex::new(None)).collect(),
            telemetry: Telemetry::new(&config.name),
            answered: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        });
        let executor = Arc::new(Executor {
            handler,
            retry: config.retry.clone(),
            retry_if: self.retry_if,
            handler_timeout: config.handler_timeout,
            track_in_flight: hook.is_some(),
        });
        let workers = (0..config.workers)
            .map(|index| runtime.spawn(worker::run(shared.clone(), executor.clone(), index)))
            .collect();
        let sweeper = hook.map(|(hook, _)| runtime.spawn(sweeper::run(shared.clone(), hook)));
        let tasks = Tasks { workers, sweeper };
        Ok(KeyedPool::from_parts(shared, tasks, runtime, &config))
    }
}

/// A duration in whole milliseconds, at least 1 (a zero interval would spin).
pub(crate) fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}
