//! `close`: drain, deadline, abandoned items, no task left behind; drop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use evbus_keyed_pool::{KeyedPool, PoolConfig, SubmitError, TaskErrorKind};

fn config(workers: usize) -> PoolConfig {
    let mut config = PoolConfig::default();
    config.workers = workers;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_drains_everything_accepted_then_refuses_new_items() {
    let handled = Arc::new(AtomicU32::new(0));
    let counter = handled.clone();
    let pool = KeyedPool::<u32, u32, u32, ()>::new(config(2), move |n| {
        let counter = counter.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(1)).await;
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(n)
        }
    })
    .unwrap();
    let mut completions = Vec::new();
    for n in 0..50 {
        completions.push(pool.submit(Some(n % 5), n).await.unwrap());
    }
    let report = pool.close(None).await;
    assert_eq!(report.abandoned, 0);
    // Some items may have finished before close began; none is left over.
    assert_eq!(handled.load(Ordering::SeqCst), 50);
    assert!(report.completed <= 50);
    assert!(pool.is_empty());
    for (n, completion) in completions.into_iter().enumerate() {
        assert_eq!(completion.await.unwrap(), n as u32);
    }
    assert!(pool.is_closed());
    assert!(matches!(
        pool.submit(Some(1), 7).await,
        Err(SubmitError::Closed(7))
    ));
    assert!(matches!(
        pool.try_submit(None, 8),
        Err(SubmitError::Closed(8))
    ));
    // A second close has nothing to do.
    let again = pool.close(None).await;
    assert_eq!((again.completed, again.abandoned), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn close_abandons_what_the_deadline_cuts_off() {
    let pool = KeyedPool::<u8, u32, u32, ()>::new(config(1), |n| async move {
        if n == 0 {
            std::future::pending::<()>().await;
        }
        Ok(n)
    })
    .unwrap();
    let hung = pool.submit(Some(1), 0).await.unwrap();
    let queued_same_key = pool.submit(Some(1), 1).await.unwrap();
    let queued_other_key = pool.submit(Some(2), 2).await.unwrap();
    let report = pool.close(Some(Duration::from_millis(100))).await;
    assert_eq!((report.completed, report.abandoned), (0, 3));

    let running = hung.await.unwrap_err();
    assert!(matches!(running.kind(), TaskErrorKind::Abandoned));
    assert_eq!(
        running.attempts(),
        1,
        "its attempt was started and cancelled"
    );
    assert!(running.is_retryable());
    for queued in [queued_same_key, queued_other_key] {
        let error = queued.await.unwrap_err();
        assert!(matches!(error.kind(), TaskErrorKind::Abandoned));
        assert_eq!(error.attempts(), 0, "never ran");
    }
    assert!(pool.is_empty());
}

#[test]
fn no_task_of_the_pool_is_left_after_close() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let metrics = runtime.metrics();
    assert_eq!(metrics.num_alive_tasks(), 0);
    let mut config = config(16);
    config.keepalive_interval = Some(Duration::from_millis(5));
    let pool = KeyedPool::<u32, u32, u32, ()>::builder(config)
        .runtime(runtime.handle().clone())
        .on_wait(|_| {})
        .build(|n| async move {
            tokio::time::sleep(Duration::from_millis(2)).await;
            Ok(n)
        })
        .unwrap();
    // 16 workers and the sweeper.
    assert_eq!(metrics.num_alive_tasks(), 17);
    let completions: Vec<_> = (0..100)
        .map(|n| pool.submit_blocking(Some(n % 10), n).unwrap())
        .collect();
    let report = pool.close_blocking(None);
    assert_eq!(report.abandoned, 0);
    for completion in completions {
        completion.wait_blocking().unwrap();
    }
    // `close` awaited every task's JoinHandle; the runtime forgets a task a
    // moment after its JoinHandle resolves (and close_blocking's own task
    // too), so poll briefly.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while metrics.num_alive_tasks() > 0 && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(metrics.num_alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_pool_answers_every_item_abandoned() {
    let pool = KeyedPool::<u8, u32, u32, ()>::new(config(1), |n| async move {
        std::future::pending::<()>().await;
        Ok(n)
    })
    .unwrap();
    let running = pool.submit(Some(1), 0).await.unwrap();
    let queued = pool.submit(Some(1), 1).await.unwrap();
    // Let the worker start the first item.
    tokio::task::yield_now().await;
    drop(pool);
    for completion in [running, queued] {
        let error = completion.await.unwrap_err();
        assert!(matches!(error.kind(), TaskErrorKind::Abandoned));
    }
}
