//! A worker: takes ready work, runs the handler with timeout, panic capture
//! and retries, answers the item, and hands the key's lane back.

use std::any::Any;
use std::future::Future;
use std::hash::Hash;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use crate::completion::Outcome;
use crate::config::RetryPolicy;
use crate::error::{TaskError, TaskErrorKind};
use crate::shared::Shared;

pub(crate) type RetryPredicate<E> = Arc<dyn Fn(&E) -> bool + Send + Sync>;

/// How to run one item; shared by all workers of a pool.
pub(crate) struct Executor<H, E> {
    pub handler: H,
    pub retry: RetryPolicy,
    pub retry_if: Option<RetryPredicate<E>>,
    pub handler_timeout: Option<Duration>,
    /// Whether items are published in `Shared::in_flight` for the wait hook.
    pub track_in_flight: bool,
}

/// Why one attempt did not succeed.
enum Failure<E> {
    Handler(E),
    Panicked(String),
    TimedOut,
    Cancelled,
}

pub(crate) async fn run<K, T, O, E, H, Fut>(
    shared: Arc<Shared<K, T, O, E>>,
    executor: Arc<Executor<H, E>>,
    index: usize,
) where
    K: Hash + Eq + Clone,
    T: Clone,
    H: Fn(T) -> Fut,
    Fut: Future<Output = Result<O, E>>,
{
    // A child token per worker: waiting on it registers with this worker's
    // own node, not a lock every worker shares.
    let cancel = shared.cancel.child_token();
    let mut next = shared.next().await;
    // Start of the current item, for the latency histogram. Back-to-back
    // items reuse the previous item's end instead of reading the clock
    // again: a clock read per item is a measurable share of a no-op handler.
    let mut clock = Instant::now();
    while let Some(taken) = next {
        let outcome = if shared.is_cancelled() {
            Err(TaskError::abandoned(0, None))
        } else {
            if executor.track_in_flight {
                *shared.in_flight[index].lock() = Some(taken.job.item.clone());
            }
            let outcome;
            (outcome, clock) = executor
                .process(&shared, taken.job.item, &cancel, clock)
                .await;
            if executor.track_in_flight {
                *shared.in_flight[index].lock() = None;
            }
            outcome
        };
        let abandoned = matches!(&outcome, Err(e) if e.is_retryable());
        next = shared.finish_and_take(taken.key, taken.job.reply, outcome);
        if abandoned {
            // Cancelled: what this worker already took is abandoned too;
            // `close` abandons what is still queued.
            while let Some(taken) = next {
                next = shared.finish_and_take(
                    taken.key,
                    taken.job.reply,
                    Err(TaskError::abandoned(0, None)),
                );
            }
            return;
        }
        if next.is_none() {
            next = shared.next().await;
            clock = Instant::now();
        }
    }
}

impl<H, E> Executor<H, E> {
    /// Runs all attempts of one item, the first starting at `started`;
    /// returns the outcome and when the last attempt ended.
    async fn process<K, T, O, Fut>(
        &self,
        shared: &Shared<K, T, O, E>,
        item: T,
        cancel: &CancellationToken,
        started: Instant,
    ) -> (Outcome<O, E>, Instant)
    where
        T: Clone,
        H: Fn(T) -> Fut,
        Fut: Future<Output = Result<O, E>>,
    {
        let mut item = item;
        let mut attempts = 0;
        let mut first_failure = None;
        let mut started = started;
        loop {
            attempts += 1;
            let may_retry = attempts < self.retry.max_attempts;
            // The last attempt gets the item itself: no clone when retries
            // are off.
            let (argument, kept) = if may_retry {
                (item.clone(), Some(item))
            } else {
                (item, None)
            };
            let result = self.attempt(argument, cancel).await;
            let ended = Instant::now();
            let failure = match result {
                Ok(output) => {
                    shared.telemetry.handler_seconds.record(ended - started);
                    shared.telemetry.completed.increment(1);
                    return (Ok(output), ended);
                }
                Err(failure) => failure,
            };
            if !matches!(failure, Failure::Cancelled) {
                shared.telemetry.handler_seconds.record(ended - started);
            }
            let first = *first_failure.get_or_insert_with(SystemTime::now);
            let retry = match (&failure, kept) {
                (Failure::Handler(e), Some(kept)) if self.should_retry(e) => Some(kept),
                (Failure::TimedOut, Some(kept)) => Some(kept),
                _ => None,
            };
            let Some(kept) = retry else {
                return (Err(self.give_up(shared, failure, attempts, first)), ended);
            };
            item = kept;
            shared.telemetry.retries.increment(1);
            let wait = self.retry.backoff(attempts);
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancel.cancelled() => {
                    return (Err(TaskError::abandoned(attempts, Some(first))), Instant::now());
                }
            }
            started = Instant::now();
        }
    }

    fn should_retry(&self, error: &E) -> bool {
        self.retry_if
            .as_ref()
            .is_none_or(|retry_if| retry_if(error))
    }

    fn give_up<K, T, O>(
        &self,
        shared: &Shared<K, T, O, E>,
        failure: Failure<E>,
        attempts: u32,
        first_failure: SystemTime,
    ) -> TaskError<E> {
        let telemetry = &shared.telemetry;
        let kind = match failure {
            Failure::Handler(e) => {
                telemetry.failed_handler.increment(1);
                TaskErrorKind::Handler(e)
            }
            Failure::Panicked(message) => {
                telemetry.failed_panicked.increment(1);
                TaskErrorKind::Panicked(message)
            }
            Failure::TimedOut => {
                telemetry.failed_timed_out.increment(1);
                TaskErrorKind::TimedOut
            }
            Failure::Cancelled => TaskErrorKind::Abandoned,
        };
        TaskError::new(kind, attempts, first_failure)
    }

    /// One call of the handler, with panic capture, timeout and cancellation.
    async fn attempt<T, O, Fut>(&self, item: T, cancel: &CancellationToken) -> Result<O, Failure<E>>
    where
        H: Fn(T) -> Fut,
        Fut: Future<Output = Result<O, E>>,
    {
        // The handler may panic while building its future, too.
        let future = match std::panic::catch_unwind(AssertUnwindSafe(|| (self.handler)(item))) {
            Ok(future) => future,
            Err(panic) => return Err(Failure::Panicked(panic_message(panic))),
        };
        let guarded = AssertUnwindSafe(future).catch_unwind();
        let timed = async {
            match self.handler_timeout {
                Some(limit) => tokio::time::timeout(limit, guarded)
                    .await
                    .map_err(|_| Failure::TimedOut),
                None => Ok(guarded.await),
            }
        };
        // The handler is polled first so a handler that finishes at once
        // never registers with the cancellation token.
        let result = tokio::select! {
            biased;
            result = timed => result,
            () = cancel.cancelled() => Err(Failure::Cancelled),
        };
        match result {
            Ok(Ok(Ok(output))) => Ok(output),
            Ok(Ok(Err(e))) => Err(Failure::Handler(e)),
            Ok(Err(panic)) => Err(Failure::Panicked(panic_message(panic))),
            Err(failure) => Err(failure),
        }
    }
}

fn panic_message(panic: Box<dyn Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => match panic.downcast::<&'static str>() {
            Ok(message) => (*message).to_owned(),
            Err(_) => "handler panicked with a non-string payload".to_owned(),
        },
    }
}
