//! Handler errors, retries, timeouts and panics.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use evbus_keyed_pool::{KeyedPool, PoolConfig, RetryPolicy, TaskErrorKind};

#[derive(Debug, PartialEq)]
enum Failure {
    Transient,
    Fatal,
}

fn retrying(max_attempts: u32) -> PoolConfig {
    let mut config = PoolConfig::default();
    config.workers = 2;
    config.retry = RetryPolicy::attempts(max_attempts)
        .with_backoff(Duration::from_millis(10), Duration::from_millis(40));
    config
}

#[tokio::test(start_paused = true)]
async fn errors_are_retried_until_attempts_run_out() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let pool = KeyedPool::<u8, (), (), Failure>::new(retrying(4), move |()| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Err(Failure::Transient) }
    })
    .unwrap();
    let before = SystemTime::now();
    let error = pool.submit(Some(1), ()).await.unwrap().await.unwrap_err();
    assert!(matches!(
        error.kind(),
        TaskErrorKind::Handler(Failure::Transient)
    ));
    assert_eq!(error.attempts(), 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert!(error.first_failure() >= before);
    assert!(
        !error.is_retryable(),
        "exhausted items are dead-lettered, not redelivered"
    );
    pool.close(None).await;
}

#[tokio::test(start_paused = true)]
async fn a_transient_error_then_success_completes_ok() {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let pool = KeyedPool::<u8, u32, u32, Failure>::new(retrying(3), move |n| {
        let call = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if call == 0 {
                Err(Failure::Transient)
            } else {
                Ok(n)
            }
        }
    })
    .unwrap();
    assert_eq!(pool.submit(Some(1), 5).await.unwrap().await.unwrap(), 5);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    pool.close(None).await;
}

#[tokio::test(start_paused = true)]
async fn the_predicate_decides_which_errors_are_retried() {
    let pool = KeyedPool::<u8, Failure, (), Failure>::builder(retrying(5))
        .retry_if(|e| *e == Failure::Transient)
        .build(|f: Failure| async move { Err(f) })
        .unwrap();
    let fatal = pool.submit(Some(1), Failure::Fatal).await.unwrap();
    let transient = pool.submit(Some(1), Failure::Transient).await.unwrap();
    let fatal = fatal.await.unwrap_err();
    assert_eq!(fatal.attempts(), 1);
    assert!(matches!(
        fatal.into_kind(),
        TaskErrorKind::Handler(Failure::Fatal)
    ));
    assert_eq!(transient.await.unwrap_err().attempts(), 5);
    pool.close(None).await;
}

// `Failure` is moved into the handler and cloned per retry.
impl Clone for Failure {
    fn clone(&self) -> Self {
        match self {
            Self::Transient => Self::Transient,
            Self::Fatal => Self::Fatal,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_handler_times_out_and_is_retried_like_an_error() {
    let mut config = retrying(2);
    config.handler_timeout = Some(Duration::from_millis(100));
    let pool = KeyedPool::<u8, u32, u32, ()>::new(config, |n| async move {
        if n == 0 {
            std::future::pending::<()>().await;
        }
        Ok(n)
    })
    .unwrap();
    let hung = pool.submit(Some(1), 0).await.unwrap();
    let next = pool.submit(Some(1), 1).await.unwrap();
    let error = hung.await.unwrap_err();
    assert!(matches!(error.kind(), TaskErrorKind::TimedOut));
    assert_eq!(error.attempts(), 2);
    assert_eq!(next.await.unwrap(), 1, "the key goes on after a timeout");
    pool.close(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_fails_only_its_item_and_the_worker_survives() {
    let mut config = retrying(3);
    // One worker: if a panic killed it, nothing after would run.
    config.workers = 1;
    let pool = KeyedPool::<u8, u32, u32, ()>::new(config, |n| {
        if n == 1 {
            panic!("boom while building the future");
        }
        async move {
            if n == 2 {
                panic!("boom {n}");
            }
            Ok(n)
        }
    })
    .unwrap();
    let sync_panic = pool.submit(Some(1), 1).await.unwrap();
    let async_panic = pool.submit(Some(1), 2).await.unwrap();
    let same_key = pool.submit(Some(1), 3).await.unwrap();
    let other_key = pool.submit(Some(2), 4).await.unwrap();

    let error = sync_panic.await.unwrap_err();
    assert!(matches!(error.kind(), TaskErrorKind::Panicked(m) if m.contains("while building")));
    let error = async_panic.await.unwrap_err();
    assert!(matches!(error.kind(), TaskErrorKind::Panicked(m) if m == "boom 2"));
    assert_eq!(error.attempts(), 1, "panics are not retried");
    assert_eq!(same_key.await.unwrap(), 3);
    assert_eq!(other_key.await.unwrap(), 4);
    // Everything was answered before close, so it has nothing left to do.
    let report = pool.close(None).await;
    assert_eq!((report.completed, report.abandoned), (0, 0));
}
