//! The handle through which a submitter learns the outcome of its item.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::sync::oneshot;

use crate::error::TaskError;

pub(crate) type Outcome<O, E> = Result<O, TaskError<E>>;
pub(crate) type Reply<O, E> = oneshot::Sender<Outcome<O, E>>;

/// Resolves to the outcome of one submitted item: the handler's output, or a
/// [`TaskError`] once retries are exhausted.
///
/// Await it in async code or call [`wait_blocking`](Self::wait_blocking)
/// from a thread. Dropping it does not cancel the item. If the pool goes away
/// without answering (it was dropped), it resolves to
/// [`Abandoned`](crate::TaskErrorKind::Abandoned).
#[must_use = "a completion tells whether the item succeeded"]
pub struct Completion<O, E> {
    rx: oneshot::Receiver<Outcome<O, E>>,
}

impl<O, E> Completion<O, E> {
    pub(crate) fn channel() -> (Reply<O, E>, Self) {
        let (tx, rx) = oneshot::channel();
        (tx, Self { rx })
    }

    /// Blocks the current thread until the outcome is known.
    ///
    /// Meant for synchronous callers; in async code, `.await` the completion
    /// instead, since blocking a runtime thread can stall the pool.
    pub fn wait_blocking(self) -> Outcome<O, E> {
        futures::executor::block_on(self)
    }
}

impl<O, E> Future for Completion<O, E> {
    type Output = Outcome<O, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(Pin::new(&mut self.rx).poll(cx)) {
            Ok(outcome) => outcome,
            // The sender only disappears unanswered when the pool was torn
            // down around the item.
            Err(_) => Err(TaskError::abandoned(0, None)),
        })
    }
}

impl<O, E> std::fmt::Debug for Completion<O, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completion").finish_non_exhaustive()
    }
}
