//! Errors of the pool's three boundaries: building, submitting, and the
//! outcome of one item.

use std::fmt;
use std::time::SystemTime;

/// Why a pool could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A configuration value is out of range; the text names it.
    #[error("invalid keyed pool configuration: {0}")]
    InvalidConfig(String),
    /// No tokio runtime was given and none is current.
    #[error(
        "no tokio runtime: build the pool inside a runtime or pass one with PoolBuilder::runtime"
    )]
    NoRuntime,
}

impl BuildError {
    /// Always `false`: building again with the same input fails again.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Why an item was not accepted. The item is handed back, so nothing is lost.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum SubmitError<T> {
    /// The pool stayed at capacity for the whole enqueue timeout (or, for
    /// [`try_submit`](crate::KeyedPool::try_submit), was at capacity).
    #[error("keyed pool is full")]
    Full(T),
    /// The pool was closed.
    #[error("keyed pool is closed")]
    Closed(T),
}

impl<T> SubmitError<T> {
    /// The item that was not accepted.
    pub fn into_item(self) -> T {
        match self {
            Self::Full(item) | Self::Closed(item) => item,
        }
    }

    /// `true` for [`Full`](Self::Full): submitting later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Full(_))
    }
}

// Written by hand so that `T` need not be `Debug`: items are often closures
// or jobs without a useful debug form.
impl<T> fmt::Debug for SubmitError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

/// What went wrong with an item; see [`TaskError::kind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum TaskErrorKind<E> {
    /// The handler returned this error on the last attempt (retries were
    /// exhausted, or the retry predicate declined).
    Handler(E),
    /// The handler panicked; the text is the panic message. Never retried.
    Panicked(String),
    /// The last attempt ran longer than the configured handler timeout.
    TimedOut,
    /// The pool stopped before the item finished: it was still queued (never
    /// run) or in backoff when [`close`](crate::KeyedPool::close) hit its
    /// deadline, its attempt was cancelled at that deadline, or the pool was
    /// dropped without being closed.
    Abandoned,
}

/// The failure of one item, delivered through its
/// [`Completion`](crate::Completion).
#[derive(Debug)]
pub struct TaskError<E> {
    kind: TaskErrorKind<E>,
    attempts: u32,
    first_failure: SystemTime,
}

impl<E> TaskError<E> {
    pub(crate) fn new(kind: TaskErrorKind<E>, attempts: u32, first_failure: SystemTime) -> Self {
        Self {
            kind,
            attempts,
            first_failure,
        }
    }

    pub(crate) fn abandoned(attempts: u32, first_failure: Option<SystemTime>) -> Self {
        Self::new(
            TaskErrorKind::Abandoned,
            attempts,
            first_failure.unwrap_or_else(SystemTime::now),
        )
    }

    /// What went wrong.
    pub fn kind(&self) -> &TaskErrorKind<E> {
        &self.kind
    }

    /// The kind, by value (to take the handler's error out).
    pub fn into_kind(self) -> TaskErrorKind<E> {
        self.kind
    }

    /// How many attempts were started (0 for an item abandoned in the queue).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the first attempt failed; for an item abandoned before any
    /// attempt failed, when it was abandoned.
    pub fn first_failure(&self) -> SystemTime {
        self.first_failure
    }

    /// `true` only for [`Abandoned`](TaskErrorKind::Abandoned): the item did
    /// not get its chance and should be redelivered. The other kinds already
    /// went through the pool's retry policy, so a caller dead-letters them.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, TaskErrorKind::Abandoned)
    }
}

impl<E: fmt::Display> fmt::Display for TaskError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let attempts = self.attempts;
        match &self.kind {
            TaskErrorKind::Handler(e) => {
                write!(f, "handler failed after {attempts} attempt(s): {e}")
            }
            TaskErrorKind::Panicked(msg) => {
                write!(f, "handler panicked on attempt {attempts}: {msg}")
            }
            TaskErrorKind::TimedOut => write!(f, "handler timed out on attempt {attempts}"),
            TaskErrorKind::Abandoned => {
                write!(f, "item abandoned by the pool after {attempts} attempt(s)")
            }
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for TaskError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            TaskErrorKind::Handler(e) => Some(e),
            _ => None,
        }
    }
}
